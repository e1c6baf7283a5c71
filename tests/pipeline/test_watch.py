"""`ionflow watch` on the real embedded database, SLURM replayed by stand-in commands.

``squeue`` and ``sacct`` are small scripts on PATH that answer as SLURM does for a job
that was cancelled, ran out of walltime or of memory (tests named ``*_replayed``); the
LaunchPad, FireWorks' checkout and rerun, and the lock are real.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from fireworks import Firework, FWorker, PyTask, Workflow
from typer.testing import CliRunner

from ionflow.errors import IonflowInputError
from ionflow.pipeline.resume import ResumePolicy, action_log, resume_pass
from ionflow.pipeline.rocket import with_slurm_job_id
from ionflow.pipeline.watch import LOCK_COLLECTION, LockLostError, acquire_lock, watch


def _script(directory: Path, name: str, lines: list[str]) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + "".join(f"echo '{line}'\n" for line in lines))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def slurm_says(tmp_path, monkeypatch):
    """``say(queue, accounting)``: stand-in squeue/sacct on PATH with these answers."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def say(queue: dict[str, str], accounting: dict[str, str]) -> None:
        _script(bin_dir, "squeue", [f"{job} {state}" for job, state in queue.items()])
        _script(bin_dir, "sacct", [f"{job}|{end}" for job, end in accounting.items()])

    return say


def _running_in_slurm(lpad, tmp_path: Path, name: str, job_id: str, mem: str | None = None):
    spec = {"_queueadapter": {"mem": mem}} if mem else {}
    fw = Firework(PyTask(func="time.sleep", args=[0]), name=name, spec=spec)
    lpad.add_wf(Workflow([fw], name=name))
    fw_id = max(lpad.get_fw_ids({"name": name}))
    lpad.checkout_fw(with_slurm_job_id(FWorker(), job_id), str(tmp_path), fw_id=fw_id)
    return fw_id


def _state(lpad, fw_id: int) -> str:
    return lpad.fireworks.find_one({"fw_id": fw_id}, {"state": 1})["state"]


def test_scancelled_job_is_rerun_at_the_next_pass_replayed(launchpad, tmp_path, slurm_says):
    alive = _running_in_slurm(launchpad, tmp_path, "alive", "3001")
    cancelled = _running_in_slurm(launchpad, tmp_path, "cancelled", "3002")
    slurm_says({"3001": "RUNNING"}, {"3002": "CANCELLED by 0"})
    lines: list[str] = []
    assert watch(launchpad, 0.2, max_passes=2, echo=lines.append) == 2
    assert _state(launchpad, alive) == "RUNNING"
    assert _state(launchpad, cancelled) == "READY"
    (entry,) = action_log(launchpad, cancelled)
    assert (entry["action"], entry["cause"], entry["from_state"]) == ("rerun", "gone", "RUNNING")
    assert entry["reason"] == "SLURM job 3002 CANCELLED: rerun 1 of 3"
    assert any(f"firework {cancelled}: SLURM job 3002" in line for line in lines)
    assert action_log(launchpad, alive) == []
    assert launchpad.db[LOCK_COLLECTION].count_documents({}) == 0  # released


def test_walltime_rerun_is_bounded_replayed(launchpad, tmp_path, slurm_says):
    fw_id = _running_in_slurm(launchpad, tmp_path, "long md", "4001")
    slurm_says({}, {"4001": "TIMEOUT"})
    policy = ResumePolicy(max_walltime_reruns=2)
    for attempt in range(3):
        report = resume_pass(launchpad, policy)
        if attempt < 2:
            assert report.rerun == [fw_id] and _state(launchpad, fw_id) == "READY"
            launchpad.checkout_fw(with_slurm_job_id(FWorker(), "4001"), str(tmp_path), fw_id=fw_id)
    assert report.gave_up == [fw_id] and _state(launchpad, fw_id) == "FIZZLED"
    log = action_log(launchpad, fw_id)
    assert [(e["action"], e["cause"]) for e in log] == [
        ("rerun", "walltime"), ("rerun", "walltime"), ("give_up", "walltime"),
    ]  # fmt: skip
    assert log[0]["reason"].endswith("rerun 1 of 2, continuing from its checkpoints")
    assert log[2]["reason"] == "SLURM job 4001 TIMEOUT: 2 reruns for walltime used"


