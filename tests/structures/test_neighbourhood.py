"""The neighbourhood cut: a small periodic cell around one atom of a large cell."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.errors import IonflowInputError
from ionflow.structures.neighbourhood import (
    cut_neighbourhood,
    cut_slab,
    max_neighbourhood_atoms,
    neighbourhood_box_side,
    whole_units,
)


@pytest.fixture(scope="module")
def big_cell(argyrodite_cl_module) -> Atoms:
    """Li6PS5Cl 3x3x3 (1404 atoms), rattled so no two neighbourhoods are alike."""
    atoms = AseAtomsAdaptor.get_atoms(argyrodite_cl_module * (3, 3, 3))
    atoms.positions += np.random.default_rng(1).normal(0.0, 0.05, atoms.positions.shape)
    return atoms


@pytest.fixture(scope="module")
def argyrodite_cl_module():
    from ionflow.structures.parents import get_parent_structure

    return get_parent_structure("Li6PS5Cl")


@pytest.mark.parametrize("centre", [0, 333, 1403])
def test_cut_keeps_the_big_cells_neighbourhood(big_cell, centre):
    radius, gap = 6.0, 5.0
    cut = cut_neighbourhood(big_cell, centre, radius, gap)
    big = big_cell.get_distances(centre, np.arange(len(big_cell)), mic=True)
    inside = np.flatnonzero(big <= radius)
    # the same atoms (species) at the same distances from the centre, the centre first
    assert cut.numbers[0] == big_cell.numbers[centre]
    small = cut.get_distances(0, np.arange(len(cut)), mic=True)
    np.testing.assert_allclose(np.sort(small), np.sort(big[inside]), atol=1e-9)
    assert sorted(cut.numbers) == sorted(big_cell.numbers[inside])
    # pairs closer than the gap keep their big-cell distance; no image comes closer
    pairs = cut.get_all_distances(mic=True)
    direct = np.linalg.norm(cut.positions[:, None] - cut.positions[None, :], axis=-1)
    near = direct <= gap
    np.testing.assert_allclose(pairs[near], direct[near], atol=1e-9)
    assert (pairs >= np.minimum(direct, gap) - 1e-9).all()
    # periodic images of the cluster are at least the gap apart
    side = neighbourhood_box_side(radius, gap)
    assert np.allclose(cut.cell.lengths(), side) and cut.pbc.all()
    shifted = cut.positions + np.array([side, 0.0, 0.0])
    images = np.linalg.norm(cut.positions[:, None] - shifted[None, :], axis=-1)
    assert images.min() >= gap - 1e-9


def test_cut_size_is_bounded(big_cell):
    radius = 6.0
    density = len(big_cell) / big_cell.get_volume()
    bound = max_neighbourhood_atoms(radius, density)
    sizes = [len(cut_neighbourhood(big_cell, i, radius, 5.0)) for i in range(0, 1404, 97)]
    assert max(sizes) <= bound < len(big_cell) / 10
    with pytest.raises(ValueError, match="atoms >"):
        cut_neighbourhood(big_cell, 0, radius, 5.0, max_atoms=min(sizes) - 1)


def test_cut_refuses_too_close_atoms_and_keeps_images_beyond_half_the_cell():
    atoms = Atoms("Li3", positions=[[0, 0, 0], [0.3, 0, 0], [3, 3, 3]], cell=[12, 12, 12], pbc=True)
    with pytest.raises(ValueError, match="apart"):
        cut_neighbourhood(atoms, 2, 5.5, 4.0, min_distance_A=0.5)
    assert len(cut_neighbourhood(atoms, 2, 5.5, 4.0, min_distance_A=0.2)) == 3
    # a radius beyond half the cell: the periodic images within it are kept as atoms
    images = cut_neighbourhood(atoms, 2, 12.5, 4.0, min_distance_A=0.2)
    distances = images.get_distances(0, np.arange(len(images)), mic=True)
    assert np.isclose(distances, 12.0).sum() == 6  # the centre's own six nearest images
    assert (distances <= 12.5).all() and images.cell.lengths()[0] == 29.0
    with pytest.raises(IonflowInputError, match="> 0"):
        cut_neighbourhood(atoms, 0, 5.0, 0.0)


def _ps4_whole(cut: Atoms) -> bool:
    """Every P of ``cut`` has its four S within 2.5 Å and every S within 2.5 Å of a P has it."""
    symbols = np.array(cut.get_chemical_symbols())
    distances = cut.get_all_distances(mic=True)
    p_s = distances[np.ix_(symbols == "P", symbols == "S")] < 2.5
    return bool((p_s.sum(axis=1) == 4).all())


def test_units_keep_ps4_whole(big_cell):
    symbols = np.array(big_cell.get_chemical_symbols())
    p = int(np.flatnonzero(symbols == "P")[0])
    # a sphere that holds a P but not all of its S (radius just past the P-S bond)
    centre = int(np.flatnonzero(symbols == "Li")[0])
    broken = cut_neighbourhood(big_cell, centre, 5.0, 5.0)
    whole = cut_neighbourhood(big_cell, centre, 5.0, 5.0, units={"P": 2.5})
    assert not _ps4_whole(broken) and _ps4_whole(whole)
    assert whole.numbers[0] == big_cell.numbers[centre]
    # the mask: a P inside takes its S, the S of a P outside go
    inside = np.zeros(len(big_cell), dtype=bool)
    inside[p] = True
    kept = whole_units(big_cell, inside, {"P": 2.5})
    assert kept.sum() == 5 and set(symbols[kept]) == {"P", "S"}
    assert not whole_units(big_cell, ~inside, {"P": 2.5})[kept].any()
    assert (whole_units(big_cell, inside, None) == inside).all()


def test_slab_keeps_the_plane_periodic_and_cuts_along_the_normal(big_cell):
    half, gap = 5.0, 5.0
    centre = 333
    slab = cut_slab(big_cell, centre, half, gap, axis=2, units={"P": 2.5})
    # a and b as the big cell's; along c the atoms within the half width (and their
    # PS4 partners) and a vacuum of at least the gap between the faces' images
    assert np.allclose(slab.cell[:2], big_cell.cell[:2]) and slab.pbc.all()
    assert slab.numbers[0] == big_cell.numbers[centre] and _ps4_whole(slab)
    z = slab.positions[:, 2]
    assert slab.cell[2, 2] - (z.max() - z.min()) == pytest.approx(gap)
    frac = big_cell.get_scaled_positions()[:, 2]
    offset = ((frac - frac[centre] + 0.5) % 1.0 - 0.5) * big_cell.cell[2, 2]
    plain = cut_slab(big_cell, centre, half, gap, axis=2)
    assert len(plain) == (np.abs(offset) <= half).sum()
    assert abs(len(slab) - len(plain)) < 0.2 * len(plain)
    # every atom keeps its big-cell distance from the centre (periodic along a and b)
    big = big_cell.get_distances(centre, np.flatnonzero(np.abs(offset) <= half), mic=True)
    small = plain.get_distances(0, np.arange(len(plain)), mic=True)
    np.testing.assert_allclose(np.sort(small), np.sort(big), atol=1e-6)
    with pytest.raises(ValueError, match="atoms >"):
        cut_slab(big_cell, centre, half, gap, max_atoms=len(slab) - 1, units={"P": 2.5})
    with pytest.raises(ValueError, match="whole"):
        cut_slab(big_cell, centre, big_cell.cell[2, 2], gap)
    with pytest.raises(IonflowInputError, match="> 0"):
        cut_slab(big_cell, centre, half, 0.0)
