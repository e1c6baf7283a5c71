"""Documents of the active-learning loop."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ionflow.io.labelled_set import LabelledSet
from ionflow.mtp.schemas.fit import SplitErrors


class ActiveLearningIteration(BaseModel):
    """What one explore -> select -> label -> refit iteration did."""

    iteration: int
    n_graded: int = Field(description="Snapshots graded during exploration.")
    grade_max: float
    grade_percentiles: dict[str, float] = Field(description="p50, p90, p99 of the grades.")
    runs_stopped: int = Field(description="MD runs stopped above gamma_break.")
    runs_unphysical: int = Field(
        0, description="MD runs stopped at a configuration beyond the trust levels."
    )
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
    explore_time_s: float
    select_time_s: float


class ActiveLearningDocument(BaseModel):
    """Final result of the loop."""

    iterations: list[ActiveLearningIteration]
    stop_reason: str
    n_training: int
    species: list[str]
    mtp: str = Field(description="Final .mtp (data store).")
    labelled_set: LabelledSet = Field(description="Final training set (.cfg in the data store).")
    n_heldout: int = Field(0, description="Configurations of the fixed held-out set.")
    heldout_errors: SplitErrors | None = Field(
        None, description="Of the final MTP on the fixed held-out set (never trained on)."
    )
