"""`ionflow cluster up|down|status`: the local single-node SLURM cluster."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from rich.console import Console

from ionflow.cluster.local_slurm import SCRIPT, run_local_slurm

app = typer.Typer(
    help=f"Local single-node SLURM (munged, slurmctld, slurmd without systemd; {SCRIPT.name}).",
    no_args_is_help=True,
)
WORK_DIR = typer.Option(
    None, "--work-dir", help="Cluster directory (default: <data_dir>/slurm from the settings)."
)


def _check_work_dir(work_dir: Path | None) -> Path | None:
    from ionflow.errors import IonflowInputError

    if work_dir is not None and work_dir.exists() and not work_dir.is_dir():
        raise IonflowInputError(f"--work-dir {work_dir} is a file, not a directory")
    return work_dir


def _finish(result, keep_stdout: bool = True) -> None:
    if keep_stdout and result.stdout:
        typer.echo(result.stdout, nl=False)
    if result.stderr:
        typer.echo(result.stderr, nl=False, err=True)
    if result.returncode:
        raise typer.Exit(result.returncode)


@app.command()
def up(
    work_dir: Path | None = WORK_DIR,
    timeout: float = typer.Option(60.0, help="Seconds to wait for each daemon [s]."),
) -> None:
    """Start the cluster (idempotent) and wait until its node is idle."""
    from ionflow.errors import IonflowInputError

    if timeout <= 0:
        raise IonflowInputError(f"--timeout must be positive (s), got {timeout}")
    _check_work_dir(work_dir)
    console = Console(stderr=True)
    spinner = console.status("starting munged, slurmctld, slurmd")
    with spinner if console.is_terminal else contextlib.nullcontext():
        result = run_local_slurm("up", work_dir, timeout_s=timeout)
    _finish(result)
    if result.returncode == 0:
        console.print("clients need the line above (eval it, or source <work-dir>/env.sh)")


@app.command()
def down(work_dir: Path | None = WORK_DIR) -> None:
    """Cancel the cluster's jobs and stop the daemons it started (idempotent)."""
    _finish(run_local_slurm("down", _check_work_dir(work_dir)))


@app.command()
def status(work_dir: Path | None = WORK_DIR) -> None:
    """Show the daemons and the node state; exit code 0 when up, 3 when not."""
    _finish(run_local_slurm("status", _check_work_dir(work_dir)))


@app.command()
def env(work_dir: Path | None = WORK_DIR) -> None:
    """Print the line SLURM clients need: `eval "$(ionflow cluster env)"`."""
    _finish(run_local_slurm("env", _check_work_dir(work_dir)))
