"""Label cache: a structure labelled once by an oracle at a level is never labelled again.

Labels are stored in the JobStore's docs database, collection ``ionflow_label_cache``
(jobflow's MemoryStore works too), keyed by a hash of the oracle, level of theory,
numerical settings, species, cell and wrapped Cartesian positions rounded to
``tolerance`` (Å). So reruns and other workflows sharing the database reuse labels. Two
structures closer than the tolerance but on different sides of a rounding boundary get
different keys: that costs one extra label, never a wrong one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np
from pymatgen.core import Structure

from ionflow.dft.schemas.labels import SinglePointLabel
from ionflow.dft.sets.oracle import OracleSettings

CACHE_COLLECTION = "ionflow_label_cache"
logger = logging.getLogger(__name__)


def label_key(
    structure: Structure,
    oracle: str,
    level_of_theory: str,
    settings: OracleSettings,
    tolerance: float = 1.0e-3,
) -> str:
    """Return the cache key of ``structure`` labelled by ``oracle`` at ``level_of_theory``.

    Args:
        structure: the structure (Å).
        oracle: engine name.
        level_of_theory: level name.
        settings: numerical settings that change the label (cutoff, k-mesh, quality).
        tolerance: position and cell rounding, Å.
    """
    cart = (structure.frac_coords % 1.0) @ structure.lattice.matrix
    payload = {
        "oracle": oracle,
        "level": level_of_theory,
        "numerics": [
            settings.encut,
            list(settings.kpoint_mesh),
            settings.cp2k_quality,
            settings.chgnet_model,
        ],
        "species": [site.specie.symbol for site in structure],
        "cell": np.rint(structure.lattice.matrix / tolerance).astype(int).tolist(),
        "positions": np.rint(cart / tolerance).astype(int).tolist(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class LabelCache:
    """Labels keyed by :func:`label_key`, stored in a MongoDB(-like) collection."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    @classmethod
    def from_job_store(cls, store: Any) -> LabelCache | None:
        """Return the cache living next to ``store``'s docs collection, or None.

        Works for maggma ``MongoStore``/``MemoryStore`` docs stores (same database, own
        collection); returns None (no caching) for stores without a database.
        """
        try:
            database = store.docs_store._collection.database
        except AttributeError:
            logger.warning("label cache disabled: the JobStore docs store has no database")
            return None
        return cls(database[CACHE_COLLECTION])

    def get(self, key: str) -> SinglePointLabel | None:
        """Return the cached label for ``key`` or None."""
        doc = self.collection.find_one({"key": key})
        return None if doc is None else SinglePointLabel(**doc["label"])

    def put(self, key: str, label: SinglePointLabel) -> None:
        """Store a converged label under ``key`` (SCF failures are never cached)."""
        if not label.converged:
            return
        self.collection.replace_one(
            {"key": key}, {"key": key, "label": label.model_dump()}, upsert=True
        )
