"""One-line errors for the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ionflow.errors import IonflowInputError
from ionflow.settings import ConfigError

USER_ERRORS: tuple[type[Exception], ...] = (IonflowInputError, ConfigError, FileNotFoundError)


def run_cli(app: typer.Typer) -> None:
    """Call the typer ``app``; user errors become ``ionflow: error: ...`` and exit 2."""
    try:
        code = app(standalone_mode=False)
    except USER_ERRORS as exc:
        print(f"ionflow: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        # click errors (typer vendors click, so match by behaviour, not by class)
        if not (hasattr(exc, "show") and hasattr(exc, "exit_code")):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # a bare command group: its help
        else:  # a bad option or argument: one line, like every other user error
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            print(f"ionflow: error: {message}{where}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def check_new_output(path: Path | None, force: bool, option: str = "--out") -> None:
    """Refuse to overwrite an existing output unless ``--force`` was given.

    A directory counts as existing output when it is not empty; a missing parent
    directory is fine (it is created when the output is written).

    Raises:
        IonflowInputError: ``path`` exists and ``force`` is False.
    """
    if path is None or force or not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise IonflowInputError(f"{option} {path} already exists; pass --force to overwrite it")
