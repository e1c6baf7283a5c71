"""Checkpoints of an MD run: where it stopped, and how to size the next segment.

A run is a sequence of segments, each in its own directory (one job each). Every segment
writes a LAMMPS restart file every ``restart_every`` steps, alternating between
``restart.a`` and ``restart.b`` (so a long segment keeps two files, not thousands),
and ``restart.<step>`` when it ends cleanly (end of protocol or ``timer timeout``). The
next segment starts from the newest restart file of the previous one, whether that
segment ended cleanly or was killed (walltime, ``scancel``, node failure, SIGKILL).
Trajectory frames written after that restart are dropped when the segments' dumps are
joined (:func:`ionflow.io.lammps_dump.join_dump_segments`).
"""

from __future__ import annotations

import math
from pathlib import Path

from ionflow.io.lammps_restart import restart_step
from ionflow.md.sets.deck import FINAL_RESTART_PREFIX


def restart_files(run_dir: str | Path) -> list[tuple[int, Path]]:
    """Return ``(step, path)`` of the restart files in ``run_dir``, oldest first.

    These are the two files LAMMPS alternates between during a run (``restart.a``,
    ``restart.b``) and the numbered one written when a segment ends (``restart.<step>``);
    the step is read from each file's header.
    """
    found = []
    for path in Path(run_dir).glob(f"{FINAL_RESTART_PREFIX}*"):
        step = restart_step(path)
        if step is not None:
            found.append((step, path))
    # at equal steps the numbered end-of-segment file counts as the newer one
    return sorted(found, key=lambda item: (item[0], item[1].suffix[1:].isdigit()))


def latest_restart(run_dir: str | Path) -> tuple[int, Path] | None:
    """Return ``(step, path)`` of the newest complete restart file, or None.

    A restart file cut short by a kill (unreadable header, or more than 2 % smaller than
    the largest other restart file of the same cell) is skipped and the older one used.
    """
    files = restart_files(run_dir)
    sizes = [path.stat().st_size for _, path in files]
    for k in range(len(files) - 1, -1, -1):
        others = sizes[:k] + sizes[k + 1 :]
        if not others or sizes[k] >= 0.98 * max(others):
            return files[k]
    return None


def prune_restarts(run_dir: str | Path, keep: int = 1) -> None:
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
