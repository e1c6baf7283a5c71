"""Progress of one workflow per stage: jobs done, running, waiting, and the time taken.

Read from the LaunchPad with two projected queries (the workflow's fireworks, their
launches), so a live view can ask every second. A stage's time is the sum of its jobs' run
times (start to end of each job's newest launch, to now while it runs), the workflow's
time the wall time from its first start to its last end; jobs added at run time
(per configuration, each active-learning iteration) count as soon as FireWorks holds them.
The running job's progress is the last line of the newest log file in its launch folder
(every job keeps its folder and a log: ``fit.log``, ``label.log``, ``md.log``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ionflow.pipeline.resume import naive_utc, now_utc
from ionflow.pipeline.stages import FUNCTION_MODULE_PATH, STAGES, stage_of_firework

if TYPE_CHECKING:
    from fireworks import LaunchPad

DONE, RUNNING, WAITING, FAILED = "done", "running", "waiting", "failed"
KIND_OF_STATE = {
    "COMPLETED": DONE,
    "RUNNING": RUNNING,
    "RESERVED": WAITING,
    "READY": WAITING,
    "WAITING": WAITING,
    "FIZZLED": FAILED,
}


@dataclass
class StageProgress:
    """One stage of a workflow.

    Attributes:
        stage: stage name (:mod:`ionflow.pipeline.stages`).
        jobs: number of jobs per kind (done, running, waiting, failed).
        elapsed_s: summed run time of its jobs (the running ones up to now), None before
            any started.
    """

    stage: str
    jobs: dict[str, int] = field(default_factory=dict)
    elapsed_s: float | None = None

    @property
    def kind(self) -> str:
        """``failed``, ``running``, ``waiting`` or ``done``, for the stage as a whole."""
        for kind in (FAILED, RUNNING):
            if self.jobs.get(kind):
                return kind
        return WAITING if self.jobs.get(WAITING) else DONE


@dataclass
class RunningJob:
    """A running job and its last log line."""

    fw_id: int
    name: str
    stage: str
    running_s: float
    last_line: str = ""


@dataclass
class WorkflowProgress:
    """Stages in pipeline order, the running jobs, and the workflow's state."""

    workflow_id: int
    name: str
    state: str
    stages: list[StageProgress]
    running: list[RunningJob]
    elapsed_s: float | None = None


def last_log_line(folder: str | Path | None, max_bytes: int = 4096) -> str:
    """The last non-empty line of the newest ``*.log`` in ``folder`` ('' if none)."""
    if not folder:
        return ""
    try:
        logs = sorted(Path(folder).glob("*.log"), key=lambda p: p.stat().st_mtime)
        if not logs:
            return ""
        with logs[-1].open("rb") as handle:
            handle.seek(max(logs[-1].stat().st_size - max_bytes, 0))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def workflow_progress(lpad: LaunchPad, workflow_id: int) -> WorkflowProgress:
    """Progress of the workflow holding firework ``workflow_id``, stage by stage."""
    workflow = lpad.workflows.find_one({"nodes": workflow_id}, {"name": 1, "state": 1, "nodes": 1})
    if workflow is None:
        raise ValueError(f"no workflow holds firework {workflow_id}")
    fireworks = list(
        lpad.fireworks.find(
            {"fw_id": {"$in": workflow["nodes"]}},
            {"fw_id": 1, "name": 1, "state": 1, FUNCTION_MODULE_PATH: 1},
        )
    )
    launches: dict[int, dict] = {}
    for launch in lpad.launches.find(
        {"fw_id": {"$in": workflow["nodes"]}},
        {"fw_id": 1, "launch_id": 1, "time_start": 1, "time_end": 1, "launch_dir": 1},
    ):
        newest = launches.get(launch["fw_id"])
        if newest is None or launch["launch_id"] > newest["launch_id"]:
            launches[launch["fw_id"]] = launch
    now = now_utc()
    stages: dict[str, StageProgress] = {}
    spans: dict[str, list] = {}
    running: list[RunningJob] = []
    for fw in sorted(fireworks, key=lambda f: f["fw_id"]):
        stage = stage_of_firework(fw)
        progress = stages.setdefault(stage, StageProgress(stage))
        kind = KIND_OF_STATE.get(fw["state"], WAITING)
        progress.jobs[kind] = progress.jobs.get(kind, 0) + 1
        launch = launches.get(fw["fw_id"])
        start = naive_utc((launch or {}).get("time_start"))
        if start is None:
            continue
        end = naive_utc(launch.get("time_end")) if kind != RUNNING else None
        spans.setdefault(stage, []).append((start, end or now))
        if kind == RUNNING:
            running.append(
                RunningJob(
                    fw["fw_id"],
                    fw.get("name", ""),
                    stage,
                    (now - start).total_seconds(),
                    last_log_line(launch.get("launch_dir")),
                )
            )
    for stage, times in spans.items():
        stages[stage].elapsed_s = sum(
            max((end - start).total_seconds(), 0.0) for start, end in times
        )
    every = [t for times in spans.values() for t in times]
    order = {stage: i for i, stage in enumerate(STAGES)}
    return WorkflowProgress(
        workflow_id=min(workflow["nodes"]),
        name=workflow["name"],
        state=workflow["state"],
        stages=sorted(stages.values(), key=lambda s: order.get(s.stage, len(order))),
        running=running,
        elapsed_s=(
            (max(t[1] for t in every) - min(t[0] for t in every)).total_seconds() if every else None
        ),
    )
