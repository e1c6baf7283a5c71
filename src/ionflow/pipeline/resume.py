"""Resuming failed and lost jobs: an explicit state machine over FireWorks states.

FireWorks keeps each firework in one state. ionflow acts on three situations, each with
a limit, and writes every action to the ``ionflow_resume_log`` collection of the
LaunchPad's database (one document per action: fw_id, action, from/to state, reason,
time), so what happened to a job can always be read back.

=================  ============================================  ====================
situation          test                                          action
=================  ============================================  ====================
lost run           RUNNING, no ping for ``lost_after_s``         ``rerun`` -> READY
                   (walltime kill, ``scancel``, node failure)
stale reservation  RESERVED in the queue for ``unreserved_after_s``  ``unreserve`` -> READY
failed job         FIZZLED, retries < ``max_retries``,           ``retry`` -> READY
                   ``backoff_s * 2**retries`` since it failed
failed for good    FIZZLED on bad input (IonflowInputError)      ``give_up`` (logged
                   or with ``max_retries`` used up               once, stays FIZZLED)
=================  ============================================  ====================

A lost run is re-run from the start of its job; jobs that checkpoint (MD segments)
continue from their last restart file. ``retry`` and ``rerun`` are different actions: a
retry follows a failure the job reported, a rerun follows a job that vanished.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fireworks import LaunchPad

LOG_COLLECTION = "ionflow_resume_log"
NOT_RETRIED_ERRORS = ("IonflowInputError", "ConfigError")


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

    @property
    def n_actions(self) -> int:
        """Number of fireworks put back to READY in this pass."""
        return len(self.rerun) + len(self.unreserved) + len(self.retried)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _log(lpad: LaunchPad, fw_id: int, action: str, from_state: str, reason: str) -> None:
    to_state = "FIZZLED" if action == "give_up" else "READY"
    lpad.db[LOG_COLLECTION].insert_one(
        {
            "fw_id": fw_id,
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "reason": reason,
            "time": _now(),
        }
    )


def action_log(lpad: LaunchPad, fw_id: int | None = None) -> list[dict]:
    """Return logged resume actions (all, or of one firework), oldest first."""
    query = {} if fw_id is None else {"fw_id": fw_id}
    return list(lpad.db[LOG_COLLECTION].find(query, {"_id": 0}).sort("time", 1))


def _failure_reason(lpad: LaunchPad, fw_id: int) -> str:
    fw = lpad.fireworks.find_one({"fw_id": fw_id}, {"launches": 1})
    launch_ids = (fw or {}).get("launches") or []
    if not launch_ids:
        return "no launch recorded"
    launch = lpad.launches.find_one({"launch_id": launch_ids[-1]}, {"action": 1}) or {}
    stored = ((launch.get("action") or {}).get("stored_data") or {}).get("_exception") or {}
    trace = (stored.get("_stacktrace") or "").strip().splitlines()
    return trace[-1][:500] if trace else "no stack trace recorded"


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
        _log(lpad, fw_id, "rerun", "RUNNING", f"no ping for {policy.lost_after_s:.0f} s")
        report.rerun.append(fw_id)

    for launch_id in lpad.detect_unreserved(expiration_secs=policy.unreserved_after_s) or []:
        launch = lpad.launches.find_one({"launch_id": launch_id}, {"fw_id": 1}) or {}
        lpad.cancel_reservation(launch_id)
        if "fw_id" in launch:
            _log(lpad, launch["fw_id"], "unreserve", "RESERVED", "queue reservation expired")
            report.unreserved.append(launch["fw_id"])

    log = lpad.db[LOG_COLLECTION]
    for fw_id in lpad.get_fw_ids({"state": "FIZZLED"}):
        if log.count_documents({"fw_id": fw_id, "action": "give_up"}):
            report.gave_up.append(fw_id)
            continue
        reason = _failure_reason(lpad, fw_id)
        retries = log.count_documents({"fw_id": fw_id, "action": "retry"})
        if any(name in reason for name in NOT_RETRIED_ERRORS):
            _log(lpad, fw_id, "give_up", "FIZZLED", f"bad input, fix and rerun: {reason}")
            report.gave_up.append(fw_id)
        elif retries >= policy.max_retries:
            _log(lpad, fw_id, "give_up", "FIZZLED", f"{retries} retries used: {reason}")
            report.gave_up.append(fw_id)
        elif (_now() - _fizzled_since(lpad, fw_id)).total_seconds() < (
            policy.backoff_s * 2**retries
        ):
            report.waiting_backoff.append(fw_id)
        else:
            lpad.rerun_fw(fw_id)
            _log(lpad, fw_id, "retry", "FIZZLED", f"retry {retries + 1}: {reason}")
            report.retried.append(fw_id)
    return report
