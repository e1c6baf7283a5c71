"""Exploration never keeps unphysical configurations; the ASE thermostat is the supported one."""

import warnings

import numpy as np
import pytest
from ase import Atoms
from tests.fixtures.mtp import li2s_snapshots

from ionflow.learning.explore import (
    AseMdExplorer,
    ExplorationResult,
    SnapshotGrader,
    TrustLevels,
)
from ionflow.mtp import motep_api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def potential(trained_mtp):
    return motep_api.read_potential(trained_mtp.path, trained_mtp.species)


def _grader(potential, training, trust):
    result = ExplorationResult()
    return SnapshotGrader(potential, training, 2.0, 10.0, trust, result), result


def test_close_atoms_end_the_run_and_are_never_kept(potential, li2s_labelled):
    grader, result = _grader(potential, li2s_labelled, TrustLevels())
    cell = li2s_labelled[0].copy()
    assert grader.physical(cell)
    assert grader(cell) is False and len(result.all_grades) == 1
    squeezed = cell.copy()
    direction = squeezed.positions[1] - squeezed.positions[0]
    # atom 1 onto atom 0, 0.9 x the potential's min_dist away
    target = 0.9 * float(potential.radial_basis.min)
    squeezed.positions[1] = squeezed.positions[0] + direction / np.linalg.norm(direction) * target
    assert grader(squeezed) is True
    assert result.runs_unphysical == 1 and len(result.all_grades) == 1  # not graded
    assert result.candidates == []


def test_energy_beyond_the_training_range_is_unphysical(potential, li2s_labelled):
    per_atom = [a.get_potential_energy() / len(a) for a in li2s_labelled]
    grader, _ = _grader(potential, li2s_labelled, TrustLevels(energy_window_eV_atom=0.05))
    assert grader.energy_max == pytest.approx(max(per_atom) + 0.05)
    assert grader.energy_min == pytest.approx(min(per_atom) - 0.05)
    compressed = li2s_labelled[0].copy()
    compressed.set_cell(compressed.cell * 0.9, scale_atoms=True)
    predicted = motep_api.predict(potential, [compressed])[0]["energy"] / len(compressed)
    assert predicted > grader.energy_max  # the premise: 27 % less volume costs energy
    loose = TrustLevels(min_distance_fraction=0.5, energy_window_eV_atom=10.0)
    loose_grader, _ = _grader(potential, li2s_labelled, loose)
    assert not grader.physical(compressed) and loose_grader.physical(compressed)
    # an explorer that went through jobflow's serialisation holds its trust levels as a dict
    as_dict, _ = _grader(potential, li2s_labelled, {"energy_window_eV_atom": 0.05})
    assert as_dict.energy_max == grader.energy_max


def test_ase_exploration_runs_without_the_deprecated_fixcm(trained_mtp, li2s_labelled):
    cells = li2s_snapshots(1, seed=3, rattle=0.05, strain=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        result = AseMdExplorer(grade_every=5, seed=2)(
            cells, [300.0], 20, str(trained_mtp.path), trained_mtp.species, li2s_labelled,
            2.0, 10.0,
        )  # fmt: skip
    assert len(result.all_grades) == 4 and result.runs_unphysical == 0


def test_a_pair_closer_than_its_training_minimum_stops_the_run_as_a_contact(
    potential, li2s_labelled
):
    # wide energy window and no gamma_break: only the distance levels can stop a run here
    trust = TrustLevels(energy_window_eV_atom=100.0, pair_distance_fraction=0.85)
    result = ExplorationResult()
    grader = SnapshotGrader(potential, li2s_labelled, 2.0, np.inf, trust, result)
    limits = grader.pair_limits_A
    # the per-pair levels are 0.85 x each pair's closest training distance: S-S sits far
    # above the one min_dist (set by the closest pair of any species)
    closest = {pair: limit / 0.85 for pair, limit in limits.items()}
    assert set(limits) == {"Li-Li", "Li-S", "S-S"}
    assert limits["S-S"] > 1.2 * float(potential.radial_basis.min)
    assert grader(li2s_labelled[0].copy()) is False and result.runs_contact == 0
    # the S sublattice of a training cell, one S moved onto another to 0.8 x their
    # closest training distance: above min_dist, below the per-pair level
    sulphur = li2s_labelled[0][[s == "S" for s in li2s_labelled[0].get_chemical_symbols()]]
    squeezed = Atoms(sulphur.numbers, sulphur.positions, cell=sulphur.cell, pbc=True)
    direction = squeezed.get_distance(0, 1, mic=True, vector=True)
    target = 0.8 * closest["S-S"]
    squeezed.positions[1] = squeezed.positions[0] + direction / np.linalg.norm(direction) * target
    distances = squeezed.get_all_distances(mic=True)[np.triu_indices(len(squeezed), 1)]
    assert distances.min() == pytest.approx(target)
    assert target > float(potential.radial_basis.min)
    # the global trust level alone lets it through; the per-pair one stops and keeps it
    plain, _ = _grader(potential, li2s_labelled, TrustLevels())
    assert plain.contact(squeezed) is None and not plain.too_close(squeezed)
    assert grader.contact(squeezed) == "pair" and not grader.too_close(squeezed)
    assert grader(squeezed) is True
    assert result.runs_contact == 1 and result.runs_unphysical == 0
    assert len(result.contacts) == 1 and result.contacts[0] is squeezed
    # a run that ends below min_dist leaves the snapshot graded before it as a contact
    cell = li2s_labelled[0].copy()
    assert grader(cell) is False
    collapsed = cell.copy()
    collapsed.positions[1] = collapsed.positions[0] + 0.5 * float(potential.radial_basis.min)
    assert grader.contact(collapsed) == "unphysical" and grader(collapsed) is True
    assert result.runs_unphysical == 1 and result.contacts[-1] is cell
    assert grader(collapsed) is True and len(result.contacts) == 2  # nothing graded before
    # a dict (jobflow's serialisation) carries the level too
    as_dict, _ = _grader(potential, li2s_labelled, {"pair_distance_fraction": 0.85})
    assert as_dict.pair_limits_A == limits
