"""Workflows, stages and jobs on the LaunchPad, per state (``ionflow status``).

A job's state is its firework's FireWorks state, except ``lost``: a RUNNING job whose
SLURM job is gone (``squeue``; the id is recorded in the launch, see
:mod:`ionflow.pipeline.rocket`) or whose launch has not pinged for ``lost_after_s``.
``ionflow watch`` reruns lost jobs. The stage of a job comes from its function's module
(:mod:`ionflow.pipeline.stages`).

Fast on large LaunchPads: at most four projected queries, whatever the number of jobs:
workflows (name, state, ids), fireworks (id, name, state, job module), the newest launch
of each RUNNING/RESERVED/FIZZLED job (times, worker env, stored exception), and the resume
log of the FIZZLED ones; ``squeue`` at most once. ``benchmarks/status_speed.py`` times
1,000 queued jobs.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ionflow.cluster.slurm_jobs import gone_jobs
from ionflow.errors import IonflowInputError, failure_from_details
from ionflow.pipeline.resume import (
    LOG_COLLECTION,
    ResumePolicy,
    decide_retry,
    naive_utc,
    now_utc,
    slurm_jobs_here,
)
from ionflow.pipeline.rocket import slurm_job_id_of
from ionflow.pipeline.stages import FUNCTION_MODULE_PATH, STAGES, stage_of_firework

if TYPE_CHECKING:
    from fireworks import LaunchPad

STATES = ("WAITING", "READY", "RESERVED", "RUNNING", "lost", "COMPLETED", "FIZZLED")
"""States shown, in order (others, e.g. DEFUSED or PAUSED, are shown after them)."""
LAUNCH_FIELDS = {
    "launch_id": 1,
    "fw_id": 1,
    "state": 1,
    "time_start": 1,
    "time_end": 1,
    "state_history": 1,
    "fworker.env": 1,
    "action.stored_data._exception._details": 1,
    "action.stored_data._exception._stacktrace": 1,
}


@dataclass
class JobStatus:
    """A job that needs a look: RUNNING, lost, RESERVED in the queue, or FIZZLED.

    Attributes:
        fw_id: firework id.
        name: job name.
        stage: pipeline stage.
        state: FireWorks state, or ``lost``.
        slurm_job_id: SLURM job running it (None if not recorded / not under SLURM).
        running_s: seconds since it started (RUNNING and lost).
        lost_reason: why it counts as lost.
        error_class: class of the exception of a FIZZLED job.
        error_line: last line of its message.
        will_retry: ``yes``, ``after back-off`` or ``no``.
        retry_reason: why (retry count, class advice, limit).
    """

    fw_id: int
    name: str
    stage: str
    state: str
    slurm_job_id: str | None = None
    running_s: float | None = None
    lost_reason: str | None = None
    error_class: str | None = None
    error_line: str | None = None
    will_retry: str | None = None
    retry_reason: str | None = None


@dataclass
class WorkflowStatus:
    """One workflow: counts per stage and state, and the jobs worth a look."""

    workflow_id: int
    name: str
    state: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """stage -> state -> number of jobs (stages in pipeline order)."""
    jobs: list[JobStatus] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Jobs per state over all stages."""
        totals: dict[str, int] = {}
        for per_state in self.counts.values():
            for state, n in per_state.items():
                totals[state] = totals.get(state, 0) + n
        return totals


def resolve_workflows(lpad: LaunchPad, workflow: str | None) -> dict:
    """Workflow query for an id (any of its firework ids) or a name."""
    if workflow is None:
        return {}
    query = {"nodes": int(workflow)} if workflow.strip().isdigit() else {"name": workflow}
    if lpad.workflows.count_documents(query) == 0:
        raise IonflowInputError(
            f"no workflow {workflow!r} on the LaunchPad: `ionflow status` lists them"
        )
    return query


def _error_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:300]


