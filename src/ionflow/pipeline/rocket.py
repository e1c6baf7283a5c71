"""FireWorks' ``rlaunch`` that records the SLURM job id in every launch it starts.

Run as ``python -m ionflow.pipeline.rocket <rlaunch arguments>`` (the ``rocket_launch``
line of the ``my_qadapter.yaml`` that ``ionflow config init`` writes). It is FireWorks'
own ``rlaunch`` with one difference: the FireWorker it runs as carries
``env.slurm_job_id`` (from ``SLURM_JOB_ID``; and ``env.slurm_cluster`` from
``SLURM_CLUSTER_NAME``), and FireWorks stores the worker with each
launch when it checks a firework out (``launches.fworker.env.slurm_job_id``). So the
SLURM job of every RUNNING job is recorded atomically with its start, by FireWorks,
without any ionflow code in the job itself, also for jobs added at run time.
``ionflow status`` shows it and ``ionflow watch`` asks SLURM whether that job still
exists (:func:`slurm_job_id_of`). Outside SLURM this is plain ``rlaunch``.

FireWorks' ``qlaunch --reservation`` mode records the SLURM id too (in the launch's
RESERVED ``state_history`` entry, ``reservation_id``); both are read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SLURM_ENV_KEY = "slurm_job_id"
SLURM_CLUSTER_KEY = "slurm_cluster"


def with_slurm_job_id(fworker, job_id: str | None = None):
    """Return a copy of ``fworker`` whose ``env`` holds the SLURM job id (if any)."""
    from fireworks import FWorker

    job_id = job_id if job_id is not None else os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return fworker
    env = {**(fworker.env or {}), SLURM_ENV_KEY: str(job_id)}
    if os.environ.get("SLURM_CLUSTER_NAME"):  # job ids are unique per cluster only
        env[SLURM_CLUSTER_KEY] = os.environ["SLURM_CLUSTER_NAME"]
    return FWorker(name=fworker.name, category=fworker.category, query=fworker._query, env=env)


def slurm_cluster_of(launch: dict) -> str | None:
    """SLURM cluster recorded in a launch document (None if not recorded)."""
    env = (launch.get("fworker") or {}).get("env") or {}
    return env.get(SLURM_CLUSTER_KEY) or None


def slurm_job_id_of(launch: dict) -> str | None:
    """SLURM job id recorded in a launch document (worker env, or a qlaunch reservation)."""
    env = (launch.get("fworker") or {}).get("env") or {}
    if env.get(SLURM_ENV_KEY):
        return str(env[SLURM_ENV_KEY])
    for entry in launch.get("state_history") or []:
        if entry.get("reservation_id"):
            return str(entry["reservation_id"])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run FireWorks' ``rlaunch`` with the SLURM job id in the worker's ``env``.

    Its LaunchPad and jobflow's JobStore ride out a database outage
    (:mod:`ionflow.db.outage`, setting ``db_outage_wait_s``).
    """
    import jobflow
    from fireworks.core.fworker import FWorker
    from fireworks.core.launchpad import LaunchPad
    from fireworks.scripts import rlaunch_run

    from ionflow.db.stores import worker_jobstore, worker_launchpad

    class SlurmWorkerLoader:
        """Stands in for ``FWorker`` in rlaunch: ``FWorker()`` and ``FWorker.from_file``."""

        @staticmethod
        def from_file(filename, f_format=None):
            return with_slurm_job_id(FWorker.from_file(filename, f_format))

        def __call__(self, *args, **kwargs):
            return with_slurm_job_id(FWorker(*args, **kwargs))

    class OutageTolerantLoader:
        """Stands in for ``LaunchPad`` in rlaunch: its LaunchPad rides out a DB outage."""

        @staticmethod
        def from_file(filename):
            return worker_launchpad(LaunchPad.from_file(filename))

        def __call__(self, *args, **kwargs):
            return worker_launchpad(LaunchPad(*args, **kwargs))

    rlaunch_run.FWorker = SlurmWorkerLoader()
    rlaunch_run.LaunchPad = OutageTolerantLoader()
    jobflow.SETTINGS.JOB_STORE = worker_jobstore(jobflow.SETTINGS.JOB_STORE)
    return rlaunch_run.rlaunch(argv)


if __name__ == "__main__":
    sys.exit(main())
