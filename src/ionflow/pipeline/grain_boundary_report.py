"""The grain-boundary study's closing document: D per region against the published values.

D_GB / D_bulk is the GB region's D over the farthest region the model resolves (``Bulk``
in a model thick enough, else ``Far_GB`` or ``Near_GB``, and the document says which), with
its error propagated from both standard errors. The published values (argyrodite paper,
section 3.3: 5.4e-8 cm²/s in the GB core, 1.8e-7 cm²/s in the bulk, 350 K, 10 ns) stand
beside it. The Li count per region over time (accumulation at the GB) is normalised to
its first frame, as the paper's Fig. 5(d).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobflow import Maker, job
from pydantic import BaseModel, Field

from ionflow.analysis.schemas.diffusion import DiffusionDocument, run_label
from ionflow.analysis.schemas.regions import RegionResult
from ionflow.errors import MissingResultsError
from ionflow.io.labelled_set import LabelledSet
from ionflow.pipeline.report import learning_warnings
from ionflow.structures.gb_regions import REGION_NAMES

PUBLISHED_GB = {
    "D_GB_cm2_s": 5.4e-8,
    "D_bulk_cm2_s": 1.8e-7,
    "temperature_K": 350.0,
    "source": "Li6PS5Cl Σ5[100](021), MTP optB88-vdW, 10 ns NPT (argyrodite paper, sec. 3.3)",
}


class GrainBoundaryReportDocument(BaseModel):
    """D per region of the GB model with errors, Li accumulation and the density profile."""

    temperature_K: float
    oracle: str = Field(description="Engine that labelled the training data.")
    level_of_theory: str
    n_atoms: int = Field(description="Atoms of the production GB model.")
    volume_A3: float = Field(description="Volume of the production GB model, Å³.")
    gb_planes_frac: list[float] = Field(default_factory=list)
    region_width_A: float | None = None
    total_time_ps: float | None = Field(None, description="MD analysed, ps (None: it failed).")
    D_cm2_s: float | None = Field(None, description="D of the whole model, cm²/s.")
    D_err_cm2_s: float | None = None
    regions: list[RegionResult] = Field(
        default_factory=list, description="D per region resolved, cm²/s."
    )
    regions_not_resolved: list[str] = Field(
        default_factory=list,
        description="Regions the model is too thin for or no Li visited long enough.",
    )
    reference_region: str | None = Field(
        None, description="Farthest region resolved: the 'bulk' of D_GB/D_bulk."
    )
    D_GB_over_bulk: float | None = None
    D_GB_over_bulk_err: float | None = Field(None, description="Propagated standard error.")
    published: dict[str, Any] = Field(default_factory=lambda: dict(PUBLISHED_GB))
    published_ratio: float = PUBLISHED_GB["D_GB_cm2_s"] / PUBLISHED_GB["D_bulk_cm2_s"]
    count_time_ps: list[float] = Field(default_factory=list)
    counts: dict[str, list[int]] = Field(
        default_factory=dict, description="Li per region at those times."
    )
    relative_counts: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Li per region over its count in the first frame (accumulation).",
    )
    region_distance_A: list[float] = Field(
        default_factory=list, description="Middle of each resolved region, Å."
    )
    profile_distance_A: list[float] = Field(default_factory=list)
    profile_density_A3: list[float] = Field(
        default_factory=list, description="Li atoms/Å³ against distance."
    )
    surface_learning: dict[str, Any]
    gb_learning: dict[str, Any]
    largest_labelled_cell_atoms: int = Field(
        description="Most atoms of any cell labelled in the GB loop (neighbourhood cuts)."
    )
    run_warnings: list[str] = Field(
        default_factory=list,
        description="The GB production MD run's warnings, or that it failed (one line).",
    )
    notes: list[str] = Field(default_factory=list)


def _loop_summary(iterations: list, stop_reason: str, n_training: int) -> dict[str, Any]:
    rows = [i if isinstance(i, dict) else i.model_dump() for i in iterations]
    return {
        "iterations": len(rows),
        "selected_per_iteration": [r["n_selected"] for r in rows],
        "labelled_per_iteration": [r["n_labelled"] for r in rows],
        "max_grade_per_iteration": [r["grade_max"] for r in rows],
        "stop_reason": stop_reason,
        "n_training": n_training,
    }


def accumulation(counts: dict[str, list[int]]) -> dict[str, list[float]]:
    """Counts per region over their first value (regions empty at the start are left out)."""
    return {
        name: [c / values[0] for c in values]
        for name, values in counts.items()
        if values and values[0]
    }


@dataclass
class GrainBoundaryReportMaker(Maker):
    """The GB study's closing job.

    Attributes:
        name: job name.
        temperature_K: production temperature, K (the published values are at 350 K).
        oracle: engine that labelled the training data.
        level_of_theory: its level of theory.
    """

    name: str = "grain boundary report"
    temperature_K: float = 350.0
    oracle: str = "vasp"
    level_of_theory: str = "optB88-vdW"

    @job(output_schema=GrainBoundaryReportDocument)
    def make(
        self,
        diffusion: DiffusionDocument | None,
        model_record: Any,
        surface_iterations: list,
        surface_stop_reason: str,
        surface_n_training: int,
        gb_iterations: list,
        gb_stop_reason: str,
        gb_labelled_set: LabelledSet,
    ) -> GrainBoundaryReportDocument:
        """Compare D per region with the published GB and bulk values.

        The study gives this job ``OnMissing.NONE``: where the production MD or its
        analysis failed (``diffusion`` None), the report holds the model and the loops and
        says so in ``run_warnings``, without numbers.

        Raises:
            MissingResultsError: the active-learning loops or the model failed.
        """
        loops = (surface_iterations, surface_stop_reason, gb_iterations, gb_labelled_set)
        if model_record is None or any(part is None for part in loops):
            raise MissingResultsError(
                "the grain-boundary model or an active-learning loop failed: nothing to report"
            )
        record = model_record if isinstance(model_record, dict) else model_record.model_dump()
        added = gb_labelled_set.images[surface_n_training:]  # the GB loop's own labels
        largest = max((len(a) for a in added), default=0)
        common = {
            "temperature_K": self.temperature_K,
            "oracle": self.oracle,
            "level_of_theory": self.level_of_theory,
            "n_atoms": record["n_atoms"],
            "volume_A3": record["volume"],
            "surface_learning": _loop_summary(
                surface_iterations, surface_stop_reason, surface_n_training
            ),
            "gb_learning": _loop_summary(gb_iterations, gb_stop_reason, len(gb_labelled_set)),
            "largest_labelled_cell_atoms": largest,
        }
        loop_warnings = learning_warnings(
            surface_iterations, surface_stop_reason, "surface active learning"
        ) + learning_warnings(gb_iterations, gb_stop_reason, "grain-boundary active learning")
        run = f"grain boundary MD {run_label(self.temperature_K, 1)}"
        if diffusion is None:
            return GrainBoundaryReportDocument(
                **common,
                regions_not_resolved=list(REGION_NAMES),
                run_warnings=[
                    *loop_warnings,
                    f"WARNING: {run} failed (its MD or analysis job failed, see the failed "
                    "jobs): no D per region",
                ],
            )
        if not isinstance(diffusion, DiffusionDocument):
            diffusion = DiffusionDocument.model_validate(diffusion)
        regions = diffusion.regions
        resolved = {r.region: r for r in regions.regions}
        order = [name for name in REGION_NAMES if name in resolved]
        notes = []
        ratio = ratio_err = None
        reference = order[-1] if len(order) > 1 and order[0] == "GB" else None
        if reference is not None:
            gb, far = resolved["GB"], resolved[reference]
            ratio = gb.D_cm2_s / far.D_cm2_s
            ratio_err = abs(ratio) * math.hypot(
                gb.D_err_cm2_s / gb.D_cm2_s, far.D_err_cm2_s / far.D_cm2_s
            )
            if reference != "Bulk":
                notes.append(
                    f"The model resolves no Bulk region (farthest: {reference}); "
                    f"D_GB/D_bulk here is D_GB/D_{reference}."
                )
        else:
            notes.append(
                "D_GB/D_bulk is undefined: the GB and a farther region are not both resolved."
            )
        if not diffusion.linear_regime_found:
            notes.append(
                f"No linear (diffusive) MSD regime in {diffusion.total_time_ps:.3g} ps: "
                "run longer for reliable region D values."
            )
        if abs(self.temperature_K - PUBLISHED_GB["temperature_K"]) > 1e-6:
            notes.append(f"MD at {self.temperature_K:g} K; the published values are at 350 K.")
        if self.level_of_theory != "optB88-vdW" or self.oracle != "vasp":
            notes.append(
                f"Training data labelled by {self.oracle} at {self.level_of_theory}, not VASP "
                "optB88-vdW as published."
            )
        width = regions.width_A
        return GrainBoundaryReportDocument(
            **common,
            gb_planes_frac=regions.gb_planes_frac,
            region_width_A=width,
            total_time_ps=diffusion.total_time_ps,
            D_cm2_s=diffusion.D_cm2_s,
            D_err_cm2_s=diffusion.D_err_cm2_s,
            regions=[resolved[name] for name in order],
            regions_not_resolved=[name for name in REGION_NAMES if name not in resolved],
            reference_region=reference,
            D_GB_over_bulk=ratio,
            D_GB_over_bulk_err=ratio_err,
            count_time_ps=regions.count_time_ps,
            counts=regions.counts,
            relative_counts=accumulation(regions.counts),
            region_distance_A=[(REGION_NAMES.index(n) + 0.5) * width for n in order],
            profile_distance_A=regions.profile_distance_A,
            profile_density_A3=regions.profile_density_A3,
            run_warnings=loop_warnings
            + (
                [f"{run}: " + "; ".join(dict.fromkeys(diffusion.md_warnings))]
                if diffusion.md_warnings
                else []
            ),
            notes=notes,
        )


GRAIN_BOUNDARY_JOB_PREFIXES = ("grain boundary", "surface ")
"""Names of the GB study's jobs begin so (GrainBoundaryStudyMaker names every Maker)."""


