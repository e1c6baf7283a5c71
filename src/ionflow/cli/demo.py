"""`ionflow demo`: the demo workflow through FireWorks, a live view, a summary, report.html."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ionflow.cli.workflows import duration_text
from ionflow.errors import IonflowInputError

console = Console()

KIND_STYLE = {"done": "green", "running": "bold yellow", "waiting": "dim", "failed": "bold red"}


def progress_view(progress, title: str) -> Group:
    """The live view: one row per stage (jobs done/running/waiting, time), running jobs."""
    table = Table(title=title, title_justify="left")
    for column in ("stage", "state", "done", "running", "waiting", "failed", "time"):
        table.add_column(column, justify="left" if column in ("stage", "state") else "right")
    for stage in progress.stages:
        table.add_row(
            stage.stage,
            f"[{KIND_STYLE[stage.kind]}]{stage.kind}[/]",
            *(str(stage.jobs.get(kind, "")) for kind in ("done", "running", "waiting", "failed")),
            duration_text(stage.elapsed_s),
        )
    lines = [
        f"running: {job.name} [{job.stage}] {duration_text(job.running_s)}"
        + (f" | {job.last_line}" if job.last_line else "")
        for job in progress.running
    ]
    return Group(table, *(Text(line, overflow="ellipsis", no_wrap=True) for line in lines))


def summary_table(summary, oracle: str, level: str) -> Table:
    """The closing summary: data, potential, active learning, D(T), E_a, sigma, times."""
    from ionflow.pipeline.report import interval_text

    res = summary.results
    table = Table(title=f"{res.name}: workflow {res.workflow_id} ({res.state})", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("configurations", str(summary.n_configurations))
    table.add_row(
        "labels",
        f"{summary.labels_computed} computed, {summary.labels_reused} reused from the label "
        f"cache ({oracle}, {level})",
    )
    table.add_row(
        "MTP fits", f"{summary.fits_done} fitted, {summary.fits_reused} reused from the fit cache"
    )
    if summary.before_force_rmse_eV_A is not None:
        table.add_row(
            "MTP before AL",
            f"{summary.before_energy_rmse_meV_atom:.1f} meV/atom, "
            f"{summary.before_force_rmse_eV_A:.3f} eV/Å (RMSE, held-out set)",
        )
    if res.mtp is not None and res.mtp.validation_force_rmse_eV_A is not None:
        label = "MTP after AL" if res.active_learning else "MTP"
        worse = (
            summary.before_force_rmse_eV_A is not None
            and res.mtp.validation_force_rmse_eV_A > summary.before_force_rmse_eV_A
        )
        table.add_row(
            label,
            f"{res.mtp.validation_energy_rmse_meV_atom:.1f} meV/atom, "
            f"{res.mtp.validation_force_rmse_eV_A:.3f} eV/Å (RMSE, {res.mtp.errors_of})"
            + (" [bold red]worse than before AL[/]" if worse else ""),
        )
    for it in res.active_learning:
        table.add_row(
            f"AL iteration {it['iteration']}",
            f"{it['n_selected']} selected, largest grade {it['grade_max']:.3g}",
        )
    if res.active_learning_stop:
        table.add_row("AL stopped", res.active_learning_stop)
    for c in res.configurations:
        d_of_t = ", ".join(
            f"{t.temperature_K:g} K {t.D_cm2_s:.2e} ± {t.D_err_cm2_s:.1e}" for t in c.temperatures
        )
        table.add_row(f"c{c.index} D (cm²/s)", d_of_t)
        table.add_row(
            f"c{c.index} E_a, σ({res.extrapolation_K:g} K)",
            f"{c.Ea_eV:.3f} ± {c.Ea_err_eV:.3f} eV, "
            + interval_text(c.sigma300_mS_cm, c.sigma300_ci_mS_cm),
        )
    if res.sigma_bulk_mS_cm is not None:
        table.add_row(
            f"σ_bulk({res.extrapolation_K:g} K)",
            interval_text(res.sigma_bulk_mS_cm, res.sigma_bulk_interval_mS_cm),
        )
    table.add_row(
        "time per stage",
        ", ".join(f"{s.stage} {duration_text(s.elapsed_s)}" for s in summary.progress.stages)
        + f"; all {duration_text(summary.progress.elapsed_s)}",
    )
    return table


def _slurm_setup(out: Path) -> tuple[Path, dict[str, str]]:
    """FireWorks config files for the local SLURM cluster (it must be up), and its env."""
    import os
    import subprocess

    import ionflow
    from ionflow.cluster.local_slurm import default_work_dir, run_local_slurm, slurm_env
    from ionflow.config.render import ConfigOptions, write_configs
    from ionflow.settings import get_settings

    env = {} if os.environ.get("SLURM_CONF") else slurm_env(default_work_dir())
    if env and run_local_slurm("status").returncode != 0:
        raise IonflowInputError("--slurm needs the local SLURM cluster: run `ionflow cluster up`")
    try:
        answered = (
            subprocess.run(
                ["squeue", "-h"], env={**os.environ, **env}, capture_output=True, timeout=30
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        answered = False
    if not answered:
        raise IonflowInputError(
            "--slurm: squeue does not answer; start the local cluster with `ionflow cluster up`"
        )
    source = Path(ionflow.__file__).resolve().parents[1]  # the jobs run this ionflow
    options = ConfigOptions(
        config_dir=(out / "fw-config").resolve(),
        db_uri=get_settings().db_uri,
        partition="local",
        walltime="01:00:00",
        pre_rocket=[f"export PYTHONPATH={source}{os.pathsep}${{PYTHONPATH:-}}"],
    )
    write_configs(options)
    return options.config_dir, env


def demo(
    oracle: str | None = typer.Option(
        None, help="Labelling engine: chgnet (the demo's) or cp2k (slower: real DFT)."
    ),
    slurm: bool = typer.Option(
        False, "--slurm", help="Run the jobs in the local SLURM of `ionflow cluster up`."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Every stage, each smaller: about 3 minutes on 2 cores."
    ),
    out: Path = typer.Option(Path("ionflow-demo"), help="Job folders, launch.log, report.html."),
    force: bool = typer.Option(False, "--force", help="Run into a non-empty --out."),
    spec: Path | None = typer.Option(None, help="Another spec to run the same way."),
) -> None:
    """Run the demo the way a cluster runs it: submit, launch through FireWorks, report.

    Starts the embedded database if db_uri points at it and it is not running, submits
    the demo spec to the LaunchPad, runs the queue with `ionflow launch` (--local, or
    --slurm) in a process of its own (engine output in OUT/launch.log and the job folders
    OUT/jobs), shows the stages live, then prints a summary and writes OUT/report.html.
    Run again on the same database, stored labels and fits are reused.
    """
    from rich.live import Live

    from ionflow.cli.errors import check_new_output
    from ionflow.db.stores import get_jobstore, get_launchpad
    from ionflow.pipeline.demo import (
        LAUNCH_LOG,
        LauncherProcess,
        demo_spec,
        demo_spec_path,
        demo_summary,
        ensure_database,
        launcher_command,
        local_parallel_jobs,
    )
    from ionflow.pipeline.html_report import (
        ReportTargets,
        collect_workflow_documents,
        resolve_flow_uuid,
        write_report_html,
    )
    from ionflow.pipeline.progress import workflow_progress
    from ionflow.pipeline.submit import submit_spec

    if oracle not in (None, "chgnet", "cp2k"):
        raise IonflowInputError(f"--oracle {oracle}: the demo runs chgnet or cp2k")
    check_new_output(out, force)
    workflow = demo_spec(spec or demo_spec_path(quick), oracle)
    started = ensure_database()
    config_dir, env = _slurm_setup(out) if slurm else (None, {})
    lpad = get_launchpad(strm_lvl="WARNING")
    plan = submit_spec(workflow, lpad)
    for line in (started, plan.label_reuse_line(workflow.dft.oracle)):
        if line:
            console.print(line, markup=False)
    out.mkdir(parents=True, exist_ok=True)
    parallel = local_parallel_jobs()
    launcher = LauncherProcess(
        launcher_command((out / "jobs").resolve(), slurm, config_dir, parallel=parallel),
        out / LAUNCH_LOG,
        env,
    )
    console.print(
        f"{workflow.name}: workflow {plan.workflow_id}, {plan.n_jobs} jobs at submission, "
        f"run by `ionflow launch {'--slurm' if slurm else f'--local --parallel {parallel}'}`; "
        f"engine output in "
        f"{out / LAUNCH_LOG} and {out / 'jobs'}",
        markup=False,
    )
    title = f"ionflow demo: {workflow.name}"
    progress = workflow_progress(lpad, plan.workflow_id)
    live = Live(progress_view(progress, title), console=console, transient=True)
    reported: set[str] = set()
    launcher.start()
    try:
        with live if console.is_terminal else contextlib.nullcontext():
            while launcher.running():
                time.sleep(1.0)
                progress = workflow_progress(lpad, plan.workflow_id)
                if console.is_terminal:
                    live.update(progress_view(progress, title))
                    continue
                for stage in progress.stages:  # a log: one line per finished stage
                    if stage.kind == "done" and stage.stage not in reported:
                        reported.add(stage.stage)
                        console.print(f"  {stage.stage} done ({duration_text(stage.elapsed_s)})")
    except KeyboardInterrupt:
        launcher.stop()
        console.print(
            "stopped: `ionflow status` shows where; the interrupted job counts as lost after "
            "`ionflow watch --lost-after`, `ionflow launch --local` runs the rest",
            markup=False,
        )
        raise typer.Exit(130) from None
    code = launcher.stop()
    progress = workflow_progress(lpad, plan.workflow_id)
    if progress.state != "COMPLETED":
        console.print(progress_view(progress, title))
        typer.echo(
            f"ionflow: error: workflow {plan.workflow_id} is {progress.state} (launcher exit "
            f"code {code}): see {out / LAUNCH_LOG} and `ionflow status {plan.workflow_id}`; "
            "`ionflow watch` retries what can succeed",
            err=True,
        )
        raise typer.Exit(1)
    store = get_jobstore()
    store.connect()
    try:
        summary = demo_summary(lpad, store, plan.workflow_id)
        flow_uuid = resolve_flow_uuid(store, str(plan.workflow_id), lpad)
        documents = collect_workflow_documents(store, flow_uuid)
    finally:
        store.close()
    console.print(summary_table(summary, workflow.dft.oracle, workflow.dft.fit_level))
    targets = ReportTargets(
        workflow.mtp.target_energy_rmse_meV_atom, workflow.mtp.target_force_rmse_eV_A
    )
    path = write_report_html(documents, out, targets)
    console.print(f"report: {path}", markup=False)
    console.print(
        f"next: `ionflow results {plan.workflow_id} --json`, `ionflow report "
        f"{plan.workflow_id} --out DIR`, pymongo on the collections (README)",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``ionflow demo`` to the top-level app."""
    app.command()(demo)
