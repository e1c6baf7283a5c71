"""A real motep fit (level 8, CHGNet-labelled Li2S) through MtpFitMaker."""

from pathlib import Path

import maml
import numpy as np
import pytest

from ionflow.io.mlip_cfg import read_labelled_cfg
from ionflow.mtp import motep_api
from ionflow.mtp.fitting import split_train_validation
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.selection import select_add

# validation errors of this 150-iteration level-8 fit on 27 configurations of
# rattled (0.12 Å) Li2S, seed 0: forces 0.14 eV/Å, energy 5 meV/atom (unfitted: > 1 eV/Å)
FORCE_RMSE_BOUND = 0.25  # eV/Å
ENERGY_RMSE_BOUND = 0.02  # eV/atom

pytestmark = pytest.mark.slow


def test_fit_reports_errors_below_bounds(trained_mtp):
    doc = trained_mtp.document
    assert doc.n_train == 27 and doc.n_validation == 3
    val = doc.validation_errors
    print(f"validation force RMSE {val.forces.rmse:.3f} eV/Å, energy {val.energy_per_atom.rmse}")
    assert val.forces.rmse < FORCE_RMSE_BOUND
    assert val.energy_per_atom.rmse < ENERGY_RMSE_BOUND
    assert doc.train_errors.forces.mae <= doc.train_errors.forces.rmse
    assert len(doc.parity_validation.forces_ref) == 3 * 12 * 3
    assert doc.engine == "motep" and doc.versions["motep"] == motep_api.MOTEP_VERSION
    assert (doc.oracle, doc.level_of_theory) == ("chgnet", "PBE")  # of the LabelledSet fitted
    assert 0 < doc.optimizer_iterations <= 150
    assert doc.stopped_by in {"loss plateau", "max_iter", "gradient", "line search"}
    assert doc.evaluation_time_per_atom_step_s > 0


def test_large_fields_go_to_data_store(trained_mtp):
    docs, data = trained_mtp.stores
    task = docs.query_one({})
    assert "radial_coeffs" not in str(task["output"])  # the .mtp is not in the task doc
    assert "blob_uuid" in str(task["output"]["mtp"])
    assert data.count() >= 1


def test_written_mtp_reads_back_with_identical_energies(trained_mtp, li2s_labelled, tmp_path):
    data = motep_api.read_potential(trained_mtp.path, trained_mtp.species)
    again = motep_api.read_potential(
        motep_api.write_potential(tmp_path / "again.mtp", data), trained_mtp.species
    )
    first = motep_api.predict(data, li2s_labelled[:3])
    second = motep_api.predict(again, li2s_labelled[:3])
    for a, b in zip(first, second, strict=True):
        assert a["energy"] == pytest.approx(b["energy"], rel=1e-12)
        np.testing.assert_allclose(a["forces"], b["forces"], rtol=1e-10, atol=1e-12)


def _keys(text: str) -> list[str]:
    return [line.split("=")[0].strip() for line in text.splitlines() if "=" in line]


def test_key_order_is_mlip2_layout(trained_mtp):
    template = (Path(maml.__file__).parent / "apps/pes/params/08g.mtp").read_text()
    ours = _keys(trained_mtp.path.read_text())
    coefficients = {"scaling", "species_coeffs", "moment_coeffs"}
    assert [k for k in ours if k not in coefficients] == _keys(template)
    assert ours.index("scaling") == ours.index("potential_name") + 1
    assert ours[-2:] == ["species_coeffs", "moment_coeffs"]
    text = trained_mtp.path.read_text()
    assert text.index("radial_funcs_count") < text.index("radial_coeffs")
    assert text.index("radial_coeffs") < text.index("alpha_moments_count")


def test_far_configurations_grade_higher_and_are_selected(trained_mtp, li2s_labelled):
    data = motep_api.read_potential(trained_mtp.path, trained_mtp.species)
    train_idx, val_idx = split_train_validation(len(li2s_labelled), 0.1, 0)
    train = [li2s_labelled[i] for i in train_idx]
    held_out = [li2s_labelled[i] for i in val_idx]
    compressed = []
    for atoms in held_out:
        atoms = atoms.copy()
        atoms.set_cell(atoms.cell * 0.88, scale_atoms=True)
        compressed.append(atoms)
    selection = select_add(data, train, held_out + compressed)
    grades = np.array(selection.grades)
    assert grades[3:].min() > grades[:3].max()
    assert grades[3:].min() > 2.0
    assert {3, 4, 5} <= set(selection.indices)
    assert selection.indices[0] in {3, 4, 5}  # highest grade first


def test_training_set_reads_back(trained_mtp, tmp_path):
    path = tmp_path / "train.cfg"
    path.write_text(trained_mtp.document.training_cfg)
    assert len(read_labelled_cfg(path, trained_mtp.species)) == 27


def test_fit_takes_the_labelled_set_of_a_label_job(jobstore, tmp_path):
    """Label job -> fit job through the embedded database: the fit reads the stored set."""
    from jobflow import Flow, run_locally
    from pymatgen.io.ase import AseAtomsAdaptor
    from tests.fixtures.mtp import ChgnetTestLabelMaker, li2s_snapshots

    cells = [AseAtomsAdaptor.get_structure(a) for a in li2s_snapshots(5, seed=4)]
    label = ChgnetTestLabelMaker().make(cells)
    fit = MtpFitMaker(max_iter=5, engine="motep").make(label.output)
    run_locally(Flow([label, fit]), store=jobstore, root_dir=tmp_path, ensure_success=True)
    doc = jobstore.get_output(fit.uuid, load=True)
    assert (doc["n_train"], doc["n_validation"]) == (4, 1)
    assert (doc["oracle"], doc["level_of_theory"], doc["species"]) == ("chgnet", "PBE", ["Li", "S"])
    assert doc["training_cfg"].count("BEGIN_CFG") == 4


