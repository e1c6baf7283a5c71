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
    entry = action_log(launchpad, fw_id)[0]
    assert entry["error_class"] == "ionflow.errors.IonflowInputError"
    assert entry["retry"] == "no"
    assert entry["reason"].startswith("IonflowInputError: a plain retry fails the same way")
    assert resume_pass(launchpad, ResumePolicy(backoff_s=0.0)).reasons == {}  # logged once
    # rerun by hand (say, after a fix) and failed again: a new launch, judged again
    launchpad.rerun_fw(fw_id)
    _run_once(launchpad, tmp_path)
    report = resume_pass(launchpad, ResumePolicy(backoff_s=0.0))
    assert report.gave_up == [fw_id] and fw_id in report.reasons
    launch_ids = [e["launch_id"] for e in action_log(launchpad, fw_id)]
    assert len(launch_ids) == len(set(launch_ids)) == 2


def _fizzle(lpad, tmp_path: Path, task: PyTask, name: str) -> int:
    """Add a one-firework workflow and run it in ``tmp_path``; return its id."""
    lpad.add_wf(Workflow([Firework(task, name=name)]))
    fw_id = max(lpad.get_fw_ids({"name": name}))
    _run_once(lpad, tmp_path)
    assert _state(lpad, fw_id) == "FIZZLED"
    return fw_id


def test_cli_resume_retries_only_what_can_succeed(launchpad, db_uri, tmp_path, monkeypatch):
    """``ionflow resume`` reads the class stored with each FIZZLED launch, not its text."""
    from typer.testing import CliRunner

    from ionflow.cli.main import app

    # a LAMMPS process killed by the kernel (as the OOM killer does) inside a real job
    monkeypatch.setenv("IONFLOW_LMP_CMD", "sh -c 'kill -9 $$'")
    monkeypatch.setenv("IONFLOW_MPI_PREFIX", "")
    monkeypatch.setenv("IONFLOW_DB_URI", db_uri)
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
    unstable = _fizzle(
        launchpad,
        tmp_path,
        PyTask(func="ionflow.md.run.check_volume_stable", args=[[100.0, 180.0], "md"]),
        "unstable md",
    )
    bad_input = _fizzle(
        launchpad,
        tmp_path,
        PyTask(func="ionflow.pipeline.spec.load_spec", args=[str(tmp_path / "none.yaml")]),
        "bad input",
    )
    killed = _fizzle(
        launchpad, tmp_path, PyTask(func="ionflow.md.run.run_lmp", args=[str(tmp_path)]), "oom"
    )
    details = {
        fw_id: launchpad.launches.find_one({"fw_id": fw_id})["action"]["stored_data"]["_exception"][
            "_details"
        ]
        for fw_id in (unstable, bad_input, killed)
    }
    assert details[unstable]["error_class"] == "ionflow.md.run.MdUnstableError"
    assert details[unstable]["retry"] == "new_seed"
    assert details[killed]["error_class"] == "ionflow.errors.EngineKilledError"

    for _ in range(2):  # a second pass neither retries nor logs them again
        result = CliRunner().invoke(app, ["resume", "--backoff", "0"])
        assert result.exit_code == 0, result.output
    assert _state(launchpad, unstable) == "FIZZLED"
    assert _state(launchpad, bad_input) == "FIZZLED"
    assert _state(launchpad, killed) == "READY"
    actions = {fw_id: [e["action"] for e in action_log(launchpad, fw_id)] for fw_id in details}
    assert actions == {unstable: ["give_up"], bad_input: ["give_up"], killed: ["retry"]}
    assert "only a new seed or more active learning helps" in result.output + str(
        action_log(launchpad, unstable)
    )
    assert action_log(launchpad, killed)[0]["retry"] == "yes"


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


def _lock_in_a_killed_process(lpad_file: Path, fw_id: int) -> None:
    """Take FireWorks' workflow lock of ``fw_id`` in a process killed (-9) holding it."""
    code = (
        "import os, signal, sys\n"
        "from fireworks import LaunchPad\n"
        "from fireworks.core.launchpad import WFLock\n"
        "WFLock(LaunchPad.from_file(sys.argv[1]), int(sys.argv[2])).__enter__()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(lpad_file), str(fw_id)], check=False)
    assert done.returncode == -signal.SIGKILL


def test_lost_run_in_a_workflow_locked_by_a_dead_process_is_rerun(launchpad, tmp_path, caplog):
    """A stale WFLock: skipped while fresh, others go on; broken once stale, then rerun."""
    for name in ("locked", "free"):
        launchpad.add_wf(Workflow([Firework(ScriptTask.from_str("true"), name=name)], name=name))
    ids = {fw["name"]: fw["fw_id"] for fw in launchpad.fireworks.find({}, {"name": 1, "fw_id": 1})}
    for fw_id in ids.values():  # both RUNNING, never pinged: lost runs
        launchpad.checkout_fw(FWorker(), str(tmp_path), fw_id=fw_id)
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))
    _lock_in_a_killed_process(lpad_file, ids["locked"])
    assert "locked" in launchpad.workflows.find_one({"nodes": ids["locked"]})
    time.sleep(1.2)
    policy = ResumePolicy(lost_after_s=1.0, wflock_expiry_s=1.0)

    first = resume_pass(launchpad, policy)  # fresh (first seen): skipped, the other rerun
    assert first.rerun == [ids["free"]] and first.locked == [ids["locked"]]
    assert _state(launchpad, ids["locked"]) == "RUNNING"
    assert "workflow 'locked'" in first.reasons[ids["locked"]]
    time.sleep(1.2)
    launchpad.workflows.update_one(  # a live holder changes its workflow: count again
        {"nodes": ids["locked"]}, {"$set": {"updated_on": "2030-01-01T00:00:00"}}
    )
    assert resume_pass(launchpad, policy).locked == [ids["locked"]]
    time.sleep(1.2)

    with caplog.at_level("WARNING", logger="ionflow.pipeline.resume"):
        stale = resume_pass(launchpad, policy)
    assert stale.rerun == [ids["locked"]] and not stale.locked
    assert stale.broken_locks == [f"workflow 'locked' (fw_ids {ids['locked']})"]
    assert f"broke the lock of workflow 'locked' (fw_ids {ids['locked']})" in caplog.text
    assert "locked" not in launchpad.workflows.find_one({"nodes": ids["locked"]})
    assert [e["action"] for e in action_log(launchpad, ids["locked"])] == ["break_lock", "rerun"]
    _run_once(launchpad, tmp_path)
    assert _state(launchpad, ids["locked"]) == "COMPLETED"
