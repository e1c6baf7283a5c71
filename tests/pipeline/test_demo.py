"""`ionflow demo --quick` for real: embedded database, FireWorks, every stage, report.html.

The first run submits the quick demo spec and runs the queue with `ionflow launch --local`
in a process of its own; its terminal output is a short log and the summary, the engines'
output is in ``launch.log``. The second run on the same database reuses the labels and
the fits. The README's pymongo lines ("After the demo") run against the same database.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tests.fixtures.browser import assert_every_number_finite

import ionflow
from ionflow.settings import IonflowSettings

README = Path(__file__).resolve().parents[2] / "README.md"
STAGES = {"structures", "relax", "aimd", "label", "fit", "active learning", "md", "analysis"}
OUTPUT_CLASSES = {
    "PipelineReportDocument",
    "ArrheniusDocument",
    "DiffusionDocument",
    "MtpFitDocument",
    "ActiveLearningDocument",
    "LabelledSetDocument",
}


def run_demo(env: dict[str, str], out: Path) -> tuple[subprocess.CompletedProcess, float]:
    """`ionflow demo --quick --out OUT` as a user runs it; (process, wall time s)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ionflow", "demo", "--quick", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


@pytest.fixture(scope="module")
def demo_env(embedded_db: str, tmp_path_factory: pytest.TempPathFactory):
    """Environment of a user whose db_uri is a fresh database on the test server."""
    import pymongo

    name = f"demo{uuid.uuid4().hex[:10]}"
    home = tmp_path_factory.mktemp("demo")
    settings_file = home / "ionflow.yaml"
    settings_file.write_text("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IONFLOW_")}
    source = str(Path(ionflow.__file__).resolve().parents[1])
    env.update(
        IONFLOW_CONFIG_FILE=str(settings_file),
        IONFLOW_DB_URI=f"{embedded_db}{name}",
        IONFLOW_DATA_DIR=str(home / "data"),
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p),
        COLUMNS="100",
    )
    yield env, home
    client = pymongo.MongoClient(embedded_db, serverSelectionTimeoutMS=5000)
    with contextlib.suppress(pymongo.errors.PyMongoError):
        client.drop_database(name)
    client.close()


