"""`ionflow submit|launch|status|results|watch`: workflows on a LaunchPad, from a login node."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
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

    Everything is checked before anything is stored. Run the queue with `ionflow launch`,
    watch it with `ionflow watch`, look with `ionflow status`.
    """
    from ionflow.db.stores import check_database, get_launchpad
    from ionflow.pipeline.spec import load_spec
    from ionflow.pipeline.submit import submit_spec

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
    plan = submit_spec(workflow, lpad, name, dry_run)
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


def _config_dir(config_dir: Path | None) -> Path:
    """The FireWorks config directory: given, FW_CONFIG_FILE's, or `ionflow config init`'s."""
    import os

    from ionflow.config.render import DEFAULT_CONFIG_DIR

    if config_dir is None:
        fw_config = os.environ.get("FW_CONFIG_FILE")
        config_dir = Path(fw_config).parent if fw_config else DEFAULT_CONFIG_DIR
    return config_dir


def _load_worker(config_dir: Path, with_queue: bool):
    """``(FWorker, queue adapter or None)`` from ``config_dir``, checked before anything runs."""
    from fireworks import FWorker
    from fireworks.utilities.fw_serializers import load_object_from_file

    needed = ["my_fworker.yaml"] + (["my_qadapter.yaml"] if with_queue else [])
    missing = [name for name in needed if not (config_dir / name).is_file()]
    if with_queue and missing:  # --local runs as a default worker without the files
        raise IonflowInputError(
            f"{', '.join(missing)} not in {config_dir}: write them with `ionflow config init` "
            "or pass --config-dir"
        )
    try:
        fworker = FWorker.from_file(str(config_dir / needed[0])) if not missing else FWorker()
        qadapter = load_object_from_file(str(config_dir / needed[-1])) if with_queue else None
    except Exception as exc:  # YAML or FireWorks' own errors: name the files, no traceback
        raise IonflowInputError(
            f"{' or '.join(needed)} in {config_dir} cannot be read ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); rewrite them with "
            "`ionflow config init --force`"
        ) from exc
    return fworker, qadapter


class ProgressView:
    """Live table of workflows, stages and jobs per state (`ionflow status`), throttled."""

    def __init__(self, lpad, every_s: float = 2.0) -> None:
        self.lpad, self.every_s = lpad, every_s
        self.extra = ""
        self._table: Table | None = None
        self._built = 0.0

    def __rich__(self) -> Table:
        import time

        from ionflow.pipeline.status import STATES, workflow_status

        if self._table is not None and time.monotonic() - self._built < self.every_s:
            return self._table
        table = Table(title=f"ionflow launch {self.extra}".rstrip(), title_justify="left")
        table.add_column("workflow / stage")
        for state in STATES:
            table.add_column(state, justify="right")
        for wf in workflow_status(self.lpad, check_slurm=False):
            totals = wf.totals()
            table.add_row(
                f"{wf.workflow_id} {wf.name} ({wf.state})",
                *(str(totals.get(s, "")) for s in STATES),
                style="bold",
            )
            for stage, per_state in wf.counts.items():
                table.add_row(f"  {stage}", *(str(per_state.get(s, "")) for s in STATES))
        self._table, self._built = table, time.monotonic()
        return table


def sibling_command(launch_dir: Path, config_dir: Path | None) -> list[str]:
    """The command of one more ``--local`` launcher sharing ``launch_dir`` (``--parallel``)."""
    command = [sys.executable, "-m", "ionflow", "launch", "--local", "--sibling"]
    command += ["--launch-dir", str(launch_dir)]
    return command + (["--config-dir", str(config_dir)] if config_dir is not None else [])


