"""Active learning through FireWorks, killed between label and refit: resumed, no relabel.

The loop's state is its jobs' outputs in the JobStore; resuming reruns only the lost
firework (real ``rlaunch`` on the embedded database, CHGNet oracle, motep fits).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor
from tests.fixtures.mtp import LI2S_SPECIES, li2s_snapshots

from ionflow.dft.jobs.label import LabelMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.io.mlip_cfg import read_labelled_cfg
from ionflow.learning.explore import AseMdExplorer
from ionflow.learning.flows.active_learning import ActiveLearningMaker, labelled_cfg_of
from ionflow.learning.schemas.active_learning import ActiveLearningDocument
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.selection import configuration_key

BIN = Path(sys.executable).parent


def _maker() -> ActiveLearningMaker:
    return ActiveLearningMaker(
        # no label cache: only the loop's own state may prevent relabelling
        label_maker=LabelMaker(oracle_settings=OracleSettings(oracle="chgnet"), use_cache=False),
        fit_maker=MtpFitMaker(weights=(100, 1, 0.01), max_iter=40, engine="motep"),
        explorer=AseMdExplorer(grade_every=5, seed=3),
        temperatures=(1200.0,),
        md_steps=60,
        gamma_select=1.0,  # low, so that both iterations label something (after the BFGS
        # refit of iteration 1 the second one grades up to ~1.07 only)
        max_selected=2,
        max_iterations=2,
    )


def _states(lpad, name: str) -> list[str]:
    return [fw["state"] for fw in lpad.fireworks.find({"name": name}, {"state": 1})]


def _rapidfire(lpad_file: Path, work_dir: Path) -> subprocess.Popen:
    work_dir.mkdir()
    return subprocess.Popen(
        [BIN / "rlaunch", "-l", lpad_file, "rapidfire", "--nlaunches", "0", "--sleep", "0"],
        cwd=work_dir,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_killed_between_label_and_refit_resumes_without_relabelling(
    trained_mtp, li2s_labelled_cfg, launchpad, jobstore, tmp_path
):
    from jobflow.managers.fireworks import flow_to_workflow

    from ionflow.pipeline.resume import ResumePolicy, resume_pass

    cell = AseAtomsAdaptor.get_structure(bulk("SLi2", "fluorite", a=5.7, cubic=True))
    flow = _maker().make([cell], li2s_labelled_cfg, LI2S_SPECIES, mtp=trained_mtp.path.read_text())
    launchpad.add_wf(flow_to_workflow(flow, store=jobstore))
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))

    worker = _rapidfire(lpad_file, tmp_path / "node1")
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and worker.poll() is None:
            if "RUNNING" in _states(launchpad, "mtp fit"):  # the refit after the labels
                break
            time.sleep(0.05)
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        os.killpg(worker.pid, signal.SIGKILL)  # the node died during the refit
    finally:
        worker.kill()
        worker.wait()
    assert _states(launchpad, "label") == ["COMPLETED"]
    (refit_id,) = launchpad.get_fw_ids({"name": "mtp fit", "state": "RUNNING"})

    time.sleep(1.5)
    report = resume_pass(launchpad, ResumePolicy(lost_after_s=1.0))
    assert report.rerun == [refit_id]
    worker = _rapidfire(lpad_file, tmp_path / "node2")
    _, err = worker.communicate(timeout=900)
    assert worker.returncode == 0, err.decode()[-2000:]

    found = jobstore.query_one({"output.stop_reason": {"$exists": True}}, load=True)
    assert found is not None, "the resumed loop did not finish"
    doc = ActiveLearningDocument(**found["output"])
    assert [it.iteration for it in doc.iterations] == [1, 2]
    assert "max_iterations" in doc.stop_reason
    # every label job ran exactly once, and no configuration was labelled twice
    label_ids = launchpad.get_fw_ids({"name": "label"})
    assert len(label_ids) == 2
    for fw_id in label_ids:
        assert launchpad.launches.count_documents({"fw_id": fw_id}) == 1
    assert launchpad.launches.count_documents({"fw_id": refit_id}) == 2
    labelled = []
    for fw_id in label_ids:
        uuid = launchpad.get_fw_dict_by_id(fw_id)["spec"]["_tasks"][0]["job"]["uuid"]
        text, _ = labelled_cfg_of(jobstore.get_output(uuid, load=True), LI2S_SPECIES)
        cfg = tmp_path / f"labels{fw_id}.cfg"
        cfg.write_text(text)
        labelled += [configuration_key(a) for a in read_labelled_cfg(cfg, LI2S_SPECIES)]
    assert len(labelled) == len(set(labelled)) > 0, "a configuration was labelled twice"
    assert [it.n_labelled for it in doc.iterations] == [it.n_selected for it in doc.iterations]
    assert doc.n_training == 30 + len(labelled)


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
