"""`ionflow submit|status|watch`: workflows on a LaunchPad, for a cluster's login node."""

from __future__ import annotations

import json
import sys
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
    flow = PipelineMaker.from_spec(workflow).make(workflow.material)
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


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def status(
    workflow: str | None = typer.Argument(None, help="Workflow id (any of its jobs) or name."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Jobs per workflow, stage and state; running jobs with their SLURM job; failures.

    ``lost``: RUNNING, but its SLURM job is gone or it stopped pinging (`ionflow watch`
    reruns it). Each failed job: its error class, last error line, and whether it will be
    retried.
    """
    from ionflow.db.stores import check_database, get_launchpad
    from ionflow.pipeline.status import STATES, status_json, workflow_status

    check_database(launchpad=True)
    statuses = workflow_status(get_launchpad(strm_lvl="WARNING"), workflow)
    if json_out:
        typer.echo(json.dumps(status_json(statuses), indent=1))
        return
    if not statuses:
        console.print("no workflows on the LaunchPad (`ionflow submit SPEC`)")
    for wf in statuses:
        seen = {state for per_state in wf.counts.values() for state in per_state}
        columns = [s for s in STATES if s in seen] + sorted(seen - set(STATES))
        table = Table(title=f"workflow {wf.workflow_id}: {wf.name} ({wf.state})")
        table.add_column("stage")
        for state in columns:
            table.add_column(state, justify="right")
        for stage, per_state in wf.counts.items():
            table.add_row(stage, *(str(per_state.get(state, "")) for state in columns))
        console.print(table)
        for job in wf.jobs:
            where = f" SLURM {job.slurm_job_id}" if job.slurm_job_id else ""
            if job.state in ("RUNNING", "lost"):
                lost = f" lost: {job.lost_reason}" if job.lost_reason else ""
                line = f"{job.state} for {_duration(job.running_s)}{where}{lost}"
            elif job.state == "FIZZLED":
                short = (job.error_class or "unknown").rsplit(".", 1)[-1]
                line = (
                    f"FIZZLED {short}: {job.error_line}; retried: {job.will_retry} "
                    f"({job.retry_reason})"
                )
            else:
                line = f"{job.state}{where}"
            console.print(f"  {job.fw_id} {job.name} [{job.stage}]: {line}", markup=False)


def watch(
    interval: float = typer.Option(600.0, help="Seconds between passes."),
    max_retries: int = typer.Option(3, help="Retries of a failed job before giving up."),
    lost_after: float = typer.Option(4 * 3600.0, help="Seconds without a ping: a lost run."),
    backoff: float = typer.Option(60.0, help="Seconds before the first retry (doubles)."),
    passes: int | None = typer.Option(None, help="Stop after this many passes (default: never)."),
) -> None:
    """Keep the workflows going: rerun lost jobs, retry what can succeed, every INTERVAL s.

    One watcher per LaunchPad (a lock with a heartbeat in the database: a second one
    refuses; a dead one's is taken over). A RUNNING job whose SLURM job is gone is rerun
    at the next pass (walltime: from its checkpoints; out of memory: with twice the
    memory; bounded). Safe under nohup, cron or as a SLURM job; SIGTERM stops it cleanly.
    Every action is logged (`ionflow resume` is one pass of the same loop).
    """
    from ionflow.db.stores import check_database, get_launchpad
    from ionflow.pipeline.resume import ResumePolicy
    from ionflow.pipeline.watch import LockLostError
    from ionflow.pipeline.watch import watch as watch_loop

    if interval <= 0 or max_retries < 0 or lost_after <= 0 or backoff < 0:
        raise IonflowInputError(
            "--interval and --lost-after must be > 0, --max-retries and --backoff >= 0"
        )
    if passes is not None and passes < 1:
        raise IonflowInputError("--passes must be at least 1")
    check_database(launchpad=True)
    policy = ResumePolicy(lost_after_s=lost_after, max_retries=max_retries, backoff_s=backoff)

    def echo(line: str) -> None:
        typer.echo(line)
        sys.stdout.flush()  # a line per pass in a nohup / SLURM output file

    try:
        watch_loop(get_launchpad(strm_lvl="WARNING"), interval, policy, passes, echo)
    except LockLostError as exc:
        typer.echo(f"ionflow: {exc}; stopping", err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add the workflow commands to the top-level ``ionflow`` app."""
    for command in (submit, status, watch):
        app.command()(command)
