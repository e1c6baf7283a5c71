"""`ionflow db install|start|stop|status`: the embedded MongoDB wire-protocol server."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ionflow.db import server
from ionflow.errors import IonflowInputError

app = typer.Typer(help="Embedded MongoDB-wire database (127.0.0.1 only).", no_args_is_help=True)
console = Console()

PortOption = typer.Option(None, "--port", "-p", help="TCP port (default: setting db_port).")
DataDirOption = typer.Option(
    None, "--data-dir", help="Data directory (default: setting data_dir, on local disk)."
)


def _defaults(port: int | None, data_dir: Path | None) -> tuple[int, Path]:
    from ionflow.settings import get_settings

    if port is not None and not 1 <= port <= 65535:
        raise IonflowInputError(f"--port must be a TCP port 1-65535, got {port}")
    if data_dir is not None and data_dir.expanduser().exists() and not data_dir.is_dir():
        raise IonflowInputError(f"--data-dir {data_dir} is a file, not a directory")
    if port is not None and data_dir is not None:
        return port, data_dir.expanduser()
    settings = get_settings()
    return (
        port if port is not None else settings.db_port,
        (data_dir or settings.data_dir).expanduser(),
    )


def _table(status: server.ServerStatus) -> Table:
    table = Table(title="ionflow embedded database", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    state = "[green]running[/green]" if status.running else "[red]stopped[/red]"
    table.add_row("state", state)
    table.add_row("uri", status.uri or "-")
    table.add_row("pid", str(status.pid) if status.running else "-")
    table.add_row("data dir", str(status.data_dir))
    table.add_row("database files", f"{status.db_size_mb:.2f} MB")
    table.add_row(
        "server", " ".join(server.SERVER_PACKAGES) + ("" if status.patched else " (unpatched)")
    )
    table.add_row("server env", "installed" if status.env_installed else "not installed")
    return table


@app.command()
def install(data_dir: Path | None = DataDirOption) -> None:
    """Install the database server's own virtual environment (idempotent)."""
    _, data_dir = _defaults(None, data_dir)
    env_dir = server.env_dir_for(data_dir)
    with console.status(f"installing {' '.join(server.SERVER_PACKAGES)} into {env_dir}"):
        changed = server.install(env_dir)
    console.print(f"database server {'installed' if changed else 'already installed'}: {env_dir}")


@app.command()
def start(
    port: int | None = PortOption,
    data_dir: Path | None = DataDirOption,
    query_timeout_s: float = typer.Option(
        60.0,
        "--query-timeout-s",
        help="Server-side time limit (s) of a read that sets no maxTimeMS of its own.",
    ),
) -> None:
    """Start the embedded server in the background (does nothing if it runs)."""
    port, data_dir = _defaults(port, data_dir)
    with console.status(f"starting the database on 127.0.0.1:{port}"):
        status = server.start(data_dir, port=port, query_timeout_s=query_timeout_s)
    word = "already running" if status.already_running else "started"
    console.print(f"database {word}: {status.uri} (data in {data_dir})")
    _warn_if_uri_elsewhere(port)


def _warn_if_uri_elsewhere(port: int) -> None:
    """Say so when the ``db_uri`` setting does not point at this server."""
    from urllib.parse import urlsplit

    from ionflow.settings import get_settings

    try:
        target = urlsplit(get_settings().db_uri)
        here = target.hostname in ("127.0.0.1", "localhost") and target.port == port
    except (ValueError, IonflowInputError):
        return
    if not here:
        console.print(
            f"note: setting db_uri is {target.hostname}:{target.port}, not this server; "
            f"set db_uri: mongodb://127.0.0.1:{port}/ionflow to use it"
        )


@app.command()
def stop(port: int | None = PortOption, data_dir: Path | None = DataDirOption) -> None:
    """Stop the embedded server of the data directory (does nothing if stopped)."""
    port, data_dir = _defaults(port, data_dir)
    current = server.status(data_dir)
    if current.running and current.port != port:
        raise IonflowInputError(
            f"the database of {data_dir} runs on port {current.port}, not {port}; "
            f"use --port {current.port}"
        )
    stopped = server.stop(data_dir)
    console.print("database stopped" if stopped else "database was not running")


@app.command()
def status(port: int | None = PortOption, data_dir: Path | None = DataDirOption) -> None:
    """Show whether the embedded server runs, its URI, pid and data size."""
    port, data_dir = _defaults(port, data_dir)
    current = server.status(data_dir)
    console.print(_table(current))
    if not current.running and not server.port_is_free(port):
        console.print(f"note: another program listens on 127.0.0.1:{port}")
