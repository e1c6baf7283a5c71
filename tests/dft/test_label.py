"""LabelMaker with real CHGNet: cache, batching, failure policy, .cfg and extxyz."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import run_locally
from monty.json import MontyDecoder
from pymatgen.core import Structure

import ionflow.dft.jobs.label as label_module
from ionflow.dft.jobs.label import LabellingFailedError, LabelMaker, label_in_batches
from ionflow.dft.labelled_set import with_provenance, write_extxyz
from ionflow.dft.sets.oracle import OracleSettings
from tests.fixtures.dft import make_li2s

CHGNET = OracleSettings(oracle="chgnet")


def rattled(n: int, seed: int = 0, amplitude: float = 0.08):
    rng = np.random.default_rng(seed)
    structures = []
    for i in range(n):
        base = make_li2s(primitive=True)
        coords = base.cart_coords + rng.normal(0, amplitude, (len(base), 3))
        structure = Structure(base.lattice, base.species, coords, coords_are_cartesian=True)
        structures.append(with_provenance(structure, source="test", temperature_K=300 * (i % 2)))
    return structures


@pytest.fixture
def oracle_calls(monkeypatch):
    """Count the calls to the engine (the real CHGNet still runs)."""
    calls = []
    real = label_module.run_single_point

    def counting(structure, level, directory, settings):
        calls.append(structure)
        return real(structure, level, directory, settings)

    monkeypatch.setattr(label_module, "run_single_point", counting)
    return calls


def _run(job, store):
    run_locally(job, store=store, ensure_success=True)
    return output_of(job, store)


def output_of(job, store):
    """The job's output document, with data-store blobs loaded."""
    return MontyDecoder().process_decoded(store.get_output(job.uuid, load=True))


def test_labelling_twice_runs_the_oracle_once(dft_store, oracle_calls):
    structures = rattled(3)
    first = _run(LabelMaker(oracle_settings=CHGNET).make(structures), dft_store)
    assert (first.n_computed, first.n_from_cache, len(oracle_calls)) == (3, 0, 3)
    # a rerun in another workflow (new job, same store) reuses every label
    again = _run(LabelMaker(oracle_settings=CHGNET).make(structures), dft_store)
    assert (again.n_computed, again.n_from_cache, len(oracle_calls)) == (0, 3, 3)
    assert again.labelled_set.cfg_text() == first.labelled_set.cfg_text()
    # a structure moved by more than the tolerance is labelled again
    moved = structures[0].copy()
    moved.translate_sites([0], [0.01, 0, 0], frac_coords=False)
    third = _run(LabelMaker(oracle_settings=CHGNET).make([moved]), dft_store)
    assert third.n_computed == 1 and len(oracle_calls) == 4


def test_labelled_set_cfg_reads_back_identically_and_summary(dft_store):
    structures = rattled(4, seed=1)
    doc = _run(LabelMaker(oracle_settings=CHGNET).make(structures), dft_store)
    assert doc.oracle == "chgnet" and doc.species == ["Li", "S"]
    assert doc.counts_by_temperature == {"0": 2, "300": 2}
    assert doc.counts_by_source == {"test": 4}
    # the .cfg text is in the data store, not in the task document
    task = dft_store.query_one({"uuid": doc_uuid(dft_store)}, load=False)
    assert task["output"]["labelled_set"]["cfg_text"]["store"] == "data"
    assert task["output"]["oracle"] == "chgnet"  # queryable beside the summary
    images = doc.labelled_set.images
    assert len(images) == 4
    assert [p["temperature_K"] for p in doc.labelled_set.provenance] == [0, 300, 0, 300]
    direct = [CHGNET_CALC_energy(s) for s in structures]
    assert [a.get_potential_energy() for a in images] == pytest.approx(direct, abs=1e-9)
    lo, hi = doc.energy_per_atom_range
    assert lo <= min(direct) / 3 + 1e-9 and hi >= max(direct) / 3 - 1e-9
    assert doc.max_force == pytest.approx(
        max(np.linalg.norm(a.get_forces(), axis=1).max() for a in images), abs=1e-5
    )


def doc_uuid(store):
    return store.docs_store.query_one({}, properties=["uuid"])["uuid"]


def CHGNET_CALC_energy(structure):  # noqa: N802
    from pymatgen.io.ase import AseAtomsAdaptor

    from ionflow.dft.run import chgnet_calculator

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = chgnet_calculator()
    return atoms.get_potential_energy()


