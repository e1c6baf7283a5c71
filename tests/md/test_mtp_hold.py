"""Holding the MTP at the wall's r_in: energy bounded where the MTP diverges, forces and
virial the exact derivatives of the held energy, nothing changed at trained distances.

The reference neighbour arrays are built here with pymatgen's neighbour list (not
LAMMPS's), and derivatives are checked by central finite differences of the energy.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure

from ionflow.md.mtp_callback import HOLD_WIDTH_A
from ionflow.md.run import MotepKernel
from tests.fixtures.md import MD_MTP_FILE, li2s_structure
from tests.md.helpers import energy_forces_virial

INNER_A = np.array([[2.16, 2.07], [2.07, 3.5]])  # Li-Li, Li-S, S-S r_in of the Li2S test MTP


def squeezed_li_pair(distance_A: float) -> tuple[Structure, int, int]:
    """Li2S 24-atom cell with one Li moved to ``distance_A`` from its nearest Li."""
    structure = li2s_structure((1, 1, 2))
    li = [k for k, site in enumerate(structure) if site.specie.symbol == "Li"]
    i, j = li[0], min(li[1:], key=lambda k: structure.get_distance(li[0], k))
    vector = structure[j].coords - structure[i].coords
    structure.translate_sites(
        [j], -vector * (1 - distance_A / np.linalg.norm(vector)), False, False
    )
    return structure, i, j


@pytest.fixture(scope="module")
def kernel() -> MotepKernel:
    return MotepKernel(MD_MTP_FILE)


def test_held_energy_is_bounded_where_the_bare_mtp_diverges(kernel):
    """Pushing one Li-Li pair from 1.8 to 0.7 Å: the bare MTP runs away below min_dist
    (1.6 Å), the held one moves by less than the bare one does between 1.8 and 1.6 Å."""
    inner = np.maximum(INNER_A, kernel.min_dist_A + HOLD_WIDTH_A)
    distances = np.linspace(1.8, 0.7, 12)
    bare, held = [], []
    for d in distances:
        structure, _, _ = squeezed_li_pair(d)
        bare.append(energy_forces_virial(kernel, structure, None)[0])
        held.append(energy_forces_virial(kernel, structure, inner)[0])
    bare, held = np.array(bare), np.array(held)
    assert np.ptp(bare) > 20.0  # the extrapolated polynomial, eV
    assert np.ptp(held) < 5.0
    below = distances < kernel.min_dist_A
    assert np.ptp(held[below]) < 0.05 * np.ptp(bare[below])


def test_held_forces_and_virial_are_derivatives_of_the_held_energy(kernel):
    inner = np.maximum(INNER_A, kernel.min_dist_A + HOLD_WIDTH_A)
    structure, i, j = squeezed_li_pair(1.3)
    _, forces, virial, n_held = energy_forces_virial(kernel, structure, inner)
    assert n_held >= 2  # the squeezed pair, seen from both atoms, plus Li-S neighbours
    h = 1e-5
    for atom in (i, j):
        for axis in range(3):
            shifted = []
            for sign in (1, -1):
                moved = structure.copy()
                step = np.zeros(3)
                step[axis] = sign * h
                moved.translate_sites([atom], step, frac_coords=False, to_unit_cell=False)
                shifted.append(energy_forces_virial(kernel, moved, inner)[0])
            numeric = -(shifted[0] - shifted[1]) / (2 * h)
            assert forces[atom, axis] == pytest.approx(numeric, rel=1e-4, abs=1e-4)
    # virial W_ab = -dE/d(strain_ab): strain the cell and every position together
    for a, b in ((0, 0), (2, 2), (0, 1)):
        shifted = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[a, b] += sign * h
            strained = Structure(
                structure.lattice.matrix @ strain.T,
                structure.species,
                structure.cart_coords @ strain.T,
                coords_are_cartesian=True,
            )
            shifted.append(energy_forces_virial(kernel, strained, inner)[0])
        numeric = -(shifted[0] - shifted[1]) / (2 * h)
        symmetric = 0.5 * (virial[a, b] + virial[b, a])
        assert symmetric == pytest.approx(numeric, rel=1e-4, abs=1e-4)


def test_nothing_is_held_at_trained_distances(kernel):
    structure = li2s_structure((1, 1, 2))
    inner = np.maximum(INNER_A, kernel.min_dist_A + HOLD_WIDTH_A)
    bare = energy_forces_virial(kernel, structure, None)
    held = energy_forces_virial(kernel, structure, inner)
    assert held[3] == 0
    assert held[0] == bare[0]
    np.testing.assert_array_equal(held[1], bare[1])
