"""Exceptions for bad user input, shared by the library and the CLI."""

from __future__ import annotations


class IonflowInputError(ValueError):
    """Bad input from the user (structure, species, setting, missing program).

    The message is one line that says what is wrong and what to do about it. The CLI
    prints it as ``ionflow: error: <message>`` and exits with code 2; nothing that was
    already stored is changed.
    """


def describe_validation_error(exc: Exception, unknown: str = "unknown key") -> str:
    """One line for the first error of a pydantic ``ValidationError``.

    ``unknown key 'a.b'`` for a key the model does not have, else ``'a.b': message``.
    """
    err = exc.errors()[0]  # type: ignore[attr-defined]
    key = ".".join(str(part) for part in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{unknown} '{key}'"
    return f"'{key}': {err['msg']}"
