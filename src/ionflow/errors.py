"""Exceptions for bad user input, shared by the library and the CLI."""

from __future__ import annotations


class IonflowInputError(ValueError):
    """Bad input from the user (structure, species, setting, missing program).

    The message is one line that says what is wrong and what to do about it. The CLI
    prints it as ``ionflow: error: <message>`` and exits with code 2; nothing that was
    already stored is changed.
    """
