"""The life on a cluster, all real: embedded database, local SLURM, the ionflow commands.

`ionflow submit` of the tiny spec (its stages in worker categories) on a brand-new
database, `ionflow launch --slurm --max-jobs 2` until it completes (``squeue`` polled
throughout: never more than 2 jobs; each job run as a worker of its category), then
`ionflow status --json` and `ionflow results --json` show the finished workflow.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from tests.fixtures.slurm import SqueuePoller

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

BIN_DIR = Path(sys.executable).parent
TINY = Path(__file__).resolve().parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"
CATEGORIES = TINY.with_name("resources_categories.yaml")


def ionflow(*args: str, env: dict[str, str], timeout_s: float = 120.0, cwd: Path | None = None):
    """Run the `ionflow` command; return the completed process."""
    return subprocess.run(
        [str(BIN_DIR / "ionflow"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def stored_blob_text(database, reference: dict) -> str:
    """Text of a GridFS blob of the JobStore, read with plain pymongo (as the README says)."""
    import gridfs

    bucket = gridfs.GridFSBucket(database, "outputs_blobs")
    (file,) = database["outputs_blobs.files"].find({"metadata.blob_uuid": reference["blob_uuid"]})
    data = bucket.open_download_stream(file["_id"]).read()
    if (file.get("metadata") or {}).get("compression") == "zlib":
        data = zlib.decompress(data)
    return json.loads(data)["data"]


def test_tiny_spec_submit_launch_slurm_status_results(db_uri, fw_config_dir, tmp_path):
    import pymongo

    env = {**os.environ, "IONFLOW_DB_URI": db_uri, "OMP_NUM_THREADS": "1"}
    database = pymongo.MongoClient(db_uri).get_default_database()
    assert "fireworks" not in database.list_collection_names()  # brand-new database

    spec = tmp_path / "tiny_categories.yaml"  # stages in categories: launch must run them
    spec.write_text(TINY.read_text() + CATEGORIES.read_text())
    submitted = ionflow("submit", str(spec), "--json", env=env)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    workflow_id = json.loads(submitted.stdout)["workflow_id"]

    started = time.monotonic()
    with SqueuePoller() as poller:
        launched = ionflow(
            "launch", "--slurm", "--max-jobs", "2", "--config-dir", str(fw_config_dir),
            "--launch-dir", str(tmp_path / "runs"), "--poll", "2",
            env=env, timeout_s=1500,
        )  # fmt: skip
    elapsed_s = time.monotonic() - started
    assert launched.returncode == 0, launched.stdout[-2000:] + launched.stderr[-2000:]
    print(f"launch --slurm: {elapsed_s:.0f} s, {launched.stdout.strip()}")
    assert poller.most <= 2 and poller.polls > 10  # never more than 2 SLURM jobs
    assert poller.most == 2  # and it did use both
    status = ionflow("status", str(workflow_id), "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert "no job READY" not in launched.stdout, status.stdout  # the failures, if any
    (wf_status,) = json.loads(status.stdout)
    assert wf_status["state"] == "COMPLETED"
    assert set(wf_status["totals"]) == {"COMPLETED"} and wf_status["totals"]["COMPLETED"] >= 18
    assert {"structures", "relax", "aimd", "label", "fit", "md", "analysis", "report"} <= set(
        wf_status["counts"]
    )
    # every job ran once, in a SLURM job recorded with its launch
    launches = list(database["launches"].find({}, {"fw_id": 1, "fworker": 1}))
    assert len(launches) == wf_status["totals"]["COMPLETED"]
    assert all(launch["fworker"]["env"].get("slurm_job_id") for launch in launches)
    # each job ran as a worker of its stage's category
    categories = {launch["fworker"]["category"] for launch in launches}
    assert categories == {"dft", "fit", "md", "analysis"}, categories

    answered = ionflow("results", "--json", env=env)
    assert answered.returncode == 0, answered.stderr
    (answer,) = json.loads(answered.stdout)
    assert answer["workflow_id"] == workflow_id and answer["state"] == "COMPLETED"
    assert (answer["oracle"], answer["level_of_theory"]) == ("chgnet", "PBE")
    (config,) = answer["configurations"]  # n_configurations: 1
    assert [t["temperature_K"] for t in config["temperatures"]] == [500.0, 600.0]
    assert all(t["D_cm2_s"] > 0 and t["D_err_cm2_s"] > 0 for t in config["temperatures"])
    low, high = config["sigma300_ci_mS_cm"]
    assert low <= config["sigma300_mS_cm"] <= high and config["Ea_err_eV"] > 0
    assert answer["sigma_bulk_mS_cm"] == pytest.approx(config["sigma300_mS_cm"])  # one config
    bulk_low, bulk_high = answer["sigma_bulk_interval_mS_cm"]
    assert bulk_low <= answer["sigma_bulk_mS_cm"] <= bulk_high
    mtp = answer["mtp"]
    assert mtp["level"] == 8 and mtp["errors_of"] == "validation" and mtp["n_validation"] > 0
    assert 0 < mtp["validation_force_mae_eV_A"] <= mtp["validation_force_rmse_eV_A"]
    # the hash is that of the .mtp text in GridFS, read here with plain pymongo
    fit = database["outputs"].find_one({"output.@class": "MtpFitDocument"})
    mtp_text = stored_blob_text(database, fit["output"]["mtp"])
    assert mtp_text.lstrip().startswith("MTP")
    assert answer["potential_sha256"] == hashlib.sha256(mtp_text.encode()).hexdigest()
    assert len(answer["training_set_sha256"]) == 64 and answer["n_training"] > 0
    print(f"results: sigma(300 K) {config['sigma300_mS_cm']:.3g} [{low:.3g}, {high:.3g}] mS/cm")
