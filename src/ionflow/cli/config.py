"""`ionflow config init|check|show`: write, validate and show a user's configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from ionflow.config.check import find_config_problems
from ionflow.config.render import DEFAULT_CONFIG_DIR, ConfigOptions, write_configs

app = typer.Typer(
    help="FireWorks, jobflow, atomate2 and ionflow configuration files.",
    no_args_is_help=True,
)
DIR_OPTION = typer.Option(DEFAULT_CONFIG_DIR, "--dir", help="Directory of the config files.")


def _ask(value: str | None, question: str, default: str | None) -> str | None:
    """Return ``value``, else ask when interactive, else ``default``."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        answer = typer.prompt(question, default=default or "", show_default=True)
        return answer or None
    return default


@app.command()
def init(
    directory: Path = DIR_OPTION,
    db_uri: str | None = typer.Option(None, help="MongoDB URI (default: the embedded server)."),
    partition: str | None = typer.Option(None, help="SLURM partition [default: local]."),
    account: str | None = typer.Option(None, help="SLURM account (default: none)."),
    walltime: str | None = typer.Option(None, help="Wall time per job, HH:MM:SS."),
    nodes: int = typer.Option(1, min=1, help="Nodes per queue job."),
    ntasks: int = typer.Option(1, min=1, help="MPI tasks per queue job."),
    module: list[str] = typer.Option([], help="Environment module to load (repeatable)."),
    pre_rocket: list[str] = typer.Option([], help="Shell line run before rlaunch (repeatable)."),
    mpi_prefix: str = typer.Option("", help="Prefix for parallel programs, e.g. 'srun'."),
    fworker_name: str = typer.Option("ionflow", help="FireWorks worker name."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    example: bool = typer.Option(
        False, "--example", hidden=True, help="Placeholder paths (the repository's configs/)."
    ),
) -> None:
    """Write my_launchpad/my_fworker/my_qadapter, FW_config, jobflow, atomate2, ionflow.yaml.

    Values come from the flags; missing ones are asked for when the terminal is
    interactive, else take the defaults of the embedded setup (local DB, local SLURM).
    """
    defaults = ConfigOptions()
    # --example: files written to `directory` but naming placeholder paths
    base = ConfigOptions.example() if example else ConfigOptions(config_dir=directory.resolve())
    target = directory if example else base.config_dir
    options = ConfigOptions(
        config_dir=base.config_dir,
        bin_dir=base.bin_dir,
        db_uri=_ask(db_uri, "MongoDB URI", defaults.db_uri) or defaults.db_uri,
        partition=_ask(partition, "SLURM partition", defaults.partition) or defaults.partition,
        account=_ask(account, "SLURM account (empty: none)", None),
        walltime=_ask(walltime, "Wall time per job (HH:MM:SS)", defaults.walltime)
        or defaults.walltime,
        nodes=nodes,
        ntasks=ntasks,
        modules=list(module),
        pre_rocket=list(pre_rocket),
        mpi_prefix=mpi_prefix,
        fworker_name=fworker_name,
    )
    written = write_configs(options, overwrite=force, directory=target)
    console = Console()
    for path in written:
        console.print(f"wrote {path}")
    problems = find_config_problems(target)
    for problem in problems:
        typer.echo(f"ionflow: error: {problem}", err=True)
    if problems:
        raise typer.Exit(2)
    if not example:
        console.print("Point FireWorks, jobflow, atomate2 and ionflow at them:")
        for key, value in options.config_env().items():
            typer.echo(f"export {key}={value}")


@app.command()
def check(directory: Path = DIR_OPTION) -> None:
    """Validate the config files: one line per problem, exit code 2 if any."""
    problems = find_config_problems(directory)
    for problem in problems:
        typer.echo(f"ionflow: error: {problem}", err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo(f"{directory}: all config files valid")


@app.command()
def show(
    directory: Path | None = typer.Option(
        None, "--dir", help="Also list the database entries of this config directory's files."
    ),
) -> None:
    """Print the settings in effect and where each came from; passwords are masked."""
    from ionflow.config.show import shown_settings

    for item in shown_settings(directory):
        source = f"  ({item.source})" if item.source else ""
        typer.echo(f"{item.name}: {item.value}{source}")