def is_grain_boundary_job(name: str | None) -> bool:
    """True for a job of the GB study (its loops and MD are not the bulk pipeline's)."""
    return (name or "").startswith(GRAIN_BOUNDARY_JOB_PREFIXES)


def grain_boundary_page(output: dict[str, Any] | None, plot_dir: Path) -> dict[str, Any] | None:
    """What report.html shows of a stored GB report (None: the workflow has none)."""
    if not output:
        return None
    from ionflow.analysis.plotting import plot_region_profile

    doc = GrainBoundaryReportDocument.model_validate(output)
    if doc.D_cm2_s is None:  # the production MD failed: nothing to plot
        return {"doc": doc, "png": None}
    path = plot_region_profile(
        doc.region_distance_A,
        doc.regions,
        doc.profile_distance_A,
        doc.profile_density_A3,
        doc.count_time_ps,
        doc.relative_counts,
        plot_dir / "grain_boundary.png",
        {
            "published GB (350 K)": PUBLISHED_GB["D_GB_cm2_s"],
            "published bulk (350 K)": PUBLISHED_GB["D_bulk_cm2_s"],
        },
    )
    return {"doc": doc, "png": base64.b64encode(path.read_bytes()).decode("ascii")}


def grain_boundary_answer(output: dict[str, Any]) -> dict[str, Any]:
    """The numbers ``ionflow results`` gives of a stored GB report (JSON-ready)."""
    return {
        "temperature_K": output["temperature_K"],
        "n_atoms": output["n_atoms"],
        "regions": [
            {key: r[key] for key in ("region", "D_cm2_s", "D_err_cm2_s", "mean_count")}
            for r in output["regions"]
        ],
        "D_GB_over_bulk": output.get("D_GB_over_bulk"),
        "D_GB_over_bulk_err": output.get("D_GB_over_bulk_err"),
        "reference_region": output.get("reference_region"),
        "published_ratio": output.get("published_ratio"),
        "largest_labelled_cell_atoms": output.get("largest_labelled_cell_atoms"),
    }


def grain_boundary_rows(answer: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) rows of the results table (none without a GB report)."""
    if not answer:
        return []
    rows = [
        (
            f"D in {r['region']}",
            f"D = {r['D_cm2_s']:.3g} ± {r['D_err_cm2_s']:.2g} cm²/s "
            f"({r['mean_count']:.0f} Li, {answer['temperature_K']:g} K)",
        )
        for r in answer["regions"]
    ]
    if answer["D_GB_over_bulk"] is not None:
        rows.append(
            (
                "D_GB / D_bulk",
                f"{answer['D_GB_over_bulk']:.3g} ± {answer['D_GB_over_bulk_err']:.2g} "
                f"(bulk: {answer['reference_region']}; published {answer['published_ratio']:.2g})",
            )
        )
    return rows
