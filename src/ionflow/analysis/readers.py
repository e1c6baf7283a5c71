"""Trajectory readers: frames streamed one at a time, sorted by atom id.

Formats: LAMMPS text dumps (``dump custom`` with ``id type`` and ``xu yu zu``, ``x y z``
with or without ``ix iy iz``, or scaled ``xs ys zs``; any column order; orthogonal,
restricted and general triclinic boxes), LAMMPS binary dumps (``dump custom ... f.bin``,
the production format of the MD stage; a truncated last frame from a killed run is
skipped with a warning), extended XYZ and ASE trajectories (through ``ase.io.iread``).

Units: positions and cell in Å, times in fs. A reader never holds more than one frame.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from ionflow.errors import IonflowInputError

BINARY_MAGIC = b"DUMPCUSTOM"
# time unit of the LAMMPS unit styles, in fs (for binary dumps written with `time yes`)
LAMMPS_TIME_UNIT_FS = {"metal": 1000.0, "real": 1.0, "electron": 1e-3 * 0.02418884, "si": 1e15}


@dataclass
class Frame:
    """One trajectory frame, atoms sorted by id (or file order for XYZ/ASE).

    Attributes:
        step: MD step number (LAMMPS) or frame index (XYZ/ASE).
        time_fs: time of the frame in fs, or None when the file does not say.
        positions: (N, 3) Cartesian positions in Å.
        cell: (3, 3) lattice vectors (rows) in Å.
        origin: (3,) corner of the cell in Å.
        unwrapped: True when ``positions`` are continuous in time (``xu`` columns or
            image flags applied); False when they are wrapped into the cell.
    """

    step: int
    time_fs: float | None
    positions: np.ndarray
    cell: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    unwrapped: bool = False


def parse_type_map(text: str | None) -> dict[str, str]:
    """Parse ``"1=Li,2=P,3=S"`` into ``{"1": "Li", "2": "P", "3": "S"}``.

    Raises:
        IonflowInputError: if an entry is not ``TYPE=SYMBOL``.
    """
    if not text:
        return {}
    mapping = {}
    for entry in text.split(","):
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise IonflowInputError(f"type map entry '{entry}' is not TYPE=SYMBOL (e.g. 1=Li)")
        mapping[key.strip()] = value.strip()
    return mapping


def _check_positions(positions: np.ndarray, path: Path, step: int) -> None:
    if not np.all(np.isfinite(positions)):
        raise IonflowInputError(f"{path}: NaN or infinite coordinates at step {step}")


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


def _positions_from_columns(
    data: np.ndarray, columns: list[str], cell: np.ndarray, origin: np.ndarray, path: Path
) -> tuple[np.ndarray, bool]:
    """Cartesian positions (Å) and whether they are unwrapped, from dump columns."""
    index = {name: i for i, name in enumerate(columns)}
    layouts = (  # (columns, scaled, unwrapped)
        (("xu", "yu", "zu"), False, True),
        (("xsu", "ysu", "zsu"), True, True),
        (("x", "y", "z"), False, False),
        (("xs", "ys", "zs"), True, False),
    )
    found = [layout for layout in layouts if all(n in index for n in layout[0])]
    if not found:
        raise IonflowInputError(f"{path}: dump has no position columns (need xu yu zu or x y z)")
    names, scaled, unwrapped = found[0]
    pos = data[:, [index[n] for n in names]]
    if scaled:
        pos = origin + pos @ cell
    if not unwrapped and all(n in index for n in ("ix", "iy", "iz")):
        images = data[:, [index["ix"], index["iy"], index["iz"]]]
        pos = pos + images @ cell
        unwrapped = True
    return pos, unwrapped


class TrajectoryReader:
    """Base class: ``species`` (per atom, sorted by id) and a ``frames()`` stream."""

    def __init__(self, path: str | Path, type_map: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise IonflowInputError(f"{self.path}: trajectory file not found")
        self.type_map = dict(type_map or {})
        self.species: np.ndarray = np.array([])
        first = next(iter(self.frames()), None)
        if first is None:
            raise IonflowInputError(f"{self.path}: no complete frame in the trajectory")

    @property
    def n_atoms(self) -> int:
        """Number of atoms in every frame."""
        return len(self.species)

    def frames(self) -> Iterator[Frame]:
        """Yield frames one at a time (implemented by each format)."""
        raise NotImplementedError

    def _set_species(self, types: np.ndarray) -> None:
        if len(self.species):  # later frames: only check (labels are built once)
            if len(types) != len(self.species):
                raise IonflowInputError(
                    f"{self.path}: atom count changes from {len(self.species)} to {len(types)}"
                )
            return
        self.species = np.array([self.type_map.get(str(t), str(t)) for t in types])


class LammpsTextDumpReader(TrajectoryReader):
    """LAMMPS ``dump custom`` text files (``ITEM:`` headers)."""

    def frames(self) -> Iterator[Frame]:
        """Yield frames; raises IonflowInputError on inconsistent frames."""
        with open(self.path) as handle:
            while True:
                frame = self._read_frame(handle)
                if frame is None:
                    return
                yield frame

    def _read_frame(self, handle: TextIO) -> Frame | None:
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
            warnings.warn(f"{self.path}: incomplete frame header at the end, skipped", stacklevel=2)
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
            warnings.warn(f"{self.path}: truncated last frame (step {step}) skipped", stacklevel=2)
            return None
        try:
            # fromstring in text mode (sep=" ") is the fast parser; newlines count as spaces;
            # it only warns (DeprecationWarning) where it stops at a non-number
            with warnings.catch_warnings():
                warnings.simplefilter("error", DeprecationWarning)
                values = np.fromstring("".join(lines), sep=" ")
            data = values.reshape(n_atoms, len(columns))
        except (ValueError, DeprecationWarning) as exc:
            raise IonflowInputError(f"{self.path}: malformed atom lines at step {step}") from exc
        return _frame_from_table(self, data, columns, step, None, cell, origin)


def _frame_from_table(
    reader: TrajectoryReader,
    data: np.ndarray,
    columns: list[str],
    step: int,
    time_fs: float | None,
    cell: np.ndarray,
    origin: np.ndarray,
) -> Frame:
    if "id" not in columns or "type" not in columns:
        raise IonflowInputError(f"{reader.path}: dump needs 'id' and 'type' columns")
    order = np.argsort(data[:, columns.index("id")], kind="stable")
    data = data[order]
    reader._set_species(data[:, columns.index("type")].astype(int))
    positions, unwrapped = _positions_from_columns(data, columns, cell, origin, reader.path)
    _check_positions(positions, reader.path, step)
    return Frame(step, time_fs, positions, cell, origin, unwrapped)


@dataclass
class BinaryDumpRecord:
    """One frame of a LAMMPS binary custom dump as stored in the file (atoms in file order).

    Attributes:
        step: MD step number of the frame.
        time_fs: time of the frame in fs, or None when the file does not say.
        cell: (3, 3) lattice vectors (rows) in Å.
        origin: (3,) corner of the cell in Å.
        columns: column names (e.g. ``["id", "type", "xu", "yu", "zu"]``).
        data: (natoms, ncolumns) per-atom values, in file order.
        unit_style: LAMMPS unit style (``metal``...), written in the first frame only;
            empty when the file does not say.
        offset: byte offset of the frame's first byte in the file.
        nbytes: length of the frame in the file (bytes).
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


