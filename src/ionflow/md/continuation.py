"""Checkpoints of an MD run: where it stopped, and how to size the next segment.

A run is a sequence of segments, each in its own directory (one job each). Every segment
writes LAMMPS restart files ``restart.<step>`` every ``restart_every`` steps and one more
when it ends cleanly (end of protocol or ``timer timeout``). The next segment starts from
the newest restart file of the previous one, whether that segment ended cleanly or was
killed (walltime, ``scancel``, node failure, SIGKILL). Trajectory frames written after
that restart are dropped when the segments' dumps are joined
(:func:`ionflow.md.dump_binary.join_dump_segments`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ionflow.md.sets.deck import FINAL_RESTART_PREFIX

_RESTART_RE = re.compile(re.escape(FINAL_RESTART_PREFIX) + r"(\d+)$")
# LAMMPS restart files start with this magic; a file killed while being written may not
_RESTART_MAGIC = b"LammpS RestartT"


def restart_files(run_dir: str | Path) -> list[tuple[int, Path]]:
    """Return ``(step, path)`` of the restart files in ``run_dir``, oldest first."""
    found = []
    for path in Path(run_dir).glob(f"{FINAL_RESTART_PREFIX}*"):
        match = _RESTART_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_restart(run_dir: str | Path) -> tuple[int, Path] | None:
    """Return ``(step, path)`` of the newest complete restart file, or None.

    A restart file cut short by a kill (no magic header, or a size under half of the
    previous one) is skipped and the one before it is used.
    """
    files = restart_files(run_dir)
    for k in range(len(files) - 1, -1, -1):
        step, path = files[k]
        head = path.read_bytes()[: len(_RESTART_MAGIC)]
        previous_size = files[k - 1][1].stat().st_size if k > 0 else 0
        if head == _RESTART_MAGIC and path.stat().st_size >= previous_size // 2:
            return step, path
    return None


def prune_restarts(run_dir: str | Path, keep: int = 2) -> None:
    """Delete all but the newest ``keep`` restart files of ``run_dir``."""
    for _, path in restart_files(run_dir)[:-keep]:
        path.unlink(missing_ok=True)


def segment_steps(
    walltime_s: float,
    steps_per_second: float,
    restart_every: int,
    safety: float = 0.85,
    setup_s: float | None = None,
) -> int:
    """Number of MD steps that fit one allocation, a multiple of ``restart_every``.

    Args:
        walltime_s: the allocation's walltime (s).
        steps_per_second: speed measured in the previous segment (MD steps/s).
        restart_every: checkpoint interval (steps).
        safety: fraction of the walltime used for MD.
        setup_s: start-up time (reading the restart, building lists) (s); default 5 %
            of the walltime, at most 60 s.

    Returns:
        At least ``restart_every`` steps.
    """
    setup_s = min(60.0, 0.05 * walltime_s) if setup_s is None else setup_s
    usable = max(walltime_s * safety - setup_s, 0.0)
    steps = math.floor(usable * steps_per_second / restart_every) * restart_every
    return max(steps, restart_every)


def timeout_string(walltime_s: float, safety: float = 0.9) -> str:
    """LAMMPS ``timer timeout`` value (``HH:MM:SS``) that ends a run before the walltime."""
    seconds = max(int(walltime_s * safety), 1)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
