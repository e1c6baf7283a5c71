"""Ask SLURM which jobs still exist (``squeue``) and how finished ones ended (``sacct``).

Used by ``ionflow status`` and ``ionflow watch`` to tell a RUNNING job whose SLURM job
is gone (``scancel``, node failure, walltime, out of memory) from one that is alive,
minutes instead of FireWorks' 4 h ping window. Both commands are called once per pass
for all jobs. When SLURM cannot answer (command missing, error, timeout) the functions
return None and callers do nothing: an unknown answer never reruns a job.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

TIMEOUT_S = 20.0
# SLURM --time as ionflow writes it: HH:MM:SS or D-HH:MM:SS
WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")
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


def _alive_states(squeue: str, user: str | None = None) -> dict[str, str] | None:
    """SLURM job id -> state of the user's jobs that are not over (None: no answer)."""
    out = _run([squeue, "-h", "-u", user or getpass.getuser(), "-o", "%i %T"])
    if out is None:
        return None
    states = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].upper() in ALIVE_STATES:
            states[fields[0]] = fields[1].upper()
    return states


def alive_jobs(squeue: str = "squeue", user: str | None = None) -> set[str] | None:
    """Ids of the user's SLURM jobs that are not over, or None if SLURM cannot answer."""
    states = _alive_states(squeue, user)
    return None if states is None else set(states)


def cluster_name(scontrol: str = "scontrol") -> str | None:
    """Name of the SLURM cluster this machine talks to (None if SLURM cannot say)."""
    if os.environ.get("SLURM_CLUSTER_NAME"):
        return os.environ["SLURM_CLUSTER_NAME"]
    for line in (_run([scontrol, "show", "config"]) or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ClusterName" and value.strip():
            return value.strip()
    return None


def gone_jobs(job_ids: Iterable[str], squeue: str = "squeue") -> set[str] | None:
    """Those of ``job_ids`` SLURM no longer runs nor queues (None: SLURM did not answer)."""
    job_ids = {str(job_id) for job_id in job_ids}
    if not job_ids:
        return set()
    alive = alive_jobs(squeue)
    return None if alive is None else job_ids - alive


@dataclass(frozen=True)
class SlurmEnd:
    """How a SLURM job ended (``sacct``).

    Attributes:
        state: ``TIMEOUT``, ``OUT_OF_MEMORY``, ``CANCELLED``, ``NODE_FAIL``, ``FAILED``...
        requested_mem_MB: memory the job asked for, MB (None if not reported).
    """

    state: str
    requested_mem_MB: float | None = None


_MEM_UNITS_MB = {"K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2}


def memory_mb(text: str | None) -> float | None:
    """Parse a SLURM memory size (``4000M``, ``4G``, ``4Gn``, ``16000Mc``) in MB."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)[nc]?\s*", text or "", flags=re.IGNORECASE)
    if not match:
        return None
    return float(match[1]) * _MEM_UNITS_MB[(match[2] or "M").upper()]


def end_states(job_ids: Iterable[str], sacct: str = "sacct") -> dict[str, SlurmEnd]:
    """How finished jobs ended; jobs ``sacct`` does not know (accounting off) are left out."""
    job_ids = sorted({str(job_id) for job_id in job_ids})
    if not job_ids:
        return {}
    out = _run([sacct, "-n", "-X", "-P", "-o", "JobID,State,ReqMem", "-j", ",".join(job_ids)])
    ends = {}
    for line in (out or "").splitlines():
        job_id, state, req_mem, *_ = [*line.split("|"), "", ""]
        if job_id in job_ids and state:
            # "CANCELLED by 0" -> CANCELLED
            ends[job_id] = SlurmEnd(state.split()[0].upper(), memory_mb(req_mem))
    return ends


def walltime_seconds(text: str) -> float:
    """Seconds of a SLURM time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``).

    Raises:
        ValueError: not a SLURM time limit.
    """
    match = re.fullmatch(r"\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*", str(text))
    if not match:
        raise ValueError(f"not a SLURM time limit: {text!r}")
    days, first, second, third = (int(x) if x else None for x in match.groups())
    if days is not None:  # D-HH[:MM[:SS]]
        return float(((days * 24 + first) * 60 + (second or 0)) * 60 + (third or 0))
    if third is not None:  # HH:MM:SS
        return float((first * 60 + second) * 60 + third)
    return float(first * 60 + (second or 0))  # MM[:SS]


def jobs_by_state(job_ids: Iterable[str], squeue: str = "squeue") -> dict[str, str] | None:
    """SLURM state (``PENDING``, ``RUNNING``...) of those of ``job_ids`` not over yet.

    None when SLURM cannot answer; a job that is over is left out.
    """
    job_ids = {str(job_id) for job_id in job_ids}
    if not job_ids:
        return {}
    states = _alive_states(squeue)
    return None if states is None else {i: s for i, s in states.items() if i in job_ids}
