"""`ionflow launch` on the real embedded database (--local) and the real local SLURM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fireworks import Firework, FWorker, PyTask, ScriptTask, Workflow
from tests.fixtures.slurm import SqueuePoller

from ionflow.cluster.slurm_jobs import walltime_seconds
from ionflow.errors import IonflowInputError
from ionflow.pipeline.launch import SlurmLauncher, allocation_rocket_launch
from ionflow.pipeline.rocket import with_slurm_job_id
from ionflow.pipeline.status import STATES

BIN_DIR = Path(sys.executable).parent


def _diamond(out_dir: Path) -> Workflow:
    first = Firework(ScriptTask.from_str(f"echo a > {out_dir}/a"), name="a")
    left = Firework(ScriptTask.from_str(f"cat {out_dir}/a > {out_dir}/b"), name="b")
    right = Firework(ScriptTask.from_str(f"cat {out_dir}/a > {out_dir}/c"), name="c")
    return Workflow([first, left, right], {first: [left, right]}, name="diamond")


def test_launch_local_runs_every_ready_job_once(launchpad, cli, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    launchpad.add_wf(_diamond(out_dir))
    failing = Firework(ScriptTask.from_str("exit 3"), name="broken")
    child = Firework(ScriptTask.from_str("true"), name="after-broken")
    launchpad.add_wf(Workflow([failing, child], {failing: [child]}, name="broken"))

    result = cli("launch", "--local", "--launch-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert "4 jobs run here" in result.output
    assert "no job READY: 1 FIZZLED, 1 WAITING" in result.output
    assert (out_dir / "b").read_text() == (out_dir / "c").read_text() == "a\n"
    for name in ("a", "b", "c"):
        (fw_id,) = launchpad.get_fw_ids({"name": name})
        assert launchpad.get_fw_by_id(fw_id).state == "COMPLETED"
    assert launchpad.launches.count_documents({}) == 4  # each job ran once
    assert len(list((tmp_path / "runs").glob("launcher_*"))) == 4
    assert "no job READY" in cli("launch", "--local").output  # nothing left: a no-op


def _timed(out_dir: Path, name: str, seconds: float) -> Firework:
    script = (
        f"date +%s.%N > {out_dir}/{name}.start; sleep {seconds}; date +%s.%N > {out_dir}/{name}.end"
    )
    return Firework(ScriptTask.from_str(script), name=name)


def test_launch_local_parallel_runs_independent_jobs_at_once(launchpad, cli, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    left, right = _timed(out_dir, "left", 4), _timed(out_dir, "right", 4)
    after = _timed(out_dir, "after", 0)  # READY only when both finished: nobody may quit early
    launchpad.add_wf(Workflow([left, right, after], {left: [after], right: [after]}, name="v"))

    result = cli("launch", "--local", "--parallel", "2", "--launch-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert "3 jobs run here by 2 launchers; all 3 jobs COMPLETED" in result.output

    def times(name: str) -> tuple[float, float]:
        return tuple(float((out_dir / f"{name}.{e}").read_text()) for e in ("start", "end"))

    (l0, l1), (r0, r1), (a0, _) = times("left"), times("right"), times("after")
    assert max(l0, r0) < min(l1, r1)  # the two ran at the same time
    assert a0 >= max(l1, r1)
    assert launchpad.launches.count_documents({}) == 3  # each job ran once
    assert not list((tmp_path / "runs").glob(".busy-*"))  # no marks left behind
    bad = cli("launch", "--slurm", "--parallel", "2")
    assert isinstance(bad.exception, IonflowInputError) and "--local" in str(bad.exception)


def test_walltime_and_the_allocation_rocket_line():
    assert walltime_seconds("01:00:00") == 3600
    assert walltime_seconds("2-00:30:00") == 2 * 86400 + 1800
    assert walltime_seconds("30") == 1800 and walltime_seconds("05:30") == 330
    with pytest.raises(ValueError, match="time limit"):
        walltime_seconds("one hour")
    line = allocation_rocket_launch("python -m ionflow.pipeline.rocket -c /cfg singleshot", 4, 900)
    assert line == (
        "python -m ionflow.pipeline.rocket -c /cfg rapidfire --nlaunches 4 --timeout 900 "
        "--max_loops 1 --sleep 1"
    )
    with pytest.raises(IonflowInputError, match="config init"):
        allocation_rocket_launch("my_script.sh", 4, 900)


def test_allocations_wanted_never_exceed_max_jobs(launchpad, tmp_path):
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    qadapter = CommonAdapter(
        "SLURM", rocket_launch="rlaunch -c /cfg singleshot", walltime="00:10:00"
    )
    packing = SlurmLauncher(launchpad, FWorker(), qadapter, tmp_path, 3, 4)
    assert "--nlaunches 4 --timeout 300" in packing.qadapter["rocket_launch"]
    assert qadapter["rocket_launch"] == "rlaunch -c /cfg singleshot"  # a copy was changed
    assert packing.wanted(9, {}) == 3  # ceil(9 / 4), within max_jobs
    assert packing.wanted(9, {"1": "PENDING"}) == 2  # a pending allocation will take 4
    assert packing.wanted(30, {"1": "RUNNING", "2": "RUNNING"}) == 1  # room for one
    assert packing.wanted(0, {}) == 0
    # a started allocation that has not checked a job out yet counts as coming
    launchpad.add_wf(Firework(PyTask(func="time.sleep", args=[0]), name="x"))
    assert packing.wanted(5, {"7": "RUNNING"}) == 1
    launchpad.checkout_fw(with_slurm_job_id(FWorker(), "7"), str(tmp_path))
    assert packing.wanted(5, {"7": "RUNNING"}) == 2
    single = SlurmLauncher(launchpad, FWorker(), qadapter, tmp_path, 2, 1)
    assert single.qadapter["rocket_launch"].endswith("singleshot")  # reservation mode
    assert single.wanted(5, {"1": "PENDING"}) == 1
    with pytest.raises(IonflowInputError, match="at least 1"):
        SlurmLauncher(launchpad, FWorker(), qadapter, tmp_path, 0, 1)


@pytest.mark.slurm
@pytest.mark.slow
def test_launch_slurm_packs_small_jobs_within_max_jobs(launchpad, db_uri, fw_config_dir, tmp_path):
    """Six 1-s jobs, --max-jobs 2 --jobs-per-allocation 3: at most 2 queued, jobs packed."""
    import os

    for i in range(6):
        launchpad.add_wf(Firework(ScriptTask.from_str("sleep 1"), name=f"small-{i}"))
    env = {**os.environ, "IONFLOW_DB_URI": db_uri}
    command = [str(BIN_DIR / "ionflow"), "launch", "--slurm", "--config-dir", str(fw_config_dir)]
    command += ["--max-jobs", "2", "--jobs-per-allocation", "3", "--poll", "1"]
    command += ["--launch-dir", str(tmp_path / "runs")]
    with SqueuePoller() as poller:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=300, check=False
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "all 6 jobs COMPLETED" in result.stdout
    assert 1 <= poller.most <= 2 and poller.polls > 5
    launches = list(launchpad.launches.find({}, {"fworker.env": 1, "fw_id": 1}))
    assert len(launches) == 6  # every job ran once
    per_allocation: dict[str, int] = {}
    for launch in launches:
        job_id = launch["fworker"]["env"]["slurm_job_id"]
        per_allocation[job_id] = per_allocation.get(job_id, 0) + 1
    assert max(per_allocation.values()) >= 2 and len(per_allocation) <= 4  # packed
    scripts = list((tmp_path / "runs").rglob("FW_submit.script"))
    assert len(scripts) >= len(per_allocation)  # an allocation may have found none left
    assert "rapidfire --nlaunches 3 --timeout 150" in scripts[0].read_text()
    print(f"allocations {len(scripts)}, jobs per allocation {sorted(per_allocation.values())}")


def test_progress_view_shows_workflows_stages_and_states(launchpad, tmp_path):
    import io

    from rich.console import Console

    from ionflow.cli.workflows import ProgressView

    launchpad.add_wf(_diamond(tmp_path))
    view = ProgressView(launchpad, every_s=0.0)
    view.extra = "(SLURM jobs alive: 1 of at most 2)"
    console = Console(file=io.StringIO(), width=140)
    console.print(view)
    text = console.file.getvalue()
    assert "ionflow launch (SLURM jobs alive: 1 of at most 2)" in text
    for name in ("diamond", "other"):  # the workflow, then its stage (ScriptTasks: other)
        row = next(line for line in text.splitlines() if name in line)
        cells = [cell.strip() for cell in row.split("│")[2:-1]]
        assert dict(zip(STATES, cells, strict=True)) == {
            **dict.fromkeys(STATES, ""),
            "WAITING": "2",
            "READY": "1",
        }
