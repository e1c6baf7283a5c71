"""Output document of an MTP fit."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorStats(BaseModel):
    """Mean absolute and root-mean-square error of one quantity on one split."""

    mae: float = Field(description="Mean absolute error (units of the quantity).")
    rmse: float = Field(description="Root-mean-square error (units of the quantity).")
    n: int = Field(description="Number of values compared.")


class SplitErrors(BaseModel):
    """Errors of a potential on one split (train or validation)."""

    energy_per_atom: ErrorStats = Field(description="Energy per atom, eV/atom.")
    forces: ErrorStats = Field(description="Force components, eV/Å.")
    stress: ErrorStats | None = Field(None, description="Stress components, GPa.")


class ParityData(BaseModel):
    """Reference and predicted values for parity plots (sent to the data store)."""

    energy_per_atom_ref: list[float] = Field(description="eV/atom")
    energy_per_atom_mtp: list[float] = Field(description="eV/atom")
    forces_ref: list[float] = Field(description="eV/Å, flattened components")
    forces_mtp: list[float] = Field(description="eV/Å, flattened components")


class MtpFitDocument(BaseModel):
    """Result of fitting one MTP: settings, errors, timings, versions."""

    level: int
    r_cut: float = Field(description="Cutoff radius (max_dist), Å.")
    min_dist: float = Field(description="Inner radius of the radial basis, Å.")
    closest_pairs_A: dict[str, float] = Field(
        default_factory=dict,
        description='Closest distance (Å) of each element pair ("Li-P") in the training '
        "split; r_cut for a pair never inside the cutoff. The MD core-repulsion wall's "
        "reference: below it the MTP extrapolates.",
    )
    radial_basis_size: int
    species: list[str] = Field(description="Element symbols in type order.")
    weights: tuple[float, float, float] = Field(description="energy : force : stress")
    max_iter: int
    seed: int
    warm_start: bool = Field(description="Started from a previous potential.")
    n_train: int
    n_validation: int
    train_errors: SplitErrors
    validation_errors: SplitErrors | None = None
    fit_time_s: float = Field(description="Wall time of the fit, s.")
    optimizer_iterations: int | None = Field(
        None, description="Quasi-Newton iterations run (motep engine)."
    )
    stopped_by: str | None = Field(
        None, description="Why the optimiser stopped: loss plateau, max_iter, gradient (motep)."
    )
    fit_processes: int | None = Field(
        None, description="Processes (or MPI ranks) that shared the fit's loss (motep)."
    )
    evaluation_time_per_atom_step_s: float = Field(
        description="Wall time of one energy+forces evaluation per atom, s (cost)."
    )
    engine: str
    oracle: str | None = Field(None, description="Oracle that labelled the training set.")
    level_of_theory: str | None = Field(None, description="Level of theory of the labels.")
    versions: dict[str, str]
    mtp: str | None = Field(None, description="The fitted .mtp (MLIP-2 layout); data store.")
    training_cfg: str | None = Field(None, description="The training .cfg; data store.")
    validation_cfg: str | None = Field(None, description="The validation .cfg; data store.")
    parity_validation: ParityData | None = Field(None, description="Data store.")
    reused_from_job: str | None = Field(
        None, description="uuid of the job whose stored fit this is (fit cache), None if fitted."
    )
