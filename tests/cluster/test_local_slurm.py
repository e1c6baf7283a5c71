"""`ionflow cluster up|down|status`: idempotent, recovers from a crash, stops only its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ionflow.cluster.local_slurm import run_local_slurm, slurm_conf

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

IONFLOW = [sys.executable, "-m", "ionflow.cli.main"]


def cli(action: str, work_dir: Path) -> subprocess.CompletedProcess:
    """`ionflow cluster <action>` (the real CLI, ~2 s of imports per call)."""
    command = [*IONFLOW, "cluster", action, "--work-dir", str(work_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def cluster(action: str, work_dir: Path) -> subprocess.CompletedProcess:
    """The script behind the CLI, called directly (fast)."""
    return run_local_slurm(action, work_dir)


def daemon_pids(work_dir: Path) -> dict[str, int]:
    pids = {}
    for name in ("munged", "slurmctld", "slurmd"):
        path = work_dir / "run" / f"{name}.pid"
        if path.exists():
            pids[name] = int(path.read_text().strip())
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_up_down_are_idempotent_and_survive_a_crash(slurm_cluster, tmp_path):
    # a second cluster beside the session's one: own ports, key, socket and pid files
    work_dir = tmp_path / "c2"
    try:
        first = cli("up", work_dir)
        assert first.returncode == 0, first.stderr
        assert f"export SLURM_CONF={slurm_conf(work_dir)}" in first.stdout
        assert cli("env", work_dir).stdout == f"export SLURM_CONF={slurm_conf(work_dir)}\n"
        pids = daemon_pids(work_dir)
        assert set(pids) == {"munged", "slurmctld", "slurmd"} and all(map(alive, pids.values()))

        again = cluster("up", work_dir)
        assert again.returncode == 0 and "already up" in again.stderr
        assert daemon_pids(work_dir) == pids  # nothing restarted

        # crash: slurmctld dies hard, its pid file stays behind
        os.kill(pids["slurmctld"], signal.SIGKILL)
        t0 = time.monotonic()
        while alive(pids["slurmctld"]) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert cluster("status", work_dir).returncode == 3
        recovered = cluster("up", work_dir)
        assert recovered.returncode == 0, recovered.stderr
        new_pids = daemon_pids(work_dir)
        assert new_pids["slurmctld"] != pids["slurmctld"] and alive(new_pids["slurmctld"])
        env = {**os.environ, "SLURM_CONF": str(slurm_conf(work_dir))}
        sinfo = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
        assert sinfo.stdout.strip() == "idle"
        assert re.search(r"node: \S+ idle", cli("status", work_dir).stdout)
    finally:
        down = cluster("down", work_dir)
    assert down.returncode == 0
    assert not any(alive(pid) for pid in new_pids.values())
    assert not daemon_pids(work_dir)
    assert cluster("down", work_dir).returncode == 0  # stopping twice is fine
    assert cli("status", work_dir).returncode == 3

    # the session's cluster was not touched
    session = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    assert session.stdout.strip() == "idle"
    assert all(map(alive, daemon_pids(slurm_cluster).values()))
