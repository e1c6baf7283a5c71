"""A small periodic cell cut around one atom of a large cell (neighbourhood-mode labelling).

Active learning on a grain-boundary model of >10,000 atoms finds single atoms whose
neighbourhood the MTP extrapolates on; that cell can never be sent to DFT. The atom's
neighbourhood within ``radius_A`` (minimum-image distances in the big cell) is put in
a cubic periodic box of side ``2 radius_A + gap_A``: every atom keeps its position
relative to the centre, so the centre's whole environment within ``radius_A + gap_A``
is the big cell's, and periodic images of the cluster are at least ``gap_A`` apart.
The cut cell is checked for atoms closer than ``min_distance_A`` to any atom or image.
"""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms

from ionflow.errors import IonflowInputError


def neighbourhood_box_side(radius_A: float, gap_A: float) -> float:
    """Side (Å) of the cubic box holding a neighbourhood of ``radius_A``."""
    return 2.0 * radius_A + gap_A


def max_neighbourhood_atoms(radius_A: float, number_density_A3: float) -> int:
    """Atoms expected in a sphere of ``radius_A`` at ``number_density_A3`` (atoms/Å^3), +50 %.

    The bound the cut cells are held to when a size limit is not given.
    """
    return math.ceil(1.5 * number_density_A3 * 4.0 / 3.0 * math.pi * radius_A**3)


def cut_neighbourhood(
    atoms: Atoms,
    centre: int,
    radius_A: float,
    gap_A: float,
    min_distance_A: float = 0.5,
    max_atoms: int | None = None,
) -> Atoms:
    """Return the neighbourhood of atom ``centre`` as a small periodic cell.

    Args:
        atoms: the large periodic cell.
        centre: index of the atom the cut is centred on (it is atom 0 of the result).
        radius_A: atoms within this minimum-image distance (Å) of the centre are kept.
        gap_A: vacuum between periodic images of the neighbourhood (Å); the centre sees
            nothing of its images within ``radius_A + gap_A``.
        min_distance_A: the cut cell must have no two atoms (or an atom and an image)
            closer than this (Å).
        max_atoms: refuse a neighbourhood of more atoms (None: no limit).

    Returns:
        Cubic periodic cell of the neighbourhood, the centre first, at the box centre
        (plain atoms: no labels, nothing carried over from ``atoms``).

    A cell narrower than ``2 radius_A`` along some direction is repeated along it first,
    so periodic images of an atom within the radius are all kept.

    Raises:
        IonflowInputError: a radius or gap that is not positive.
        ValueError: the cut cell has atoms closer than ``min_distance_A`` or more than
            ``max_atoms`` atoms.
    """
    if radius_A <= 0 or gap_A <= 0:
        raise IonflowInputError(f"neighbourhood radius and gap must be > 0 Å ({radius_A}, {gap_A})")
    cell = atoms.cell
    widths = cell.volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    repeats = np.floor(2.0 * radius_A / widths).astype(int) + 1
    if (repeats > 1).any():  # the centre stays atom ``centre`` of the repeated cell
        atoms = atoms.repeat(tuple(repeats))
    vectors = atoms.get_distances(centre, np.arange(len(atoms)), mic=True, vector=True)
    distances = np.linalg.norm(vectors, axis=1)
    inside = np.flatnonzero(distances <= radius_A)
    inside = np.concatenate([[centre], inside[inside != centre]])
    if max_atoms is not None and len(inside) > max_atoms:
        raise ValueError(f"neighbourhood of atom {centre}: {len(inside)} atoms > {max_atoms}")
    side = neighbourhood_box_side(radius_A, gap_A)
    cut = Atoms(
        numbers=atoms.numbers[inside],
        positions=vectors[inside] + side / 2.0,
        cell=np.eye(3) * side,
        pbc=True,
    )
    if len(cut) > 1:
        close = cut.get_all_distances(mic=True)[np.triu_indices(len(cut), 1)].min()
        if close < min_distance_A:
            raise ValueError(
                f"neighbourhood of atom {centre}: atoms {close:.3f} Å apart (< {min_distance_A} Å)"
            )
    return cut
