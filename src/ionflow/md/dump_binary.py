"""LAMMPS binary ``dump custom`` files (``.bin``): frames, and joining run segments.

Production trajectories are written by LAMMPS itself (``dump custom N traj.bin id type
xu yu zu`` with ``dump_modify sort id``), so both engines give byte-identical formats.
This module splits such files into frames (header with the cell per frame) so that
segments of a continued run can be joined without duplicated or missing frames. The
format itself is parsed in one place, :func:`ionflow.analysis.readers.iter_binary_dump_records`
(which also reads the joined file for the analysis stage); here each frame's bytes are
copied exactly as LAMMPS wrote them. Positions in Å.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ionflow.analysis.readers import iter_binary_dump_records


@dataclass
class DumpFrame:
    """One frame of a binary custom dump.

    Attributes:
        timestep: MD step number of the frame.
        cell: 3x3 cell matrix, rows are lattice vectors (Å).
        columns: column names (e.g. ``["id", "type", "xu", "yu", "zu"]``).
        values: (natoms, ncolumns) array of the per-atom values.
        raw: the frame's bytes exactly as written by LAMMPS.
    """

    timestep: int
    cell: np.ndarray
    columns: list[str]
    values: np.ndarray
    raw: bytes

    def column(self, name: str) -> np.ndarray:
        """Return the per-atom values of one column (e.g. ``"xu"``)."""
        return self.values[:, self.columns.index(name)]


def iter_dump_frames(path: str | Path) -> Iterator[DumpFrame]:
    """Yield the complete frames of a binary custom dump; a truncated last frame is skipped.

    A run killed while writing leaves a partial frame at the end of the file; it is
    dropped silently (the continuation rewrites it).

    Raises:
        IonflowInputError: if the file is not a LAMMPS binary custom dump.
    """
    with open(path, "rb") as raw_handle:
        for record in iter_binary_dump_records(path, warn_truncated=False):
            raw_handle.seek(record.offset)
            yield DumpFrame(
                timestep=record.step,
                cell=record.cell,
                columns=record.columns,
                values=record.data,
                raw=raw_handle.read(record.nbytes),
            )


def join_dump_segments(segments: Sequence[tuple[int, Path]], out: str | Path) -> int:
    """Join the dumps of consecutive run segments into one file, each frame once.

    Args:
        segments: ``(start_step, dump_file)`` per segment in run order; ``start_step`` is
            the step the segment (re)started from. Frames of a segment at or after the
            next segment's start step are dropped: the next segment restarted from an
            earlier checkpoint and wrote them again.
        out: joined binary dump.

    Returns:
        Number of frames written.
    """
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    n_frames = 0
    last_step = -1
    with tmp.open("wb") as handle:
        for k, (start, dump_file) in enumerate(segments):
            stop = segments[k + 1][0] if k + 1 < len(segments) else None
            if not Path(dump_file).exists():
                continue
            for frame in iter_dump_frames(dump_file):
                if frame.timestep < start or (stop is not None and frame.timestep >= stop):
                    continue
                if frame.timestep <= last_step:
                    continue  # a stage boundary can repeat a frame; keep the first
                handle.write(frame.raw)
                last_step = frame.timestep
                n_frames += 1
    tmp.replace(out)
    return n_frames
