"""MLIP ``.cfg`` files: the labelled data set every MTP engine reads.

The one place where ionflow reads and writes ``.cfg``. It wraps motep's reader and
writer (which follow MLIP-2) and fixes the species order: type ``i`` in the file is
``species[i]`` (element symbols), the same order as in the ``.mtp`` file. Units: energy
in eV, positions and cell in Å, forces in eV/Å, and the ``PlusStress`` block is the
virial in eV (= -stress * volume, stress positive under tension as in ASE).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from io import StringIO
from pathlib import Path

from ase import Atoms
from ase.data import atomic_numbers
from motep.io.mlip.cfg import read_cfg, write_cfg

from ionflow.errors import IonflowInputError
from ionflow.io.text_file import read_text_file

POSITION_COLUMNS = (("cartes_x", "cartes_y", "cartes_z"), ("direct_x", "direct_y", "direct_z"))
FORCE_COLUMNS = ("fx", "fy", "fz")


def default_species_order(images: Sequence[Atoms]) -> list[str]:
    """Return the element symbols of ``images`` sorted by atomic number."""
    symbols = {s for atoms in images for s in atoms.get_chemical_symbols()}
    return sorted(symbols, key=atomic_numbers.__getitem__)


def write_labelled_cfg(
    images: Sequence[Atoms], path: str | Path, species: Sequence[str] | None = None
) -> Path:
    """Write labelled structures (energy, forces, optional stress) to an MLIP ``.cfg``.

    Args:
        images: structures with a calculator holding ``energy`` (eV), ``forces`` (eV/Å)
            and optionally ``stress`` (eV/Å^3, ASE sign convention).
        path: output file.
        species: element symbols in type order; default: sorted by atomic number.

    Raises:
        ValueError: if a structure holds an element that is not in ``species``.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(labelled_cfg_text(images, species))
    tmp.replace(path)  # never leave a half-written labelled set behind
    return path


def labelled_cfg_text(images: Sequence[Atoms], species: Sequence[str] | None = None) -> str:
    """Return the MLIP ``.cfg`` text of labelled structures (see :func:`write_labelled_cfg`).

    Precision of the text (motep's writer, as MLIP): energy 1e-12 eV, positions and cell
    1e-6 Å, forces 1e-6 eV/Å, virial 1e-5 eV. ``atoms.info`` is written as ``Feature``
    lines (scalars only).

    Raises:
        ValueError: if a structure holds an element that is not in ``species``.
    """
    images = list(images)
    species = list(species) if species is not None else default_species_order(images)
    unknown = {s for a in images for s in a.get_chemical_symbols()} - set(species)
    if unknown:
        raise ValueError(
            f"elements {sorted(unknown)} are not in the species order {species}; "
            "add them to the species list of the potential"
        )
    if not images:
        return ""
    buffer = StringIO()
    write_cfg(buffer, images, species=species)
    return buffer.getvalue()