def test_sequential_selection_spends_a_batch_on_different_configurations(
    trained_mtp, li2s_labelled
):
    """Three near-copies of one far configuration and one other: a batch of two takes both."""
    data = motep_api.read_potential(trained_mtp.path, trained_mtp.species)
    train_idx, val_idx = split_train_validation(len(li2s_labelled), 0.1, 0)
    train = [li2s_labelled[i] for i in train_idx]
    first, second = (li2s_labelled[i].copy() for i in val_idx[:2])
    first.set_cell(first.cell * 0.86, scale_atoms=True)  # the farthest: highest grades
    second.set_cell(second.cell * 0.90, scale_atoms=True)
    rng = np.random.default_rng(0)
    copies = []
    for _ in range(3):
        atoms = first.copy()
        atoms.positions += rng.normal(0.0, 0.02, atoms.positions.shape)
        copies.append(atoms)
    candidates = [*copies, second]
    by_grade = select_add(data, train, candidates, max_selected=2, sequential=False)
    grades = np.array(by_grade.grades)
    assert grades[:3].min() > grades[3] > 2.0  # the copies outrank the other one
    assert set(by_grade.indices) <= {0, 1, 2}  # highest grades: two copies of one cell
    one_at_a_time = select_add(data, train, candidates, max_selected=2)
    assert one_at_a_time.indices[0] == by_grade.indices[0]
    assert one_at_a_time.indices[1] == 3  # the copies no longer extend the set; this does


def test_warm_start_widens_the_radial_basis_to_closer_atoms(trained_mtp, li2s_labelled_set):
    """Active learning labelled a closer contact: the refit's min_dist moves down to it."""
    from ionflow.dft.run import chgnet_single_points
    from ionflow.io.labelled_set import LabelledSet
    from ionflow.mtp.fitting import fit_mtp, min_interatomic_distance

    before = motep_api.read_potential(trained_mtp.path, trained_mtp.species).radial_basis.min
    squeezed = li2s_labelled_set.images[0].copy()
    squeezed.set_cell(squeezed.cell * 0.8, scale_atoms=True)
    closer = LabelledSet(
        chgnet_single_points([squeezed]), li2s_labelled_set.oracle,
        li2s_labelled_set.level_of_theory, li2s_labelled_set.species,
    )  # fmt: skip
    labelled = LabelledSet.merge([li2s_labelled_set, closer], li2s_labelled_set.species)
    expected = round(0.95 * min_interatomic_distance(labelled.images), 3)
    assert expected < before  # the premise: the new cell has closer atoms
    doc = fit_mtp(
        labelled, previous_mtp=trained_mtp.path.read_text(), max_iter=3,
        validation_fraction=0.0, engine="motep",
    )  # fmt: skip
    assert doc.warm_start and doc.min_dist == pytest.approx(expected)


def test_fit_cache_reuses_a_stored_fit_of_the_same_data_and_settings(
    li2s_labelled_set, jobstore, tmp_path
):
    """The same set and settings again: the stored fit comes back, nothing is fitted;
    another setting (max_iter) or a warm start fits anew."""
    from jobflow import run_locally

    from ionflow.mtp.fit_cache import FIT_CACHE_COLLECTION

    first, again = (MtpFitMaker(max_iter=5, engine="motep").make(li2s_labelled_set) for _ in "12")
    other = MtpFitMaker(max_iter=6, engine="motep").make(li2s_labelled_set)
    for fit in (first, again, other):  # one after another: jobflow orders unlinked jobs freely
        run_locally(
            fit, store=jobstore, root_dir=tmp_path, create_folders=True, ensure_success=True
        )
    docs = {job.uuid: jobstore.get_output(job.uuid, load=True) for job in (first, again, other)}
    assert docs[first.uuid]["reused_from_job"] is None
    assert docs[again.uuid]["reused_from_job"] == first.uuid
    assert docs[again.uuid]["mtp"] == docs[first.uuid]["mtp"]
    assert docs[again.uuid]["validation_errors"] == docs[first.uuid]["validation_errors"]
    assert docs[other.uuid]["reused_from_job"] is None
    # the reused job's folder has the log saying so and no engine files
    (reused_log,) = [p for p in tmp_path.glob("job_*/fit.log") if "reused" in p.read_text()]
    assert not (reused_log.parent / "trained.mtp").exists()
    database = jobstore.docs_store._collection.database
    assert database[FIT_CACHE_COLLECTION].count_documents({}) == 2

    warm = MtpFitMaker(max_iter=5, engine="motep").make(
        li2s_labelled_set, previous_mtp=docs[first.uuid]["mtp"]
    )
    run_locally(warm, store=jobstore, root_dir=tmp_path, ensure_success=True)
    assert jobstore.get_output(warm.uuid)["reused_from_job"] is None


def test_fit_records_each_pair_closest_training_distance(trained_mtp, li2s_labelled_set):
    """The core-repulsion wall's reference: per element pair, the training split's minimum."""
    from ionflow.structures.contacts import closest_contacts_of_set

    doc = trained_mtp.document
    images = li2s_labelled_set.images
    train_idx, _ = split_train_validation(len(images), 0.1, 0)
    expected = closest_contacts_of_set([images[i] for i in train_idx], doc.r_cut)
    assert set(doc.closest_pairs_A) == {"Li-Li", "Li-S", "S-S"}
    assert doc.closest_pairs_A == pytest.approx(expected)
    # the radial basis starts at 0.95 x the closest pair of the whole set (any species)
    assert min(doc.closest_pairs_A.values()) >= doc.min_dist
    assert max(doc.closest_pairs_A.values()) < doc.r_cut  # every pair met inside the cutoff
