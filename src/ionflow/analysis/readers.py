"""Trajectory readers: frames streamed one at a time, sorted by atom id.

Formats (``open_trajectory`` tells them apart by content and name):

- LAMMPS text dumps (``dump custom`` with ``id type`` and ``xu yu zu``, ``x y z`` with or
  without ``ix iy iz``, or scaled ``xs ys zs``; any column order and any extra columns,
  e.g. ``element`` (used for the species when no type map is given), ``q``, ``vx vy vz``,
  ``fx fy fz``; orthogonal, restricted and general triclinic boxes);
- LAMMPS binary dumps (``dump custom ... f.bin``, the production format of the MD stage);
- VASP ``XDATCAR`` (fixed or variable cell) and ``vasprun.xml``;
- CP2K ``PROJECT-pos-1.xyz`` with its ``PROJECT-1.cell``;
- extended XYZ (with or without momenta, also ``.exyz``), ASE ``.traj`` and the other
  formats ``ase.io.iread`` streams.

The formats are parsed in :mod:`ionflow.io` (``lammps_dump``, ``vasp_xdatcar``,
``vasprun``, ``cp2k_trajectory``); this module turns them into frames with species.
Wrapped positions are unwrapped later (:mod:`ionflow.analysis.displacements`). A
truncated last frame from a killed run is skipped with a warning. Units: positions and
cell in Å, times in fs. A reader never holds more than one frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from ionflow.errors import IonflowInputError
from ionflow.io.cp2k_trajectory import POS_SUFFIX, iter_cp2k_frames
from ionflow.io.lammps_dump import (
    DumpRecord,
    dump_format,
    iter_binary_dump_records,
    iter_text_dump_records,
)
from ionflow.io.trajectory_frame import Frame
from ionflow.io.vasp_xdatcar import iter_xdatcar_frames
from ionflow.io.vasprun import iter_vasprun_frames

__all__ = ["Frame", "TrajectoryReader", "open_trajectory", "parse_type_map"]
# ase.io names of extended XYZ files that ase does not recognise by their suffix
ASE_FORMAT_BY_SUFFIX = {".exyz": "extxyz"}


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


def _check_cell(cell: np.ndarray, path: Path, step: int) -> None:
    if not np.all(np.isfinite(cell)) or abs(np.linalg.det(cell)) < 1e-6:
        raise IonflowInputError(
            f"{path}: no periodic cell at step {step}; diffusion needs one "
            "(extended XYZ with Lattice=..., or a format that stores the cell)"
        )


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
    """Base class: ``species`` (per atom, sorted by id) and a ``frames()`` stream.

    ``frame_index_times``: the format stores no MD step per frame, so a given time step
    is the time between frames (XDATCAR, ASE formats).
    """

    frame_index_times = False

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
    if "id" not in columns or ("type" not in columns and "type" not in record.labels):
        raise IonflowInputError(f"{reader.path}: dump needs 'id' and 'type' columns")
    order = np.argsort(data[:, columns.index("id")], kind="stable")
    data = data[order]
    if "element" in record.labels and not reader.type_map:
        reader._set_species(record.labels["element"][order])  # dump_modify element
    elif "type" in record.labels:
        reader._set_species(record.labels["type"][order])  # type labels
    else:
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


class _SymbolFrameReader(TrajectoryReader):
    """Formats whose frames carry element symbols, parsed in :mod:`ionflow.io`."""

    parse: Callable[[Path], Iterator[Frame]]

    def frames(self) -> Iterator[Frame]:
        """Yield the parsed frames; positions may be wrapped (minimum-image unwrapping)."""
        for frame in type(self).parse(self.path):
            self._set_species(frame.symbols)
            _check_positions(frame.positions, self.path, frame.step)
            _check_cell(frame.cell, self.path, frame.step)
            yield frame


class XdatcarReader(_SymbolFrameReader):
    """VASP ``XDATCAR`` (fixed or variable cell); no times stored."""

    parse = staticmethod(iter_xdatcar_frames)
    frame_index_times = True


class VasprunReader(_SymbolFrameReader):
    """VASP ``vasprun.xml``: one frame per ionic step, times ``k * POTIM`` for MD."""

    parse = staticmethod(iter_vasprun_frames)


class Cp2kReader(_SymbolFrameReader):
    """CP2K ``PROJECT-pos-1.xyz`` with the cell of ``PROJECT-1.cell`` beside it."""

    parse = staticmethod(iter_cp2k_frames)


class AseTrajectoryReader(TrajectoryReader):
    """Extended XYZ, ASE ``.traj`` and any other format ``ase.io.iread`` streams.

    Times come from ``atoms.info["time_fs"]`` or ``atoms.info["time"]`` (fs) when
    present, else they are left to the caller (frame index times the frame interval).
    """

    frame_index_times = True

    def frames(self) -> Iterator[Frame]:
        """Yield frames; positions are treated as wrapped (minimum-image unwrapping)."""
        from ase.io import iread

        fmt = ASE_FORMAT_BY_SUFFIX.get(self.path.suffix.lower())
        for index, atoms in enumerate(iread(str(self.path), index=":", format=fmt)):
            symbols = np.array(atoms.get_chemical_symbols())
            if not len(self.species):
                self.species = symbols
            elif len(symbols) != len(self.species):
                raise IonflowInputError(
                    f"{self.path}: atom count changes from {len(self.species)} to {len(symbols)}"
                )
            positions = atoms.get_positions()
            _check_positions(positions, self.path, index)
            _check_cell(np.array(atoms.cell[:]), self.path, index)
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
        fmt: ``lammps-text``, ``lammps-binary``, ``xdatcar``, ``vasprun``, ``cp2k`` or
            ``ase``; guessed from the file if None (see :func:`guess_format`).

    Raises:
        IonflowInputError: missing file, unknown format, or no complete frame.
    """
    path = Path(path)
    if not path.is_file():
        raise IonflowInputError(f"{path}: trajectory file not found")
    if fmt is None:
        fmt = guess_format(path)
    readers = {
        "lammps-text": LammpsTextDumpReader,
        "lammps-binary": LammpsBinaryDumpReader,
        "xdatcar": XdatcarReader,
        "vasprun": VasprunReader,
        "cp2k": Cp2kReader,
        "ase": AseTrajectoryReader,
    }
    if fmt not in readers:
        raise IonflowInputError(f"unknown trajectory format '{fmt}' (use {', '.join(readers)})")
    try:
        return readers[fmt](path, type_map)
    except IonflowInputError:
        raise
    except Exception as exc:  # ase raises many kinds for unreadable files
        from ase.io.formats import UnknownFileTypeError

        if isinstance(exc, UnknownFileTypeError):
            raise IonflowInputError(
                f"{path}: unknown trajectory format; ionflow reads LAMMPS dumps (text or "
                "binary), XDATCAR, vasprun.xml, CP2K PROJECT-pos-1.xyz, extended XYZ, ASE .traj"
            ) from exc
        raise IonflowInputError(f"{path}: cannot read trajectory ({exc})") from exc


def guess_format(path: Path) -> str:
    """The reader a file needs: LAMMPS dumps by content, the others by name."""
    fmt = dump_format(path)
    if fmt:
        return fmt
    name = path.name.lower()
    if "xdatcar" in name:
        return "xdatcar"
    if name.endswith((".xml", ".xml.gz")):
        return "vasprun"
    if POS_SUFFIX.search(path.name):
        return "cp2k"
    return "ase"
