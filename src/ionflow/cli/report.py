"""`ionflow report [WF] --out DIR`: report.html of a stored workflow."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def report(
    workflow: str | None = typer.Argument(
        None,
        help="Flow or job uuid, or the FireWorks workflow id or name (`ionflow status`); "
        "default: the latest stored report.",
    ),
    out: Path = typer.Option(Path("ionflow-report"), help="Directory for report.html."),
    energy_target: float = typer.Option(
        10.0, "--energy-target-mev-atom", help="MTP energy RMSE target, meV/atom (warning)."
    ),
    force_target: float = typer.Option(
        0.2, "--force-target-ev-a", help="MTP force RMSE target, eV/Å (warning)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing report.html."),
) -> None:
    """Write one self-contained report.html (plots embedded) of a stored workflow."""
    from ionflow.cli.errors import check_new_output
    from ionflow.db.stores import check_database, get_jobstore, get_launchpad
    from ionflow.errors import IonflowInputError
    from ionflow.pipeline.html_report import (
        ReportTargets,
        collect_workflow_documents,
        looks_like_uuid,
        resolve_flow_uuid,
        write_report_html,
    )

    if energy_target <= 0 or force_target <= 0:
        raise IonflowInputError("--energy-target-mev-atom and --force-target-ev-a must be > 0")
    check_new_output(out / "report.html", force)
    check_database()
    store = get_jobstore()
    store.connect()
    try:
        launchpad = None
        if workflow is not None and not looks_like_uuid(workflow):
            check_database(launchpad=True)
            launchpad = get_launchpad()
        flow_uuid = resolve_flow_uuid(store, workflow, launchpad)
        documents = collect_workflow_documents(store, flow_uuid)
    finally:
        store.close()
    path = write_report_html(documents, out, ReportTargets(energy_target, force_target))
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    """Add ``ionflow report`` to the top-level app."""
    app.command()(report)
