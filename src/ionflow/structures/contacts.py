"""Closest contacts: the shortest distance of every element pair in a structure or a set.

Read by the grain-boundary builder (no two atoms across the boundary closer than in the
bulk), exploration's per-pair trust levels and the MD core-repulsion wall (each pair's
closest distance in the training set); kept here so each of them reads the same numbers.
Pairs are named ``"A-B"`` with the two symbols sorted (``"P-S"``, ``"Li-Li"``).
"""

from __future__ import annotations

from collections.abc import Iterable

from ase import Atoms
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

CONTACT_CUTOFF_A = 5.0
"""Pairs farther apart than this (Å) are not contacts; bulk distances are capped at it."""


def pair_name(a: str, b: str) -> str:
    """Name of the element pair of ``a`` and ``b``: the symbols sorted, ``"P-S"``."""
    return "-".join(sorted((a, b)))


def closest_contacts(structure: Structure, cutoff: float = CONTACT_CUTOFF_A) -> dict[str, float]:
    """Shortest distance (Å) of every element pair in ``structure`` (``"P-S"``, sorted).

    Periodic images are included; pairs with no contact within ``cutoff`` get ``cutoff``.
    """
    symbols = sorted({el.symbol for el in structure.composition.elements})
    contacts = {pair_name(a, b): cutoff for a in symbols for b in symbols}
    centres, neighbours, _, distances = structure.get_neighbor_list(cutoff)
    names = [site.specie.symbol for site in structure]
    for i, j, d in zip(centres, neighbours, distances, strict=True):
        if d > 1e-8:
            key = pair_name(names[i], names[j])
            contacts[key] = min(contacts[key], float(d))
    return contacts


def closest_contacts_of_set(
    structures: Iterable[Structure | Atoms], cutoff: float = CONTACT_CUTOFF_A
) -> dict[str, float]:
    """Shortest distance (Å) of every element pair over a set of structures.

    The minimum of :func:`closest_contacts` over ``structures`` (pymatgen structures or
    periodic ASE atoms, e.g. a training set); a pair that is never closer than ``cutoff``
    (or present in no structure together) gets ``cutoff``.
    """
    closest: dict[str, float] = {}
    for structure in structures:
        if isinstance(structure, Atoms):
            structure = AseAtomsAdaptor.get_structure(structure)
        for pair, distance in closest_contacts(structure, cutoff).items():
            closest[pair] = min(closest.get(pair, cutoff), distance)
    return closest
