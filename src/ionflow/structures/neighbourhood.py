"""A small periodic cell cut around one atom of a large cell (neighbourhood-mode labelling).

Active learning on a grain-boundary model of >10,000 atoms finds single atoms whose
neighbourhood the MTP extrapolates on; that cell can never be sent to DFT. The atom's
neighbourhood within ``radius_A`` (minimum-image distances in the big cell) is put in
a cubic periodic box of side ``2 radius_A + gap_A``: every atom keeps its position
relative to the centre, so the centre's whole environment within ``radius_A + gap_A``
is the big cell's, and periodic images of the cluster are at least ``gap_A`` apart.
The cut cell is checked for atoms closer than ``min_distance_A`` to any atom or image.

A grain-boundary model is narrow in its plane: :func:`cut_slab` keeps the cell periodic
there and cuts only along the normal (a slab of the boundary with vacuum on both faces,
the shape of the surface slabs already in the training set). A sphere of Li6PS5Cl cut at
5 Å is ~25 atoms, nearly all of them at its surface, 1-1.3 eV/atom above the bulk. Refits
of one cached tiny-study training set (bulk + slabs, level 8, 100 iterations) lost atoms in
the 1040-atom GB MD at 500 K within 0.13 ps with 14 such clusters added; with 12 slab cuts
of the same boundary (63-100 atoms, PS4 kept whole) the MD held 2.4 ps. ``units`` keeps
covalent units whole (``{"P": 2.5}``: a PS4 tetrahedron is kept or dropped with its P), so
no cut leaves a broken polyanion at its faces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ionflow.errors import IonflowInputError


def neighbourhood_box_side(radius_A: float, gap_A: float) -> float:
    """Side (Å) of the cubic box holding a neighbourhood of ``radius_A`` (its farthest atom)."""
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
    units: Mapping[str, float] | None = None,
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
        units: species -> bond length (Å) of covalent units kept whole (see
            :func:`whole_units`); None: atoms are kept by distance alone.

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
    inside = _kept_atoms(atoms, distances <= radius_A, centre, units, max_atoms)
    side = neighbourhood_box_side(max(radius_A, float(distances[inside].max())), gap_A)
    cut = Atoms(
        numbers=atoms.numbers[inside],
        positions=vectors[inside] + side / 2.0,
        cell=np.eye(3) * side,
        pbc=True,
    )
    _check_contacts(cut, centre, min_distance_A)
    return cut


def cut_slab(
    atoms: Atoms,
    centre: int,
    half_width_A: float,
    gap_A: float,
    axis: int = 2,
    min_distance_A: float = 0.5,
    max_atoms: int | None = None,
    units: Mapping[str, float] | None = None,
) -> Atoms:
    """Return the slab of ``atoms`` within ``half_width_A`` of atom ``centre`` along ``axis``.

    The slab keeps the big cell's periodicity along the two other lattice vectors (a
    grain-boundary model's plane); along ``axis`` it is cut and ``gap_A`` of vacuum put
    between its faces and their periodic images.

    Args:
        atoms: the large periodic cell (its ``axis`` lattice vector normal to the other two).
        centre: index of the atom the slab is centred on (atom 0 of the result).
        half_width_A: atoms within this distance (Å) of the centre along the normal are kept.
        gap_A: vacuum between the slab and its periodic images (Å).
        axis: lattice direction the slab is cut along (the GB normal).
        min_distance_A: no two atoms (or an atom and an image) closer than this (Å).
        max_atoms: refuse a slab of more atoms (None: no limit).
        units: species -> bond length (Å) of covalent units kept whole (:func:`whole_units`).

    Raises:
        IonflowInputError: a half width or gap that is not positive.
        ValueError: atoms closer than ``min_distance_A`` or more than ``max_atoms`` atoms.
    """
    if half_width_A <= 0 or gap_A <= 0:
        raise IonflowInputError(f"slab half width and gap must be > 0 Å ({half_width_A}, {gap_A})")
    length = float(np.linalg.norm(atoms.cell[axis]))
    if 2.0 * half_width_A >= length:
        raise ValueError(f"a slab of {2 * half_width_A:g} Å is the whole {length:.1f} Å cell")
    frac = atoms.get_scaled_positions()
    offset = ((frac[:, axis] - frac[centre, axis] + 0.5) % 1.0 - 0.5) * length
    inside = _kept_atoms(atoms, np.abs(offset) <= half_width_A, centre, units, max_atoms)
    low, high = offset[inside].min(), offset[inside].max()
    thickness = high - low + gap_A
    cell = atoms.cell.array.copy()
    cell[axis] = cell[axis] / length * thickness
    positions = frac[inside].copy()
    positions[:, axis] = (offset[inside] - low + gap_A / 2.0) / thickness
    cut = Atoms(numbers=atoms.numbers[inside], cell=cell, pbc=True)
    cut.set_scaled_positions(positions)
    _check_contacts(cut, centre, min_distance_A)
    return cut


def whole_units(atoms: Atoms, inside: np.ndarray, units: Mapping[str, float] | None) -> np.ndarray:
    """Return ``inside`` (a mask of ``atoms``) with covalent units kept whole.

    Every atom within ``units[species]`` Å of an atom of that species (its centre: P of a
    PS4 tetrahedron for ``{"P": 2.5}``) is in the result exactly when its centre is; atoms
    of no unit keep their ``inside`` value.
    """
    keep = np.asarray(inside, dtype=bool).copy()
    if not units:
        return keep
    symbols = np.array(atoms.get_chemical_symbols())
    for species, bond_A in units.items():
        first, second = neighbor_list("ij", atoms, float(bond_A))
        own = (symbols[first] == species) & (symbols[second] != species)
        keep[second[own]] = np.asarray(inside, dtype=bool)[first[own]]
    return keep


def _kept_atoms(
    atoms: Atoms,
    near: np.ndarray,
    centre: int,
    units: Mapping[str, float] | None,
    max_atoms: int | None,
) -> np.ndarray:
    """Indices of a cut's atoms, the centre first: ``near`` with whole units, size-checked."""
    keep = whole_units(atoms, near, units)
    keep[centre] = True
    inside = np.flatnonzero(keep)
    inside = np.concatenate([[centre], inside[inside != centre]])
    if max_atoms is not None and len(inside) > max_atoms:
        raise ValueError(f"neighbourhood of atom {centre}: {len(inside)} atoms > {max_atoms}")
    return inside


def _check_contacts(cut: Atoms, centre: int, min_distance_A: float) -> None:
    if len(cut) > 1:
        close = cut.get_all_distances(mic=True)[np.triu_indices(len(cut), 1)].min()
        if close < min_distance_A:
            raise ValueError(
                f"neighbourhood of atom {centre}: atoms {close:.3f} Å apart (< {min_distance_A} Å)"
            )
