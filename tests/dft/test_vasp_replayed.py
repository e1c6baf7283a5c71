"""VASP labelling with the engine replayed: inputs checked, recorded outputs parsed."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from jobflow import run_locally
from monty.json import MontyDecoder
from pymatgen.core import Structure

from ionflow.dft.jobs.label import LabellingFailedError, LabelMaker
from ionflow.dft.labelled_set import with_provenance
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
    unconverged = parse_vasp_single_point(
        DFT_DATA / "vasp" / "li2s_static_unconverged" / "outputs", "PBE"
    )
    assert not unconverged.converged and "NELM = 2" in unconverged.metadata["failure"]


@pytest.mark.parametrize(
    ("level", "case"),
    [("PBE", "li2s_static_pbe"), ("PBE-D3(BJ)", "li2s_static_pbe_d3bj"),
     ("optB88-vdW", "li2s_static_optb88_vdw")],
)  # fmt: skip
def test_vasp_label_maker_writes_level_inputs_replayed(level, case, replay_vasp, dft_store):
    """Each level writes its own INCAR; the one recorded output (PBE) is a label only at
    PBE: replayed for PBE-D3(BJ) or optB88-vdW it is refused, naming the INCAR key."""
    replayed = replay_vasp([(case, "li2s_static_pbe")])
    maker = LabelMaker(level_of_theory=level, oracle_settings=VASP, max_failed_fraction=1.0)
    job = maker.make([make_li2s(primitive=True)])
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert len(replayed) == 1 and doc.oracle == "vasp" and doc.level_of_theory == level
    if level != "PBE":
        wrong_key = {"PBE-D3(BJ)": "IVDW = 0", "optB88-vdW": "GGA = PE"}[level]
        assert doc.n_labelled == 0 and len(doc.labelled_set) == 0
        reason = doc.failures[0].reason
        assert wrong_key in reason.upper() and f"not {level}" in reason
        return
    (atoms,) = doc.labelled_set.images  # parsed from the stored .cfg text
    assert atoms.get_potential_energy() == pytest.approx(-13.2456)
    # PlusStress = virial = -stress * volume (eV); stress -1.2 GPa on the diagonal
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    assert np.diag(virial) == pytest.approx([1.2 / 160.21766208 * 46.29825] * 3, abs=2e-5)


def test_vasp_output_of_other_positions_is_not_a_label_replayed(replay_vasp, dft_store):
    """A vasprun.xml whose last positions are not the structure asked for (a stale
    output, or ions that moved) is a failure, never a label of that structure."""
    replay_vasp(["li2s_static_pbe"])
    maker = LabelMaker(oracle_settings=VASP, max_failed_fraction=1.0)
    job = maker.make([make_li2s(a=5.9, primitive=True)])
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert doc.n_labelled == 0 and "differ from the structure" in doc.failures[0].reason


def test_vasp_unconverged_scf_is_a_failure_not_a_label_replayed(replay_vasp, dft_store, tmp_path):
    replay_vasp(["li2s_static_pbe", "li2s_static_unconverged"])
    structures = [make_li2s(primitive=True), make_li2s(a=5.8, primitive=True)]
    structures = [with_provenance(s, source="relaxed") for s in structures]
    maker = LabelMaker(oracle_settings=VASP, max_failed_fraction=0.5)
    job = maker.make(structures)
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert doc.n_labelled == 1 and len(doc.labelled_set) == 1
    assert [f.index for f in doc.failures] == [1]
    assert doc.failures[0].reason.startswith("electronic SCF not converged: NELM = 2 reached")
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


# ------------------------------------------------ runs recorded by VASP itself
# ../shared/reference/vasp-recorded (custodian's test files; README there). Expected
# numbers come from the recorded files through a second reader (ASE's OUTCAR parser,
# OSZICAR lines), never from ionflow's own parse.
def _oszicar_steps(path: Path) -> list[float]:
    """Free energy F (eV) of every ionic step in an OSZICAR."""
    return [float(m) for m in re.findall(r"^\s*\d+ F= (\S+)", path.read_text(), re.M)]


def _outcar_images(path: Path) -> list:
    import ase.io

    return ase.io.read(path, index=":", format="vasp-out")


def test_recorded_relaxation_replayed(replay_recorded_vasp, recorded_vasp, dft_store):
    """`_vasp_relax` on a real 28-step Fe2O2 cell+ion relaxation: final energy, step
    count and relaxed cell (CONTCAR) as VASP wrote them."""
    from ionflow.dft.jobs import RelaxMaker

    case = recorded_vasp / "relax"
    replay_recorded_vasp("relax", ("IBRION", "ISIF", "NSW"))
    maker = RelaxMaker(oracle_settings=VASP, max_steps=99)  # the recorded NSW
    job = maker.make(Structure.from_file(case / "POSCAR"))
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    energies = _oszicar_steps(case / "OSZICAR")
    assert doc.converged and doc.failure is None and doc.n_steps == len(energies) == 28
    assert doc.energy == pytest.approx(energies[-1], abs=1e-6)
    contcar = Structure.from_file(case / "CONTCAR")
    assert np.allclose(doc.structure.lattice.matrix, contcar.lattice.matrix, atol=1e-6)
    assert np.allclose(doc.structure.frac_coords, contcar.frac_coords, atol=1e-6)
    assert doc.structure.properties["ionflow"]["source"] == "relaxed"


def test_recorded_unconverged_relaxation_fails_with_its_reason_replayed(
    replay_recorded_vasp, recorded_vasp, tmp_path, monkeypatch
):
    """A real relaxation whose SCF hit NELM = 100 in every ionic step fails and says so
    (not "forces above tolerance"); kept only on request, marked unconverged."""
    from pymatgen.io.vasp.outputs import Vasprun

    from ionflow.dft.jobs import RelaxMaker
    from ionflow.dft.jobs.relax import RelaxNotConvergedError

    run = Vasprun(recorded_vasp / "relax_unconverged_electronic" / "vasprun.xml.gz")
    monkeypatch.chdir(tmp_path)
    replay_recorded_vasp("relax_unconverged_electronic")
    with pytest.raises(RelaxNotConvergedError, match=r"NELM = 100 reached .*\(5 of 5 ionic steps"):
        RelaxMaker.make.original(RelaxMaker(oracle_settings=VASP), run.initial_structure)
    replay_recorded_vasp("relax_unconverged_electronic")
    lenient = RelaxMaker(oracle_settings=VASP, require_convergence=False)
    doc = RelaxMaker.make.original(lenient, run.initial_structure)
    assert not doc.converged and doc.failure.startswith("electronic SCF not converged")


def test_recorded_unconverged_run_is_a_failure_never_a_label_replayed(
    replay_recorded_vasp, recorded_vasp, dft_store
):
    """Labelling two structures: the converged recorded run becomes a label with VASP's
    numbers (checked against ASE's OUTCAR reader), the unconverged one a failure with
    its reason: nothing of it in the .cfg or in the label cache."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp.outputs import Vasprun

    from ionflow.dft.label_cache import LabelCache

    final = _outcar_images(recorded_vasp / "relax" / "OUTCAR.gz")[-1]
    unconverged = Vasprun(recorded_vasp / "relax_unconverged_electronic" / "vasprun.xml.gz")
    structures = [AseAtomsAdaptor.get_structure(final), unconverged.ionic_steps[-1]["structure"]]
    replay_recorded_vasp("relax")
    replay_recorded_vasp("relax_unconverged_electronic")
    maker = LabelMaker(oracle_settings=VASP, max_failed_fraction=0.5, species=["O", "V", "Fe"])
    job = maker.make(structures)
    run_locally(job, store=dft_store, ensure_success=True)
    doc = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert doc.n_labelled == 1 and [f.index for f in doc.failures] == [1]
    assert "NELM = 100 reached in the last ionic step (5 of 5" in doc.failures[0].reason
    (atoms,) = doc.labelled_set.images  # parsed from the stored .cfg text
    assert atoms.get_chemical_formula() == "Fe2O2"
    assert atoms.get_potential_energy() == pytest.approx(
        final.get_potential_energy(force_consistent=True), abs=1e-6
    )
    order = np.argsort(atoms.numbers, kind="stable"), np.argsort(final.numbers, kind="stable")
    assert np.allclose(atoms.get_forces()[order[0]], final.get_forces()[order[1]], atol=1e-5)
    assert np.allclose(atoms.get_stress(), final.get_stress(), atol=1e-7)  # eV/Å^3
    cache = LabelCache.from_job_store(dft_store)
    assert cache.collection.count_documents({}) == 1  # the converged label only


def test_recorded_md_run_snapshots_replayed(replay_recorded_vasp, recorded_vasp, dft_store):
    """`_vasp_md` on a real 10-step NVT run of Li28P12S44 (OUTCAR only, as a run killed
    before vasprun.xml was closed leaves it): every ionic step is a frame."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from ionflow.dft.jobs import AimdSnapshotMaker

    outcar = recorded_vasp / "md_nvt" / "OUTCAR.gz"
    images = _outcar_images(outcar)
    with gzip.open(outcar, "rt") as handle:  # per ionic step; SCF steps print "free energy"
        totens = [float(m) for m in re.findall(r"free  energy   TOTEN\s+=\s+(\S+)", handle.read())]
    replay_recorded_vasp("md_nvt", ("IBRION", "POTIM", "NSW", "TEEND", "ISYM", "SMASS"))
    maker = AimdSnapshotMaker(
        oracle_settings=VASP, temperature=600, duration=0.02, timestep=2.0, n_snapshots=4,
        equilibration_fraction=0.2,
    )  # fmt: skip
    job = maker.make(AseAtomsAdaptor.get_structure(images[0]))
    run_locally(job, store=dft_store, ensure_success=True)
    md = MontyDecoder().process_decoded(dft_store.get_output(job.uuid, load=True))
    assert md.n_steps == 10 and md.n_frames == len(images) == len(totens) == 10
    assert md.snapshot_frames == [2, 4, 7, 9]
    picked = [totens[i] for i in md.snapshot_frames]
    assert md.potential_energy_range == pytest.approx((min(picked), max(picked)), abs=1e-6)
    for frame, snapshot in zip(md.snapshot_frames, md.snapshots, strict=True):
        assert snapshot.composition.reduced_formula == "Li7P3S11"
        assert np.allclose(snapshot.cart_coords, images[frame].positions, atol=1e-6)
