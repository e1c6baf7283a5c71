"""Neighbourhood-mode candidates: cuts around the extrapolative atoms of a large cell."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from tests.fixtures.mtp import li2s_snapshots

from ionflow.learning.neighbourhood_selection import NeighbourhoodCutter
from ionflow.mtp import motep_api


def test_cutter_cuts_small_cells_around_the_most_extrapolative_atoms(trained_mtp):
    data = motep_api.read_potential(trained_mtp.path, trained_mtp.species)
    training = li2s_snapshots(30, seed=0)
    for atoms in training:  # the fixture's training set (labels are not needed to grade)
        atoms.calc = None
    big = bulk("SLi2", "fluorite", a=5.7, cubic=True) * (3, 3, 3)  # 324 atoms
    big.positions += np.random.default_rng(3).normal(0.0, 0.05, big.positions.shape)
    moved = 100
    big.positions[moved] += [0.9, 0.0, 0.0]  # one atom far off its site: extrapolative
    cutter = NeighbourhoodCutter(radius_A=5.0, gap_A=4.0, max_atoms=60)
    cuts, grades = cutter(data, training, [big], gamma_select=1.5)
    assert cuts, "the displaced atom must be graded above gamma_select"
    assert all(len(cut) <= 60 < len(big) for cut in cuts)
    assert len(cuts) <= cutter.max_cuts_per_configuration
    assert grades == sorted(grades, reverse=True) and grades[0] > 1.5
    # the first cut is centred on (or next to) the displaced atom
    first = cuts[0]
    offsets = big.get_distances(moved, np.arange(len(big)), mic=True)
    centre_distance = np.sort(first.get_distances(0, np.arange(len(first)), mic=True))
    assert (np.isclose(centre_distance[1:4, None], offsets[None, :], atol=1e-6).any(axis=1)).all()
    # nothing above gamma_select: nothing cut
    assert cutter(data, training, [big], gamma_select=1e9) == ([], [])


def test_slab_cutter_cuts_along_one_axis_only(trained_mtp):
    data = motep_api.read_potential(trained_mtp.path, trained_mtp.species)
    training = li2s_snapshots(30, seed=0)
    for atoms in training:
        atoms.calc = None
    big = bulk("SLi2", "fluorite", a=5.7, cubic=True) * (1, 1, 6)  # 72 atoms, 34 Å along c
    big.positions += np.random.default_rng(3).normal(0.0, 0.05, big.positions.shape)
    big.positions[[5, 40]] += [0.9, 0.0, 0.0]  # two extrapolative atoms 17 Å apart along c
    cutter = NeighbourhoodCutter(radius_A=5.0, gap_A=5.0, shape="slab", axis=2)
    cuts, grades = cutter(data, training, [big], gamma_select=1.5)
    assert 1 <= len(cuts) <= cutter.max_cuts_per_configuration
    for cut in cuts:  # the plane as the big cell's, along c at most 10 Å of atoms + the gap
        assert np.allclose(cut.cell[:2], big.cell[:2]) and len(cut) < len(big)
        z = cut.positions[:, 2]
        assert z.max() - z.min() <= 10.0 + 1e-9 and cut.cell[2, 2] - (z.max() - z.min()) >= 5.0
    assert grades == sorted(grades, reverse=True) and grades[0] > 1.5
    # a second centre within radius_A of the first along c is skipped (overlapping slabs)
    z = big.get_scaled_positions()[:, 2] * big.cell[2, 2]
    near = int(np.flatnonzero((np.abs(z - z[5]) > 2.0) & (np.abs(z - z[5]) < 4.0))[0])
    assert cutter._separation(big, 5, [near]) < cutter.radius_A
    assert cutter._separation(big, 5, [40]) == pytest.approx(34.2 - abs(z[40] - z[5]))
