"""LAMMPS data files (``atom_style atomic``): structures in and out of an MD run.

LAMMPS atom type ``k`` is ``species[k - 1]`` (element symbols), the order of the MTP's
species, so the data file, the potential and the trajectory's type map agree. Å.
"""

from __future__ import annotations

from pathlib import Path

from ase.data import atomic_numbers
from ase.io import read as ase_read
from ase.io import write as ase_write
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.errors import IonflowInputError


def write_structure_data(structure: Structure, species: list[str], path: Path) -> None:
    """Write a LAMMPS data file with types in ``species`` order (Å, atomic style)."""
    atoms = AseAtomsAdaptor.get_atoms(structure)
    unknown = set(atoms.get_chemical_symbols()) - set(species)
    if unknown:
        raise IonflowInputError(
            f"structure has {sorted(unknown)} but the MTP species are {species}; "
            "use the MTP fitted for this chemistry"
        )
    ase_write(path, atoms, format="lammps-data", specorder=species, atom_style="atomic")


def read_structure_data(path: str | Path, species: list[str]) -> Structure:
    """Read a LAMMPS data file (atomic style) whose type ``k`` is ``species[k - 1]``."""
    type_to_z = {k + 1: atomic_numbers[s] for k, s in enumerate(species)}
    atoms = ase_read(path, format="lammps-data", Z_of_type=type_to_z, atom_style="atomic")
    return AseAtomsAdaptor.get_structure(atoms)
