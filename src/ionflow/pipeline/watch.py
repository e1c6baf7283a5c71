"""``ionflow watch``: the resume state machine in a loop, one watcher per LaunchPad.

Each pass is :func:`ionflow.pipeline.resume.resume_pass` (``ionflow resume`` is one pass):
a RUNNING job whose SLURM job is gone is rerun in the next pass, so within one
``interval_s`` of ``squeue`` losing it (walltime: continuing from checkpoints; out of
memory: with more memory; both bounded), lost, stale and failed jobs are handled by class,
and every action is logged in ``ionflow_resume_log``.

One watcher per LaunchPad, enforced by the database, so two watchers never rerun the same
job twice: the document ``{"_id": "watcher"}`` of the ``ionflow_watch_lock`` collection
names its owner (host, pid, a random token) and holds a heartbeat (Unix time, s) written
every pass and while sleeping. A second watcher finds a fresh heartbeat and refuses (one
line, exit 2); a successor takes the lock over when the heartbeat is older than ``STALE_INTERVALS``
intervals of its holder (compare-and-swap on owner and heartbeat, so two successors cannot
both win). A watcher whose lock was taken over stops at its next heartbeat.

Safe to leave running under ``nohup``, cron or as a SLURM job: SIGTERM and SIGINT (the
end of a SLURM allocation, ``kill``) end the loop after the current step and release the
lock; SIGHUP is ignored; one line per pass is written and flushed; a database that is
unreachable for a while is reported and retried at the next pass, not fatal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ionflow.errors import IonflowInputError
from ionflow.pipeline.resume import ResumePolicy, ResumeReport, now_utc, resume_pass

if TYPE_CHECKING:
    from fireworks import LaunchPad

LOCK_COLLECTION = "ionflow_watch_lock"
LOCK_ID = "watcher"
STALE_INTERVALS = 3
"""A heartbeat older than this many of its holder's intervals (and 30 s) is a dead watcher."""
MIN_STALE_S = 30.0
HEARTBEAT_S = 10.0
"""Longest sleep between two heartbeats while waiting for the next pass."""


class LockLostError(RuntimeError):
    """Another watcher took the lock over (this one's heartbeat was too old)."""


@dataclass(frozen=True)
class WatchLock:
    """The lock of one watcher on one LaunchPad."""

    lpad: LaunchPad
    owner: str
    interval_s: float

    @property
    def collection(self):
        """The lock collection."""
        return self.lpad.db[LOCK_COLLECTION]

    def beat(self) -> None:
        """Write the heartbeat.

        Raises:
            LockLostError: the lock is no longer ours.
        """
        result = self.collection.update_one(
            {"_id": LOCK_ID, "owner": self.owner}, {"$set": {"heartbeat": time.time()}}
        )
        if result.matched_count != 1:
            raise LockLostError(f"another ionflow watch took the lock over from {self.owner}")

    def release(self) -> None:
        """Give the lock up (only if still ours)."""
        self.collection.delete_one({"_id": LOCK_ID, "owner": self.owner})


def stale_after_s(interval_s: float) -> float:
    """Age of a heartbeat after which its watcher counts as dead."""
    return max(STALE_INTERVALS * interval_s, MIN_STALE_S)


def acquire_lock(lpad: LaunchPad, interval_s: float, owner: str | None = None) -> WatchLock:
    """Take the LaunchPad's watcher lock, or take it over from a dead watcher.

    Raises:
        IonflowInputError: a live watcher holds it (one line naming it).
    """
    from pymongo.errors import DuplicateKeyError

    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    collection = lpad.db[LOCK_COLLECTION]
    now = time.time()
    document = {
        "_id": LOCK_ID,
        "owner": owner,
        "heartbeat": now,
        "started": now_utc().isoformat(),
        "interval_s": interval_s,
    }
    try:
        collection.insert_one(document)
        return WatchLock(lpad, owner, interval_s)
    except DuplicateKeyError:
        pass
    held = collection.find_one({"_id": LOCK_ID}) or {}
    age_s = now - float(held.get("heartbeat", now))
    if held and age_s > stale_after_s(float(held.get("interval_s") or interval_s)):
        taken = collection.update_one(
            {"_id": LOCK_ID, "owner": held["owner"], "heartbeat": held["heartbeat"]},
            {"$set": {**document, "took_over_from": held["owner"]}},
        )
        if taken.matched_count == 1:
            return WatchLock(lpad, owner, interval_s)
        held = collection.find_one({"_id": LOCK_ID}) or held
        age_s = time.time() - float(held.get("heartbeat", now))
    raise IonflowInputError(
        f"another ionflow watch ({held.get('owner', 'unknown')}) watches this LaunchPad, "
        f"heartbeat {age_s:.0f} s ago; it is taken over once its heartbeat is "
        f"{stale_after_s(float(held.get('interval_s') or interval_s)):.0f} s old"
    )


def pass_line(report: ResumeReport) -> str:
    """One line summing up a pass (counts per action)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"{stamp} rerun {len(report.rerun)}  unreserved {len(report.unreserved)}  "
        f"retried {len(report.retried)}  waiting {len(report.waiting_backoff)}  "
        f"given up {len(report.gave_up)}  locked {len(report.locked)}"
    )


def watch(
    lpad: LaunchPad,
    interval_s: float,
    policy: ResumePolicy | None = None,
    max_passes: int | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Run resume passes every ``interval_s`` seconds until stopped; return passes run.

    Args:
        lpad: the LaunchPad.
        interval_s: seconds from the start of one pass to the start of the next.
        policy: limits of the state machine.
        max_passes: stop after this many passes (None: until SIGTERM/SIGINT).
        echo: where each pass's lines go.

    Raises:
        IonflowInputError: another watcher holds the LaunchPad.
    """
    from pymongo.errors import PyMongoError

    lock = acquire_lock(lpad, interval_s)
    stop: list[int] = []

    def request_stop(signum, _frame) -> None:
        stop.append(signum)

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in handlers:
        signal.signal(sig, request_stop)
    hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    passes = 0
    if max_passes != 1:  # one pass is `ionflow resume`
        echo(f"watching (every {interval_s:g} s) as {lock.owner}")
    try:
        while not stop and (max_passes is None or passes < max_passes):
            started = time.monotonic()
            try:
                lock.beat()
                report = resume_pass(lpad, policy)
                echo(pass_line(report))
                for label in report.broken_locks:
                    echo(f"  broke the stale lock of {label}")
                for fw_id, reason in report.reasons.items():
                    echo(f"  firework {fw_id}: {reason}")
            except PyMongoError as exc:  # the database is down for a while: next pass
                name = exc.__class__.__name__
                echo(f"database unreachable ({name}); next pass in {interval_s:g} s")
            passes += 1
            if max_passes is not None and passes >= max_passes:
                break
            while not stop and (left := interval_s - (time.monotonic() - started)) > 0:
                time.sleep(min(left, HEARTBEAT_S))
                with contextlib.suppress(PyMongoError):
                    lock.beat()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        signal.signal(signal.SIGHUP, hup)
        with contextlib.suppress(PyMongoError):  # the database is gone: the lock goes stale
            lock.release()
    if stop:
        echo(f"stopped by signal {stop[0]} after {passes} passes")
    return passes
