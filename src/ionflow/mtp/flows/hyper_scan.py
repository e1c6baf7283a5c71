"""Hyper-parameter scan: fits over (level, R_cut), error vs cost, a recommended point."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Flow, Maker, job

from ionflow.errors import IonflowInputError
from ionflow.io.labelled_set import LabelledSet
from ionflow.mtp.hyper_scan import PAPER_LEVELS, PAPER_R_CUTS, recommend, scan_point
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.plotting import plot_error_vs_cost
from ionflow.mtp.schemas.hyper_scan import MtpHyperScanDocument


@job(output_schema=MtpHyperScanDocument, data=["recommended_mtp"])
def summarise_hyper_scan(
    fits: list,
    upconverted_from: list[int | None],
    species: list[str],
    metric: str = "forces",
    tolerance: float = 0.1,
    plot_name: str = "hyper_scan.png",
) -> MtpHyperScanDocument:
    """Collect the fits into scan points, recommend one, plot error vs cost (cwd)."""
    points = [scan_point(f, up) for f, up in zip(fits, upconverted_from, strict=True)]
    recommended, best = recommend(points, metric, tolerance)
    index = points.index(recommended)
    fit = fits[index]
    mtp = fit["mtp"] if isinstance(fit, dict) else fit.mtp
    plot = plot_error_vs_cost(points, Path.cwd() / plot_name, recommended)
    return MtpHyperScanDocument(
        species=list(species),
        points=points,
        metric=metric,
        tolerance=tolerance,
        recommended=recommended,
        best=best,
        plot_png=str(plot.resolve()),
        recommended_mtp=mtp,
    )


@dataclass
class MtpHyperScanMaker(Maker):
    """Fit MTPs over a grid of (level, R_cut) and report error vs evaluation cost.

    For each R_cut the lowest level is fitted from scratch (``fit_maker.max_iter``);
    each higher level starts from the fitted lower one, upconverted with motep (same
    predictions before refitting), and is refitted for ``refit_max_iter`` iterations.
    All fits use the same fixed-seed train/validation split.

    Attributes:
        name: flow name.
        levels: MTP levels (paper: 8-16, even).
        r_cuts: cutoff radii, Å (paper: 5, 6).
        fit_maker: settings of every fit (weights, radial basis, split, engine, ...).
        refit_max_iter: iterations of the fits started from an upconverted potential.
        metric: ``forces`` or ``energy`` validation RMSE ranks the points.
        tolerance: recommended = cheapest point within (1 + tolerance) x best error.
    """

    name: str = "mtp hyper-parameter scan"
    levels: tuple[int, ...] = PAPER_LEVELS
    r_cuts: tuple[float, ...] = PAPER_R_CUTS
    fit_maker: MtpFitMaker = field(default_factory=MtpFitMaker)
    refit_max_iter: int = 100
    metric: str = "forces"
    tolerance: float = 0.1

    def make(self, labelled_set: LabelledSet) -> Flow:
        """Return the scan as a Flow; its output is an :class:`MtpHyperScanDocument`.

        Args:
            labelled_set: the labelled structures (or a reference to a job's labelled set);
                its species order is the potentials'.
        """
        if not self.levels or not self.r_cuts:
            raise IonflowInputError("the scan needs at least one level and one R_cut")
        if self.fit_maker.validation_fraction <= 0:
            raise IonflowInputError("the scan needs a validation split: validation_fraction > 0")
        jobs, fits, upconverted_from = [], [], []
        for r_cut in self.r_cuts:
            previous = None
            for level in sorted(self.levels):
                maker = dataclasses.replace(
                    self.fit_maker,
                    name=f"mtp fit level {level} R_cut {r_cut:g}",
                    level=level,
                    r_cut=r_cut,
                    max_iter=self.fit_maker.max_iter if previous is None else self.refit_max_iter,
                )
                fit = maker.make(
                    labelled_set, previous_mtp=None if previous is None else previous[1]
                )
                jobs.append(fit)
                fits.append(fit.output)
                upconverted_from.append(None if previous is None else previous[0])
                previous = (level, fit.output.mtp)
        summary = summarise_hyper_scan(
            fits, upconverted_from, labelled_set.species, self.metric, self.tolerance
        )
        jobs.append(summary)
        return Flow(jobs, output=summary.output, name=self.name)