def launch(
    local: bool = typer.Option(False, "--local", help="Run the jobs on this machine."),
    slurm: bool = typer.Option(False, "--slurm", help="Run the jobs in SLURM allocations."),
    max_jobs: int = typer.Option(2, "--max-jobs", help="Most SLURM jobs queued at once."),
    jobs_per_allocation: int = typer.Option(
        1, "--jobs-per-allocation", help="Most jobs one SLURM allocation runs (small jobs)."
    ),
    config_dir: Path | None = typer.Option(
        None,
        help="FireWorks config files (default: FW_CONFIG_FILE's directory or "
        "`ionflow config init`'s).",
    ),
    launch_dir: Path = typer.Option(Path("."), help="Where the job folders are made."),
    poll: float = typer.Option(5.0, help="Seconds between two looks at SLURM (--slurm)."),
    parallel: int = typer.Option(
        1, "--parallel", help="Jobs run at once on this machine (--local): launcher processes."
    ),
    sibling: bool = typer.Option(False, "--sibling", hidden=True),
) -> None:
    """Run the queue until no job is READY (and, with --slurm, no allocation is alive).

    --local runs the jobs here one after another, or --parallel N at a time (N launcher
    processes sharing the queue; each waits while another runs a job). --slurm keeps at
    most --max-jobs SLURM jobs queued; each runs up to --jobs-per-allocation jobs, starts
    none after half its walltime and ends when none is READY (see ionflow.pipeline.launch).
    A live table of
    workflows, stages and jobs is shown on a terminal.
    """
    from rich.live import Live

    from ionflow.db.stores import check_database, get_launchpad
    from ionflow.pipeline.launch import SlurmLauncher, launch_local, use_ionflow_store
    from ionflow.settings import job_cpus

    if local == slurm:
        raise IonflowInputError("give one of --local or --slurm")
    if max_jobs < 1 or jobs_per_allocation < 1 or poll <= 0 or parallel < 1:
        raise IonflowInputError(
            "--max-jobs, --jobs-per-allocation and --parallel must be >= 1, --poll > 0"
        )
    if parallel > 1 and not local:
        raise IonflowInputError("--parallel runs jobs on this machine: give it with --local")
    fworker, qadapter = _load_worker(_config_dir(config_dir), with_queue=slurm)
    check_database(launchpad=True)
    lpad = get_launchpad(strm_lvl="WARNING")
    view = ProgressView(lpad)
    live = Live(view, console=console, transient=True, refresh_per_second=1)
    with live if console.is_terminal else contextlib.nullcontext():
        if local:
            use_ionflow_store()
            if parallel > 1:  # N launchers share the CPUs: no thread pool oversubscribes them
                os.environ.setdefault("OMP_NUM_THREADS", str(max(1, job_cpus() // parallel)))
            before = set(launch_dir.glob("launcher_*"))
            siblings = [
                subprocess.Popen(sibling_command(launch_dir, config_dir))
                for _ in range(parallel - 1)
            ]
            report = launch_local(
                lpad, fworker, launch_dir, wait_for_siblings=sibling or parallel > 1
            )
            for process in siblings:
                process.wait()
            if sibling:
                return
            run_here = len(set(launch_dir.glob("launcher_*")) - before)
            by = f" by {parallel} launchers" if parallel > 1 else ""
            console.print(f"{run_here} jobs run here{by}; {report.stop_reason}", markup=False)
            return
        launcher = SlurmLauncher(
            lpad, fworker, qadapter, launch_dir, max_jobs, jobs_per_allocation, poll
        )

        def on_pass(_counts: dict[str, int], alive: dict[str, str]) -> None:
            view.extra = f"(SLURM jobs alive: {len(alive)} of at most {max_jobs})"

        report = launcher.run(on_pass)
    console.print(
        f"{len(report.allocations)} SLURM allocations, at most {report.most_alive} alive at "
        f"once; {report.stop_reason}",
        markup=False,
    )


def duration_text(seconds: float | None) -> str:
    """``H:MM:SS`` of a duration in seconds, ``-`` for None."""
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
                line = f"{job.state} for {duration_text(job.running_s)}{where}{lost}"
            elif job.state == "FIZZLED":
                short = (job.error_class or "unknown").rsplit(".", 1)[-1]
                line = (
                    f"FIZZLED {short}: {job.error_line}; retried: {job.will_retry} "
                    f"({job.retry_reason})"
                )
            else:
                line = f"{job.state}{where}"
            console.print(f"  {job.fw_id} {job.name} [{job.stage}]: {line}", markup=False)


def results(
    workflow: str | None = typer.Argument(None, help="Workflow id (any of its jobs) or name."),
    json_out: bool = JSON_OPTION,
) -> None:
    """The answers from the database: D(T), E_a, sigma(300 K), MTP errors, AL, hashes.

    Per configuration and temperature D +- err; per configuration E_a +- err and sigma at
    300 K with its 95 % interval; the MTP's validation errors; the active-learning
    history; oracle and level of theory; sha256 of the stored .mtp and training .cfg.
    """
    from ionflow.db.stores import check_database, get_jobstore, get_launchpad
    from ionflow.pipeline.results import workflow_results

    check_database(launchpad=True)
    store = get_jobstore()
    store.connect()
    try:
        answers = workflow_results(get_launchpad(strm_lvl="WARNING"), store, workflow)
    finally:
        store.close()
    if json_out:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in answers], indent=1))
        return
    if not answers:
        console.print("no workflows on the LaunchPad (`ionflow submit SPEC`)")
    for wf in answers:
        _print_results(wf)


