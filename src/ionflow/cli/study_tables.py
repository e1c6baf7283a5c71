"""The study tables ``ionflow run`` prints after the report: GB regions and LLZO D(V).

A workflow with a ``grain_boundary:`` or ``volumes:`` section stores its study's own
document beside the bulk report (``GrainBoundaryReportDocument``, ``VolumeStudyDocument``);
this module reads the newest one of the workflow just run (its jobs by the flow's uuid
among their ``hosts``, through :func:`ionflow.pipeline.results.stored_outputs`) and prints
it as a table. The LSTH site comparison is the run's closing document and is printed by
:mod:`ionflow.cli.site_report`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def grain_boundary_table(output: dict) -> Table:
    """D per region with its error and mean Li count, then D_GB/D_bulk against the paper."""
    from ionflow.pipeline.grain_boundary_report import GrainBoundaryReportDocument

    doc = GrainBoundaryReportDocument.model_validate(output)
    table = Table(
        title=f"grain boundary at {doc.temperature_K:g} K: D per region",
        caption=f"{doc.n_atoms} atoms, "
        + ("MD failed" if doc.total_time_ps is None else f"{doc.total_time_ps:g} ps of MD")
        + f", labels: {doc.oracle}",
    )
    for column in ("region", "D (cm²/s)", "± (cm²/s)", "mean Li", "Li at end / start"):
        table.add_column(column)
    for region in doc.regions:
        relative = doc.relative_counts.get(region.region) or [float("nan")]
        table.add_row(
            region.region,
            f"{region.D_cm2_s:.3g}",
            f"{region.D_err_cm2_s:.2g}",
            f"{region.mean_count:.1f}",
            f"{relative[-1]:.2f}",
        )
    for name in doc.regions_not_resolved:
        table.add_row(name, "not resolved", "", "", "")
    if doc.D_GB_over_bulk is not None:
        table.add_row(
            f"D_GB / D_{doc.reference_region}",
            f"{doc.D_GB_over_bulk:.3g}",
            f"{doc.D_GB_over_bulk_err:.2g}",
            "",
            f"published {doc.published_ratio:.2g} "
            f"({doc.published['D_GB_cm2_s']:.2g} / {doc.published['D_bulk_cm2_s']:.2g} cm²/s)",
        )
    return table


def volume_study_table(output: dict) -> Table:
    """One row per (cell, MD potential): D at the report temperature and E_a."""
    from ionflow.pipeline.llzo_volumes import VolumeStudyDocument

    doc = VolumeStudyDocument.model_validate(output)
    table = Table(title=f"D({doc.temperature_K:g} K) and E_a against volume")
    for column in (
        "cell",
        "formula",
        "V / V_exp",
        "made by",
        "MD with",
        "D run (cm²/s)",
        "D fit [95 %] (cm²/s)",
        "E_a (eV)",
    ):
        table.add_column(column)
    for run in doc.runs:
        low, high = run.D_fit_ci_cm2_s
        measured = (
            "-"
            if run.D_run_cm2_s is None
            else f"{run.D_run_cm2_s:.3g} ± {run.D_run_err_cm2_s or 0:.2g}"
            + (" (not diffusive)" if run.linear_regime_found is False else "")
        )
        table.add_row(
            run.cell,
            run.formula,
            f"{run.volume_fraction:.2f}",
            run.structure_potential or "scaled crystal",
            run.md_potential,
            measured,
            f"{run.D_fit_cm2_s:.3g} [{low:.2g}, {high:.2g}]",
            f"{run.Ea_eV:.3f} ± {run.Ea_err_eV:.3f}",
        )
    return table


def print_study_tables(store: Any, flow_uuid: str) -> None:
    """Print the GB region table and the LLZO D(V) table of the flow, those it has."""
    from ionflow.pipeline.results import OutputProjection, stored_outputs

    tables = {
        "GrainBoundaryReportDocument": grain_boundary_table,
        "VolumeStudyDocument": volume_study_table,
    }
    stored = stored_outputs(
        store, {"hosts": flow_uuid}, {cls: OutputProjection() for cls in tables}
    )
    for cls, table in tables.items():
        outputs = stored.outputs(cls)
        if outputs:
            console.print(table(outputs[-1]))
            for line in outputs[-1].get("run_warnings", []):
                console.print(f"warning: {line}", soft_wrap=True, highlight=False)
            for note in outputs[-1].get("notes", []):
                console.print(f"note: {note}", soft_wrap=True, highlight=False)
