"""Entry point of the `ionflow` command.

Each stage owns one sub-command module in this package (``db.py``, ``cluster.py``,
``config.py``, ``structures.py``, ``analyze.py``, ...), each exposing a typer ``app`` or a
``register(app)`` function. Errors that come from user input are raised as
:class:`ionflow.errors.IonflowInputError` and printed as one line with exit code 2.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="ionflow",
    help="From a solid-electrolyte structure to an MTP and a Li-ion conductivity.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# sub-command module -> name of the command group (None: the module registers commands)
SUBCOMMANDS: dict[str, str | None] = {
    "db": "db",
    "cluster": "cluster",
    "config": "config",
    "structures": None,
    "analyze": "analyze",
    "pipeline": None,
    "md": "md",
}


def _load_subcommands() -> None:
    for module_name, group in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(f"ionflow.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ionflow.cli.{module_name}":
                continue  # stage not built yet
            raise
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=group)


@app.callback()
def _root() -> None:
    """From a solid-electrolyte structure to an MTP and a Li-ion conductivity."""


@app.command()
def version() -> None:
    """Print the ionflow version."""
    from ionflow import __version__

    typer.echo(__version__)


_load_subcommands()


def main() -> None:
    """Run the CLI, turning user errors into one line and exit code 2."""
    from ionflow.cli.errors import run_cli

    run_cli(app)


if __name__ == "__main__":
    main()