def test_batches_are_merged_into_one_set(dft_store, tmp_path):
    structures = rattled(5, seed=2)
    job = label_in_batches(structures, LabelMaker(oracle_settings=CHGNET), batch_size=2)
    response = run_locally(job, store=dft_store, ensure_success=True)
    label_jobs = [doc for doc in dft_store.query({"name": {"$regex": "^label [0-9]"}}, load=False)]
    assert len(label_jobs) == 3  # 2 + 2 + 1 structures
    merged = output_of(job, dft_store)
    assert merged.n_requested == merged.n_labelled == 5
    assert sum(merged.counts_by_temperature.values()) == 5
    assert response  # ran
    path = write_extxyz(merged, tmp_path / "labelled_set.extxyz")
    from ase.io import read

    frames = read(path, ":")
    cfg_frames = merged.labelled_set.images
    assert len(frames) == 5 and frames[0].info["oracle"] == "chgnet"
    assert frames[4].get_forces() == pytest.approx(cfg_frames[4].get_forces())


def test_failed_structures_are_recorded_and_the_policy_fails_loudly(
    dft_store, monkeypatch, tmp_path
):
    real = label_module.run_single_point

    def flaky(structure, level, directory, settings):
        if structure.properties["ionflow"].get("broken"):
            raise RuntimeError("engine crashed")
        return real(structure, level, directory, settings)

    monkeypatch.setattr(label_module, "run_single_point", flaky)
    structures = rattled(4, seed=3)
    structures[1] = with_provenance(structures[1], broken=True)
    tolerant = LabelMaker(oracle_settings=CHGNET, max_failed_fraction=0.25, use_cache=False)
    doc = _run(tolerant.make(structures), dft_store)
    assert doc.n_labelled == 3 and [f.index for f in doc.failures] == [1]
    assert "engine crashed" in doc.failures[0].reason
    strict = LabelMaker(oracle_settings=CHGNET, use_cache=False)  # default 5 %
    job = strict.make(structures)
    with pytest.raises(LabellingFailedError, match=r"1 of 4 structures .*engine crashed"):
        run_locally(job, store=dft_store, raise_immediately=True)
    assert dft_store.query_one({"uuid": job.uuid}) is None  # and nothing was stored
    # the failed job's folder (the working directory here) keeps its log
    log = (tmp_path / "label.log").read_text()
    assert "structure 1 failed to label: RuntimeError: engine crashed" in log
    assert "LabellingFailedError: 1 of 4 structures failed" in log


def test_failure_policy_message_names_the_reason():
    from ionflow.dft.jobs.label import check_failure_policy
    from ionflow.dft.schemas.labels import LabelledSetDocument, LabellingFailure
    from ionflow.io.labelled_set import LabelledSet

    doc = LabelledSetDocument(
        labelled_set=LabelledSet([], "cp2k", "PBE", ["Li"]), n_requested=10, n_labelled=8,
        failures=[LabellingFailure(index=i, reason="SCF not converged") for i in (2, 5)],
    )  # fmt: skip
    with pytest.raises(LabellingFailedError, match=r"2 of 10 .*SCF not converged"):
        check_failure_policy(doc)
    check_failure_policy(doc.model_copy(update={"max_failed_fraction": 0.2}))


def test_label_cache_lives_in_the_real_database(jobstore, tmp_path, monkeypatch):
    """Same check on ionflow's embedded MongoDB-wire server (GridFS data store)."""
    from ionflow.dft.label_cache import CACHE_COLLECTION

    monkeypatch.chdir(tmp_path)
    structures = rattled(2, seed=5)
    first = _run(LabelMaker(oracle_settings=CHGNET).make(structures), jobstore)
    second = _run(LabelMaker(oracle_settings=CHGNET).make(structures), jobstore)
    assert (first.n_computed, second.n_from_cache) == (2, 2)
    assert second.labelled_set.cfg_text() == first.labelled_set.cfg_text()
    database = jobstore.docs_store._collection.database
    assert database[CACHE_COLLECTION].count_documents({}) == 2


def test_disordered_structures_are_rejected(dft_store):
    from ionflow.errors import IonflowInputError

    disordered = make_li2s(primitive=True)
    disordered.replace(2, {"S": 0.5, "Se": 0.5})
    maker = LabelMaker(oracle_settings=CHGNET)
    with pytest.raises(IonflowInputError, match="partial occupancies"):
        maker.make.original(maker, [disordered])  # the job body, without a JobStore
