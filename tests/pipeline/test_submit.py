"""`ionflow submit` on the real embedded database: new LaunchPad, dry run, label reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ionflow.pipeline.cost import estimate_core_hours
from ionflow.pipeline.spec import load_spec
from ionflow.pipeline.stages import stage_of_module

TINY = Path(__file__).resolve().parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"
FW_COLLECTIONS = ("fireworks", "workflows", "launches", "fw_id_assigner")


@pytest.fixture
def ionflow_cli(db_uri, monkeypatch):
    """``run(*args) -> Result`` of the in-process CLI on the test's fresh database."""
    from ionflow.cli.main import app

    monkeypatch.setenv("IONFLOW_DB_URI", db_uri)
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})

    def run(*args: str):
        return CliRunner().invoke(app, list(args))

    return run


@pytest.fixture
def database(db_uri):
    import pymongo

    client = pymongo.MongoClient(db_uri)
    yield client.get_default_database()
    client.close()


def _counts(database) -> dict[str, int]:
    return {name: database[name].count_documents({}) for name in FW_COLLECTIONS}


def test_submit_initialises_a_new_launchpad_and_never_resets_it(ionflow_cli, database):
    assert _counts(database) == dict.fromkeys(FW_COLLECTIONS, 0)  # brand-new database
    first = ionflow_cli("submit", str(TINY), "--json")
    assert first.exit_code == 0, first.output
    plan = json.loads(first.output)
    assert plan["workflow_id"] == 1 and plan["name"] == "tiny-li6ps5cl-chgnet"
    n_jobs = plan["n_jobs"]
    # per-configuration jobs are made at run time from the configurations produced: at
    # submission there are the configurations, two fan-out jobs, the fit and the report
    assert database["fireworks"].count_documents({}) == n_jobs == 5
    assert {s["stage"]: s["jobs"] for s in plan["stages"]} == {
        "structures": 1, "fan-out": 2, "fit": 1, "report": 1,
    }  # fmt: skip
    workflow = database["workflows"].find_one()
    assert workflow["metadata"]["ionflow_spec_sha256"] == plan["spec_sha256"]

    second = ionflow_cli("submit", str(TINY), "--name", "again")
    assert second.exit_code == 0, second.output
    assert f"workflow id {n_jobs + 1}" in second.output
    assert database["fireworks"].count_documents({}) == 2 * n_jobs  # nothing reset
    names = sorted(wf["name"] for wf in database["workflows"].find({}, {"name": 1}))
    assert names == ["again", "tiny-li6ps5cl-chgnet"]


def test_same_spec_again_says_which_labels_are_reused(ionflow_cli, database):
    from ionflow.dft.label_cache import CACHE_COLLECTION, LabelCache
    from ionflow.dft.schemas.labels import SinglePointLabel

    assert ionflow_cli("submit", str(TINY)).exit_code == 0
    cache = LabelCache(database[CACHE_COLLECTION])
    for key, oracle in (("a", "chgnet"), ("b", "chgnet"), ("c", "vasp")):
        label = SinglePointLabel(
            oracle=oracle, level_of_theory="PBE", energy=-1.0, forces=[[0.0, 0.0, 0.0]]
        )
        cache.put(key, label)
    again = ionflow_cli("submit", str(TINY), "--dry-run", "--json")
    assert again.exit_code == 0, again.output
    plan = json.loads(again.output)
    assert plan["same_spec_workflows"] == [1]
    assert plan["cached_labels"] == {"PBE": 2}  # the vasp label is not this spec's oracle
    table = ionflow_cli("submit", str(TINY))
    assert "same spec as workflow 1" in table.output
    assert "2 PBE label(s) by chgnet" in table.output


def test_dry_run_stores_nothing(ionflow_cli, database):
    result = ionflow_cli("submit", str(TINY), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing stored" in result.output and "core-hours in all" in result.output
    assert _counts(database) == dict.fromkeys(FW_COLLECTIONS, 0)


def test_populated_database_without_counter_is_refused_not_reset(ionflow_cli, database):
    assert ionflow_cli("submit", str(TINY)).exit_code == 0
    database["fw_id_assigner"].delete_many({})
    before = _counts(database)
    result = ionflow_cli("submit", str(TINY))
    assert result.exit_code != 0
    assert "never resets a populated LaunchPad" in str(result.exception)
    assert _counts(database) == before


def test_bad_spec_with_the_database_up_stores_nothing(ionflow_cli, database, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmaterial: Li6PS5Cl\nmd:\n  temperatures_K: [-1]\n")
    result = ionflow_cli("submit", str(bad))
    assert result.exit_code != 0 and "md.temperatures_K.0" in str(result.exception)
    assert _counts(database) == dict.fromkeys(FW_COLLECTIONS, 0)


def test_cost_model_scales_with_the_spec_sizes():
    spec = load_spec(TINY)

    def costs(**changes) -> dict[str, float]:
        changed = spec.model_copy(deep=True)
        for path, value in changes.items():
            section, key = path.split("__")
            setattr(getattr(changed, section), key, value)
        return {c.stage: c.core_hours for c in estimate_core_hours(changed, 52)}

    base = costs()
    assert costs(md__production_ps=4.0)["md"] == pytest.approx(2 * base["md"], rel=0.01)
    assert costs(dft__levels_of_theory=["PBE", "PBE"])["label"] == pytest.approx(2 * base["label"])
    assert costs(dft__oracle="vasp")["aimd"] > 100 * base["aimd"]  # DFT >> CHGNet
    vasp = costs(dft__oracle="vasp")
    assert costs(dft__oracle="vasp", dft__encut_eV=1000.0)["aimd"] == pytest.approx(
        vasp["aimd"] * 2**1.5
    )


@pytest.mark.parametrize(
    ("module", "stage"),
    [
        ("ionflow.dft.jobs.relax", "relax"),
        ("ionflow.dft.jobs.label", "label"),
        ("ionflow.dft.flows.training_set", "aimd"),
        ("ionflow.learning.flows.active_learning", "active learning"),
        ("ionflow.mtp.jobs.fit", "fit"),
        ("ionflow.pipeline.report", "report"),
        ("ionflow.pipeline.flow", "fan-out"),
        ("ionflow.dftx", "other"),
        ("math", "other"),
        (None, "other"),
    ],
)
def test_stage_of_module(module, stage):
    assert stage_of_module(module) == stage