def read_labelled_cfg(
    path: str | Path, species: Sequence[str], require_labels: bool = False
) -> list[Atoms]:
    """Read every configuration of an MLIP ``.cfg``, typing atoms by ``species``.

    The file is checked first (:func:`check_cfg_text`), so a malformed file is one
    error naming the file, the configuration and the line.

    Raises:
        IonflowInputError: missing or malformed file.
    """
    text = read_text_file(path, "MLIP .cfg")
    check_cfg_text(text, path, species, require_labels)
    return parse_labelled_cfg_text(text, species)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _CfgChecker:
    """Line-by-line check of MLIP ``.cfg`` text (the grammar motep and ``mlp`` read)."""

    def __init__(self, text: str, source: str, species: Sequence[str] | None) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.species = list(species) if species is not None else None
        self.n_config = 0
        self.index = 0  # 0-based index of the next line to read

    def fail(self, what: str, line: int | None = None) -> IonflowInputError:
        where = f"line {self.index if line is None else line}"
        if self.n_config:
            where = f"configuration {self.n_config}, {where}"
        return IonflowInputError(f"{self.source}: {where}: {what}")

    def next_fields(self, what: str) -> list[str]:
        if self.index >= len(self.lines):
            raise self.fail(f"file ends where {what} should follow (truncated?)")
        self.index += 1
        fields = self.lines[self.index - 1].split()
        if not fields or fields[0] in ("BEGIN_CFG", "END_CFG"):
            raise self.fail(f"expected {what}, found {self.lines[self.index - 1].strip()!r}")
        return fields

    def numbers(self, fields: list[str], what: str, count: int | None = None) -> list[float]:
        if count is not None and len(fields) != count:
            raise self.fail(f"{what} needs {count} numbers, found {len(fields)}")
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise self.fail(f"{what} is not numeric: {' '.join(fields)!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise self.fail(f"{what} holds NaN or infinite values")
        return values

    def configuration(self, require_labels: bool) -> None:
        size: int | None = None
        columns: list[str] = []
        has_energy = has_cell = False
        while self.index < len(self.lines):
            self.index += 1
            fields = self.lines[self.index - 1].split()
            keyword = fields[0] if fields else ""
            if keyword == "END_CFG":
                break
            if keyword == "BEGIN_CFG":
                raise self.fail("BEGIN_CFG before the END_CFG of the previous configuration")
            if keyword == "Size":
                value = self.next_fields("the number of atoms")[0]
                if not value.isdigit() or int(value) < 1:
                    raise self.fail(f"Size must be a positive integer, got {value!r}")
                size = int(value)
            elif keyword in ("Supercell", "SuperCell"):
                has_cell = True
                for _ in range(3):
                    self.numbers(self.next_fields("a lattice vector"), "a lattice vector", 3)
            elif keyword in ("AtomData:", "Atomic_data:"):
                columns = fields[1:]
                self.atoms(columns, size)
            elif keyword == "Energy":
                self.numbers(self.next_fields("the energy")[:1], "the energy")
                has_energy = True
            elif keyword == "PlusStress:":
                self.numbers(self.next_fields("the virial"), "PlusStress", len(fields) - 1)
            elif keyword and _is_number(keyword):
                raise self.fail("numbers outside a block: a keyword line is missing above")
        else:
            raise self.fail("no END_CFG before the end of the file (truncated?)")
        if not columns:
            raise self.fail("configuration has no AtomData block")
        if not has_cell:
            raise self.fail("configuration has no Supercell (ionflow's structures are periodic)")
        labelled = has_energy and all(c in columns for c in FORCE_COLUMNS)
        if require_labels and not labelled:
            raise self.fail("configuration has no Energy or no forces (fx fy fz); label it first")

    def atoms(self, columns: list[str], size: int | None) -> None:
        if size is None:
            raise self.fail("AtomData before Size")
        if "type" not in columns or not any(all(c in columns for c in p) for p in POSITION_COLUMNS):
            raise self.fail("AtomData needs a type column and cartes_x/y/z or direct_x/y/z")
        n_force_columns = sum(c in columns for c in FORCE_COLUMNS)
        if 0 < n_force_columns < len(FORCE_COLUMNS):
            raise self.fail("AtomData has some of the force columns fx fy fz, not all three")
        if len(set(columns)) != len(columns) or any(not c.isidentifier() for c in columns):
            raise self.fail(f"AtomData column names are not valid: {' '.join(columns)!r}")
        type_column = columns.index("type")
        for _ in range(size):
            fields = self.next_fields(f"an atom line ({len(columns)} columns)")
            values = self.numbers(fields, "atom line", len(columns))
            atom_type = values[type_column]
            if atom_type != int(atom_type) or atom_type < 0:
                raise self.fail(f"atom type {fields[type_column]!r} is not an integer >= 0")
            if self.species is not None and atom_type >= len(self.species):
                raise self.fail(
                    f"atom type {int(atom_type)} is beyond the {len(self.species)} species "
                    f"{','.join(self.species)} (types count from 0); fix --species"
                )

    def check(self, require_labels: bool) -> None:
        while self.index < len(self.lines):
            self.index += 1
            fields = self.lines[self.index - 1].split()
            if not fields:
                continue
            if fields[0] != "BEGIN_CFG":
                raise self.fail(f"expected BEGIN_CFG, found {self.lines[self.index - 1].strip()!r}")
            self.n_config += 1
            self.configuration(require_labels)
        if self.n_config == 0:
            raise IonflowInputError(f"{self.source}: no BEGIN_CFG: not an MLIP .cfg file")


def check_cfg_text(
    text: str,
    source: str | Path = "<cfg>",
    species: Sequence[str] | None = None,
    require_labels: bool = False,
) -> None:
    """Check MLIP ``.cfg`` text before any engine reads it.

    Args:
        text: the file's text.
        source: file name used in messages.
        species: element symbols in type order; atom types must index into it.
        require_labels: every configuration must hold an Energy and forces.

    Raises:
        IonflowInputError: one line naming ``source``, the configuration (1-based) and
            the line (1-based) of the first problem.
    """
    _CfgChecker(text, str(source), species).check(require_labels)


def parse_labelled_cfg_text(cfg_text: str, species: Sequence[str]) -> list[Atoms]:
    """Parse MLIP ``.cfg`` text into ASE atoms (type ``i`` is ``species[i]``)."""
    if not cfg_text.strip():
        return []
    return list(read_cfg(StringIO(cfg_text), index=":", species=list(species)))
