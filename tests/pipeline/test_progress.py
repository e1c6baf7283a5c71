"""Stage progress of a workflow on a real LaunchPad (embedded database)."""

from __future__ import annotations

import datetime as dt

from ionflow.pipeline.progress import last_log_line, workflow_progress


def _store_workflow(launchpad, modules_states: list[tuple[str, str]]) -> dict[str, int]:
    """A workflow of one firework per (job module, state); returns name -> fw_id."""
    from fireworks import Firework, ScriptTask, Workflow

    fireworks = [
        Firework(ScriptTask.from_str("true"), name=f"job{i}") for i in range(len(modules_states))
    ]
    launchpad.add_wf(Workflow(fireworks, name="progress"))
    ids = {fw["name"]: fw["fw_id"] for fw in launchpad.fireworks.find({}, {"name": 1, "fw_id": 1})}
    for i, (module, state) in enumerate(modules_states):
        launchpad.fireworks.update_one(
            {"fw_id": ids[f"job{i}"]},
            {"$set": {"state": state, "spec._tasks": [{"job": {"function": {"@module": module}}}]}},
        )
    return ids


def test_jobs_per_stage_and_summed_run_times(launchpad, tmp_path):
    ids = _store_workflow(
        launchpad,
        [
            ("ionflow.dft.jobs.label", "COMPLETED"),
            ("ionflow.dft.jobs.label", "COMPLETED"),
            ("ionflow.mtp.jobs.fit", "RUNNING"),
            ("ionflow.md.jobs.lammps", "WAITING"),
            ("ionflow.md.jobs.lammps", "FIZZLED"),
        ],
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    folder = tmp_path / "fit"
    folder.mkdir()
    (folder / "fit.log").write_text("start\niteration 10 loss 3.2\n\n")
    launches = [  # (job, start s ago, end s ago or None, folder)
        ("job0", 100, 70, None), ("job1", 60, 50, None), ("job2", 20, None, folder),
        ("job4", 5, 4, None),
    ]  # fmt: skip
    for launch_id, (name, start, end, where) in enumerate(launches, 1):
        launchpad.launches.insert_one(
            {
                "launch_id": launch_id,
                "fw_id": ids[name],
                "time_start": now - dt.timedelta(seconds=start),
                "time_end": None if end is None else now - dt.timedelta(seconds=end),
                "launch_dir": str(where) if where else None,
            }
        )
    progress = workflow_progress(launchpad, ids["job3"])
    stages = {s.stage: s for s in progress.stages}
    assert [s.stage for s in progress.stages] == ["label", "fit", "md"]  # pipeline order
    assert stages["label"].jobs == {"done": 2} and stages["label"].kind == "done"
    assert abs(stages["label"].elapsed_s - 40.0) < 1.0  # 30 s + 10 s, not the 50 s span
    assert stages["fit"].kind == "running" and 19.0 < stages["fit"].elapsed_s < 30.0
    assert stages["md"].jobs == {"waiting": 1, "failed": 1} and stages["md"].kind == "failed"
    (running,) = progress.running
    assert (running.fw_id, running.stage) == (ids["job2"], "fit")
    assert running.last_line == "iteration 10 loss 3.2"
    assert 99.0 < progress.elapsed_s < 110.0  # first start to now (a job still runs)


def test_last_log_line_of_a_folder_without_logs_is_empty(tmp_path):
    assert last_log_line(tmp_path) == "" and last_log_line(None) == ""
    (tmp_path / "md.log").write_text("Step Temp\r  100 600.0\r  200 610.5")  # progress bar
    assert last_log_line(tmp_path) == "200 610.5"
