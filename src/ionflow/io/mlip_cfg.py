"""MLIP ``.cfg`` files: the labelled data set every MTP engine reads.

The one place where ionflow reads and writes ``.cfg``. It wraps motep's reader and
writer (which follow MLIP-2) and fixes the species order: type ``i`` in the file is
``species[i]`` (element symbols), the same order as in the ``.mtp`` file. Units: energy
in eV, positions and cell in Å, forces in eV/Å, and the ``PlusStress`` block is the
virial in eV (= -stress * volume, stress positive under tension as in ASE).
"""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO
from pathlib import Path

from ase import Atoms
from ase.data import atomic_numbers
from motep.io.mlip.cfg import read_cfg, write_cfg


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


def read_labelled_cfg(path: str | Path, species: Sequence[str]) -> list[Atoms]:
    """Read every configuration of an MLIP ``.cfg``, typing atoms by ``species``."""
    return parse_labelled_cfg_text(Path(path).read_text(), species)


def parse_labelled_cfg_text(cfg_text: str, species: Sequence[str]) -> list[Atoms]:
    """Parse MLIP ``.cfg`` text into ASE atoms (type ``i`` is ``species[i]``)."""
    if not cfg_text.strip():
        return []
    return list(read_cfg(StringIO(cfg_text), index=":", species=list(species)))
