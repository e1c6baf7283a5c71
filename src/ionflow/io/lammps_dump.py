"""LAMMPS ``dump custom`` files: text and binary frames, and joining the dumps of run segments.

The one parser of LAMMPS dumps in ionflow. Text dumps (``ITEM:`` headers; orthogonal,
restricted and general triclinic boxes) and binary dumps (``dump custom ... f.bin``,
format revision 2, LAMMPS >= 2021, 2025; the production format of the MD stage) are read
as :class:`DumpRecord` frames, one at a time and in file order; a truncated last frame
(a run killed while writing) is skipped. What the columns mean (positions, species) is
left to the caller (:mod:`ionflow.analysis.readers` builds trajectory frames from them).
Joining copies each binary frame's bytes exactly as LAMMPS wrote them, so segments of a
continued run become one file without duplicated or missing frames. Units: Å; times in
fs (from the unit style of a binary dump written with ``time yes``).
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from ionflow.errors import IonflowInputError

BINARY_MAGIC = b"DUMPCUSTOM"
# time unit of the LAMMPS unit styles, in fs (for binary dumps written with `time yes`)
LAMMPS_TIME_UNIT_FS = {"metal": 1000.0, "real": 1.0, "electron": 1e-3 * 0.02418884, "si": 1e15}


def dump_format(path: str | Path) -> str | None:
    """``lammps-binary`` or ``lammps-text`` from the first bytes of ``path``, else None."""
    with open(path, "rb") as handle:
        head = handle.read(32)
    if head[8:18] == BINARY_MAGIC:
        return "lammps-binary"
    if head.startswith(b"ITEM:"):
        return "lammps-text"
    return None


def lammps_cell_from_bounds(
    bounds: np.ndarray, tilts: tuple[float, float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (cell, origin) in Å from LAMMPS dump box bounds (bounding box if triclinic).

    Args:
        bounds: (3, 2) ``lo hi`` per axis as written in the dump.
        tilts: ``(xy, xz, yz)`` for a restricted triclinic box, None if orthogonal.
    """
    (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds
    xy = xz = yz = 0.0
    if tilts is not None:
        xy, xz, yz = tilts
        xlo -= min(0.0, xy, xz, xy + xz)
        xhi -= max(0.0, xy, xz, xy + xz)
        ylo -= min(0.0, yz)
        yhi -= max(0.0, yz)
    cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return cell, np.array([xlo, ylo, zlo])


@dataclass
class DumpRecord:
    """One frame of a LAMMPS custom dump (text or binary) as stored, atoms in file order.

    Attributes:
        step: MD step number of the frame.
        time_fs: time of the frame in fs, or None when the file does not say.
        cell: (3, 3) lattice vectors (rows) in Å.
        origin: (3,) corner of the cell in Å.
        columns: names of the numeric columns (e.g. ``["id", "type", "xu", "yu", "zu"]``).
        data: (natoms, ncolumns) per-atom values of those columns, in file order.
        unit_style: LAMMPS unit style (``metal``...), written in the first frame only;
            empty when the file does not say.
        offset: byte offset of the frame's first byte in the file (binary dumps).
        nbytes: length of the frame in the file (bytes; binary dumps).
        labels: text columns of a text dump by name, per atom in file order (``element``
            of ``dump_modify element``, ``type`` written as type labels).
    """

    step: int
    time_fs: float | None
    cell: np.ndarray
    origin: np.ndarray
    columns: list[str]
    data: np.ndarray
    unit_style: str = ""
    offset: int = 0
    nbytes: int = 0
    labels: dict[str, np.ndarray] = field(default_factory=dict)


def iter_text_dump_records(path: str | Path) -> Iterator[DumpRecord]:
    """Yield the complete frames of a LAMMPS text ``dump custom`` file, one at a time.

    Any columns: numbers go to ``data``, text columns (``element``, type labels) to
    ``labels``. A truncated last frame is skipped with a warning.

    Raises:
        IonflowInputError: if a frame's atom lines are not numbers.
    """
    path = Path(path)
    with open(path) as handle:
        while (record := _read_text_record(handle, path)) is not None:
            yield record


def _read_text_record(handle: TextIO, path: Path) -> DumpRecord | None:
    """Read one ``ITEM:`` frame, None at the end of the file (or of its last complete frame)."""
    line = handle.readline()
    while line and not line.startswith("ITEM: TIMESTEP"):
        line = handle.readline()
    if not line:
        return None
    try:
        step = int(handle.readline().split()[0])
        handle.readline()  # ITEM: NUMBER OF ATOMS
        n_atoms = int(handle.readline())
        box_header = handle.readline().split()[3:]
        box_lines = [handle.readline().split() for _ in range(3)]
        columns = handle.readline().split()[2:]
    except (ValueError, IndexError):
        warnings.warn(f"{path}: incomplete frame header at the end, skipped", stacklevel=2)
        return None
    if box_header[:1] == ["abc"]:  # general triclinic: avec/bvec/cvec + origin
        rows = np.array(box_lines, dtype=float)
        cell, origin = rows[:, :3], rows[:, 3]
    else:
        values = np.array(box_lines, dtype=float)
        tilts = tuple(values[:, 2]) if values.shape[1] == 3 else None
        cell, origin = lammps_cell_from_bounds(values[:, :2], tilts)
    lines = list(islice(handle, n_atoms))
    if len(lines) < n_atoms:
        warnings.warn(f"{path}: truncated last frame (step {step}) skipped", stacklevel=2)
        return None
    try:
        # fromstring in text mode (sep=" ") is the fast parser; newlines count as spaces;
        # it only warns (DeprecationWarning) where it stops at a non-number
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring("".join(lines), sep=" ")
        data = values.reshape(n_atoms, len(columns))
    except (ValueError, DeprecationWarning):
        return _text_record_with_labels(lines, path, step, cell, origin, columns)
    return DumpRecord(step, None, cell, origin, columns, data)


def _text_record_with_labels(
    lines: list[str], path: Path, step: int, cell: np.ndarray, origin: np.ndarray, columns: list
) -> DumpRecord:
    """A frame with text columns: numeric columns to ``data``, the others to ``labels``."""
    rows = [line.split() for line in lines]
    bad = next((i for i, row in enumerate(rows) if len(row) != len(columns)), None)
    if bad is not None:
        raise IonflowInputError(
            f"{path}: malformed atom line {bad + 1} at step {step} "
            f"({len(rows[bad])} values for the {len(columns)} columns {' '.join(columns)})"
        )
    table = np.array(rows)
    numeric, labels = [], {}
    for k, name in enumerate(columns):
        try:
            numeric.append((name, table[:, k].astype(float)))
        except ValueError:
            labels[name] = table[:, k]
    if any(name not in ("element", "type") for name in labels):
        names = ", ".join(n for n in labels if n not in ("element", "type"))
        raise IonflowInputError(f"{path}: column {names} is not numbers at step {step}")
    data = np.column_stack([v for _, v in numeric]) if numeric else np.zeros((len(rows), 0))
    return DumpRecord(step, None, cell, origin, [n for n, _ in numeric], data, labels=labels)


def iter_binary_dump_records(path: str | Path, warn_truncated: bool = True) -> Iterator[DumpRecord]:
    """Yield the complete frames of a LAMMPS binary ``dump custom`` file, one at a time.

    The only parser of the binary format (revision 2, LAMMPS >= 2021, 2025): the analysis
    readers and the joining of MD segments (:func:`join_dump_segments`, which copies
    ``offset``/``nbytes`` byte ranges) both use it.
    A truncated last frame (a run killed while writing) is skipped.

    Args:
        path: binary dump file.
        warn_truncated: warn (UserWarning) when a truncated last frame is skipped.

    Raises:
        IonflowInputError: if the file is not a LAMMPS binary custom dump (revision 2,
            little-endian) or a frame's column names do not match its record size.
    """
    path = Path(path)
    unit_style = ""  # LAMMPS writes the unit style in the first frame only
    with open(path, "rb") as handle:
        while True:
            offset = handle.tell()
            try:
                record = _read_binary_record(handle, path, unit_style)
            except _TruncatedError:
                if warn_truncated:
                    warnings.warn(f"{path}: truncated last frame skipped", stacklevel=2)
                return
            if record is None:
                return
            unit_style = record.unit_style
            record.offset, record.nbytes = offset, handle.tell() - offset
            yield record


def _read_binary_record(handle: BinaryIO, path: Path, unit_style: str) -> DumpRecord | None:
    """Read one frame (``unit_style``: the one in effect so far), None at the end of file."""
    head = handle.read(8)
    if not head:
        return None
    if len(head) < 8:
        raise _TruncatedError
    (marker,) = _unpack(handle, "<q", head)
    if marker >= 0:
        raise IonflowInputError(
            f"{path}: old binary dump format without magic string; "
            "convert it with LAMMPS tools/binary2txt"
        )
    magic = _read(handle, -marker)
    if magic != BINARY_MAGIC:
        raise IonflowInputError(f"{path}: not a LAMMPS dump custom binary file")
    endian, _revision = _unpack(handle, "<ii")
    if endian != 1:
        raise IonflowInputError(f"{path}: big-endian binary dumps are not supported")
    step, n_atoms, triclinic = _unpack(handle, "<qqi")
    _unpack(handle, "<6i")  # boundary flags
    if triclinic == 2:  # general triclinic: avec, bvec, cvec, origin
        rows = np.array(_unpack(handle, "<12d")).reshape(4, 3)
        cell, origin = rows[:3], rows[3]
    else:
        bounds = np.array(_unpack(handle, "<6d")).reshape(3, 2)
        tilts = _unpack(handle, "<3d") if triclinic else None
        cell, origin = lammps_cell_from_bounds(bounds, tilts)
    (size_one,) = _unpack(handle, "<i")
    (unit_len,) = _unpack(handle, "<i")
    if unit_len:
        unit_style = _read(handle, unit_len).decode()
    (time_flag,) = _unpack(handle, "<b")
    time_fs = None
    if time_flag:
        (time_value,) = _unpack(handle, "<d")
        unit_fs = LAMMPS_TIME_UNIT_FS.get(unit_style)
        time_fs = time_value * unit_fs if unit_fs else None
    (col_len,) = _unpack(handle, "<i")
    columns = _read(handle, col_len).decode().split()
    if len(columns) != size_one:
        raise IonflowInputError(f"{path}: column names do not match the record size")
    (n_chunks,) = _unpack(handle, "<i")
    chunks = []
    for _ in range(n_chunks):
        (n_values,) = _unpack(handle, "<i")
        raw = _read(handle, 8 * n_values)
        chunks.append(np.frombuffer(raw, dtype="<f8"))
    data = np.concatenate(chunks) if chunks else np.zeros(0)
    if data.size != n_atoms * size_one:
        raise _TruncatedError
    data = data.reshape(n_atoms, size_one)
    return DumpRecord(step, time_fs, cell, origin, columns, data, unit_style)


class _TruncatedError(Exception):
    """The file ended in the middle of a frame."""


def _read(handle: BinaryIO, size: int) -> bytes:
    raw = handle.read(size)
    if len(raw) < size:
        raise _TruncatedError
    return raw


def _unpack(handle: BinaryIO, fmt: str, raw: bytes | None = None) -> tuple:
    raw = raw if raw is not None else _read(handle, struct.calcsize(fmt))
    return struct.unpack(fmt, raw)


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
