"""`ionflow status` on the real embedded database: stages, states, SLURM ids, failures."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from fireworks import Firework, FWorker, PyTask, Workflow
from fireworks.core.rocket_launcher import launch_rocket
from typer.testing import CliRunner

from ionflow.pipeline.resume import ResumePolicy
from ionflow.pipeline.rocket import slurm_job_id_of, with_slurm_job_id
from ionflow.pipeline.status import workflow_status

TINY = Path(__file__).resolve().parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"


def stand_in_squeue(directory: Path, alive: dict[str, str]) -> str:
    """A `squeue` that lists ``alive`` (job id -> state) as the real one does with -o '%i %T'."""
    path = directory / "squeue"
    lines = "".join(f"echo '{job_id} {state}'\n" for job_id, state in alive.items())
    path.write_text(f"#!/bin/sh\n{lines}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def _fizzle(lpad, tmp_path: Path, task: PyTask, name: str) -> int:
    lpad.add_wf(Workflow([Firework(task, name=name)], name=name))
    fw_id = max(lpad.get_fw_ids({"name": name}))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        launch_rocket(lpad, FWorker(), fw_id=fw_id)
    finally:
        os.chdir(cwd)
    return fw_id


def _start_in_slurm_job(lpad, tmp_path: Path, name: str, slurm_job_id: str) -> int:
    """Check a firework out as the rocket of SLURM job ``slurm_job_id`` does (RUNNING)."""
    lpad.add_wf(Workflow([Firework(PyTask(func="time.sleep", args=[0]), name=name)], name=name))
    fw_id = max(lpad.get_fw_ids({"name": name}))
    worker = with_slurm_job_id(FWorker(name="node"), slurm_job_id)
    lpad.checkout_fw(worker, str(tmp_path), fw_id=fw_id)
    return fw_id


def test_running_job_shows_its_slurm_job_and_is_lost_when_it_is_gone(launchpad, tmp_path):
    alive = _start_in_slurm_job(launchpad, tmp_path, "alive", "1001")
    gone = _start_in_slurm_job(launchpad, tmp_path, "gone", "1002")
    launch = launchpad.launches.find_one({"fw_id": alive})
    assert slurm_job_id_of(launch) == "1001"  # recorded with the checkout, by FireWorks
    squeue = stand_in_squeue(tmp_path, {"1001": "RUNNING", "1002": "COMPLETING"})
    statuses = {s.name: s for s in workflow_status(launchpad, squeue=squeue)}
    running, lost = statuses["alive"].jobs[0], statuses["gone"].jobs[0]
    assert (running.fw_id, running.state, running.slurm_job_id) == (alive, "RUNNING", "1001")
    assert 0 <= running.running_s < 60
    assert (lost.fw_id, lost.state, lost.lost_reason) == (gone, "lost", "SLURM job 1002 is gone")
    assert statuses["gone"].counts == {"other": {"lost": 1}}
    # SLURM does not answer: nothing is called lost on a guess
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "squeue").write_text("#!/bin/sh\nexit 1\n")
    (broken / "squeue").chmod(0o755)
    states = {
        s.name: s.jobs[0].state for s in workflow_status(launchpad, squeue=str(broken / "squeue"))
    }
    assert states == {"alive": "RUNNING", "gone": "RUNNING"}


def test_failed_jobs_show_class_last_line_and_retry(launchpad, tmp_path):
    bad = _fizzle(
        launchpad,
        tmp_path,
        PyTask(func="ionflow.pipeline.spec.load_spec", args=[str(tmp_path / "no.yaml")]),
        "bad input",
    )
    flaky = _fizzle(launchpad, tmp_path, PyTask(func="math.sqrt", args=[-1.0]), "flaky")
    jobs = {
        s.name: s.jobs[0]
        for s in workflow_status(launchpad, policy=ResumePolicy(backoff_s=0, max_retries=2))
    }
    assert jobs["bad input"].fw_id == bad
    assert jobs["bad input"].error_class == "ionflow.errors.IonflowInputError"
    assert jobs["bad input"].error_line.endswith("no.yaml: workflow spec not found")
    assert jobs["bad input"].will_retry == "no"
    assert "a plain retry fails the same way" in jobs["bad input"].retry_reason
    assert jobs["flaky"].fw_id == flaky and jobs["flaky"].error_class == "unknown"
    assert jobs["flaky"].error_line == "ValueError: math domain error"
    assert (jobs["flaky"].will_retry, jobs["flaky"].retry_reason[:7]) == ("yes", "retry 1")
    waiting = workflow_status(launchpad, "flaky", policy=ResumePolicy(backoff_s=3600))
    assert waiting[0].jobs[0].will_retry == "after back-off"


def test_cli_status_per_stage_and_unknown_workflow(db_uri, tmp_path, monkeypatch):
    from ionflow.cli.main import app

    monkeypatch.setenv("IONFLOW_DB_URI", db_uri)
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
    runner = CliRunner()
    assert runner.invoke(app, ["submit", str(TINY)]).exit_code == 0
    assert runner.invoke(app, ["submit", str(TINY), "--name", "second"]).exit_code == 0
    result = runner.invoke(app, ["status", "second", "--json"])
    assert result.exit_code == 0, result.output
    (second,) = json.loads(result.output)
    # 5 jobs at submission: per-configuration jobs are made at run time (fan-out)
    assert second["workflow_id"] == 6 and second["name"] == "second"
    assert second["counts"]["structures"] == {"READY": 1}
    assert second["counts"]["fan-out"] == {"WAITING": 2}
    assert second["totals"] == {"READY": 1, "WAITING": 4}
    by_id = runner.invoke(app, ["status", "8", "--json"])  # any job id of the workflow
    assert json.loads(by_id.output)[0]["name"] == "second"
    table = runner.invoke(app, ["status"])
    assert "workflow 1: tiny-li6ps5cl-chgnet" in table.output and "workflow 6" in table.output
    unknown = runner.invoke(app, ["status", "999"])
    assert unknown.exit_code != 0 and "no workflow '999'" in str(unknown.exception)


@pytest.mark.parametrize("job_id", [None, ""])
def test_outside_slurm_the_worker_is_unchanged(job_id, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    worker = FWorker(name="w", env={"a": 1})
    assert with_slurm_job_id(worker, job_id) is worker
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    assert with_slurm_job_id(worker).env == {"a": 1, "slurm_job_id": "77"}
