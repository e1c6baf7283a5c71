"""Input settings of the DFT stage: level-of-theory YAML and the VASP/CP2K input writers."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

LEVELS_OF_THEORY: tuple[str, ...] = ("PBE", "PBE-D3(BJ)", "optB88-vdW")


@cache
def load_set_yaml(name: str) -> dict[str, Any]:
    """Return the parsed YAML file ``name`` (e.g. ``"levels.yaml"``) of this package."""
    return yaml.safe_load(files(__package__).joinpath(name).read_text())


def check_level(level: str) -> str:
    """Return ``level`` if it is a known level of theory.

    Raises:
        IonflowInputError: the level is not one of :data:`LEVELS_OF_THEORY`.
    """
    from ionflow.errors import IonflowInputError

    if level not in LEVELS_OF_THEORY:
        raise IonflowInputError(
            f"unknown level of theory {level!r}; choose one of {', '.join(LEVELS_OF_THEORY)}"
        )
    return level


#: Levels of theory each oracle can compute. CHGNet is a single foundation model fitted
#: to PBE(+U) data (MPtrj): it labels "PBE" only, and reports always name the oracle.
ORACLE_LEVELS: dict[str, tuple[str, ...]] = {
    "vasp": LEVELS_OF_THEORY,
    "cp2k": LEVELS_OF_THEORY,
    "chgnet": ("PBE",),
}


def check_oracle_level(oracle: str, level: str) -> str:
    """Return ``level`` if ``oracle`` can compute it.

    Raises:
        IonflowInputError: unknown level, or a level the oracle does not have.
    """
    from ionflow.errors import IonflowInputError

    check_level(level)
    if level not in ORACLE_LEVELS.get(oracle, ()):
        raise IonflowInputError(
            f"oracle {oracle!r} cannot compute {level}; it has {', '.join(ORACLE_LEVELS[oracle])}"
            " (use oracle cp2k or vasp for dispersion-corrected levels)"
        )
    return level
