"""Riding out a database outage: retry an operation while the server is unreachable.

A worker whose database server goes away (killed, restarted, a network blip) would
otherwise FIZZLE the job it is running: pymongo raises ``AutoReconnect`` on the first
operation over the broken connection, and a standalone server (the embedded one, most
MongoDB installs) has no retryable writes. Workers (``ionflow launch``, the SLURM rocket)
therefore use an outage-tolerant LaunchPad and JobStore: every database operation that
fails because the server cannot be reached is tried again with exponential back-off for
at most ``wait_s`` seconds (setting ``db_outage_wait_s``), then the error is raised as
before (the job FIZZLEs and ``ionflow watch`` retries it; its folder makes a rerun
cheap).

What is retried is one operation, not a whole job: FireWorks' and the JobStore's writes
set fields or upsert by key, so a write the server applied but whose answer was lost is
applied again with the same effect. Two kinds of write are not idempotent and are
documented here rather than hidden: ``$inc`` of FireWorks' id counters (a lost answer
skips an id) and the checkout of a READY job (a lost answer leaves it RUNNING without a
worker; ``ionflow watch`` reruns it as a lost run). Errors that are not about reaching
the server (duplicate keys, bad queries) are never retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from jobflow import JobStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

COLLECTION_OPERATIONS = frozenset(
    {
        "aggregate", "bulk_write", "count_documents", "create_index", "delete_many",
        "delete_one", "distinct", "estimated_document_count", "find_one",
        "find_one_and_delete", "find_one_and_replace", "find_one_and_update", "insert_many",
        "insert_one", "replace_one", "update_many", "update_one",
    }
)  # fmt: skip
"""pymongo ``Collection`` methods retried as one operation (``find`` is handled apart)."""
CURSOR_CHAIN = frozenset({"sort", "limit", "skip", "batch_size", "hint", "max_time_ms"})


@dataclass(frozen=True)
class OutagePolicy:
    """How long and how often to try an operation while the server is unreachable.

    Attributes:
        wait_s: give up (raise the last error) after this many seconds of outage.
        first_delay_s: first pause between attempts; doubled each time.
        max_delay_s: longest pause between attempts.
    """

    wait_s: float = 600.0
    first_delay_s: float = 0.5
    max_delay_s: float = 15.0

    def call(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``operation(*args, **kwargs)``, trying again while the server is unreachable."""
        from pymongo.errors import ConnectionFailure

        t0 = time.monotonic()
        delay = self.first_delay_s
        attempt = 0
        while True:
            try:
                return operation(*args, **kwargs)
            except ConnectionFailure as exc:
                attempt += 1
                waited = time.monotonic() - t0
                if waited + delay > self.wait_s:
                    name = type(exc).__name__
                    logger.error("database unreachable for %.0f s (%s); giving up", waited, name)
                    raise
                if attempt == 1:
                    logger.warning(
                        "database unreachable (%s); trying again for up to %.0f s",
                        type(exc).__name__,
                        self.wait_s,
                    )
                time.sleep(delay)
                delay = min(2 * delay, self.max_delay_s)


class RetryingCursor:
    """A ``find`` cursor whose results are read in one retried operation when iterated."""

    def __init__(self, cursor: Any, policy: OutagePolicy) -> None:
        self._cursor = cursor
        self._policy = policy

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._cursor, name)
        if name in CURSOR_CHAIN:
            return lambda *args, **kwargs: RetryingCursor(attr(*args, **kwargs), self._policy)
        return attr

    def __iter__(self):
        return iter(self._policy.call(lambda: list(self._cursor.clone())))

    def __getitem__(self, index: int) -> Any:
        return self._policy.call(lambda: self._cursor.clone()[index])


class RetryingCollection:
    """A pymongo ``Collection`` whose operations ride out an outage (:class:`OutagePolicy`)."""

    def __init__(self, collection: Any, policy: OutagePolicy) -> None:
        self._collection = collection
        self._policy = policy

    @property
    def wrapped(self) -> Any:
        """The pymongo collection itself."""
        return self._collection

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if name in COLLECTION_OPERATIONS:
            return lambda *args, **kwargs: self._policy.call(attr, *args, **kwargs)
        if name == "find":
            return lambda *args, **kwargs: RetryingCursor(attr(*args, **kwargs), self._policy)
        return attr

    def __getitem__(self, name: str) -> Any:
        return self._collection[name]


LAUNCHPAD_COLLECTIONS = ("fireworks", "launches", "offline_runs", "fw_id_assigner", "workflows")


def outage_tolerant_launchpad(lpad: Any, policy: OutagePolicy) -> Any:
    """Make the FireWorks collections of ``lpad`` ride out an outage (in place; returns it)."""
    for name in LAUNCHPAD_COLLECTIONS:
        collection = getattr(lpad, name)
        if not isinstance(collection, RetryingCollection):
            setattr(lpad, name, RetryingCollection(collection, policy))
    return lpad


class OutageTolerantJobStore(JobStore):
    """jobflow's JobStore whose ``connect``, reads and ``update`` ride out an outage.

    A job's inputs are read with ``get_output``/``query_one`` and its outputs written with
    one ``update`` (upserts keyed by uuid and index, GridFS files replaced by key): each is
    retried as a whole. The policy is an attribute, not an argument, so the store
    serialises as jobflow's own.
    """

    policy: OutagePolicy = OutagePolicy()

    def connect(self, force_reset: bool = False) -> None:
        """Connect the stores (retried)."""
        self.policy.call(super().connect, force_reset=force_reset)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Insert or update documents (retried as a whole)."""
        self.policy.call(super().update, *args, **kwargs)

    def query_one(self, *args: Any, **kwargs: Any) -> Any:
        """One document (retried)."""
        return self.policy.call(super().query_one, *args, **kwargs)

    def get_output(self, *args: Any, **kwargs: Any) -> Any:
        """A job's output (retried)."""
        return self.policy.call(super().get_output, *args, **kwargs)


def outage_tolerant_jobstore(store: JobStore, policy: OutagePolicy) -> OutageTolerantJobStore:
    """Return ``store`` as an :class:`OutageTolerantJobStore` with ``policy``."""
    tolerant = OutageTolerantJobStore(
        store.docs_store, store.additional_stores, save=store.save, load=store.load
    )
    tolerant.policy = policy
    return tolerant
