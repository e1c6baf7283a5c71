"""LAMMPS binary ``dump custom`` files (``.bin``): frames, and joining run segments.

Production trajectories are written by LAMMPS itself (``dump custom N traj.bin id type
xu yu zu`` with ``dump_modify sort id``), so both engines give byte-identical formats.
This module only splits such files into frames (header with the cell per frame) so that
segments of a continued run can be joined without duplicated or missing frames; the
analysis stage reads the joined file with ``ionflow.analysis.readers``.

Layout of one frame (LAMMPS >= 2021, ``DUMPCUSTOM`` revision 2, native endianness):
``int64 -len(magic)``, magic, ``int32 endian``, ``int32 revision``, ``int64 timestep``,
``int64 natoms``, ``int32 triclinic``, ``6 x int32 boundary``, ``6 x float64`` bounds
(``xlo xhi ylo yhi zlo zhi``, bounding box for triclinic), ``3 x float64 xy xz yz`` if
triclinic, ``int32 size_one``, ``int32 len`` + unit style, ``int8 time flag`` (+
``float64 time``), ``int32 len`` + column names, ``int32 nchunk``, then per chunk
``int32 n`` + ``n x float64`` values. Positions in Å.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ionflow.errors import IonflowInputError

MAGIC = b"DUMPCUSTOM"


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


def _cell_from_bounds(bounds: Sequence[float], tilts: Sequence[float]) -> np.ndarray:
    xlo_b, xhi_b, ylo_b, yhi_b, zlo_b, zhi_b = bounds
    xy, xz, yz = tilts
    xlo = xlo_b - min(0.0, xy, xz, xy + xz)
    xhi = xhi_b - max(0.0, xy, xz, xy + xz)
    ylo, yhi = ylo_b - min(0.0, yz), yhi_b - max(0.0, yz)
    return np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi_b - zlo_b]])


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise EOFError
        out = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return out

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise EOFError
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def iter_dump_frames(path: str | Path) -> Iterator[DumpFrame]:
    """Yield the complete frames of a binary custom dump; a truncated last frame is skipped.

    A run killed while writing leaves a partial frame at the end of the file; it is
    dropped (the continuation rewrites it).

    Raises:
        IonflowInputError: if the file is not a LAMMPS binary custom dump.
    """
    path = Path(path)
    reader = _Reader(path.read_bytes(), path)
    while reader.pos < len(reader.data):
        start = reader.pos
        try:
            (neg_len,) = reader.take("<q")
            if neg_len >= 0 or reader.bytes(-neg_len) != MAGIC:
                raise IonflowInputError(f"{path}: not a LAMMPS binary custom dump (dump *.bin)")
            _endian, _revision, timestep, natoms, triclinic = reader.take("<iiqqi")
            reader.take("<6i")
            bounds = reader.take("<6d")
            tilts = reader.take("<3d") if triclinic else (0.0, 0.0, 0.0)
            (size_one,) = reader.take("<i")
            (unit_len,) = reader.take("<i")
            reader.bytes(unit_len)
            (time_flag,) = reader.take("<b")
            if time_flag:
                reader.take("<d")
            (col_len,) = reader.take("<i")
            columns = reader.bytes(col_len).decode().split()
            (nchunk,) = reader.take("<i")
            chunks = []
            for _ in range(nchunk):
                (n,) = reader.take("<i")
                chunks.append(np.frombuffer(reader.bytes(8 * n), dtype="<f8"))
        except EOFError:
            return
        values = np.concatenate(chunks).reshape(natoms, size_one) if chunks else np.empty((0,))
        yield DumpFrame(
            timestep=timestep,
            cell=_cell_from_bounds(bounds, tilts),
            columns=columns,
            values=values,
            raw=reader.data[start : reader.pos],
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
