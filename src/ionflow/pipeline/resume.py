"""Resuming failed and lost jobs: an explicit state machine over FireWorks states.

FireWorks keeps each firework in one state. ionflow acts on three situations, each with
a limit, and writes every action to the ``ionflow_resume_log`` collection of the
LaunchPad's database (one document per action: fw_id, action, from/to state, reason,
error class and retry flag of a failure, time), so what happened to a job can always be
read back.

=================  ============================================  ====================
situation          test                                          action
=================  ============================================  ====================
SLURM job gone     RUNNING, its SLURM job (recorded at checkout,  ``rerun`` -> READY
                   :mod:`ionflow.pipeline.rocket`) no longer in   (cause ``gone``, at
                   ``squeue``; ``sacct`` says how it ended:       most ``max_retries``)
                   ``TIMEOUT``: rerun, continuing from its        cause ``walltime``, at
                   checkpoints (previous launch's restart files)  most ``max_walltime_
                                                                  reruns``
                   ``OUT_OF_MEMORY``: rerun with twice the        cause ``memory``, at
                   memory (``spec._queueadapter.mem``, read by    most ``max_memory_
                   qlaunch)                                       doublings``
                   limit used up                                  ``give_up`` (FIZZLED)
lost run           RUNNING, no ping for ``lost_after_s``         ``rerun`` -> READY
                   (a job outside SLURM, or SLURM not asked)
stale reservation  RESERVED in the queue for ``unreserved_after_s``  ``unreserve`` -> READY
cannot succeed     FIZZLED with an ionflow error whose class     ``give_up`` (logged
                   says ``retry`` is ``no`` (bad input,          once per launch,
                   labelling failures, unconverged relaxation)   stays FIZZLED)
                   or ``new_seed`` (MD instability)
failed job         FIZZLED with ``retry: yes`` (engine killed)   ``retry`` -> READY
                   or an unclassified exception, retries <
                   ``max_retries``, ``backoff_s * 2**retries``
                   since it failed
failed for good    ``max_retries`` used up                       ``give_up``
=================  ============================================  ====================

The failure is classified by exception class, never by its text: FireWorks stores
``to_dict()`` of the exception with the failed launch (``action.stored_data._exception.
_details``), and every :class:`ionflow.errors.IonflowError` puts its class and
:class:`~ionflow.errors.Retry` flag there. An exception that is not an ionflow error has
no such record; it is retried up to ``max_retries``.

A workflow locked by FireWorks (``WFLock``: ``locked`` in its document, set while a
process changes the workflow) is not touched: FireWorks would wait
``WFLOCK_EXPIRATION_SECS`` (``fw_config``, 300 s) for the lock and then raise
``LockedWorkflowError`` (or, with ``WFLOCK_EXPIRATION_KILL``, take it). Its jobs are
skipped this pass and tried again next pass (``locked``), so one locked workflow never
stops the pass for the others. FireWorks records no time with the lock, so its age is
counted from the pass that first saw it (``ionflow_resume_locks``; a change of the
workflow's ``updated_on`` starts the count again, as a live holder changes the
workflow): a lock held for ``wflock_expiry_s`` (default ``WFLOCK_EXPIRATION_SECS``) was
left by a process that died holding it (``kill -9``) and is broken (``break_lock`` in
the log, a warning naming the workflow), and its jobs are acted on in the same pass.

A lost run is run again as the same job; jobs that checkpoint (MD segments) find the
folder of their previous launch in the firework's launch history and continue from its
last restart file. ``retry`` and ``rerun`` are different actions: a retry follows a
failure the job reported, a rerun follows a job that vanished.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fireworks.core.launchpad import LockedWorkflowError
from fireworks.fw_config import WFLOCK_EXPIRATION_SECS

from ionflow.cluster.slurm_jobs import cluster_name, end_states, gone_jobs, memory_mb
from ionflow.errors import RETRY_ADVICE, Failure, Retry, failure_from_details
from ionflow.pipeline.rocket import slurm_cluster_of, slurm_job_id_of

if TYPE_CHECKING:
    from fireworks import LaunchPad

LOG_COLLECTION = "ionflow_resume_log"
LOCKS_COLLECTION = "ionflow_resume_locks"
"""Workflow locks seen by resume passes: workflow, first seen, its ``updated_on`` then."""
logger = logging.getLogger(__name__)


@dataclass
class ResumePolicy:
    """Limits of the resume state machine (seconds)."""

    lost_after_s: float = 4 * 3600.0
    unreserved_after_s: float = 14 * 24 * 3600.0
    max_retries: int = 3
    backoff_s: float = 60.0
    max_walltime_reruns: int = 2
    max_memory_doublings: int = 2
    squeue: str = "squeue"
    """``squeue`` command (asked once per pass about RUNNING jobs' SLURM jobs)."""
    sacct: str = "sacct"
    scontrol: str = "scontrol"
    """asked for the cluster name when launches record theirs (ids are per cluster)."""
    wflock_expiry_s: float = float(WFLOCK_EXPIRATION_SECS)
    """A workflow lock seen held this long by the passes is stale and broken."""


@dataclass
class ResumeReport:
    """What one pass of :func:`resume_pass` did (firework ids per action)."""

    rerun: list[int] = field(default_factory=list)
    unreserved: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    waiting_backoff: list[int] = field(default_factory=list)
    gave_up: list[int] = field(default_factory=list)
    locked: list[int] = field(default_factory=list)
    """Jobs left for the next pass: their workflow is locked (not yet stale)."""
    broken_locks: list[str] = field(default_factory=list)
    """Workflows whose stale lock this pass broke (name and fw_ids)."""
    reasons: dict[int, str] = field(default_factory=dict)
    """Why each firework acted on in this pass was rerun, retried or given up."""

    @property
    def n_actions(self) -> int:
        """Number of fireworks put back to READY in this pass."""
        return len(self.rerun) + len(self.unreserved) + len(self.retried)


def now_utc() -> dt.datetime:
    """The current time as naive UTC (how the state machine compares times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# report list of each action
_REPORT_LISTS = {
    "rerun": "rerun",
    "unreserve": "unreserved",
    "retry": "retried",
    "give_up": "gave_up",
}


def _act(
    lpad: LaunchPad,
    report: ResumeReport,
    fw_id: int,
    action: str,
    from_state: str,
    reason: str,
    failure: Failure | None = None,
    cause: str | None = None,
) -> None:
    to_state = "FIZZLED" if action == "give_up" else "READY"
    entry = {
        "fw_id": fw_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "launch_id": _last_launch_id(lpad, fw_id),
        "time": now_utc(),
    }
    if cause is not None:
        entry["cause"] = cause
    if failure is not None:
        entry["error_class"] = failure.error_class
        entry["retry"] = None if failure.retry is None else failure.retry.value
    lpad.db[LOG_COLLECTION].insert_one(entry)
    getattr(report, _REPORT_LISTS[action]).append(fw_id)
    report.reasons[fw_id] = reason
    logger.info("firework %d: %s (%s -> %s): %s", fw_id, action, from_state, to_state, reason)


def _workflow_label(wf: dict) -> str:
    nodes = sorted(wf.get("nodes") or [])
    shown = ", ".join(map(str, nodes[:5])) + (", ..." if len(nodes) > 5 else "")
    return f"workflow {wf.get('name', '?')!r} (fw_ids {shown})"


def may_change(lpad: LaunchPad, fw_id: int, policy: ResumePolicy, report: ResumeReport) -> bool:
    """True if the workflow of ``fw_id`` may be changed now (see the module docstring).

    Not locked: True. Locked for less than ``policy.wflock_expiry_s`` (counted from the
    pass that first saw the lock): False, the job is listed in ``report.locked``. Locked
    for longer: the lock is broken (logged as ``break_lock``, with a warning naming the
    workflow) and True.
    """
    wf = lpad.workflows.find_one(
        {"nodes": fw_id}, {"locked": 1, "updated_on": 1, "name": 1, "nodes": 1}
    )
    seen = lpad.db[LOCKS_COLLECTION]
    if wf is None:
        return True
    key = str(wf["_id"])
    if "locked" not in wf:  # FireWorks: the key, whatever its value, is the lock
        seen.delete_one({"workflow": key})
        return True
    now = now_utc()
    record = seen.find_one({"workflow": key})
    if record is None or record.get("updated_on") != wf.get("updated_on"):
        record = {"workflow": key, "first_seen": now, "updated_on": wf.get("updated_on")}
        seen.replace_one({"workflow": key}, record, upsert=True)
    held_s = (now - record["first_seen"]).total_seconds()
    label = _workflow_label(wf)
    if held_s < policy.wflock_expiry_s:
        report.locked.append(fw_id)
        report.reasons[fw_id] = (
            f"{label} is locked (seen {held_s:.0f} s of {policy.wflock_expiry_s:.0f} s "
            "before it counts as stale): next pass"
        )
        return False
    lpad.workflows.update_one({"_id": wf["_id"]}, {"$unset": {"locked": ""}})
    seen.delete_one({"workflow": key})
    reason = (
        f"broke the lock of {label}: held for at least {held_s:.0f} s "
        f"(> {policy.wflock_expiry_s:.0f} s), left by a process that died holding it"
    )
    lpad.db[LOG_COLLECTION].insert_one(
        {"fw_id": fw_id, "action": "break_lock", "reason": reason, "time": now}
    )
    report.broken_locks.append(label)
    logger.warning("%s", reason)
    return True


def action_log(lpad: LaunchPad, fw_id: int | None = None) -> list[dict]:
    """Return logged resume actions (all, or of one firework), oldest first."""
    query = {} if fw_id is None else {"fw_id": fw_id}
    return list(lpad.db[LOG_COLLECTION].find(query, {"_id": 0}).sort("time", 1))


def _last_launch_id(lpad: LaunchPad, fw_id: int) -> int | None:
    """Newest launch of ``fw_id`` (also after a rerun moved it to the archived ones)."""
    launch = lpad.launches.find_one({"fw_id": fw_id}, {"launch_id": 1}, sort=[("launch_id", -1)])
    return None if launch is None else launch["launch_id"]


def failure_of(lpad: LaunchPad, fw_id: int) -> Failure:
    """Class, retry flag and message of the exception that made ``fw_id`` FIZZLE.

    Read from the firework's last launch, where FireWorks stored the exception's
    ``to_dict()`` (``action.stored_data._exception``).
    """
    launch_id = _last_launch_id(lpad, fw_id)
    if launch_id is None:
        return Failure(error_class="unknown", retry=None, message="no launch recorded")
    launch = lpad.launches.find_one({"launch_id": launch_id}, {"action": 1}) or {}
    stored = ((launch.get("action") or {}).get("stored_data") or {}).get("_exception") or {}
    return failure_from_details(stored.get("_details"), stored.get("_stacktrace") or "")


def naive_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """A FireWorks time (datetime or ISO text, naive or aware) as naive UTC, or None."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)  # FireWorks >= 2: aware UTC
    return value if isinstance(value, dt.datetime) else None


def _fizzled_since(lpad: LaunchPad, fw_id: int) -> dt.datetime:
    fw = lpad.fireworks.find_one({"fw_id": fw_id}, {"updated_on": 1}) or {}
    return naive_utc(fw.get("updated_on")) or now_utc()


@dataclass(frozen=True)
class RetryDecision:
    """What the state machine does with a FIZZLED job: ``retry``, ``wait`` or ``give_up``."""

    action: str
    reason: str


def decide_retry(
    failure: Failure, retries: int, policy: ResumePolicy, failed_for_s: float
) -> RetryDecision:
    """Decide on a FIZZLED job from its failure class, retries used and back-off.

    Args:
        failure: class, retry flag and message of the failure.
        retries: retries already logged for the job.
        policy: the limits.
        failed_for_s: seconds since the job failed.
    """
    if failure.retry in (Retry.NO, Retry.NEW_SEED):
        reason = f"{failure.short_class}: {RETRY_ADVICE[failure.retry]}: {failure.message}"
        return RetryDecision("give_up", reason)
    if retries >= policy.max_retries:
        return RetryDecision("give_up", f"{retries} retries used: {failure.message}")
    wait_s = policy.backoff_s * 2**retries
    if failed_for_s < wait_s:
        return RetryDecision("wait", f"retry {retries + 1} in {wait_s - failed_for_s:.0f} s")
    kind = "unclassified" if failure.retry is None else RETRY_ADVICE[failure.retry]
    return RetryDecision("retry", f"retry {retries + 1} ({kind}): {failure.message}")


# how a SLURM job ended -> cause of the rerun (others: "gone")
SLURM_END_CAUSES = {"TIMEOUT": "walltime", "DEADLINE": "walltime", "OUT_OF_MEMORY": "memory"}


def slurm_jobs_here(launches: Iterable[dict], scontrol: str = "scontrol") -> dict[str, list[dict]]:
    """Launches by the SLURM job running them, for jobs of this machine's cluster only.

    A launch recorded on another cluster (``env.slurm_cluster``) is left out: its job is
    not in this ``squeue``, and must never be taken for gone. Launches without a SLURM
    job id are left out too.
    """
    by_job: dict[str, list[dict]] = {}
    here: list[str | None] = []  # this machine's cluster, asked only when needed
    for launch in launches:
        job_id = slurm_job_id_of(launch)
        cluster = slurm_cluster_of(launch)
        if cluster is not None and not here:
            here.append(cluster_name(scontrol))
        if job_id and (cluster is None or cluster == here[0]):
            by_job.setdefault(job_id, []).append(launch)
    return by_job


def _rerun_slurm_gone(lpad: LaunchPad, policy: ResumePolicy, report: ResumeReport) -> None:
    """Rerun RUNNING jobs whose SLURM job is gone, by how it ended (bounded)."""
    running = lpad.launches.find(
        {"state": "RUNNING"},
        {"launch_id": 1, "fw_id": 1, "fworker.env": 1, "state_history": 1},
    )
    by_job = slurm_jobs_here(running, policy.scontrol)
    gone = gone_jobs(by_job, policy.squeue) if by_job else None
    if not gone:
        return  # nothing gone, or SLURM did not answer: never act on a guess
    ends = end_states(gone, policy.sacct)
    log = lpad.db[LOG_COLLECTION]
    for job_id in sorted(gone):
        end = ends.get(job_id)
        state = end.state if end else "no longer in squeue"
        cause = SLURM_END_CAUSES.get(end.state if end else "", "gone")
        limit = {
            "walltime": policy.max_walltime_reruns,
            "memory": policy.max_memory_doublings,
        }.get(cause, policy.max_retries)
        for launch in by_job[job_id]:
            fw_id, launch_id = launch["fw_id"], launch["launch_id"]
            current = lpad.launches.find_one({"launch_id": launch_id}, {"state": 1}) or {}
            if current.get("state") != "RUNNING":
                continue  # finished between the two queries
            if not may_change(lpad, fw_id, policy, report):
                continue
            done = log.count_documents({"fw_id": fw_id, "action": "rerun", "cause": cause})
            lpad.mark_fizzled(launch_id)
            if done >= limit:
                reason = f"SLURM job {job_id} {state}: {done} reruns for {cause} used"
                _act(lpad, report, fw_id, "give_up", "RUNNING", reason, cause=cause)
                continue
            reason = f"SLURM job {job_id} {state}: rerun {done + 1} of {limit}"
            if cause == "walltime":
                reason += ", continuing from its checkpoints"
            if cause == "memory":
                fw = lpad.fireworks.find_one({"fw_id": fw_id}, {"spec._queueadapter": 1}) or {}
                queue = (fw.get("spec") or {}).get("_queueadapter") or {}
                mem_mb = memory_mb(str(queue.get("mem", ""))) or (end and end.requested_mem_MB)
                if mem_mb:
                    new_mem = f"{round(2 * mem_mb)}M"
                    lpad.update_spec([fw_id], {"_queueadapter.mem": new_mem})
                    reason += f" with --mem={new_mem}"
                else:
                    reason += " (memory not known: same memory)"
            lpad.rerun_fw(fw_id)
            _act(lpad, report, fw_id, "rerun", "RUNNING", reason, cause=cause)


def _rerun_lost(lpad: LaunchPad, policy: ResumePolicy, report: ResumeReport) -> None:
    """Rerun lost runs (FireWorks' ``detect_lostruns``), one firework at a time.

    Detection first, then FireWorks' own rerun restricted to one firework, only where
    :func:`may_change` allows it: a locked workflow waits for the next pass.
    """
    lost_launch_ids, _, _ = lpad.detect_lostruns(expiration_secs=policy.lost_after_s)
    launches = lpad.launches.find({"launch_id": {"$in": lost_launch_ids}}, {"fw_id": 1})
    for fw_id in sorted({launch["fw_id"] for launch in launches}):
        if not may_change(lpad, fw_id, policy, report):
            continue
        try:
            _, lost_fw_ids, _ = lpad.detect_lostruns(
                expiration_secs=policy.lost_after_s, rerun=True, query={"fw_id": fw_id}
            )
        except LockedWorkflowError:  # locked by a process that died a moment ago
            report.locked.append(fw_id)
            report.reasons[fw_id] = "its workflow was locked while rerun: next pass"
            continue
        if fw_id in lost_fw_ids:
            reason = f"no ping for {policy.lost_after_s:.0f} s (lost run: node failure, kill)"
            _act(lpad, report, fw_id, "rerun", "RUNNING", reason)


def resume_pass(lpad: LaunchPad, policy: ResumePolicy | None = None) -> ResumeReport:
    """Run one pass of the resume state machine over every firework of ``lpad``.

    Args:
        lpad: the LaunchPad holding the workflows.
        policy: limits (default :class:`ResumePolicy`).

    Returns:
        The fireworks acted on, per action; every action is also logged.
    """
    policy = policy or ResumePolicy()
    report = ResumeReport()

    _rerun_slurm_gone(lpad, policy, report)
    _rerun_lost(lpad, policy, report)

    for launch_id in lpad.detect_unreserved(expiration_secs=policy.unreserved_after_s) or []:
        launch = lpad.launches.find_one({"launch_id": launch_id}, {"fw_id": 1}) or {}
        if "fw_id" in launch and not may_change(lpad, launch["fw_id"], policy, report):
            continue
        lpad.cancel_reservation(launch_id)
        if "fw_id" in launch:
            reason = "queue reservation expired"
            _act(lpad, report, launch["fw_id"], "unreserve", "RESERVED", reason)

    log = lpad.db[LOG_COLLECTION]
    for fw_id in lpad.get_fw_ids({"state": "FIZZLED"}):
        # given up on this very launch (a firework rerun by hand and failed again is new)
        launch_id = _last_launch_id(lpad, fw_id)
        if log.count_documents({"fw_id": fw_id, "action": "give_up", "launch_id": launch_id}):
            if fw_id not in report.gave_up:  # not given up on a moment ago in this pass
                report.gave_up.append(fw_id)
            continue
        failure = failure_of(lpad, fw_id)
        retries = log.count_documents({"fw_id": fw_id, "action": "retry"})
        failed_for_s = (now_utc() - _fizzled_since(lpad, fw_id)).total_seconds()
        decision = decide_retry(failure, retries, policy, failed_for_s)
        if decision.action == "wait":
            report.waiting_backoff.append(fw_id)
            continue
        if decision.action == "retry":
            if not may_change(lpad, fw_id, policy, report):
                continue
            lpad.rerun_fw(fw_id)
        _act(lpad, report, fw_id, decision.action, "FIZZLED", decision.reason, failure)
    return report
