"""The resume state machine on a real LaunchPad (embedded server over TCP)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fireworks import Firework, FWorker, PyTask, ScriptTask, Workflow
from fireworks.core.rocket_launcher import launch_rocket

from ionflow.pipeline.resume import ResumePolicy, action_log, resume_pass

BIN = Path(sys.executable).parent


def _state(lpad, fw_id: int) -> str:
    return lpad.get_fw_dict_by_id(fw_id)["state"]


def _run_once(lpad, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        launch_rocket(lpad, FWorker())
    finally:
        os.chdir(cwd)


def test_failed_job_is_retried_with_limit_then_given_up(launchpad, tmp_path):
    fw = Firework(PyTask(func="math.sqrt", args=[-1.0]), name="always-fails")
    launchpad.add_wf(Workflow([fw]))
    fw_id = launchpad.get_fw_ids()[0]
    policy = ResumePolicy(max_retries=2, backoff_s=0.0)

    for attempt in range(2):
        _run_once(launchpad, tmp_path)
        assert _state(launchpad, fw_id) == "FIZZLED"
        report = resume_pass(launchpad, policy)
        assert report.retried == [fw_id], f"attempt {attempt}"
        assert _state(launchpad, fw_id) == "READY"

    _run_once(launchpad, tmp_path)
    report = resume_pass(launchpad, policy)
    assert report.retried == [] and report.gave_up == [fw_id]
    assert _state(launchpad, fw_id) == "FIZZLED"
    actions = [entry["action"] for entry in action_log(launchpad, fw_id)]
    assert actions == ["retry", "retry", "give_up"]
    assert "math domain error" in action_log(launchpad, fw_id)[0]["reason"]
    # a later pass does not log the give-up again
    resume_pass(launchpad, policy)
    assert len(action_log(launchpad, fw_id)) == 3


def test_backoff_delays_the_retry(launchpad, tmp_path):
    launchpad.add_wf(Workflow([Firework(PyTask(func="math.sqrt", args=[-1.0]))]))
    fw_id = launchpad.get_fw_ids()[0]
    _run_once(launchpad, tmp_path)
    report = resume_pass(launchpad, ResumePolicy(backoff_s=3600.0))
    assert report.waiting_backoff == [fw_id] and report.retried == []
    assert _state(launchpad, fw_id) == "FIZZLED"


def test_bad_input_is_not_retried(launchpad, tmp_path):
    task = PyTask(func="ionflow.pipeline.spec.load_spec", args=[str(tmp_path / "missing.yaml")])
    launchpad.add_wf(Workflow([Firework(task)]))
    fw_id = launchpad.get_fw_ids()[0]
    _run_once(launchpad, tmp_path)
    report = resume_pass(launchpad, ResumePolicy(backoff_s=0.0))
    assert report.gave_up == [fw_id] and report.retried == []
    assert "IonflowInputError" in action_log(launchpad, fw_id)[0]["reason"]


@pytest.mark.slow
def test_killed_run_is_found_lost_and_rerun_to_completion(launchpad, tmp_path):
    marker = tmp_path / "done.txt"
    fw = Firework(ScriptTask.from_str(f"sleep 6; echo ok > {marker}"), name="long")
    launchpad.add_wf(Workflow([fw]))
    fw_id = launchpad.get_fw_ids()[0]
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))
    proc = subprocess.Popen(
        [BIN / "rlaunch", "-l", lpad_file, "singleshot"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while _state(launchpad, fw_id) != "RUNNING":
        assert time.time() < deadline, "firework never started"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the node died: no FIZZLED, no further pings
    proc.wait()
    time.sleep(2.5)
    assert _state(launchpad, fw_id) == "RUNNING"

    report = resume_pass(launchpad, ResumePolicy(lost_after_s=2.0))
    assert report.rerun == [fw_id]
    assert _state(launchpad, fw_id) == "READY"
    assert action_log(launchpad, fw_id)[0]["action"] == "rerun"

    _run_once(launchpad, tmp_path)
    assert _state(launchpad, fw_id) == "COMPLETED"
    assert marker.read_text().strip() == "ok"
