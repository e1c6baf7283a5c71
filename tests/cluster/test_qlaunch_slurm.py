"""FireWorks on the local SLURM: qlaunch -> sbatch -> rlaunch singleshot -> COMPLETED.

Uses the config files of `ionflow config init` (my_qadapter.yaml with `rlaunch
singleshot`), the embedded database and the local cluster, all real.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from fireworks import Firework, ScriptTask, Workflow

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

BIN_DIR = Path(sys.executable).parent


def qlaunch(config_dir: Path, launch_dir: Path) -> str:
    """Submit one SLURM job per READY firework (reservation mode) with the `qlaunch` CLI."""
    launch_dir.mkdir(exist_ok=True)
    command = [str(BIN_DIR / "qlaunch"), "-c", str(config_dir), "-r"]
    command += ["--launch_dir", str(launch_dir), "rapidfire", "--nlaunches", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout + result.stderr


def wait_for_state(launchpad, fw_id: int, states: set[str], timeout_s: float = 60.0) -> str:
    t0 = time.monotonic()
    state = launchpad.get_fw_by_id(fw_id).state
    while state not in states:
        if time.monotonic() - t0 > timeout_s:
            pytest.fail(f"firework {fw_id} still {state} after {timeout_s} s, wanted {states}")
        time.sleep(0.5)
        state = launchpad.get_fw_by_id(fw_id).state
    return state


def squeue_ids() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_qlaunch_runs_dependent_fireworks_to_completed(launchpad, fw_config_dir, tmp_path):
    out_dir = tmp_path / "outputs"
    out_dir.mkdir()
    first = Firework(ScriptTask.from_str(f"echo first > {out_dir}/first.txt"), name="first")
    second = Firework(
        ScriptTask.from_str(f"cat {out_dir}/first.txt > {out_dir}/second.txt; hostname"),
        name="second",
    )
    launchpad.add_wf(Workflow([first, second], {first: [second]}))  # sets the new fw_ids
    ids = {"first": first.fw_id, "second": second.fw_id}

    assert launchpad.get_fw_by_id(ids["second"]).state == "WAITING"
    qlaunch(fw_config_dir, tmp_path / "launches")
    wait_for_state(launchpad, ids["first"], {"COMPLETED", "FIZZLED"})
    # the second became READY when the first completed (maybe while qlaunch still ran)
    if launchpad.get_fw_by_id(ids["second"]).state == "READY":
        qlaunch(fw_config_dir, tmp_path / "launches")
    wait_for_state(launchpad, ids["second"], {"COMPLETED", "FIZZLED"})

    states = {name: launchpad.get_fw_by_id(i).state for name, i in ids.items()}
    assert states == {"first": "COMPLETED", "second": "COMPLETED"}
    assert (out_dir / "second.txt").read_text().strip() == "first"
    # each ran exactly once, in a SLURM job (the launch records the job id)
    launches = {name: launchpad.get_fw_by_id(i).launches for name, i in ids.items()}
    for runs in launches.values():
        assert len(runs) == 1
        reservation = runs[0].state_history[0].get("reservation_id")
        assert reservation
        # and ionflow's rlaunch recorded the same SLURM job id with the worker
        assert runs[0].fworker.env["slurm_job_id"] == str(reservation)
    assert launches["second"][0].time_start >= launches["first"][0].time_end
    scripts = list((tmp_path / "launches").rglob("FW_submit.script"))
    assert len(scripts) == 2
    assert "ionflow.pipeline.rocket -c" in scripts[0].read_text()
    assert "singleshot" in scripts[0].read_text()


def test_scancelled_job_is_detected_as_lost_and_rerun(launchpad, fw_config_dir, tmp_path):
    marker = tmp_path / "first_attempt_started"
    # first attempt hangs (and is killed); the rerun finds the marker and finishes
    script = f"if [ -e {marker} ]; then echo rerun; else touch {marker}; sleep 120; fi"
    task = ScriptTask.from_str(script, {"store_stdout": True})
    killed = Firework(task, name="killed")
    launchpad.add_wf(killed)
    fw_id = killed.fw_id

    qlaunch(fw_config_dir, tmp_path / "launches")
    wait_for_state(launchpad, fw_id, {"RUNNING"})
    t0 = time.monotonic()
    while not marker.exists() and time.monotonic() - t0 < 30:
        time.sleep(0.2)
    job_id = launchpad.get_fw_by_id(fw_id).launches[-1].state_history[0]["reservation_id"]
    assert job_id in squeue_ids()
    subprocess.run(["scancel", job_id], check=True)
    t0 = time.monotonic()
    while job_id in squeue_ids() and time.monotonic() - t0 < 30:
        time.sleep(0.5)
    assert job_id not in squeue_ids()
    assert launchpad.get_fw_by_id(fw_id).state == "RUNNING"  # nobody told the database

    time.sleep(2)  # let the last ping age past expiration_secs
    lost_launches, lost_fws, _ = launchpad.detect_lostruns(expiration_secs=1, rerun=True)
    assert fw_id in lost_fws and len(lost_launches) == 1
    assert launchpad.get_fw_by_id(fw_id).state == "READY"

    qlaunch(fw_config_dir, tmp_path / "launches")
    assert wait_for_state(launchpad, fw_id, {"COMPLETED", "FIZZLED"}) == "COMPLETED"
    fw = launchpad.get_fw_by_id(fw_id)
    assert len(fw.archived_launches) == 1 and len(fw.launches) == 1
    assert "rerun" in fw.launches[0].action.stored_data["stdout"]


def test_watch_reruns_a_scancelled_job_within_two_intervals(
    launchpad, fw_config_dir, db_uri, tmp_path
):
    """`ionflow watch --interval 5` on the real SLURM: scancel -> READY within 10 s."""
    import os

    marker = tmp_path / "first_attempt_started"
    script = f"if [ -e {marker} ]; then echo rerun; else touch {marker}; sleep 120; fi"
    killed = Firework(ScriptTask.from_str(script, {"store_stdout": True}), name="killed")
    launchpad.add_wf(killed)
    fw_id = killed.fw_id
    qlaunch(fw_config_dir, tmp_path / "launches")
    wait_for_state(launchpad, fw_id, {"RUNNING"})
    launch = launchpad.launches.find_one({"fw_id": fw_id, "state": "RUNNING"})
    job_id = launch["fworker"]["env"]["slurm_job_id"]  # recorded by ionflow's rlaunch
    assert launch["fworker"]["env"]["slurm_cluster"]  # the cluster the id belongs to
    assert job_id in squeue_ids()

    env = {**os.environ, "IONFLOW_DB_URI": db_uri}
    command = [str(BIN_DIR / "ionflow"), "watch", "--interval", "5"]
    watcher = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        time.sleep(2)
        second = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert second.returncode == 2 and "another ionflow watch" in second.stderr
        subprocess.run(["scancel", job_id], check=True)
        cancelled_at = time.monotonic()
        wait_for_state(launchpad, fw_id, {"READY"}, timeout_s=10.0)  # two intervals
        print(f"scancel -> READY in {time.monotonic() - cancelled_at:.1f} s")
    finally:
        watcher.terminate()
        output, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, output
    assert f"firework {fw_id}: SLURM job {job_id}" in output
    assert launchpad.db["ionflow_watch_lock"].count_documents({}) == 0
    qlaunch(fw_config_dir, tmp_path / "launches")
    assert wait_for_state(launchpad, fw_id, {"COMPLETED", "FIZZLED"}) == "COMPLETED"
    assert "rerun" in launchpad.get_fw_by_id(fw_id).launches[0].action.stored_data["stdout"]