def _print_results(wf) -> None:
    """Tables of one workflow's :class:`~ionflow.pipeline.results.WorkflowResults`."""
    from ionflow.pipeline.grain_boundary_report import grain_boundary_rows

    head = Table(title=f"workflow {wf.workflow_id}: {wf.name} ({wf.state})", show_header=False)
    head.add_row("labels", f"{wf.oracle or '-'} {wf.level_of_theory or ''}".rstrip())
    if wf.mtp is not None:
        m = wf.mtp
        head.add_row(
            "MTP",
            f"level {m.level}, R_cut {m.r_cut_A:g} Å, {m.engine}, {m.n_train}+{m.n_validation}"
            f" structures; {m.errors_of} energy MAE/RMSE {m.validation_energy_mae_meV_atom:.2f}/"
            f"{m.validation_energy_rmse_meV_atom:.2f} meV/atom, force MAE/RMSE "
            f"{m.validation_force_mae_eV_A:.3f}/{m.validation_force_rmse_eV_A:.3f} eV/Å",
        )
    for it in wf.active_learning:
        head.add_row(
            f"AL iteration {it['iteration']}",
            f"max grade {it['grade_max']:.3g}, selected {it['n_selected']}, "
            f"labelled {it['n_labelled']}",
        )
    if wf.active_learning_stop:
        head.add_row("AL stopped", wf.active_learning_stop)
    for label, text in grain_boundary_rows(wf.grain_boundary):
        head.add_row(label, text)
    for label, value, interval in (
        ("σ_bulk", wf.sigma_bulk_mS_cm, wf.sigma_bulk_interval_mS_cm),
        (
            f"σ_bulk^{wf.crystallinity or 0:.0%} ({wf.mixing_rule})",
            wf.sigma_bulk_crystallinity_mS_cm,
            wf.sigma_bulk_crystallinity_interval_mS_cm,
        ),
    ):
        if value is not None:
            low_high = f" [{interval[0]:.3g}, {interval[1]:.3g}]" if interval else ""
            head.add_row(f"{label} at {wf.extrapolation_K:g} K", f"{value:.3g}{low_high} mS/cm")
    head.add_row("potential sha256", wf.potential_sha256 or "-")
    head.add_row(f"training set sha256 ({wf.n_training or 0})", wf.training_set_sha256 or "-")
    for note in wf.notes:
        head.add_row("note", note)
    console.print(head)
    if not wf.configurations:
        return
    table = Table(title="per configuration and temperature")
    for column in ("config", "T (K)", "D (cm²/s)", "E_a (eV)", "σ(300 K) mS/cm [95 %]"):
        table.add_column(column)
    for c in wf.configurations:
        low, high = c.sigma300_ci_mS_cm
        table.add_row(
            str(c.index),
            "",
            "",
            f"{c.Ea_eV:.3f} ± {c.Ea_err_eV:.3f}",
            f"{c.sigma300_mS_cm:.3g} [{low:.3g}, {high:.3g}]",
        )
        for t in c.temperatures:
            table.add_row("", f"{t.temperature_K:g}", f"{t.D_cm2_s:.3g} ± {t.D_err_cm2_s:.2g}")
    console.print(table)


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
    for command in (submit, launch, status, results, watch):
        app.command()(command)
