"""Entry point of the `ionflow` command.

Each stage owns one sub-command module in this package (``db.py``, ``cluster.py``,
``config.py``, ``structures.py``, ``analyze.py``, ...), each exposing a typer ``app`` or a
``register(app)`` function. Errors that come from user input are raised as
:class:`ionflow.errors.IonflowInputError` and printed as one line with exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

# sub-command module -> its command group name, or (for modules with ``register(app)``)
# the tuple of top-level command names it adds. Modules are imported only when their
# command runs (or for ``--help``), so `ionflow db status` does not pay for pymatgen.
SUBCOMMANDS: dict[str, str | tuple[str, ...]] = {
    "db": "db",
    "cluster": "cluster",
    "config": "config",
    "structures": ("structures",),
    "dft": "dft",
    "mtp": "mtp",
    "md": "md",
    "analyze": "analyze",
    "pipeline": ("run", "resume"),
    "demo": ("demo",),
    "workflows": ("submit", "launch", "status", "results", "watch"),
    "report": ("report",),
}


def _root() -> None:
    """From a solid-electrolyte structure to an MTP and a Li-ion conductivity."""


def version() -> None:
    """Print the ionflow version."""
    from ionflow import __version__

    typer.echo(__version__)


def _modules_for(args: list[str]) -> list[str]:
    """Sub-command modules needed for the command line ``args`` (all for help)."""
    command = next((a for a in args if not a.startswith("-")), None)
    for module_name, names in SUBCOMMANDS.items():
        if command == names or (isinstance(names, tuple) and command in names):
            return [module_name]
    return [] if command == "version" else list(SUBCOMMANDS)


def build_app(modules: list[str] | None = None) -> typer.Typer:
    """Return the ``ionflow`` typer app with the given sub-command modules (default all)."""
    app = typer.Typer(
        name="ionflow",
        help="From a solid-electrolyte structure to an MTP and a Li-ion conductivity.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_root)
    app.command()(version)
    for module_name in SUBCOMMANDS if modules is None else modules:
        try:
            module = importlib.import_module(f"ionflow.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ionflow.cli.{module_name}":
                continue  # stage not built yet
            raise
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=SUBCOMMANDS[module_name])
    return app


_FULL_APP: list[typer.Typer] = []


def __getattr__(name: str) -> typer.Typer:
    # ``from ionflow.cli.main import app`` gives the app with every sub-command
    if name == "app":
        if not _FULL_APP:
            _FULL_APP.append(build_app())
        return _FULL_APP[0]
    raise AttributeError(name)


def main() -> None:
    """Run the CLI, turning user errors into one line and exit code 2."""
    from ionflow.cli.errors import run_cli

    run_cli(build_app(_modules_for(sys.argv[1:])))


if __name__ == "__main__":
    main()
