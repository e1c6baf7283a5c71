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

from ionflow.dft.flows.training_set import TrainingSetFlowMaker
from ionflow.dft.jobs.aimd import AimdSnapshotMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.pipeline.flow import PipelineMaker
from ionflow.structures.jobs.core import StrainMaker

BIN = Path(sys.executable).parent


@pytest.mark.slow
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
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))
    (tmp_path / "node").mkdir()
    worker = subprocess.run(
        [BIN / "rlaunch", "-l", lpad_file, "rapidfire", "--nlaunches", "0", "--sleep", "0"],
        cwd=tmp_path / "node",
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        timeout=900,
    )
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]

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
