"""Submit -> COMPLETED of an empty job through SLURM: median and p95 over 20.

Usage:
    .venv/bin/python benchmarks/slurm_latency.py            # 20 of each
    .venv/bin/python benchmarks/slurm_latency.py --repeats 50

In a temporary work directory, with the local SLURM of `ionflow cluster up` and an
embedded database of its own (both stopped at the end), one job at a time:

- ``sbatch``: ``sbatch --wrap true`` until ``scontrol`` says COMPLETED (SLURM alone);
- ``ionflow launch``: an empty firework (``true``) added to the LaunchPad until it is
  COMPLETED there (the launch's ``time_end``), run by ionflow's launcher
  (:class:`ionflow.pipeline.launch.SlurmLauncher`, reservation mode: sbatch, the
  rocket's start-up in the allocation, the database round trips), i.e. what a user's
  smallest job costs on top of its work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ionflow.cluster.local_slurm import run_local_slurm, slurm_env
from ionflow.settings import IonflowSettings


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def sbatch_latency(work: Path) -> float:
    """One `sbatch --wrap true` until scontrol says COMPLETED, s."""
    t0 = time.perf_counter()
    out = subprocess.run(
        ["sbatch", "--parsable", "-o", str(work / "slurm-%j.out"), "--wrap", "true"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    job_id = out.stdout.strip().split(";")[0]
    while True:  # the local cluster keeps no accounting (no sacct): scontrol knows
        out = subprocess.run(
            ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=False
        ).stdout
        state = next((f[9:] for f in out.split() if f.startswith("JobState=")), "")
        if state == "COMPLETED":
            return time.perf_counter() - t0
        if state in ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            sys.exit(f"empty job {job_id} ended {state}")
        time.sleep(0.02)


def launch_latencies(work: Path, repeats: int) -> list[float]:
    """Empty fireworks, one at a time, through `SlurmLauncher`; add -> COMPLETED, s."""
    from fireworks import Firework, FWorker, ScriptTask
    from fireworks.utilities.fw_serializers import load_object_from_file

    from ionflow.config.render import ConfigOptions, write_configs
    from ionflow.db import server
    from ionflow.db.stores import get_launchpad
    from ionflow.pipeline.launch import SlurmLauncher
    from ionflow.pipeline.resume import naive_utc, now_utc
    from ionflow.pipeline.submit import ensure_launchpad

    db_dir = work / "db"
    env_dir = IonflowSettings().data_dir / "db-env"  # the user's server install, as in tests
    status = server.start(db_dir, port=server.free_port(), env_dir=env_dir)
    try:
        uri = f"{status.uri}bench"
        options = ConfigOptions(config_dir=work / "config", db_uri=uri, walltime="00:05:00")
        write_configs(options)
        lpad = get_launchpad(IonflowSettings(db_uri=uri), strm_lvl="WARNING")
        ensure_launchpad(lpad)
        fworker = FWorker.from_file(str(options.config_dir / "my_fworker.yaml"))
        qadapter = load_object_from_file(str(options.config_dir / "my_qadapter.yaml"))
        times = []
        for i in range(repeats):
            submitted = now_utc()
            firework = Firework(ScriptTask.from_str("true"), name=f"empty-{i}")
            lpad.add_wf(firework)
            launcher = SlurmLauncher(lpad, fworker, qadapter, work / "runs", 1, 1, poll_s=0.05)
            launcher.run()
            if lpad.get_fw_by_id(firework.fw_id).state != "COMPLETED":
                sys.exit(f"empty firework {firework.fw_id}: {launcher.report.stop_reason}")
            # FireWorks' own record of when the job was COMPLETED (naive UTC)
            launch = lpad.launches.find_one({"fw_id": firework.fw_id}, {"time_end": 1})
            times.append((naive_utc(launch["time_end"]) - submitted).total_seconds())
        lpad.connection.close()
        return times
    finally:
        server.stop(db_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="jobs of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        work = Path(tmp)
        cluster = work / "cluster"
        result = run_local_slurm("up", cluster)
        if result.returncode:
            sys.exit(f"cluster did not start: {result.stderr}")
        os.environ.update(slurm_env(cluster))
        try:
            raw = [sbatch_latency(work) for _ in range(args.repeats)]
            through = launch_latencies(work, args.repeats)
        finally:
            run_local_slurm("down", cluster)
    for name, values in (("sbatch --wrap true", raw), ("ionflow launch --slurm", through)):
        print(
            f"{name:24s} submit -> COMPLETED over {len(values)}: median "
            f"{statistics.median(values):6.2f} s  p95 {p95(values):6.2f} s  "
            f"max {max(values):6.2f} s"
        )


if __name__ == "__main__":
    main()
