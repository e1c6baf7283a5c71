"""The fit job's folder keeps its inputs, outputs and log, also when the fit fails."""

from __future__ import annotations

import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from ionflow.mtp.jobs.fit import MtpFitMaker

INPUTS = {"train.cfg", "validation.cfg", "initial.mtp"}


def test_failed_fit_leaves_its_inputs_and_log_in_its_folder(
    li2s_labelled_set, tmp_path, monkeypatch
):
    monkeypatch.setenv("IONFLOW_MLP_CMD", "false")  # a real program that exits with 1
    fit = MtpFitMaker(engine="mlp", max_iter=5).make(li2s_labelled_set)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    with pytest.raises(Exception, match="false"):
        run_locally(
            fit, store=store, root_dir=tmp_path, create_folders=True, raise_immediately=True
        )
    (folder,) = tmp_path.glob("job_*")
    kept = {path.name for path in folder.iterdir()}
    assert INPUTS | {"fit.log"} <= kept, kept
    written = sum((folder / name).read_text().count("BEGIN_CFG") for name in INPUTS)
    assert written == len(li2s_labelled_set)  # the whole set, split in train and validation
    assert "Traceback" in (folder / "fit.log").read_text()


def test_fit_keeps_its_files_after_success(trained_mtp):
    folder = trained_mtp.path.parent  # the fixture's fit ran in this folder
    kept = {path.name for path in folder.iterdir()}
    assert INPUTS | {"trained.mtp", "train_efs.cfg", "validation_efs.cfg", "fit.log"} <= kept
    assert (folder / "trained.mtp").read_text() == trained_mtp.path.read_text()
