"""Trajectory readers: frames streamed one at a time, sorted by atom id.

Formats: LAMMPS text dumps (``dump custom`` with ``id type`` and ``xu yu zu``, ``x y z``
with or without ``ix iy iz``, or scaled ``xs ys zs``; any column order; orthogonal,
restricted and general triclinic boxes), LAMMPS binary dumps (``dump custom ... f.bin``,
the production format of the MD stage; a truncated last frame from a killed run is
skipped with a warning), extended XYZ and ASE trajectories (through ``ase.io.iread``).

LAMMPS dumps are parsed by :mod:`ionflow.io.lammps_dump`; this module turns their columns
into positions and species. Units: positions and cell in Å, times in fs. A reader never
holds more than one frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ionflow.errors import IonflowInputError
from ionflow.io.lammps_dump import (
    DumpRecord,
    dump_format,
    iter_binary_dump_records,
    iter_text_dump_records,
)


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
        for record in iter_text_dump_records(self.path):
            yield _frame_from_record(self, record)


def _frame_from_record(reader: TrajectoryReader, record: DumpRecord) -> Frame:
    """Frame of ``record`` with atoms sorted by id and Cartesian positions (Å)."""
    data, columns, step = record.data, record.columns, record.step
    cell, origin = record.cell, record.origin
    if "id" not in columns or "type" not in columns:
        raise IonflowInputError(f"{reader.path}: dump needs 'id' and 'type' columns")
    order = np.argsort(data[:, columns.index("id")], kind="stable")
    data = data[order]
    reader._set_species(data[:, columns.index("type")].astype(int))
    positions, unwrapped = _positions_from_columns(data, columns, cell, origin, reader.path)
    _check_positions(positions, reader.path, step)
    return Frame(step, record.time_fs, positions, cell, origin, unwrapped)


class LammpsBinaryDumpReader(TrajectoryReader):
    """LAMMPS binary ``dump custom`` files (format revision 2, LAMMPS >= 2021, 2025)."""

    def frames(self) -> Iterator[Frame]:
        """Yield frames; a truncated last frame is skipped with a warning."""
        for record in iter_binary_dump_records(self.path):
            if record.unit_style:
                self.unit_style = record.unit_style
            yield _frame_from_record(self, record)


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
        fmt = dump_format(path) or "ase"
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
