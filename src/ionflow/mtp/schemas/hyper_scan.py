"""Output document of the MTP hyper-parameter scan (level x R_cut)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ionflow.mtp.schemas.fit import SplitErrors


class HyperScanPoint(BaseModel):
    """One fitted (level, R_cut) point: validation errors and cost."""

    level: int
    r_cut: float = Field(description="Cutoff radius, Å.")
    upconverted_from_level: int | None = Field(
        None, description="Level of the fitted potential this fit started from (None: fresh)."
    )
    max_iter: int = Field(description="Optimiser iterations of this fit.")
    n_train: int
    n_validation: int
    validation_errors: SplitErrors = Field(description="eV/atom, eV/Å, GPa.")
    fit_time_s: float = Field(description="Wall time of this fit alone, s.")
    cost_us_per_atom_step: float = Field(
        description="Measured wall time of one energy+forces evaluation per atom, µs."
    )


class MtpHyperScanDocument(BaseModel):
    """Error vs cost over a grid of (level, R_cut), and the recommended point."""

    species: list[str]
    points: list[HyperScanPoint]
    metric: str = Field(description="Error used to rank the points.")
    tolerance: float = Field(description="Relative error tolerance of the recommendation.")
    recommended: HyperScanPoint = Field(
        description="Cheapest point whose error is within tolerance of the best."
    )
    best: HyperScanPoint = Field(description="Point with the lowest error.")
    plot_png: str | None = Field(None, description="Error-vs-cost plot, absolute path.")
    recommended_mtp: str | None = Field(None, description="Its .mtp text; data store.")