@pytest.fixture(scope="module")
def first_run(demo_env):
    env, home = demo_env
    done, wall_s = run_demo(env, home / "first")
    print(f"quick demo: {wall_s:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, home / "first"


@pytest.mark.slow
def test_quick_demo_runs_every_stage_through_fireworks(demo_env, first_run, open_in_chromium):
    import pymongo

    env, _ = demo_env
    done, out = first_run
    database = pymongo.MongoClient(env["IONFLOW_DB_URI"]).get_default_database()
    # FireWorks ran it: every job COMPLETED, each in a launch with a launcher folder
    states = database.fireworks.distinct("state")
    assert states == ["COMPLETED"], states
    launches = list(database.launches.find({}, {"launch_dir": 1, "state": 1}))
    assert len(launches) == database.fireworks.count_documents({}) > 20
    assert all(Path(launch["launch_dir"]).parent == out / "jobs" for launch in launches)

    from ionflow.pipeline.stages import stage_of_firework

    fireworks = list(database.fireworks.find({}, {"spec._tasks.job.function": 1}))
    assert {stage_of_firework(fw) for fw in fireworks} >= STAGES
    # an output of every stage, and a report over two temperatures
    assert set(database.outputs.distinct("output.@class")) >= OUTPUT_CLASSES
    report = database.outputs.find_one({"output.@class": "PipelineReportDocument"})["output"]
    (arrhenius,) = report["arrhenius"]
    assert len(arrhenius["temperatures"]) >= 2
    learning = database.outputs.find_one({"output.@class": "ActiveLearningDocument"})["output"]
    assert len(learning["iterations"]) >= 1

    # the terminal: a short log and the summary; the engines' output went to launch.log
    lines = done.stdout.splitlines()
    assert 15 < len(lines) < 60, done.stdout
    for shown in ("labels", "MTP before AL", "MTP after AL", "AL iteration 1", "σ_bulk(300 K)",
                  "time per stage", "report: "):  # fmt: skip
        assert shown in done.stdout, shown
    labels = re.search(r"labels\s*│ (\d+) computed, (\d+) reused", done.stdout)
    assert labels and int(labels.group(1)) > 40 and labels.group(2) == "0", done.stdout
    for chatter in ("INFO", "Warning", "Rocket", "it/s", "CHGNet"):
        assert chatter not in done.stdout + done.stderr, chatter
    log = (out / "launch.log").read_text()
    assert "Rocket finished" in log and "jobs COMPLETED" in log

    html = (out / "report.html").read_text(encoding="utf-8")
    assert assert_every_number_finite(html) > 100
    seen = open_in_chromium(out / "report.html")
    assert seen.n_images >= 6 and seen.not_loaded == [] and seen.errors == [], seen


@pytest.mark.slow
def test_quick_demo_rerun_reuses_labels_and_fits(demo_env, first_run):
    env, home = demo_env
    done, wall_s = run_demo(env, home / "second")
    print(f"quick demo rerun: {wall_s:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "the label cache holds" in done.stdout  # said before it runs
    labels = re.search(r"labels\s*│ (\d+) computed, (\d+) reused", done.stdout)
    assert labels and labels.group(1) == "0" and int(labels.group(2)) > 40, done.stdout
    fits = re.search(r"MTP fits\s*│ (\d+) fitted, (\d+) reused", done.stdout)
    assert fits and fits.group(1) == "0" and int(fits.group(2)) >= 2, done.stdout


@pytest.mark.slow
def test_readme_pymongo_lines_answer_on_the_demo_database(demo_env, first_run):
    env, _ = demo_env
    text = README.read_text()
    section = text[text.index("### After the demo") :]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:1]
    assert "mongodb://127.0.0.1:27017/ionflow" in code
    code = code.replace("mongodb://127.0.0.1:27017/ionflow", env["IONFLOW_DB_URI"])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    # one line per configuration (index, E_a, sigma, interval), one per fit of the workflow
    assert lines[0].startswith("0 ") and len(lines[0].split()) >= 4, lines
    fits = [line for line in lines[1:] if line.startswith("mtp fit")]
    assert len(fits) >= 2 and all(float(line.split()[-2]) > 0 for line in fits), lines


@pytest.mark.slow
@pytest.mark.slurm
@pytest.mark.timeout(1800)  # the first run (module fixture) counts here when run alone
def test_quick_demo_through_the_local_slurm(demo_env, first_run, slurm_cluster):
    """--slurm: every job of the demo's workflow ran in an allocation of the local SLURM."""
    import pymongo

    from ionflow.cluster.local_slurm import slurm_env

    env, home = demo_env
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ionflow", "demo", "--quick", "--slurm", "--out",
         str(home / "slurm")],
        env={**env, **slurm_env(slurm_cluster)}, capture_output=True, text=True, timeout=1200,
        check=False,
    )  # fmt: skip
    print(f"quick demo --slurm: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "ionflow launch --slurm" in done.stdout and "report: " in done.stdout
    database = pymongo.MongoClient(env["IONFLOW_DB_URI"]).get_default_database()
    workflow = database.workflows.find_one({}, sort=[("created_on", -1)])
    assert workflow["state"] == "COMPLETED"
    launches = list(database.launches.find({"fw_id": {"$in": workflow["nodes"]}}))
    assert len(launches) == len(workflow["nodes"])
    assert all(launch["fworker"]["env"].get("slurm_job_id") for launch in launches)
    assert (home / "slurm" / "report.html").stat().st_size > 100_000


def test_demo_oracle_replaces_the_spec_oracle_and_is_checked():
    from ionflow.pipeline.demo import demo_spec, demo_spec_path

    quick = demo_spec(demo_spec_path(quick=True), "cp2k")
    assert quick.dft.oracle == "cp2k" and quick.dft.levels_of_theory == ["PBE"]
    full = demo_spec(demo_spec_path())
    assert full.dft.oracle == "chgnet" and full.mtp.active_learning.enabled


def test_quick_spec_runs_every_stage_smaller_than_the_full_demo():
    from ionflow.pipeline.demo import demo_spec, demo_spec_path

    quick, full = demo_spec(demo_spec_path(quick=True)), demo_spec(demo_spec_path())
    assert quick.mtp.active_learning.enabled and quick.mtp.active_learning.max_iterations >= 1
    assert len(quick.md.temperatures_K) >= 2 and quick.dft.relax
    assert quick.md.production_ps < full.md.production_ps
    assert quick.structures.n_configurations < full.structures.n_configurations


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--oracle", "vasp"], "the demo runs chgnet or cp2k"),
        (["--spec", "missing.yaml"], "missing.yaml"),
    ],
)
def test_demo_bad_input_is_one_line_before_anything_runs(run_ionflow, tmp_path, args, says):
    code, err = run_ionflow("demo", "--out", str(tmp_path / "out"), *args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_demo_refuses_a_used_out_dir_and_an_unreachable_remote_database(
    run_ionflow, tmp_path, monkeypatch
):
    used = tmp_path / "used"
    used.mkdir()
    (used / "report.html").write_text("kept")
    code, err = run_ionflow("demo", "--quick", "--out", str(used))
    assert code == 2 and "--force" in err
    monkeypatch.setenv("IONFLOW_DB_URI", "mongodb://192.0.2.1:27017/ionflow")  # TEST-NET
    code, err = run_ionflow("demo", "--quick", "--out", str(tmp_path / "new"))
    assert code == 2 and "cannot reach the database" in err, err
    assert not (tmp_path / "new").exists()


def test_demo_starts_the_embedded_database_of_db_uri_when_it_is_down(tmp_path, monkeypatch):
    """ensure_database: a local db_uri nobody answers is started (once), a running one used."""
    from tests.fixtures.db import db_env_dir

    from ionflow.db import server
    from ionflow.db.stores import check_database
    from ionflow.pipeline.demo import ensure_database

    monkeypatch.setattr(server, "env_dir_for", lambda _data_dir: db_env_dir())
    port = server.free_port()
    settings = IonflowSettings(db_uri=f"mongodb://127.0.0.1:{port}/demo", data_dir=tmp_path)
    try:
        line = ensure_database(settings)
        assert line is not None and f"127.0.0.1:{port}" in line
        check_database(settings)
        assert ensure_database(settings) is None  # answers now: nothing started
    finally:
        server.stop(tmp_path)
