"""A real two-iteration active-learning loop (motep + ASE MD + CHGNet labels)."""

import pytest
from ase.build import bulk
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor
from tests.fixtures.mtp import ChgnetTestLabelMaker

from ionflow.learning.explore import AseMdExplorer
from ionflow.learning.flows.active_learning import ActiveLearningMaker
from ionflow.learning.schemas.active_learning import ActiveLearningDocument
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.structures.contacts import closest_contacts_of_set

pytestmark = pytest.mark.slow


def test_two_iterations_second_selects_fewer(trained_mtp, li2s_labelled_set, tmp_path):
    cell = AseAtomsAdaptor.get_structure(bulk("SLi2", "fluorite", a=5.7, cubic=True))
    maker = ActiveLearningMaker(
        label_maker=ChgnetTestLabelMaker(),
        fit_maker=MtpFitMaker(weights=(100, 1, 0.01), max_iter=60, engine="motep"),
        explorer=AseMdExplorer(grade_every=5, seed=1),
        temperatures=(600.0, 1200.0),
        runs_per_temperature=2,
        md_steps=60,
        max_selected=6,
        max_iterations=2,
    )
    fitted = trained_mtp.document  # its validation split is the fixed held-out set
    flow = maker.make(
        [cell],
        li2s_labelled_set,
        mtp=trained_mtp.path.read_text(),
        heldout_cfg=fitted.validation_cfg,
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(flow, store=store, root_dir=tmp_path, ensure_success=True)
    found = store.query_one({"output.stop_reason": {"$exists": True}}, load=True)
    assert found is not None, "no final ActiveLearningDocument"
    doc = ActiveLearningDocument(**found["output"])
    # one warm-started refit per iteration that selected something; the loop hands on the
    # last refit's potential
    fits = [d["output"] for d in store.query({"name": "mtp fit"}, load=True)]
    assert len(fits) == sum(it.n_labelled > 0 for it in doc.iterations)
    # the last round explored the potential the loop hands on, and labelled nothing
    assert doc.iterations[-1].n_labelled == 0
    assert all(fit["warm_start"] for fit in fits)
    assert doc.mtp in {fit["mtp"] for fit in fits}
    first, second = doc.iterations[:2]
    print([(it.n_candidates, it.n_selected, it.grade_max) for it in doc.iterations])
    assert first.n_selected > 0
    assert first.n_labelled == first.n_selected and first.validation_errors is not None
    assert second.n_selected < first.n_selected
    # the held-out cells are taken out of the training set and never come back
    assert doc.n_training == 27 + sum(it.n_labelled for it in doc.iterations)
    assert doc.n_heldout == 3
    # the first iteration explores with the passive potential: its held-out errors are the
    # passive fit's validation errors (up to .cfg rounding); later ones on the same cells
    passive = fitted.validation_errors
    assert first.heldout_errors.forces.rmse == pytest.approx(passive.forces.rmse, rel=1e-4)
    assert second.heldout_errors.forces.n == passive.forces.n
    assert second.heldout_errors.forces.rmse != first.heldout_errors.forces.rmse
    assert doc.heldout_errors is not None
    assert 0 < first.refit_iterations <= 60 and first.refit_stopped_by is not None
    assert len(doc.labelled_set) == doc.n_training  # the final set, loaded from the store
    # every iteration explored in 2 jobs (runs) of both temperatures, each with its own seed;
    # candidates and grades went to the data store, the iteration sums the jobs
    explorations = list(store.query({"name": {"$regex": "^explore "}}))
    assert len(explorations) == 2 * len(doc.iterations)
    for it in doc.iterations:
        mine = [
            e["output"] for e in explorations if e["name"].endswith(f"(iteration {it.iteration})")
        ]
        assert len({e["seed"] for e in mine}) == 2 and it.n_runs == 4
        assert sum(e["n_graded"] for e in mine) == it.n_graded
        assert sum(e["runs_stopped"] for e in mine) == it.runs_stopped
        assert it.explore_time_s == pytest.approx(sum(e["explore_time_s"] for e in mine))
        for e in mine:
            assert "blob_uuid" in e["candidates_cfg"] and "blob_uuid" in e["all_grades"]
    # one selection per iteration, and one more after the last refit (its own stop)
    assert len(list(store.query({"name": {"$regex": "^select "}}))) == len(fits) + 1
    assert (doc.labelled_set.oracle, doc.labelled_set.level_of_theory) == ("chgnet", "PBE")


def test_contacts_are_labelled_first_without_maxvol(trained_mtp, li2s_labelled_set):
    from ionflow.io.mlip_cfg import labelled_cfg_text
    from ionflow.learning.schemas.active_learning import ExplorationDocument

    species = li2s_labelled_set.species
    contact = li2s_labelled_set.images[0].copy()
    contact.positions[:] += 0.05  # a new configuration (another key), inside the set's span
    contact.calc = None
    maker = ActiveLearningMaker(label_maker=ChgnetTestLabelMaker(), max_selected=3)

    def explored(contacts):
        return ExplorationDocument(
            structure_index=0, run=0, seed=1, temperatures_K=[600.0], explorer="test",
            n_runs=1, n_graded=0, grade_max=0.0, grade_percentiles={}, all_grades=[],
            n_candidates=0, candidate_grades=[], candidates_cfg="",
            runs_stopped=0, runs_unphysical=0, runs_contact=len(contacts),
            contacts_cfg=labelled_cfg_text(contacts, species), explore_time_s=0.0,
        )  # fmt: skip

    def select(contacts):
        return maker.select.original(
            maker, [explored(contacts)], [], li2s_labelled_set,
            trained_mtp.path.read_text(), [], [], None,
        )  # fmt: skip

    # no candidates above gamma_select and no contact: nothing to label, the loop stops
    final = select([])
    assert final.stop_reason == "iteration 1 selected 0 configurations"
    # the MD core repulsion's reference: each pair's closest distance in the final set
    expected = closest_contacts_of_set(li2s_labelled_set.images, trained_mtp.document.r_cut)
    assert set(final.closest_pairs_A) == {"Li-Li", "Li-S", "S-S"}
    assert final.closest_pairs_A == pytest.approx(expected)
    # a contact is labelled although MaxVol would not choose it (no candidate at all)
    response = select([contact])
    label = response.replace.jobs[0]
    (structure,) = label.function_args[0]
    assert structure.cart_coords == pytest.approx(contact.positions, abs=1e-6)
