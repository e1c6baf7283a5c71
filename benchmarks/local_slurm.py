"""Timings of the local SLURM cluster and of FireWorks on it.

Usage:
    .venv/bin/python benchmarks/local_slurm.py            # 10 sbatch jobs, 3 fireworks
    .venv/bin/python benchmarks/local_slurm.py --jobs 50 --fireworks 10

Measures, in a temporary work directory (the cluster and the embedded database are
stopped at the end): `up` from cold, `up` again (no-op), `down`; `sbatch --wrap true` of
N jobs until the queue is empty (scheduling latency and throughput); and `qlaunch -r
rapidfire` of M independent fireworks (`echo`) to all COMPLETED, i.e. the overhead per
firework of queue submission plus `rlaunch singleshot` start-up, on the embedded database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ionflow.cluster.local_slurm import run_local_slurm, slurm_env
from ionflow.settings import IonflowSettings


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def squeue_empty() -> bool:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True)
    return not out.stdout.strip()


def bench_sbatch(n_jobs: int, work: Path) -> float:
    t0 = time.perf_counter()
    for _ in range(n_jobs):
        subprocess.run(
            ["sbatch", "-Q", "-o", str(work / "slurm-%j.out"), "--wrap", "true"], check=True
        )
    while not squeue_empty():
        time.sleep(0.05)
    return time.perf_counter() - t0


def bench_fireworks(n_fireworks: int, work: Path) -> float:
    from fireworks import Firework, LaunchPad, ScriptTask

    from ionflow.config.render import ConfigOptions, write_configs
    from ionflow.db import server

    db_dir = work / "db"
    env_dir = IonflowSettings().data_dir / "db-env"  # the user's server install, as in tests
    status = server.start(db_dir, port=server.free_port(), env_dir=env_dir)
    try:
        uri = f"{status.uri}bench"
        options = ConfigOptions(config_dir=work / "config", db_uri=uri, walltime="00:05:00")
        write_configs(options)
        lpad = LaunchPad.from_file(str(options.config_dir / "my_launchpad.yaml"))
        lpad.reset("", require_password=False)
        for i in range(n_fireworks):
            lpad.add_wf(Firework(ScriptTask.from_str(f"echo {i}"), name=f"fw{i}"))
        (work / "launches").mkdir()
        qlaunch = [str(Path(sys.executable).parent / "qlaunch"), "-c", str(options.config_dir)]
        qlaunch += ["-r", "--launch_dir", str(work / "launches"), "rapidfire", "--nlaunches", "0"]
        t0 = time.perf_counter()
        subprocess.run(qlaunch, capture_output=True, check=True)
        while lpad.fireworks.count_documents({"state": "COMPLETED"}) < n_fireworks:
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        lpad.connection.close()
        return elapsed
    finally:
        server.stop(db_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="sbatch jobs")
    parser.add_argument("--fireworks", type=int, default=3, help="fireworks via qlaunch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
        work = Path(tmp)
        cluster = work / "cluster"
        t_up, result = timed(run_local_slurm, "up", cluster)
        if result.returncode:
            sys.exit(f"cluster did not start: {result.stderr}")
        os.environ.update(slurm_env(cluster))
        try:
            t_up_again, _ = timed(run_local_slurm, "up", cluster)
            t_jobs = bench_sbatch(args.jobs, work)
            t_fws = bench_fireworks(args.fireworks, work)
        finally:
            t_down, _ = timed(run_local_slurm, "down", cluster)
    print(f"cluster up (cold)            {t_up:7.2f} s")
    print(f"cluster up (already up)      {t_up_again:7.2f} s")
    print(f"cluster down                 {t_down:7.2f} s")
    print(
        f"sbatch {args.jobs:3d} x `true` to done  {t_jobs:7.2f} s  "
        f"({t_jobs / args.jobs:.2f} s/job, {args.jobs / t_jobs * 60:.0f} jobs/min)"
    )
    print(
        f"qlaunch {args.fireworks:3d} fireworks to COMPLETED {t_fws:7.2f} s  "
        f"({t_fws / args.fireworks:.2f} s/firework)"
    )


if __name__ == "__main__":
    main()
