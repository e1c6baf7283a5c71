"""Fit cache: the same training set fitted with the same settings is never fitted again.

An entry maps a key (sha256 of the training set's ``.cfg`` text and species, every fit
setting, and the ``.mtp`` a refit starts from) to the job whose stored output is that fit
(``job_uuid``, ``job_index``). It lives in the JobStore's docs database, collection
``ionflow_fit_cache``, beside the label cache (:mod:`ionflow.dft.label_cache`), so a rerun
of a workflow, or another workflow on the same database, reuses the fitted potential
instead of refitting: the output is read back from the JobStore (``.mtp`` and ``.cfg`` from
the data store). An entry whose output is gone is a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

FIT_CACHE_COLLECTION = "ionflow_fit_cache"
logger = logging.getLogger(__name__)


def fit_key(cfg_text: str, species: list[str], settings: dict[str, Any]) -> str:
    """Cache key of fitting ``cfg_text`` (type order ``species``) with ``settings``.

    ``settings`` holds every fit setting that changes the result (level, cutoff, basis,
    weights, iterations, split, seed, engine) and the sha256 of a warm start's ``.mtp``.
    """
    payload = {
        "cfg_sha256": hashlib.sha256(cfg_text.encode()).hexdigest(),
        "species": list(species),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class FitCache:
    """Fits keyed by :func:`fit_key`, pointing at the job output that holds each."""

    def __init__(self, collection: Any, store: Any) -> None:
        self.collection, self.store = collection, store

    @classmethod
    def from_job_store(cls, store: Any) -> FitCache | None:
        """The cache next to ``store``'s docs collection, or None for stores without one."""
        try:
            database = store.docs_store._collection.database
        except AttributeError:
            logger.warning("fit cache disabled: the JobStore docs store has no database")
            return None
        return cls(database[FIT_CACHE_COLLECTION], store)

    def get(self, key: str) -> tuple[dict, str] | None:
        """``(stored output, job uuid)`` of the cached fit, or None (a miss)."""
        entry = self.collection.find_one({"key": key})
        if entry is None:
            return None
        try:
            output = self.store.get_output(entry["job_uuid"], which=entry["job_index"], load=True)
        except ValueError:  # the job's output was removed: fit again
            return None
        return output, entry["job_uuid"]

    def put(self, key: str, job_uuid: str, job_index: int) -> None:
        """Record that job ``job_uuid`` (index ``job_index``) stores the fit of ``key``."""
        self.collection.update_one(
            {"key": key},
            {"$set": {"key": key, "job_uuid": job_uuid, "job_index": job_index}},
            upsert=True,
        )