def test_out_of_memory_doubles_the_memory_replayed(launchpad, tmp_path, slurm_says):
    fw_id = _running_in_slurm(launchpad, tmp_path, "fit", "5001", mem="4000M")
    slurm_says({}, {"5001": "OUT_OF_MEMORY|4000M"})
    report = resume_pass(launchpad, ResumePolicy(max_memory_doublings=1))
    assert report.rerun == [fw_id] and _state(launchpad, fw_id) == "READY"
    spec = launchpad.fireworks.find_one({"fw_id": fw_id})["spec"]
    assert spec["_queueadapter"]["mem"] == "8000M"
    assert report.reasons[fw_id].endswith("rerun 1 of 1 with --mem=8000M")
    launchpad.checkout_fw(with_slurm_job_id(FWorker(), "5001"), str(tmp_path), fw_id=fw_id)
    report = resume_pass(launchpad, ResumePolicy(max_memory_doublings=1))
    assert report.gave_up == [fw_id]
    assert launchpad.fireworks.find_one({"fw_id": fw_id})["spec"]["_queueadapter"]["mem"] == "8000M"


def test_slurm_not_answering_changes_nothing(launchpad, tmp_path, monkeypatch):
    fw_id = _running_in_slurm(launchpad, tmp_path, "job", "6001")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no squeue at all
    assert resume_pass(launchpad, ResumePolicy()).n_actions == 0
    assert _state(launchpad, fw_id) == "RUNNING"


def test_second_watcher_refuses_and_a_dead_ones_lock_is_taken_over(launchpad, db_uri, monkeypatch):
    from ionflow.cli.main import app

    first = acquire_lock(launchpad, interval_s=10.0, owner="node1:1:a")
    with pytest.raises(IonflowInputError, match=r"another ionflow watch \(node1:1:a\)"):
        acquire_lock(launchpad, interval_s=10.0)
    monkeypatch.setenv("IONFLOW_DB_URI", db_uri)
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
    refused = CliRunner().invoke(app, ["watch", "--interval", "1", "--passes", "1"])
    assert refused.exit_code != 0 and "another ionflow watch" in str(refused.exception)
    resume = CliRunner().invoke(app, ["resume"])  # one pass of the same loop: refused too
    assert "another ionflow watch" in str(resume.exception)
    # the first watcher dies: its heartbeat ages past 3 intervals (30 s)
    old = time.time() - 31
    launchpad.db[LOCK_COLLECTION].update_one({"_id": "watcher"}, {"$set": {"heartbeat": old}})
    second = acquire_lock(launchpad, interval_s=10.0, owner="node2:2:b")
    held = launchpad.db[LOCK_COLLECTION].find_one({"_id": "watcher"})
    assert (held["owner"], held["took_over_from"]) == ("node2:2:b", "node1:1:a")
    with pytest.raises(LockLostError):
        first.beat()  # the old one, if it was only slow, stops at its next heartbeat
    second.beat()
    second.release()
    result = CliRunner().invoke(app, ["watch", "--interval", "0.1", "--passes", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.count(" rerun 0 ") == 2


def test_jobs_of_another_cluster_are_never_taken_for_gone_replayed(
    launchpad, tmp_path, slurm_says, monkeypatch
):
    slurm_says({}, {})  # this cluster's squeue lists nothing
    monkeypatch.delenv("SLURM_CLUSTER_NAME", raising=False)
    scontrol = _script(tmp_path, "scontrol", ["ClusterName=here", "SlurmctldPort=6817"])
    ids = {}
    for cluster in ("here", "elsewhere"):
        monkeypatch.setenv("SLURM_CLUSTER_NAME", cluster)  # as in the job on that cluster
        ids[cluster] = _running_in_slurm(launchpad, tmp_path, cluster, "7001")
    monkeypatch.delenv("SLURM_CLUSTER_NAME")  # the watcher runs on a login node
    launch = launchpad.launches.find_one({"fw_id": ids["elsewhere"]})
    assert launch["fworker"]["env"]["slurm_cluster"] == "elsewhere"
    report = resume_pass(launchpad, ResumePolicy(scontrol=str(scontrol)))
    assert report.rerun == [ids["here"]]
    assert _state(launchpad, ids["elsewhere"]) == "RUNNING"
