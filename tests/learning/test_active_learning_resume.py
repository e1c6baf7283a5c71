"""Active learning with ionflow.dft's LabelMaker (CHGNet oracle): crash, resume, no relabel."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor
from tests.fixtures.mtp import LI2S_SPECIES, li2s_snapshots

import ionflow.dft.jobs.label as label_module
from ionflow.dft.jobs.label import LabelMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.learning.explore import AseMdExplorer
from ionflow.learning.flows.active_learning import STATE_FILE, ActiveLearningMaker, labelled_cfg_of
from ionflow.learning.schemas.active_learning import ActiveLearningDocument
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.selection import configuration_key

REAL_ORACLE = label_module.run_single_point


class CountingOracle:
    """Wraps the DFT stage's engine call: counts labels, fails every call of one job."""

    def __init__(self, fail_in_job: int | None) -> None:
        self.fail_in_job = fail_in_job
        self.job_dirs: list[Path] = []
        self.labelled: list[str] = []  # configuration keys, one per successful label

    def __call__(self, structure, level, directory, settings):
        job_dir = Path(directory).parent
        if job_dir not in self.job_dirs:
            self.job_dirs.append(job_dir)
        if self.job_dirs.index(job_dir) + 1 == self.fail_in_job:
            raise RuntimeError("node lost (simulated crash)")
        label = REAL_ORACLE(structure, level, directory, settings)
        self.labelled.append(configuration_key(AseAtomsAdaptor.get_atoms(structure)))
        return label


def _maker(state_dir: Path) -> ActiveLearningMaker:
    return ActiveLearningMaker(
        # no label cache: only the loop's own bookkeeping may prevent relabelling
        label_maker=LabelMaker(oracle_settings=OracleSettings(oracle="chgnet"), use_cache=False),
        fit_maker=MtpFitMaker(weights=(100, 1, 0.01), max_iter=40, engine="motep"),
        explorer=AseMdExplorer(grade_every=5, seed=3),
        temperatures=(1200.0,),
        md_steps=60,
        gamma_select=1.1,  # low, so that iteration 2 still has work to crash on
        max_selected=2,
        max_iterations=2,
        state_dir=str(state_dir),
    )


def _final_document(store: JobStore) -> ActiveLearningDocument | None:
    found = store.query_one({"output.stop_reason": {"$exists": True}}, load=True)
    return None if found is None else ActiveLearningDocument(**found["output"])


@pytest.mark.slow
def test_crash_then_rerun_resumes_and_never_relabels(
    trained_mtp, li2s_labelled_cfg, tmp_path, monkeypatch
):
    cell = AseAtomsAdaptor.get_structure(bulk("SLi2", "fluorite", a=5.7, cubic=True))
    state_dir = tmp_path / "state"
    mtp = trained_mtp.path.read_text()

    crashing = CountingOracle(fail_in_job=2)  # the labelling job of iteration 2 dies
    monkeypatch.setattr(label_module, "run_single_point", crashing)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    flow = _maker(state_dir).make([cell], li2s_labelled_cfg, LI2S_SPECIES, mtp=mtp)
    run_locally(
        flow, store=store, root_dir=tmp_path / "run1", ensure_success=False, create_folders=True
    )
    assert _final_document(store) is None, "the crashed loop must not finish"
    state = json.loads((state_dir / STATE_FILE).read_text())
    assert len(state["history"]) == 1  # iteration 1 finished (labelled and refitted)
    first = state["history"][0]
    assert first["n_labelled"] == first["n_selected"] == len(crashing.labelled) > 0
    assert first["validation_errors"] is not None
    assert set(crashing.labelled) <= set(state["labelled_keys"])

    resumed = CountingOracle(fail_in_job=None)
    monkeypatch.setattr(label_module, "run_single_point", resumed)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    # same call as the first run: the state directory decides where it starts
    flow = _maker(state_dir).make([cell], li2s_labelled_cfg, LI2S_SPECIES, mtp=mtp)
    run_locally(
        flow, store=store, root_dir=tmp_path / "run2", ensure_success=True, create_folders=True
    )
    doc = _final_document(store)
    assert doc is not None
    assert [it.iteration for it in doc.iterations] == [1, 2]
    assert doc.iterations[0].model_dump() == first  # iteration 1 was not redone
    assert "max_iterations" in doc.stop_reason
    assert doc.iterations[1].n_labelled == len(resumed.labelled)
    all_labels = crashing.labelled + resumed.labelled
    assert len(all_labels) == len(set(all_labels)), "a configuration was labelled twice"
    assert doc.n_training == 30 + len(all_labels)


def test_dft_labelled_set_document_is_read_in_our_type_order():
    from ase.calculators.singlepoint import SinglePointCalculator

    from ionflow.dft.labelled_set import cfg_text_of
    from ionflow.dft.schemas.labels import LabelledSetDocument, LabellingFailure

    rng = np.random.default_rng(0)
    images = li2s_snapshots(2, seed=0)
    for atoms in images:
        atoms.calc = SinglePointCalculator(
            atoms, energy=-50.0, forces=rng.normal(size=(12, 3)), stress=rng.normal(size=6)
        )
    reversed_species = list(reversed(LI2S_SPECIES))
    doc = LabelledSetDocument(
        oracle="chgnet",
        level_of_theory="PBE",
        species=reversed_species,
        n_requested=3,
        n_labelled=2,
        failures=[LabellingFailure(index=2, reason="SCF not converged")],
        cfg_text=cfg_text_of(images, reversed_species),
    )
    for output in (doc, doc.model_dump()):
        text, n_failed = labelled_cfg_of(output, LI2S_SPECIES)
        assert n_failed == 1
        assert text == cfg_text_of(images, LI2S_SPECIES)
    assert labelled_cfg_of({"labelled_cfg": "x", "n_failed": 2}, LI2S_SPECIES) == ("x", 2)
