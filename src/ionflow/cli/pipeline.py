"""`ionflow run|resume`: whole workflows from a spec file (submit, status: workflows.py)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ionflow.errors import IonflowInputError

console = Console()

SpecArgument = typer.Argument(..., help="Workflow spec YAML (see workflows/).")


def _connected_store():
    """Return a connected JobStore, or say how to start the database."""
    from ionflow.db.stores import check_database, get_jobstore

    check_database()
    store = get_jobstore()
    store.connect()
    return store


def _connected_launchpad():
    """Return the LaunchPad after checking the database answers and holds one."""
    from ionflow.db.stores import check_database, get_launchpad

    check_database(launchpad=True)
    return get_launchpad()


def print_report(report: dict, plot_dir: Path | None = None) -> None:
    """Print a pipeline report as tables; write Arrhenius plots to ``plot_dir``."""
    from ionflow.pipeline.report import MIXING_RULE_TEXT, PipelineReportDocument, interval_text

    doc = PipelineReportDocument.model_validate(report)
    head = Table(title=f"ionflow report: {doc.name}", show_header=False)
    head.add_row("material", doc.material)
    head.add_row(
        "training data", f"{doc.n_labelled} structures, {doc.oracle} {doc.level_of_theory}"
    )
    if doc.active_learning:
        learning = doc.active_learning
        head.add_row(
            "active learning",
            f"{learning['iterations']} iterations, added "
            f"{'+'.join(str(n) for n in learning['labelled_per_iteration'])}; "
            f"{learning['stop_reason']}",
        )
    head.add_row(
        "MTP",
        f"level {doc.mtp_level}, R_cut {doc.mtp_r_cut_A:g} Å; validation RMSE "
        f"{doc.validation_energy_rmse_meV_atom:.1f} meV/atom, "
        f"{doc.validation_force_rmse_eV_A:.3f} eV/Å",
    )
    head.add_row(
        f"σ_bulk at {doc.extrapolation_K:g} K",
        interval_text(doc.sigma_bulk_mS_cm, doc.sigma_bulk_interval_mS_cm),
    )
    head.add_row(
        f"σ_bulk^{doc.crystallinity:.0%}",
        interval_text(
            doc.sigma_bulk_crystallinity_mS_cm, doc.sigma_bulk_crystallinity_interval_mS_cm
        )
        + f" ({MIXING_RULE_TEXT[doc.mixing_rule]}, σ_amorph {doc.sigma_amorphous_mS_cm:g})",
    )
    for ref in doc.published:
        head.add_row("published", f"{ref['quantity']}: {ref['value']} {ref['unit']}")
    for line in doc.run_warnings:
        head.add_row("warning", line)
    for note in doc.notes:
        head.add_row("note", note)
    console.print(head)
    table = Table(title="configurations")
    for column in (
        "#",
        "ΔE (meV/atom)",
        "weight",
        "E_a (eV)",
        f"σ({doc.extrapolation_K:g} K) mS/cm",
    ):
        table.add_column(column)
    for c in doc.configurations:
        d_e = (
            "-" if c.relative_energy_eV_atom is None else f"{1000 * c.relative_energy_eV_atom:.1f}"
        )
        table.add_row(
            str(c.index),
            d_e,
            f"{c.weight:.3f}",
            f"{c.Ea_eV:.3f} ± {c.Ea_err_eV:.3f}",
            interval_text(c.sigma300_mS_cm, c.sigma300_ci_mS_cm, unit=""),
        )
    console.print(table)
    if plot_dir is not None:
        from ionflow.analysis.plotting import plot_arrhenius

        for config, arrhenius in zip(doc.configurations, doc.arrhenius, strict=True):
            path = plot_arrhenius(arrhenius, plot_dir / f"arrhenius_c{config.index}.png")
            console.print(f"Arrhenius plot: {path}")


def run(
    spec: Path = SpecArgument,
    out: Path = typer.Option(Path("ionflow-run"), help="Directory for job folders and plots."),
    force: bool = typer.Option(False, "--force", help="Run into a non-empty --out."),
) -> None:
    """Run a whole workflow on this machine (jobflow run_locally, results in the DB)."""
    from jobflow.managers.local import run_locally

    from ionflow.cli.errors import check_new_output
    from ionflow.cli.failed_jobs import collect_failed_jobs
    from ionflow.cli.study_tables import print_study_tables
    from ionflow.pipeline.flow import PipelineMaker
    from ionflow.pipeline.spec import load_spec

    check_new_output(out, force)
    workflow = load_spec(spec)
    flow = PipelineMaker.from_spec(workflow).make(workflow.material)
    store = _connected_store()
    console.print(
        f"[bold]{workflow.name}[/bold]: {len(flow.jobs)} stages (per-configuration jobs are "
        f"added as configurations are made), oracle {workflow.dft.oracle}"
    )
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with collect_failed_jobs() as failed_jobs:
        try:
            run_locally(
                flow, store=store, create_folders=True, root_dir=out, log=True, ensure_success=True
            )
            failed = False
        except RuntimeError:  # jobflow: some job failed, or could not run after one that did
            failed = True
    report = None
    if flow.output is not None:
        try:
            report = store.get_output(flow.output.uuid, load=True)
        except ValueError:  # jobflow: the closing job stored no output (it never ran)
            report = None
    if report is not None and not isinstance(report, dict) and hasattr(report, "model_dump"):
        # the closing job was replaced (site variants): its output is the replacement's document
        report = report.model_dump(mode="json")
    console.print(f"finished in {time.perf_counter() - start:.0f} s")
    for failed_job in failed_jobs:
        # markup off: an error message may hold brackets ("[Errno 2]", a list)
        console.print(failed_job.line(), style="red", soft_wrap=True, markup=False, highlight=False)
    if not report:
        if failed:
            console.print(f"the workflow did not finish: a job failed (its folder is under {out})")
            raise typer.Exit(1)
        raise IonflowInputError(f"the workflow did not finish: see the job folders in {out}")
    if "sites" in report:  # site variants: each site's report, then the sites side by side
        from ionflow.cli.site_report import print_site_comparison

        print_site_comparison(report, plot_dir=out)
    else:
        print_report(report, plot_dir=out)
    print_study_tables(store, flow.uuid)
    if failed:
        console.print(
            f"[red]some jobs failed[/red] (one line each above, their folders in {out}): "
            "the report covers only what finished"
        )
        raise typer.Exit(1)


def resume(
    max_retries: int = typer.Option(3, help="Retries of a failed job before giving up."),
    lost_after: float = typer.Option(4 * 3600.0, help="Seconds without a ping: a lost run."),
    backoff: float = typer.Option(60.0, help="Seconds before the first retry (doubles)."),
) -> None:
    """One pass of `ionflow watch`: lost and failed jobs back to READY, by failure class.

    A job that failed with bad input, too many labelling failures, an unconverged
    relaxation or an MD instability is not retried; each action and why is printed and
    logged (see ionflow.pipeline.resume). Refused while `ionflow watch` runs.
    """
    from ionflow.cli.workflows import watch

    watch(interval=1.0, max_retries=max_retries, lost_after=lost_after, backoff=backoff, passes=1)


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to the top-level ``ionflow`` app."""
    for command in (run, resume):
        app.command()(command)
