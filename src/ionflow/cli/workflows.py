"""`ionflow submit|status|watch`: workflows on a LaunchPad, for a cluster's login node."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ionflow.errors import IonflowInputError

console = Console()

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of tables.")


def submit(
    spec: Path = typer.Argument(..., help="Workflow spec YAML (see workflows/)."),
    name: str | None = typer.Option(None, help="Workflow name (default: the spec's name)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print stages, jobs and core-hours; store nothing."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a workflow to the LaunchPad (initialised on a new database); print its id.

    Everything is checked before anything is stored. Run the queue with `qlaunch` /
    `rlaunch`, watch it with `ionflow watch`, look with `ionflow status`.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from ionflow.db.stores import check_database, get_launchpad
    from ionflow.pipeline.flow import PipelineMaker
    from ionflow.pipeline.spec import load_spec
    from ionflow.pipeline.submit import (
        SPEC_HASH_KEY,
        add_workflow,
        find_label_reuse,
        plan_submission,
    )
    from ionflow.structures.parents import get_parent_structure

    if name is not None and not name.strip():
        raise IonflowInputError("--name is empty; give a workflow name or leave it out")
    workflow = load_spec(spec)
    notes = []
    try:
        check_database()
        lpad = get_launchpad(strm_lvl="WARNING")
    except IonflowInputError as exc:
        if not dry_run:
            raise
        lpad, notes = None, [f"label cache not checked: {exc}"]
    flow = PipelineMaker(spec=workflow).make()
    flow.name = name or workflow.name
    n_atoms = get_parent_structure(workflow.material).num_sites
    plan = plan_submission(workflow, flow, flow.name, n_atoms)
    if lpad is not None:
        find_label_reuse(lpad, workflow, plan)
    if not dry_run:
        fw_workflow = flow_to_workflow(flow, metadata={SPEC_HASH_KEY: plan.spec_sha256})
        plan.workflow_id = add_workflow(lpad, fw_workflow)
    reuse = plan.label_reuse_line(workflow.dft.oracle)
    if json_out:
        typer.echo(json.dumps({**plan.to_json(), "dry_run": dry_run, "notes": notes}, indent=1))
        return
    table = Table(title=f"{plan.name}: {plan.n_jobs} jobs at submission")
    for column in ("stage", "jobs", "estimate (core-h)", "counted"):
        table.add_column(column)
    costs = {cost.stage: cost for cost in plan.core_hours}
    for stage, n_jobs in plan.jobs_per_stage.items():
        cost = costs.get(stage)
        table.add_row(
            stage,
            str(n_jobs),
            "-" if cost is None else f"{cost.core_hours:.3g}",
            "" if cost is None else cost.units,
        )
    console.print(table)
    total = sum(cost.core_hours for cost in plan.core_hours)
    console.print(f"estimate: {total:.3g} core-hours in all (see ionflow.pipeline.cost)")
    for line in [*notes, *([reuse] if reuse else [])]:
        console.print(line, markup=False)
    if dry_run:
        console.print("dry run: nothing stored")
    else:
        console.print(f"submitted {plan.name}: workflow id {plan.workflow_id}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the workflow commands to the top-level ``ionflow`` app."""
    for command in (submit,):
        app.command()(command)
