"""The per-configuration fan-out through FireWorks (rlaunch) on the embedded database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from jobflow import Flow
from monty.json import MontyDecoder
from tests.fixtures.dft import make_li2s
from tests.fixtures.md import MD_MTP_FILE

from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.dft.flows.training_set import TrainingSetFlowMaker
from ionflow.dft.jobs.aimd import AimdSnapshotMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.resources import apply_stage_configs
from ionflow.pipeline.stages import STAGES, stage_of_firework
from ionflow.structures.jobs.core import StrainMaker, SupercellMaker

BIN = Path(sys.executable).parent


@pytest.mark.slow
def _rapidfire(launchpad, tmp_path: Path, node: str) -> None:
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))
    (tmp_path / node).mkdir()
    worker = subprocess.run(
        [BIN / "rlaunch", "-l", lpad_file, "rapidfire", "--nlaunches", "0", "--sleep", "0"],
        cwd=tmp_path / node,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        timeout=900,
    )
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]


def test_training_sets_made_at_run_time_through_fireworks(launchpad, jobstore, tmp_path):
    """Two configurations come out of the first job; the fan-out job replaces itself with
    their training sets in FireWorks, and its output (data store) is the merged set."""
    from jobflow.managers.fireworks import flow_to_workflow

    chgnet = OracleSettings(oracle="chgnet")
    maker = PipelineMaker(
        configurations_maker=StrainMaker(magnitudes=(0.01,), directions=("a", "b")),
        relax_maker=None,
        training_set_maker=TrainingSetFlowMaker(
            levels_of_theory=("PBE",),
            oracle_settings=chgnet,
            relax=False,
            strain_magnitudes=(0.02,),
            strain_directions=("abc",),
            temperatures=(600.0,),
            aimd_maker=AimdSnapshotMaker(
                duration=0.02, timestep=2.0, n_snapshots=2, equilibration_fraction=0.0
            ),
        ),
        fit_level="PBE",
    )
    configurations = maker.configurations_maker.make(make_li2s(primitive=True))
    training = maker.make_training_sets(configurations.output.structures)
    launchpad.add_wf(flow_to_workflow(Flow([configurations, training]), store=jobstore))
    assert launchpad.fireworks.count_documents({}) == 2  # nothing per configuration yet
    _rapidfire(launchpad, tmp_path, "node")

    fireworks = list(launchpad.fireworks.find({}, {"name": 1, "state": 1}))
    assert {fw["state"] for fw in fireworks} == {"COMPLETED"}
    names = [fw["name"] for fw in fireworks]
    # per configuration (2, from the data): itself + 1 strained copy, AIMD at 600 K each
    assert sum(name.startswith("aimd") for name in names) == 2 * 2
    assert names.count("labelled set PBE") == 1
    output = MontyDecoder().process_decoded(jobstore.get_output(training.uuid, load=True))
    assert len(output["structures"]) == 2 and output["relaxed"] == []
    # 2 configurations x (itself + 1 strained copy) x 1 temperature x 2 snapshots
    assert output["labelled"].n_labelled == 8
    assert output["labelled"].labelled_set.oracle == "chgnet"


@pytest.mark.slow
def test_conductivity_made_at_run_time_through_fireworks(
    launchpad, jobstore, tmp_path, md_data_dir, li2s_96
):
    """Two cells -> a supercell and an MD grid each (the analysis is left out: runs this
    short do not diffuse; tests/md/test_md_flows.py runs MD into the analysis)."""
    from jobflow.managers.fireworks import flow_to_workflow

    md = LammpsMdMaker(
        production_ps=0.4, heating_ps=0.0, timestep_fs=2.0, dump_every=10, restart_every=100,
        engine="lammps-python", ensemble="nvt",
    )  # fmt: skip
    maker = PipelineMaker(
        supercell_maker=SupercellMaker(scaling=(1, 1, 1)),
        conductivity_maker=ConductivityMdFlowMaker(
            md_maker=md, temperatures=[600.0, 800.0], repeats=1, diffusion_maker=None
        ),
        # per-stage FireWorks categories (the rlaunch worker, category '', runs them all)
        stage_configs={stage: {"_category": stage} for stage in STAGES},
    )
    conductivity = maker.make_conductivity([li2s_96, li2s_96.copy()], MD_MTP_FILE.read_text())
    apply_stage_configs(conductivity, maker.stage_configs)  # as PipelineMaker.make does
    launchpad.add_wf(flow_to_workflow(Flow([conductivity]), store=jobstore))
    _rapidfire(launchpad, tmp_path, "node")

    fireworks = list(launchpad.fireworks.find({}, {"name": 1, "state": 1}))
    failed = [launch["action"] for launch in launchpad.launches.find({"state": "FIZZLED"})]
    assert {fw["state"] for fw in fireworks} == {"COMPLETED"}, failed
    names = [fw["name"] for fw in fireworks]
    # the jobs made at run time went to their own stage's queue, not the fan-out job's
    for firework in launchpad.fireworks.find({}, {"spec": 1, "name": 1}):
        assert firework["spec"].get("_category") == stage_of_firework(firework), firework["name"]
    categories = {fw["spec"]["_category"] for fw in launchpad.fireworks.find({}, {"spec": 1})}
    assert {"fan-out", "structures", "md"} <= categories
    assert sorted(n for n in names if n.startswith("supercell")) == ["supercell c0", "supercell c1"]
    assert sum(n.startswith("lammps md") for n in names) == 2 * 2
    outputs = MontyDecoder().process_decoded(jobstore.get_output(conductivity.uuid, load=True))
    assert len(outputs) == 2  # one MD grid per configuration
    for grid in outputs:
        assert sorted(doc.temperature_k for doc in grid) == [600.0, 800.0]
        assert all(doc.n_frames == 400 // 2 // 10 + 1 for doc in grid)
        assert all(doc.type_map == {"1": "Li", "2": "S"} for doc in grid)
    # MD state stays in job folders and the store, nothing under data_dir
    assert not (md_data_dir.exists() and any(md_data_dir.iterdir()))
