"""READY jobs grouped by the worker that may run them and the queue resources they ask for.

Each firework carries its stage group's ``_category``, ``_fworker`` and ``_queueadapter``
(:mod:`ionflow.pipeline.resources`). FireWorks gives a job with a category only to a
worker of that category, and a job naming a worker only to that worker; one allocation
that runs several jobs (``rlaunch rapidfire``) is submitted with one set of queue
resources. So ``ionflow launch`` runs one worker per :class:`WorkerGroup` of READY jobs:
the user's worker (``my_fworker.yaml``: its query, env and, when it has one, the
categories it is limited to) with the group's category and worker name, and a query that
selects exactly the group's jobs (same category, same worker name, same value or absence
of every queue-adapter key). A ``_category`` or ``_fworker`` written as null (jobflow
writes None for unset fields) counts as absent: the group query matches both, and the
worker of the no-category group has no FireWorks category (``__none__`` would ask for the
key to be absent and skip the null one).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fireworks import FWorker, LaunchPad

QUEUE_KEYS = ("nodes", "ntasks", "walltime", "queue", "account", "qos", "mem", "pre_rocket")
"""Queue-adapter keys a stage sets (``resources.manager_config``; ``ionflow watch`` mem)."""
NO_CATEGORY = "__none__"
"""FireWorks' worker category that selects jobs without a category key."""
ANY_CATEGORY = ""
"""FireWorks' worker category that selects on no category: the group query does (the
worker category ``__none__`` asks for the key to be absent, which skips a null one)."""


@dataclass(frozen=True)
class WorkerGroup:
    """Jobs one worker runs with one set of queue resources.

    Attributes:
        category: FireWorks category of the jobs (None: none).
        fworker: worker name the jobs ask for (None: any).
        queueadapter: the jobs' ``_queueadapter`` as sorted (key, value) pairs.
    """

    category: str | None = None
    fworker: str | None = None
    queueadapter: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of_spec(cls, spec: dict) -> WorkerGroup:
        """The group of a firework from its spec."""
        queueadapter = spec.get("_queueadapter") or {}
        return cls(
            category=spec.get("_category") or None,
            fworker=spec.get("_fworker") or None,
            queueadapter=tuple(sorted(queueadapter.items())),
        )

    @property
    def label(self) -> str:
        """Short name for messages: category, worker and the queue resources that differ."""
        shown = {key: value for key, value in self.queueadapter if key != "pre_rocket"}
        parts = [f"category {self.category or '-'}"]
        if self.fworker:
            parts.append(f"worker {self.fworker}")
        parts += [f"{key}={value}" for key, value in shown.items()]
        return " ".join(parts)

    @property
    def key(self) -> str:
        """A short stable digest of the group (file names)."""
        text = json.dumps([self.category, self.fworker, self.queueadapter], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def query(self) -> dict:
        """MongoDB query on fireworks that selects exactly this group's jobs.

        No category or worker name matches the key absent or null (``None`` matches
        both), as :meth:`of_spec` reads them.
        """
        absent = {"$exists": False}
        values = dict(self.queueadapter)
        query: dict[str, Any] = {
            "spec._category": self.category or None,
            "spec._fworker": self.fworker or None,
        }
        for key in sorted({*QUEUE_KEYS, *values}):
            query[f"spec._queueadapter.{key}"] = values.get(key, absent)
        return query

    def worker(self, base: FWorker) -> FWorker:
        """``base`` (the user's worker) as the worker of this group's jobs."""
        from fireworks import FWorker

        query = {"$and": [base._query, self.query()]} if base._query else self.query()
        return FWorker(
            name=self.fworker or base.name,
            category=self.category or ANY_CATEGORY,
            query=query,
            env=base.env,
        )

    def write_worker(self, base: FWorker, directory: Path) -> Path:
        """Write this group's worker to ``directory/worker-<key>.yaml`` (for ``rlaunch -w``)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"worker-{self.key}.yaml"
        self.worker(base).to_file(str(path))
        return path


def worker_categories(base: FWorker) -> set[str] | None:
    """Categories the user's worker is limited to (None: any)."""
    category = base.category
    if not category:
        return None
    return {category} if isinstance(category, str) else set(category)


def ready_groups(lpad: LaunchPad, base: FWorker) -> tuple[Counter, Counter]:
    """READY jobs per group: ``(groups base may run, groups left to other workers)``."""
    allowed = worker_categories(base)
    fields = {"spec._category": 1, "spec._fworker": 1, "spec._queueadapter": 1, "_id": 0}
    runnable: Counter = Counter()
    others: Counter = Counter()
    for doc in lpad.fireworks.find({"state": "READY", **(base._query or {})}, fields):
        group = WorkerGroup.of_spec(doc.get("spec") or {})
        mine = allowed is None or (group.category or NO_CATEGORY) in allowed
        (runnable if mine else others)[group] += 1
    return runnable, others


def left_to_others(others: Counter) -> str:
    """What READY jobs this launcher leaves to workers of other categories ('' if none)."""
    if not others:
        return ""
    per_category = Counter()
    for group, n in others.items():
        per_category[group.category or NO_CATEGORY] += n
    shown = ", ".join(f"{n} of category {c}" for c, n in sorted(per_category.items()))
    return f"; READY for workers of other categories: {shown}"
