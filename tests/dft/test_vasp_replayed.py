"""VASP labelling with the engine replayed: inputs checked, recorded outputs parsed."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import run_locally
from monty.json import MontyDecoder

from ionflow.dft.jobs.label import LabellingFailedError, LabelMaker
from ionflow.dft.labelled_set import read_cfg_text, with_provenance
from ionflow.dft.parsers import parse_vasp_single_point
from ionflow.dft.sets.oracle import OracleSettings
from tests.fixtures.dft import DFT_DATA, make_li2s

VASP = OracleSettings(oracle="vasp", vasp_potcar_spec=True)


def test_vasp_single_point_parsing_replayed():
    label = parse_vasp_single_point(DFT_DATA / "vasp" / "li2s_static_pbe" / "outputs", "PBE")
    assert label.energy == pytest.approx(-13.2456)  # e_fr_energy of the last step, eV
    assert label.forces[0] == pytest.approx([0.01, -0.02, 0.03])
    # +12 kB of pressure in vasprun.xml -> -1.2 GPa, tension-positive
    assert np.diag(label.stress) == pytest.approx([-1.2, -1.2, -1.2])
    assert label.stress[0][1] == pytest.approx(-0.05) and label.converged
    unconverged = DFT_DATA / "vasp" / "li2s_static_unconverged" / "outputs"
    assert not parse_vasp_single_point(unconverged, "PBE").converged


@pytest.mark.parametrize(
    ("level", "case"),
    [("PBE", "li2s_static_pbe"), ("PBE-D3(BJ)", "li2s_static_pbe_d3bj"),
     ("optB88-vdW", "li2s_static_optb88_vdw")],
)  # fmt: skip
def test_vasp_label_maker_writes_level_inputs_replayed(level, case, replay_vasp, dft_store):
    replayed = replay_vasp([(case, "li2s_static_pbe")])
    job = LabelMaker(level_of_theory=level, oracle_settings=VASP).make([make_li2s(primitive=True)])
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert len(replayed) == 1 and doc.oracle == "vasp" and doc.level_of_theory == level
    (atoms,) = read_cfg_text(doc.cfg_text, doc.species)
    assert atoms.get_potential_energy() == pytest.approx(-13.2456)
    # PlusStress = virial = -stress * volume (eV); stress -1.2 GPa on the diagonal
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    assert np.diag(virial) == pytest.approx([1.2 / 160.21766208 * 46.29825] * 3, abs=2e-5)


def test_vasp_unconverged_scf_is_a_failure_not_a_label_replayed(replay_vasp, dft_store, tmp_path):
    replay_vasp(["li2s_static_pbe", "li2s_static_unconverged"])
    structures = [make_li2s(primitive=True), make_li2s(a=5.8, primitive=True)]
    structures = [with_provenance(s, source="relaxed") for s in structures]
    maker = LabelMaker(oracle_settings=VASP, max_failed_fraction=0.5)
    job = maker.make(structures)
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert doc.n_labelled == 1 and len(read_cfg_text(doc.cfg_text, doc.species)) == 1
    assert [(f.index, f.reason) for f in doc.failures] == [(1, "SCF not converged")]
    assert doc.failures[0].provenance["source"] == "relaxed"
    # the failed structure was not cached: labelling again runs VASP again and fails again
    replay_vasp(["li2s_static_unconverged"])
    # default 5 %: one failure in one structure is too many, the job fails
    strict = LabelMaker(oracle_settings=VASP).make(structures[1:])
    with pytest.raises(LabellingFailedError, match=r"1 of 1 structures .*SCF not converged"):
        run_locally(strict, store=dft_store, raise_immediately=True)
    assert dft_store.query_one({"uuid": strict.uuid}) is None  # and nothing was stored
    # the failed structure's VASP folder is kept as VASP left it, beside the job's log
    kept = {path.name for path in (tmp_path / "label_00000").iterdir()}
    assert {"INCAR", "POSCAR", "KPOINTS", "vasprun.xml"} <= kept, kept
    assert "LabellingFailedError" in (tmp_path / "label.log").read_text()


def test_vasp_aimd_snapshots_replayed(replay_vasp, dft_store):
    """The MD inputs (NVT Nosé-Hoover, 600 K, 2 fs, 5 steps, Γ) and the frame read-back."""
    from ionflow.dft.jobs import AimdSnapshotMaker

    replayed = replay_vasp(["li2s_md_pbe_600K"])
    maker = AimdSnapshotMaker(
        oracle_settings=VASP, temperature=600, duration=0.01, timestep=2.0, n_snapshots=2,
        equilibration_fraction=0.3,
    )  # fmt: skip
    job = maker.make(make_li2s(primitive=True))
    run_locally(job, store=dft_store, ensure_success=True)
    md = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert len(replayed) == 1 and md.oracle == "vasp" and md.n_steps == 5
    # three recorded ionic steps; the first Li moves +0.01 (fractional) per step
    assert md.n_frames == 3 and md.snapshot_frames == [1, 2]
    assert [s.frac_coords[0][0] for s in md.snapshots] == pytest.approx([0.26, 0.27])
    assert md.potential_energy_range == pytest.approx((-13.2656, -13.2556))
    assert all(s.properties["ionflow"]["temperature_K"] == 600 for s in md.snapshots)