def iter_binary_dump_records(
    path: str | Path, warn_truncated: bool = True
) -> Iterator[BinaryDumpRecord]:
    """Yield the complete frames of a LAMMPS binary ``dump custom`` file, one at a time.

    The only parser of the binary format (revision 2, LAMMPS >= 2021, 2025): the analysis
    reader and the MD stage's segment joining (which copies ``offset``/``nbytes`` byte
    ranges) both use it. A truncated last frame (a run killed while writing) is skipped.

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


def _read_binary_record(handle: BinaryIO, path: Path, unit_style: str) -> BinaryDumpRecord | None:
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
    return BinaryDumpRecord(step, time_fs, cell, origin, columns, data, unit_style)


class LammpsBinaryDumpReader(TrajectoryReader):
    """LAMMPS binary ``dump custom`` files (format revision 2, LAMMPS >= 2021, 2025)."""

    def frames(self) -> Iterator[Frame]:
        """Yield frames; a truncated last frame is skipped with a warning."""
        for record in iter_binary_dump_records(self.path):
            if record.unit_style:
                self.unit_style = record.unit_style
            yield _frame_from_table(
                self,
                record.data,
                record.columns,
                record.step,
                record.time_fs,
                record.cell,
                record.origin,
            )


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


class AseTrajectoryReader(TrajectoryReader):
    """Extended XYZ, ASE ``.traj`` and any other format ``ase.io.iread`` streams.

    Times come from ``atoms.info["time_fs"]`` or ``atoms.info["time"]`` (fs) when
    present, else they are left to the caller (frame index times the frame interval).
    """

    def frames(self) -> Iterator[Frame]:
        """Yield frames; positions are treated as wrapped (minimum-image unwrapping)."""
        from ase.io import iread

        for index, atoms in enumerate(iread(str(self.path), index=":")):
            symbols = np.array(atoms.get_chemical_symbols())
            if not len(self.species):
                self.species = symbols
            elif len(symbols) != len(self.species):
                raise IonflowInputError(
                    f"{self.path}: atom count changes from {len(self.species)} to {len(symbols)}"
                )
            positions = atoms.get_positions()
            _check_positions(positions, self.path, index)
            time_fs = atoms.info.get("time_fs", atoms.info.get("time"))
            yield Frame(
                index,
                float(time_fs) if time_fs is not None else None,
                positions,
                np.array(atoms.cell[:]),
            )


def open_trajectory(
    path: str | Path, type_map: Mapping[str, str] | None = None, fmt: str | None = None
) -> TrajectoryReader:
    """Open a trajectory file with the reader its format needs.

    Args:
        path: trajectory file.
        type_map: LAMMPS type number -> element symbol (``{"1": "Li"}``).
        fmt: ``lammps-text``, ``lammps-binary`` or ``ase``; guessed from the file if None.

    Raises:
        IonflowInputError: missing file, unknown format, or no complete frame.
    """
    path = Path(path)
    if not path.is_file():
        raise IonflowInputError(f"{path}: trajectory file not found")
    if fmt is None:
        with open(path, "rb") as handle:
            head = handle.read(32)
        if head[8:18] == BINARY_MAGIC:
            fmt = "lammps-binary"
        elif head.startswith(b"ITEM:"):
            fmt = "lammps-text"
        else:
            fmt = "ase"
    readers = {
        "lammps-text": LammpsTextDumpReader,
        "lammps-binary": LammpsBinaryDumpReader,
        "ase": AseTrajectoryReader,
    }
    if fmt not in readers:
        raise IonflowInputError(f"unknown trajectory format '{fmt}' (use {', '.join(readers)})")
    try:
        return readers[fmt](path, type_map)
    except IonflowInputError:
        raise
    except Exception as exc:  # ase raises many kinds for unreadable files
        raise IonflowInputError(f"{path}: cannot read trajectory ({exc})") from exc
