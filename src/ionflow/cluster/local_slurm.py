"""Python side of ``local_slurm.sh``: start, stop and query the local SLURM cluster.

The shell script does the work (it is also usable by hand); this module finds it in the
installed package, runs it, and tells clients where the cluster's ``slurm.conf`` is.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Literal

from ionflow.settings import get_settings

SCRIPT = Path(__file__).with_name("local_slurm.sh")
Action = Literal["up", "down", "status", "env"]


def default_work_dir() -> Path:
    """Return the default cluster directory, ``<data_dir>/slurm``."""
    return get_settings().data_dir / "slurm"


def slurm_conf(work_dir: Path) -> Path:
    """Return the ``slurm.conf`` of the cluster in ``work_dir`` (absolute)."""
    return Path(work_dir).resolve() / "etc" / "slurm.conf"


def slurm_env(work_dir: Path) -> dict[str, str]:
    """Return the environment variables SLURM clients need for this cluster."""
    return {"SLURM_CONF": str(slurm_conf(work_dir))}


def run_local_slurm(
    action: Action, work_dir: Path | None = None, timeout_s: float = 60.0, capture: bool = True
) -> subprocess.CompletedProcess:
    """Run ``local_slurm.sh <action> --work-dir <work_dir>``.

    Args:
        action: ``up`` (install if missing, configure, start, wait for an idle node),
            ``down`` (cancel jobs, stop our daemons), ``status`` (exit code 0 when up,
            3 when not) or ``env`` (print the ``export SLURM_CONF=...`` line).
        work_dir: Cluster directory (default: :func:`default_work_dir`).
        timeout_s: Seconds to wait for each daemon and for the idle node.
        capture: Capture stdout/stderr instead of passing them through.

    Returns:
        The finished process (not checked: the caller decides what an exit code means).
    """
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir()
    command = ["bash", str(SCRIPT), action, "--work-dir", str(work_dir)]
    command += ["--timeout", str(int(timeout_s))]
    return subprocess.run(command, capture_output=capture, text=True, check=False)
