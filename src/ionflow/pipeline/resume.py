"""Resuming failed and lost jobs: an explicit state machine over FireWorks states.

FireWorks keeps each firework in one state. ionflow acts on three situations, each with
a limit, and writes every action to the ``ionflow_resume_log`` collection of the
LaunchPad's database (one document per action: fw_id, action, from/to state, reason,
error class and retry flag of a failure, time), so what happened to a job can always be
read back.

=================  ============================================  ====================
situation          test                                          action
=================  ============================================  ====================
lost run           RUNNING, no ping for ``lost_after_s``         ``rerun`` -> READY
                   (walltime kill, ``scancel``, node failure)
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

A lost run is run again as the same job; jobs that checkpoint (MD segments) find the
folder of their previous launch in the firework's launch history and continue from its
last restart file. ``retry`` and ``rerun`` are different actions: a retry follows a
failure the job reported, a rerun follows a job that vanished.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ionflow.errors import RETRY_ADVICE, Failure, Retry, failure_from_details

if TYPE_CHECKING:
    from fireworks import LaunchPad

LOG_COLLECTION = "ionflow_resume_log"
logger = logging.getLogger(__name__)


@dataclass
class ResumePolicy:
    """Limits of the resume state machine (seconds)."""

    lost_after_s: float = 4 * 3600.0
    unreserved_after_s: float = 14 * 24 * 3600.0
    max_retries: int = 3
    backoff_s: float = 60.0


@dataclass
class ResumeReport:
    """What one pass of :func:`resume_pass` did (firework ids per action)."""

    rerun: list[int] = field(default_factory=list)
    unreserved: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    waiting_backoff: list[int] = field(default_factory=list)
    gave_up: list[int] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    """Why each firework acted on in this pass was rerun, retried or given up."""

    @property
    def n_actions(self) -> int:
        """Number of fireworks put back to READY in this pass."""
        return len(self.rerun) + len(self.unreserved) + len(self.retried)


def _now() -> dt.datetime:
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
) -> None:
    to_state = "FIZZLED" if action == "give_up" else "READY"
    entry = {
        "fw_id": fw_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "launch_id": _last_launch_id(lpad, fw_id),
        "time": _now(),
    }
    if failure is not None:
        entry["error_class"] = failure.error_class
        entry["retry"] = None if failure.retry is None else failure.retry.value
    lpad.db[LOG_COLLECTION].insert_one(entry)
    getattr(report, _REPORT_LISTS[action]).append(fw_id)
    report.reasons[fw_id] = reason
    logger.info("firework %d: %s (%s -> %s): %s", fw_id, action, from_state, to_state, reason)


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


def _fizzled_since(lpad: LaunchPad, fw_id: int) -> dt.datetime:
    fw = lpad.fireworks.find_one({"fw_id": fw_id}, {"updated_on": 1}) or {}
    updated = fw.get("updated_on")
    if isinstance(updated, str):
        updated = dt.datetime.fromisoformat(updated)
    if updated is None:
        return _now()
    if updated.tzinfo is not None:  # FireWorks >= 2 writes aware UTC times
        updated = updated.astimezone(dt.UTC).replace(tzinfo=None)
    return updated


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

    _, lost_fw_ids, _ = lpad.detect_lostruns(expiration_secs=policy.lost_after_s, rerun=True)
    for fw_id in lost_fw_ids:
        reason = f"no ping for {policy.lost_after_s:.0f} s (lost run: node failure, kill)"
        _act(lpad, report, fw_id, "rerun", "RUNNING", reason)

    for launch_id in lpad.detect_unreserved(expiration_secs=policy.unreserved_after_s) or []:
        launch = lpad.launches.find_one({"launch_id": launch_id}, {"fw_id": 1}) or {}
        lpad.cancel_reservation(launch_id)
        if "fw_id" in launch:
            reason = "queue reservation expired"
            _act(lpad, report, launch["fw_id"], "unreserve", "RESERVED", reason)

    log = lpad.db[LOG_COLLECTION]
    for fw_id in lpad.get_fw_ids({"state": "FIZZLED"}):
        # given up on this very launch (a firework rerun by hand and failed again is new)
        launch_id = _last_launch_id(lpad, fw_id)
        if log.count_documents({"fw_id": fw_id, "action": "give_up", "launch_id": launch_id}):
            report.gave_up.append(fw_id)
            continue
        failure = failure_of(lpad, fw_id)
        retries = log.count_documents({"fw_id": fw_id, "action": "retry"})
        if failure.retry in (Retry.NO, Retry.NEW_SEED):
            reason = f"{failure.short_class}: {RETRY_ADVICE[failure.retry]}: {failure.message}"
            _act(lpad, report, fw_id, "give_up", "FIZZLED", reason, failure)
        elif retries >= policy.max_retries:
            reason = f"{retries} retries used: {failure.message}"
            _act(lpad, report, fw_id, "give_up", "FIZZLED", reason, failure)
        elif (_now() - _fizzled_since(lpad, fw_id)).total_seconds() < (
            policy.backoff_s * 2**retries
        ):
            report.waiting_backoff.append(fw_id)
        else:
            lpad.rerun_fw(fw_id)
            kind = "unclassified" if failure.retry is None else RETRY_ADVICE[failure.retry]
            reason = f"retry {retries + 1} ({kind}): {failure.message}"
            _act(lpad, report, fw_id, "retry", "FIZZLED", reason, failure)
    return report
