"""The labelled set: one type in memory, ``.cfg`` text only in the store, one merge."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from jobflow import Flow, job, run_locally

from ionflow.errors import IonflowInputError
from ionflow.io.labelled_set import LABELLED_SET_DATA_FIELDS, LabelledSet
from ionflow.io.mlip_cfg import labelled_cfg_text
from tests.fixtures.mtp import LI2S_SPECIES, li2s_snapshots


def _labelled(n: int, seed: int = 0, cfg_precision: bool = False) -> list:
    """Li2S cells with random labels; ``cfg_precision``: values the .cfg holds exactly."""
    rng = np.random.default_rng(seed)
    images = li2s_snapshots(n, seed=seed)
    for atoms in images:
        energy = float(rng.uniform(-60.0, -40.0))
        forces = rng.normal(0.0, 1.0, (len(atoms), 3))
        virial_eV = rng.normal(0.0, 2.0, 6)
        if cfg_precision:  # .cfg: positions, cell, forces 1e-6; energy 1e-12; virial 1e-5
            atoms.set_cell(np.round(atoms.cell.array, 6))
            atoms.positions = np.round(atoms.positions, 6)
            energy, forces, virial_eV = round(energy, 12), np.round(forces, 6), virial_eV.round(5)
        stress = -virial_eV / atoms.get_volume()  # eV/Å^3, ASE sign
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
    return images


def _labels(images: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([a.get_potential_energy() for a in images]),
        np.array([a.get_forces() for a in images]),
        np.array([a.get_stress() for a in images]),
    )


def test_merge_refuses_mixed_oracles_and_levels_in_one_line():
    images = _labelled(3)
    first = LabelledSet(images[:1], "vasp", "optB88-vdW", LI2S_SPECIES)
    for oracle, level, word in (
        ("chgnet", "optB88-vdW", "oracles (vasp and chgnet)"),
        ("vasp", "PBE-D3(BJ)", "levels of theory (optB88-vdW and PBE-D3(BJ))"),
    ):
        other = LabelledSet(images[1:], oracle, level, LI2S_SPECIES)
        with pytest.raises(IonflowInputError) as refused:
            LabelledSet.merge([first, other])
        message = str(refused.value)
        assert "\n" not in message and word in message, message
    with pytest.raises(IonflowInputError, match="no labelled sets"):
        LabelledSet.merge([])


def test_merge_keeps_order_provenance_and_the_given_type_order():
    images = _labelled(3)
    first = LabelledSet(images[:2], "cp2k", "PBE", ["S", "Li"], [{"source": "aimd"}] * 2)
    second = LabelledSet(images[2:], "cp2k", "PBE", LI2S_SPECIES, [{"source": "gb"}])
    merged = LabelledSet.merge([first, second])
    assert merged.images == images and merged.species == ["S", "Li"]
    assert [p["source"] for p in merged.provenance] == ["aimd", "aimd", "gb"]
    assert LabelledSet.merge([first, second], LI2S_SPECIES).species == LI2S_SPECIES
    with pytest.raises(IonflowInputError, match=r"elements \['S'\] are not in"):
        LabelledSet.merge([first, second], ["Li"])


def test_unlabelled_structures_and_wrong_provenance_are_refused():
    images = _labelled(2)
    bare = images[0].copy()  # no calculator: no labels
    with pytest.raises(IonflowInputError, match=r"structures \[1\] carry no energy"):
        LabelledSet([images[1], bare], "cp2k", "PBE")
    with pytest.raises(IonflowInputError, match="1 provenance entries for 2 structures"):
        LabelledSet(images, "cp2k", "PBE", provenance=[{}])


@job(data=LABELLED_SET_DATA_FIELDS)
def _produce(labelled_set: LabelledSet) -> dict:
    return {"labelled_set": labelled_set, "n": len(labelled_set)}


@job
def _consume(labelled_set: LabelledSet) -> dict:
    energies, forces, stresses = _labels(labelled_set.images)
    return {
        "type": type(labelled_set).__name__,
        "oracle": labelled_set.oracle,
        "energies": energies.tolist(),
        "forces": forces.tolist(),
        "stresses": stresses.tolist(),
    }


def _round_trip(jobstore, labelled_set: LabelledSet) -> tuple[dict, dict, LabelledSet]:
    produce = _produce(labelled_set)
    consume = _consume(produce.output["labelled_set"])
    run_locally(Flow([produce, consume]), store=jobstore, ensure_success=True)
    task = jobstore.query_one({"uuid": produce.uuid})["output"]["labelled_set"]
    loaded = LabelledSet.from_dict(jobstore.get_output(produce.uuid, load=True)["labelled_set"])
    return task, jobstore.get_output(consume.uuid), loaded


def test_round_trip_through_the_jobstore_gives_identical_labels(jobstore):
    original = LabelledSet(
        _labelled(4, cfg_precision=True), "vasp", "optB88-vdW", LI2S_SPECIES,
        [{"source": "aimd", "temperature_K": 600.0}] * 4,
    )  # fmt: skip
    task, consumed, loaded = _round_trip(jobstore, original)
    # metadata in the task document, the .cfg text and provenance in the data store
    assert (task["oracle"], task["level_of_theory"], task["species"]) == (
        "vasp", "optB88-vdW", LI2S_SPECIES,
    )  # fmt: skip
    for key in LABELLED_SET_DATA_FIELDS:
        assert "blob_uuid" in task[key], key
    assert "BEGIN_CFG" not in str(task)
    # the consumer job got a LabelledSet, with exactly the stored labels
    assert consumed["type"] == "LabelledSet" and consumed["oracle"] == "vasp"
    energies, forces, stresses = _labels(original.images)
    assert np.array_equal(consumed["energies"], energies)
    assert np.array_equal(consumed["forces"], forces)
    assert np.array_equal(consumed["stresses"], stresses)
    assert loaded.provenance == original.provenance
    assert np.array_equal(_labels(loaded.images)[1], forces)
    assert loaded.cfg_text() == original.cfg_text()


def test_full_precision_labels_come_back_at_cfg_precision(jobstore):
    original = LabelledSet(_labelled(3, seed=1), "chgnet", "PBE", LI2S_SPECIES)
    _, consumed, loaded = _round_trip(jobstore, original)
    energies, forces, stresses = _labels(original.images)
    np.testing.assert_allclose(consumed["energies"], energies, rtol=0, atol=1e-11)
    np.testing.assert_allclose(consumed["forces"], forces, rtol=0, atol=5.1e-7)
    volumes = np.array([[a.get_volume()] for a in original.images])
    np.testing.assert_allclose(np.array(consumed["stresses"]) * volumes, stresses * volumes,
                               rtol=0, atol=5.1e-6)  # virial, eV  # fmt: skip
    assert loaded.cfg_text() == labelled_cfg_text(original.images, LI2S_SPECIES)


def test_cfg_text_leaves_info_out_and_reads_back(tmp_path):
    images = _labelled(2)
    images[0].info["note"] = "not a label"
    labelled_set = LabelledSet(images, "cp2k", "PBE", LI2S_SPECIES)
    text = labelled_set.cfg_text()
    assert text.count("BEGIN_CFG") == 2 and "Feature" not in text
    assert images[0].info == {"note": "not a label"}  # the caller's atoms are untouched
    again = LabelledSet.from_cfg_text(text, LI2S_SPECIES, "cp2k", "PBE")
    assert again.cfg_text() == text
    assert LabelledSet.from_cfg_text("", LI2S_SPECIES, "cp2k", "PBE").images == []


def test_cfg_check_names_a_damaged_atomdata_header():
    from ionflow.errors import IonflowInputError
    from ionflow.io.mlip_cfg import check_cfg_text

    good = (
        "BEGIN_CFG\n Size\n 1\n Supercell\n 3 0 0\n 0 3 0\n 0 0 3\n"
        " AtomData: id type cartes_x cartes_y cartes_z fx fy fz\n"
        " 1 0 0 0 0 0.1 0.2 0.3\n Energy\n -1.0\nEND_CFG\n"
    )
    check_cfg_text(good, "ok.cfg", ["Li"], require_labels=True)
    for damaged, reason in ((" fy ", " nan "), (" fy ", " fx ")):
        with pytest.raises(IonflowInputError, match=r"bad\.cfg: configuration 1, line 8"):
            check_cfg_text(good.replace(damaged, reason), "bad.cfg", ["Li"])
