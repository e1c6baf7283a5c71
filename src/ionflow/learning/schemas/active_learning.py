"""Documents of the active-learning loop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from ionflow.io.labelled_set import LabelledSet
from ionflow.mtp.schemas.fit import SplitErrors

EXPLORATION_DATA_FIELDS = ["all_grades", "candidates_cfg", "contacts_cfg"]
"""Fields of :class:`ExplorationDocument` kept in the JobStore ``data`` store."""


def grade_statistics(grades: Sequence[float]) -> tuple[float, dict[str, float]]:
    """Return (highest grade, its p50, p90 and p99) of exploration grades (0 when none)."""
    values = np.asarray(grades if len(grades) else [0.0], dtype=float)
    return float(values.max()), {f"p{q}": float(np.percentile(values, q)) for q in (50, 90, 99)}


class ExplorationDocument(BaseModel):
    """What one exploration job found.

    MD with the current MTP from one cell, one run at every exploration temperature,
    stopped by the engine's extrapolation control.
    """

    structure_index: int = Field(description="Index of the explored cell.")
    run: int = Field(description="Run of this cell, 0 .. runs_per_temperature - 1.")
    seed: int = Field(description="Velocity seed the explorer was given (its first MD run).")
    temperatures_K: list[float]
    explorer: str = Field(description="Exploration engine (class name).")
    n_runs: int = Field(description="MD runs: one per temperature.")
    n_graded: int = Field(description="Snapshots graded.")
    grade_max: float
    grade_percentiles: dict[str, float] = Field(description="p50, p90, p99 of the grades.")
    all_grades: list[float] = Field(description="Grade of every graded snapshot (data store).")
    n_candidates: int = Field(description="Snapshots graded above gamma_select.")
    candidate_grades: list[float]
    candidates_cfg: str = Field(
        description="The candidates, unlabelled MLIP .cfg text in the training set's species "
        "order (data store)."
    )
    runs_stopped: int = Field(description="MD runs stopped above gamma_break.")
    runs_unphysical: int = Field(description="MD runs stopped beyond the trust levels.")
    runs_contact: int = Field(
        0, description="MD runs stopped at an element pair closer than its per-pair trust level."
    )
    contacts_cfg: str = Field(
        "",
        description="The configurations that stopped those runs, unlabelled .cfg text (data "
        "store); labelled without MaxVol selection.",
    )
    explore_time_s: float


class ActiveLearningIteration(BaseModel):
    """What one explore -> select -> label -> refit iteration did."""

    iteration: int
    n_graded: int = Field(description="Snapshots graded during exploration.")
    grade_max: float
    grade_percentiles: dict[str, float] = Field(description="p50, p90, p99 of the grades.")
    n_runs: int | None = Field(
        None, description="Exploration MD runs (cells x temperatures x runs per temperature)."
    )
    runs_stopped: int = Field(description="MD runs stopped above gamma_break.")
    runs_unphysical: int = Field(
        0, description="MD runs stopped at a configuration beyond the trust levels."
    )
    runs_contact: int = Field(
        0, description="MD runs stopped at an element pair closer than its per-pair trust level."
    )
    n_contacts: int = Field(0, description="Of the selected, contacts chosen without MaxVol.")
    n_candidates: int = Field(description="Snapshots above gamma_select.")
    n_already_labelled: int = Field(description="Candidates dropped: labelled before.")
    n_duplicates: int = Field(description="Candidates dropped as near-duplicates.")
    n_selected: int
    n_labelled: int = 0
    n_failed: int = 0
    validation_errors: SplitErrors | None = Field(
        None, description="Of the refitted MTP on its own validation split (moves as data grow)."
    )
    heldout_errors: SplitErrors | None = Field(
        None, description="Of the MTP this iteration explored with, on the fixed held-out set."
    )
    refit_iterations: int | None = Field(None, description="Optimiser iterations of the refit.")
    refit_stopped_by: str | None = Field(None, description="Why the refit's optimiser stopped.")
    explore_time_s: float = Field(description="Exploration MD time, summed over its jobs.")
    select_time_s: float


class ActiveLearningDocument(BaseModel):
    """Final result of the loop."""

    iterations: list[ActiveLearningIteration]
    stop_reason: str
    n_training: int
    species: list[str]
    mtp: str = Field(description="Final .mtp (data store).")
    labelled_set: LabelledSet = Field(description="Final training set (.cfg in the data store).")
    closest_pairs_A: dict[str, float] = Field(
        default_factory=dict,
        description="Closest distance (Å) of each element pair in the final training set "
        "(as MtpFitDocument.closest_pairs_A): the MD core-repulsion wall's reference.",
    )
    n_heldout: int = Field(0, description="Configurations of the fixed held-out set.")
    heldout_errors: SplitErrors | None = Field(
        None, description="Of the final MTP on the fixed held-out set (never trained on)."
    )
