"""LAMMPS data files (``atom_style atomic`` or ``charge``): structures in and out of MD.

LAMMPS atom type ``k`` is ``species[k - 1]`` (element symbols), the order of the MTP's
species, so the data file, the potential and the trajectory's type map agree. Å.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ase.data import atomic_numbers
from ase.io import read as ase_read
from ase.io import write as ase_write
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.errors import IonflowInputError

AtomStyle = Literal["atomic", "charge"]


def write_structure_data(
    structure: Structure, species: list[str], path: Path, atom_style: AtomStyle = "atomic"
) -> None:
    """Write a LAMMPS data file with types in ``species`` order (Å).

    With ``atom_style="charge"`` the charge column is 0; the deck sets charges per type.
    """
    atoms = AseAtomsAdaptor.get_atoms(structure)
    unknown = set(atoms.get_chemical_symbols()) - set(species)
    if unknown:
        raise IonflowInputError(
            f"structure has {sorted(unknown)} but the MTP species are {species}; "
            "use the MTP fitted for this chemistry"
        )
    ase_write(path, atoms, format="lammps-data", specorder=species, atom_style=atom_style)


def read_structure_data(
    path: str | Path, species: list[str], atom_style: AtomStyle = "atomic"
) -> Structure:
    """Read a LAMMPS data file whose type ``k`` is ``species[k - 1]``."""
    type_to_z = {k + 1: atomic_numbers[s] for k, s in enumerate(species)}
    atoms = ase_read(path, format="lammps-data", Z_of_type=type_to_z, atom_style=atom_style)
    return AseAtomsAdaptor.get_structure(atoms)
