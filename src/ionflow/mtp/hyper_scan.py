"""Hyper-parameter scan results: fit documents -> scan points -> recommended point."""

from __future__ import annotations

from collections.abc import Sequence

from ionflow.errors import IonflowInputError
from ionflow.mtp.schemas.fit import MtpFitDocument
from ionflow.mtp.schemas.hyper_scan import HyperScanPoint

#: paper grid (shared SPEC.md): lev_max 8-16, even; R_cut 5 and 6 Å
PAPER_LEVELS = (8, 10, 12, 14, 16)
PAPER_R_CUTS = (5.0, 6.0)
METRICS = {
    "forces": lambda p: p.validation_errors.forces.rmse,
    "energy": lambda p: p.validation_errors.energy_per_atom.rmse,
}


def scan_point(fit: MtpFitDocument | dict, upconverted_from_level: int | None) -> HyperScanPoint:
    """Return the scan point of one fit (it must have a validation split)."""
    fit = MtpFitDocument.model_validate(fit)
    if fit.validation_errors is None:
        raise IonflowInputError("the scan needs a validation split: set validation_fraction > 0")
    return HyperScanPoint(
        level=fit.level,
        r_cut=fit.r_cut,
        upconverted_from_level=upconverted_from_level,
        max_iter=fit.max_iter,
        n_train=fit.n_train,
        n_validation=fit.n_validation,
        validation_errors=fit.validation_errors,
        fit_time_s=fit.fit_time_s,
        cost_us_per_atom_step=fit.evaluation_time_per_atom_step_s * 1e6,
    )


def recommend(
    points: Sequence[HyperScanPoint], metric: str = "forces", tolerance: float = 0.1
) -> tuple[HyperScanPoint, HyperScanPoint]:
    """Return (recommended, best): the cheapest point within ``tolerance`` of the best.

    Args:
        points: the scan.
        metric: ``forces`` (validation force RMSE) or ``energy`` (energy/atom RMSE).
        tolerance: relative; a point qualifies if its error <= (1 + tolerance) * best.
    """
    if metric not in METRICS:
        raise IonflowInputError(f"unknown scan metric {metric!r}; choose forces or energy")
    if not points:
        raise IonflowInputError("the scan has no points: give at least one level and R_cut")
    error = METRICS[metric]
    best = min(points, key=error)
    within = [p for p in points if error(p) <= (1 + tolerance) * error(best)]
    return min(within, key=lambda p: (p.cost_us_per_atom_step, error(p))), best
