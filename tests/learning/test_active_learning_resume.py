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
from monty.json import MontyDecoder
from pymatgen.io.ase import AseAtomsAdaptor
from tests.fixtures.mtp import LI2S_SPECIES, li2s_snapshots

from ionflow.dft.jobs.label import LabelMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.learning.explore import AseMdExplorer
from ionflow.learning.flows.active_learning import ActiveLearningMaker, merge_labelled
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
        runs_per_temperature=2,  # two exploration fireworks feed each selection
        md_steps=60,
        gamma_select=1.0,  # low, so that both iterations label something (after the BFGS
        # refit of iteration 1 the second one grades up to ~1.07 only)
        max_selected=2,
        max_iterations=2,
    )


def _states(lpad, name: str) -> list[str]:
    return [fw["state"] for fw in lpad.fireworks.find({"name": name}, {"state": 1})]


def _locked(lpad) -> bool:
    """True while a worker holds the workflow's lock (FireWorks' own bookkeeping)."""
    return lpad.workflows.count_documents({"locked": {"$exists": True}}) > 0


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
    trained_mtp, li2s_labelled_set, launchpad, jobstore, tmp_path
):
    from jobflow.managers.fireworks import flow_to_workflow

    from ionflow.pipeline.resume import ResumePolicy, resume_pass

    cell = AseAtomsAdaptor.get_structure(bulk("SLi2", "fluorite", a=5.7, cubic=True))
    flow = _maker().make([cell], li2s_labelled_set, mtp=trained_mtp.path.read_text())
    launchpad.add_wf(flow_to_workflow(flow, store=jobstore))
    lpad_file = tmp_path / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))

    worker = _rapidfire(lpad_file, tmp_path / "node1")
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and worker.poll() is None:
            # the refit after the labels, once FireWorks' checkout has released the lock:
            # the node dies while computing, not inside FireWorks' bookkeeping
            if "RUNNING" in _states(launchpad, "mtp fit") and not _locked(launchpad):
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
    # two rounds that labelled, and the check of the final potential past the cap
    assert [it.iteration for it in doc.iterations] == [1, 2, 3]
    assert "max_iterations" in doc.stop_reason and doc.iterations[-1].n_labelled == 0
    # every label job ran exactly once, and no configuration was labelled twice
    label_ids = launchpad.get_fw_ids({"name": "label"})
    assert len(label_ids) == 2
    for fw_id in label_ids:
        assert launchpad.launches.count_documents({"fw_id": fw_id}) == 1
    assert launchpad.launches.count_documents({"fw_id": refit_id}) == 2
    labelled = []
    for fw_id in label_ids:
        uuid = launchpad.get_fw_dict_by_id(fw_id)["spec"]["_tasks"][0]["job"]["uuid"]
        document = MontyDecoder().process_decoded(jobstore.get_output(uuid, load=True))
        labelled += [configuration_key(a) for a in document.labelled_set.images]
    assert len(labelled) == len(set(labelled)) > 0, "a configuration was labelled twice"
    learned = doc.iterations[:-1]
    assert [it.n_labelled for it in learned] == [it.n_selected for it in learned]
    assert doc.n_training == 30 + len(labelled)


def test_merge_takes_the_dft_document_in_our_type_order_and_refuses_other_labels():
    from ase.calculators.singlepoint import SinglePointCalculator

    from ionflow.dft.schemas.labels import LabelledSetDocument, LabellingFailure
    from ionflow.errors import IonflowInputError
    from ionflow.io.labelled_set import LabelledSet

    rng = np.random.default_rng(0)
    images = li2s_snapshots(3, seed=0)
    for atoms in images:
        atoms.calc = SinglePointCalculator(
            atoms, energy=-50.0, forces=rng.normal(size=(12, 3)), stress=rng.normal(size=6)
        )
    ours = LabelledSet(images[:1], "chgnet", "PBE", LI2S_SPECIES, [{"source": "aimd"}])
    new = LabelledSet(images[1:], "chgnet", "PBE", list(reversed(LI2S_SPECIES)))
    doc = LabelledSetDocument(
        labelled_set=new,
        n_requested=3,
        n_labelled=2,
        failures=[LabellingFailure(index=2, reason="SCF not converged")],
    )
    for output in (doc, new):  # the dft document, or a bare labelled set
        merged = merge_labelled.original(ours, output)
        assert merged["n_labelled"] == 2
        assert merged["n_failed"] == (1 if output is doc else 0)
        result = merged["labelled_set"]
        assert result.species == LI2S_SPECIES  # the potential's type order is kept
        assert result.images[1] is images[1] and result.images[2] is images[2]  # not re-parsed
        assert result.provenance == [{"source": "aimd"}, {}, {}]
    for other in (
        LabelledSet(images[1:], "cp2k", "PBE", LI2S_SPECIES),
        LabelledSet(images[1:], "chgnet", "optB88-vdW", LI2S_SPECIES),
    ):
        with pytest.raises(IonflowInputError) as refused:
            merge_labelled.original(ours, other)
        assert "\n" not in str(refused.value) and "cannot merge" in str(refused.value)
