"""Ask SLURM which jobs still exist (``squeue``) and how finished ones ended (``sacct``).

Used by ``ionflow status`` and ``ionflow watch`` to tell a RUNNING job whose SLURM job
is gone (``scancel``, node failure, walltime, out of memory) from one that is alive,
minutes instead of FireWorks' 4 h ping window. Both commands are called once per pass
for all jobs. When SLURM cannot answer (command missing, error, timeout) the functions
return None and callers do nothing: an unknown answer never reruns a job.
"""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Iterable

TIMEOUT_S = 20.0
# squeue states of a job that is not over (COMPLETING: the batch script has exited)
ALIVE_STATES = {
    "PENDING", "RUNNING", "CONFIGURING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
    "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD",
}  # fmt: skip


def _run(command: list[str]) -> str | None:
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def alive_jobs(squeue: str = "squeue", user: str | None = None) -> set[str] | None:
    """Ids of the user's SLURM jobs that are not over, or None if SLURM cannot answer."""
    user = user or getpass.getuser()
    out = _run([squeue, "-h", "-u", user, "-o", "%i %T"])
    if out is None:
        return None
    alive = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].upper() in ALIVE_STATES:
            alive.add(fields[0])
    return alive


def gone_jobs(job_ids: Iterable[str], squeue: str = "squeue") -> set[str] | None:
    """Those of ``job_ids`` SLURM no longer runs nor queues (None: SLURM did not answer)."""
    job_ids = {str(job_id) for job_id in job_ids}
    if not job_ids:
        return set()
    alive = alive_jobs(squeue)
    return None if alive is None else job_ids - alive


def end_states(job_ids: Iterable[str], sacct: str = "sacct") -> dict[str, str]:
    """How finished jobs ended (``TIMEOUT``, ``OUT_OF_MEMORY``, ``CANCELLED``, ``NODE_FAIL``...).

    Jobs ``sacct`` does not know (accounting off) are left out.
    """
    job_ids = sorted({str(job_id) for job_id in job_ids})
    if not job_ids:
        return {}
    out = _run([sacct, "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)])
    states = {}
    for line in (out or "").splitlines():
        job_id, _, state = line.partition("|")
        if job_id in job_ids and state:
            states[job_id] = state.split()[0].upper()  # "CANCELLED by 0" -> CANCELLED
    return states
