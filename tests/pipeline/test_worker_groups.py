"""READY jobs per worker group: categories, worker names and queue resources (launch)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fireworks import Firework, FWorker, ScriptTask, Workflow
from tests.fixtures.slurm import SqueuePoller

from ionflow.pipeline.launch import SlurmLauncher, launch_local
from ionflow.pipeline.worker_groups import WorkerGroup, ready_groups

BIN_DIR = Path(sys.executable).parent
TINY = Path(__file__).resolve().parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"
QA_DFT = {"walltime": "00:04:00", "ntasks": 1}
QA_MD = {"walltime": "00:03:00"}


def _job(name: str, out_dir: Path, **spec) -> Firework:
    return Firework(ScriptTask.from_str(f"echo {name} > {out_dir}/{name}"), name=name, spec=spec)


def _staged_workflow(out_dir: Path) -> Workflow:
    """structures (no category) -> 2 dft -> fit -> md (its own worker name) -> analysis."""
    first = _job("structures", out_dir)
    dft = [_job(f"dft-{i}", out_dir, _category="dft", _queueadapter=QA_DFT) for i in range(2)]
    fit = _job("fit", out_dir, _category="fit")
    md = _job("md", out_dir, _category="md", _fworker="gpu-node", _queueadapter=QA_MD)
    last = _job("analysis", out_dir, _category="analysis")
    links = {first: dft, dft[0]: [fit], dft[1]: [fit], fit: [md], md: [last]}
    return Workflow([first, *dft, fit, md, last], links, name="staged")


def test_groups_select_exactly_their_jobs(launchpad, tmp_path):
    launchpad.add_wf(_staged_workflow(tmp_path))
    for fw_id in launchpad.get_fw_ids():  # make every job READY to see every group
        launchpad.fireworks.update_one({"fw_id": fw_id}, {"$set": {"state": "READY"}})
    runnable, others = ready_groups(launchpad, FWorker())
    assert not others and sum(runnable.values()) == 6 and len(runnable) == 5
    dft = WorkerGroup("dft", None, tuple(sorted(QA_DFT.items())))
    assert runnable[dft] == 2 and "walltime=00:04:00" in dft.label
    for group, n in runnable.items():
        found = launchpad.fireworks.count_documents({"state": "READY", **group.query()})
        assert found == n, group.label
        worker = group.worker(FWorker(name="ionflow", env={"x": 1}))
        assert launchpad.fireworks.count_documents(worker.query) == n  # FireWorks' own query
        assert worker.name == (group.fworker or "ionflow") and worker.env == {"x": 1}
    # a worker limited to one category leaves the others to other workers
    runnable, others = ready_groups(launchpad, FWorker(category="dft"))
    assert list(runnable.values()) == [2] and sum(others.values()) == 4


def test_jobs_with_null_category_or_worker_are_launched(launchpad, tmp_path):
    """An explicit ``"_category": null`` / ``"_fworker": null`` is no category / any worker."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    jobs = [
        _job("null-both", out_dir, _category=None, _fworker=None),
        _job("null-worker", out_dir, _fworker=None, _queueadapter=QA_MD),
        _job("plain", out_dir),
    ]
    launchpad.add_wf(Workflow(jobs))
    stored = launchpad.fireworks.find_one({"name": "null-both"})["spec"]
    assert "_category" in stored and stored["_category"] is None  # stored as null, not absent
    runnable, _ = ready_groups(launchpad, FWorker())
    assert sorted(runnable.values()) == [1, 2]
    for group, n in runnable.items():
        worker = group.worker(FWorker())
        assert launchpad.fireworks.count_documents({"state": "READY", **worker.query}) == n
    report = launch_local(launchpad, FWorker(), tmp_path / "runs")
    assert report.rockets == 3, report.stop_reason
    assert sorted(p.name for p in out_dir.iterdir()) == ["null-both", "null-worker", "plain"]


