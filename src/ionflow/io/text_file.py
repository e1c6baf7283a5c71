"""Reading a user's text file (``.cfg``, ``.mtp``, ...) with one-line errors."""

from __future__ import annotations

from pathlib import Path

from ionflow.errors import IonflowInputError


def read_text_file(path: str | Path, kind: str) -> str:
    """Return the text of ``path``, a ``kind`` file (e.g. ``"MLIP .cfg"``).

    Raises:
        IonflowInputError: the file is missing or is not text.
    """
    path = Path(path)
    if not path.is_file():
        raise IonflowInputError(f"{path}: {kind} file not found")
    try:
        return path.read_text()
    except UnicodeDecodeError as exc:
        raise IonflowInputError(f"{path}: not a text file (an {kind} file is text)") from exc