def workflow_status(
    lpad: LaunchPad,
    workflow: str | None = None,
    policy: ResumePolicy | None = None,
    check_slurm: bool = True,
    squeue: str = "squeue",
) -> list[WorkflowStatus]:
    """Status of every workflow (or of one, by id or name) on ``lpad``.

    Args:
        lpad: the LaunchPad.
        workflow: a workflow id (any firework id in it) or name; None for all.
        policy: lost-run and retry limits (say whether a FIZZLED job will be retried).
        check_slurm: ask ``squeue`` whether the SLURM jobs of RUNNING jobs still exist.
        squeue: the ``squeue`` command.

    Raises:
        IonflowInputError: ``workflow`` names no workflow.
    """
    policy = policy or ResumePolicy()
    query = resolve_workflows(lpad, workflow)
    workflows = list(lpad.workflows.find(query, {"name": 1, "state": 1, "nodes": 1}))
    fw_query = {} if not query else {"fw_id": {"$in": [i for w in workflows for i in w["nodes"]]}}
    fireworks = {
        fw["fw_id"]: fw
        for fw in lpad.fireworks.find(
            fw_query, {"fw_id": 1, "name": 1, "state": 1, FUNCTION_MODULE_PATH: 1}
        )
    }
    active = [i for i, fw in fireworks.items() if fw["state"] in ("RUNNING", "RESERVED", "FIZZLED")]
    launches: dict[int, dict] = {}
    if active:
        for launch in lpad.launches.find({"fw_id": {"$in": active}}, LAUNCH_FIELDS):
            newest = launches.get(launch["fw_id"])
            if newest is None or launch["launch_id"] > newest["launch_id"]:
                launches[launch["fw_id"]] = launch
    fizzled = [i for i in active if fireworks[i]["state"] == "FIZZLED"]
    retries: dict[int, int] = dict.fromkeys(fizzled, 0)
    if fizzled:
        log = lpad.db[LOG_COLLECTION].find(
            {"fw_id": {"$in": fizzled}, "action": "retry"}, {"fw_id": 1}
        )
        for entry in log:
            retries[entry["fw_id"]] += 1

    now = now_utc()
    gone: set[str] = set()
    if check_slurm and shutil.which(squeue):
        running = [
            launches[i] for i in active if fireworks[i]["state"] == "RUNNING" and i in launches
        ]
        ids = slurm_jobs_here(running, policy.scontrol)
        gone = (gone_jobs(ids, squeue) or set()) if ids else set()

    jobs: dict[int, JobStatus] = {}
    for fw_id in active:
        fw, launch = fireworks[fw_id], launches.get(fw_id, {})
        job = JobStatus(fw_id, fw.get("name", ""), stage_of_firework(fw), fw["state"])
        job.slurm_job_id = slurm_job_id_of(launch)
        if fw["state"] == "RUNNING":
            started = naive_utc(launch.get("time_start"))
            job.running_s = None if started is None else (now - started).total_seconds()
            pings = [
                naive_utc(h.get("updated_on"))
                for h in launch.get("state_history") or []
                if h.get("state") == "RUNNING"
            ]
            last_ping = max((p for p in pings if p is not None), default=None)
            if job.slurm_job_id in gone:
                job.state, job.lost_reason = "lost", f"SLURM job {job.slurm_job_id} is gone"
            elif last_ping and (now - last_ping).total_seconds() > policy.lost_after_s:
                job.state = "lost"
                job.lost_reason = f"no ping for {(now - last_ping).total_seconds():.0f} s"
        elif fw["state"] == "FIZZLED":
            stored = ((launch.get("action") or {}).get("stored_data") or {}).get("_exception") or {}
            failure = failure_from_details(stored.get("_details"), stored.get("_stacktrace") or "")
            job.error_class = failure.error_class
            job.error_line = _error_line(failure.message)
            failed_at = naive_utc(launch.get("time_end")) or now
            decision = decide_retry(
                failure, retries[fw_id], policy, (now - failed_at).total_seconds()
            )
            job.will_retry = {"retry": "yes", "wait": "after back-off"}.get(decision.action, "no")
            # the message is already the error line
            job.retry_reason = decision.reason.removesuffix(f": {failure.message}")[:300]
        jobs[fw_id] = job

    result = []
    for wf in workflows:
        status = WorkflowStatus(min(wf["nodes"]) if wf["nodes"] else 0, wf["name"], wf["state"])
        counts: dict[str, dict[str, int]] = {}
        for fw_id in wf["nodes"]:
            fw = fireworks.get(fw_id)
            if fw is None:
                continue
            job = jobs.get(fw_id)
            stage = job.stage if job else stage_of_firework(fw)
            state = job.state if job else fw["state"]
            per_state = counts.setdefault(stage, {})
            per_state[state] = per_state.get(state, 0) + 1
            if job is not None:
                status.jobs.append(job)
        order = {stage: i for i, stage in enumerate(STAGES)}
        status.counts = dict(sorted(counts.items(), key=lambda kv: order.get(kv[0], len(order))))
        status.jobs.sort(key=lambda j: j.fw_id)
        result.append(status)
    result.sort(key=lambda s: s.workflow_id)
    return result


def status_json(statuses: list[WorkflowStatus]) -> list[dict]:
    """JSON-ready form of :func:`workflow_status` (``ionflow status --json``)."""
    return [{**asdict(status), "totals": status.totals()} for status in statuses]