def test_launch_local_runs_jobs_of_every_category(launchpad, cli, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    launchpad.add_wf(_staged_workflow(out_dir))
    only_dft = launch_local(launchpad, FWorker(category="dft"), tmp_path / "dft-runs")
    assert only_dft.rockets == 0  # structures has no category: nothing for a dft worker yet
    assert "READY for workers of other categories: 1 of category __none__" in (only_dft.stop_reason)
    result = cli("launch", "--local", "--launch-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert "6 jobs run here; all 6 jobs COMPLETED" in result.output
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        ["structures", "dft-0", "dft-1", "fit", "md", "analysis"]
    )
    (md,) = launchpad.launches.find({"fw_id": launchpad.get_fw_ids({"name": "md"})[0]})
    assert md["fworker"]["name"] == "gpu-node" and md["fworker"]["category"] == "md"


def test_allocations_are_planned_per_group_within_max_jobs(launchpad, tmp_path):
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    qadapter = CommonAdapter(
        "SLURM", rocket_launch="rlaunch -c /cfg singleshot", walltime="00:10:00", ntasks=1
    )
    dft = WorkerGroup("dft", None, tuple(sorted(QA_DFT.items())))
    md = WorkerGroup("md", "gpu-node", tuple(sorted(QA_MD.items())))
    packing = SlurmLauncher(launchpad, FWorker(), qadapter, tmp_path, 3, 2)
    assert packing.plan(Counter({dft: 5, md: 1}), {}) == [dft, dft, dft]  # max 3 in all
    packing.group_of.update({"11": dft, "12": dft})
    planned = packing.plan(Counter({dft: 5, md: 1}), {"11": "PENDING", "12": "PENDING"})
    assert planned == [md]  # two pending dft allocations hold 4 of the 5; one slot left
    assert packing.plan(Counter({dft: 1, md: 3}), {}) == [md, md, dft]
    script = packing.group_qadapter(md)
    line = script["rocket_launch"]
    assert line.startswith("rlaunch -c /cfg -w ") and "worker-" in line
    assert line.endswith("rapidfire --nlaunches 2 --timeout 90 --max_loops 1 --sleep 1")
    assert script["walltime"] == "00:03:00" and script["ntasks"] == 1  # group over default
    worker = FWorker.from_file(line.split(" -w ")[1].split()[0])
    assert worker.name == "gpu-node" and worker.category == "md"
    single = SlurmLauncher(launchpad, FWorker(), qadapter, tmp_path, 2, 1)
    line = single.group_qadapter(dft)["rocket_launch"]
    assert line.endswith(" singleshot") and " -w " in line  # FireWorks applies the job's
    assert single.group_qadapter(dft)["walltime"] == "00:10:00"  # ... resources itself


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.parametrize("per_allocation", [1, 2])
def test_launch_slurm_runs_each_group_with_its_worker_and_resources(
    launchpad, db_uri, fw_config_dir, tmp_path, per_allocation
):
    """Categories, a worker name and two sets of resources through the real local SLURM."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    launchpad.add_wf(_staged_workflow(out_dir))
    for i in range(2):  # more md jobs, to pack
        launchpad.add_wf(
            _job(f"md-extra-{i}", out_dir, _category="md", _fworker="gpu-node", _queueadapter=QA_MD)
        )
    env = {**os.environ, "IONFLOW_DB_URI": db_uri}
    command = [str(BIN_DIR / "ionflow"), "launch", "--slurm", "--config-dir", str(fw_config_dir)]
    command += ["--max-jobs", "2", "--jobs-per-allocation", str(per_allocation), "--poll", "1"]
    command += ["--launch-dir", str(tmp_path / "runs")]
    with SqueuePoller() as poller:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=600, check=False
        )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "all 8 jobs COMPLETED" in result.stdout, result.stdout
    assert 1 <= poller.most <= 2
    assert len(list(out_dir.iterdir())) == 8
    launches = list(launchpad.launches.find({}, {"fworker": 1, "fw_id": 1, "launch_dir": 1}))
    assert len(launches) == 8  # every job ran once
    categories: dict[str, set] = {}
    for launch in launches:
        fw = launchpad.get_fw_by_id(launch["fw_id"])
        assert launch["fworker"]["category"] == (fw.spec.get("_category") or "")  # "": any
        assert launch["fworker"]["name"] == fw.spec.get("_fworker", "ionflow")
        job_id = launch["fworker"]["env"]["slurm_job_id"]
        categories.setdefault(job_id, set()).add(fw.spec.get("_category"))
        # the allocation asked SLURM for the job's own walltime
        folder = Path(launch["launch_dir"])  # K = 1: the allocation's; K > 1: inside it
        (script,) = [p for p in (folder, folder.parent) if (p / "FW_submit.script").exists()]
        script = script / "FW_submit.script"
        walltime = (fw.spec.get("_queueadapter") or {}).get("walltime", "00:05:00")
        assert f"--time={walltime}" in script.read_text()
    assert all(len(c) == 1 for c in categories.values())  # one group per allocation
    if per_allocation == 2:
        assert (
            max(Counter(launch["fworker"]["env"]["slurm_job_id"] for launch in launches).values())
            == 2
        )  # packed
    print(f"allocations {len(categories)} for 8 jobs, K={per_allocation}: {result.stdout[-200:]}")


@pytest.mark.slow
def test_spec_with_categories_completes_under_launch_local(db_uri, tmp_path):
    """The tiny spec, its stage groups in categories: `ionflow launch --local` runs it all."""
    import json

    import pymongo

    spec = tmp_path / "tiny_categories.yaml"
    spec.write_text(TINY.read_text() + TINY.with_name("resources_categories.yaml").read_text())
    env = {**os.environ, "IONFLOW_DB_URI": db_uri, "OMP_NUM_THREADS": "1"}

    def ionflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN_DIR / "ionflow"), *args], env=env, cwd=tmp_path, capture_output=True,
            text=True, timeout=1200, check=False,
        )  # fmt: skip

    submitted = ionflow("submit", str(spec), "--json")
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    launched = ionflow("launch", "--local", "--launch-dir", str(tmp_path / "runs"))
    assert launched.returncode == 0, launched.stdout[-2000:] + launched.stderr[-2000:]
    assert "jobs COMPLETED" in launched.stdout and "READY" not in launched.stdout
    (status,) = json.loads(ionflow("status", "--json").stdout)
    assert status["state"] == "COMPLETED" and set(status["totals"]) == {"COMPLETED"}
    database = pymongo.MongoClient(db_uri).get_default_database()
    categories = Counter(
        launch["fworker"]["category"] for launch in database.launches.find({}, {"fworker": 1})
    )
    assert set(categories) == {"dft", "fit", "md", "analysis"}, categories
    assert sum(categories.values()) == status["totals"]["COMPLETED"]  # each job ran once
