"""Input files for exploration with LAMMPS+mlip on HPC (``pair_style mlip mlip.ini``)."""

from __future__ import annotations

from pathlib import Path


def mlip_ini_text(
    mtp_file: str = "pot.mtp",
    gamma_select: float = 2.0,
    gamma_break: float = 10.0,
    state_file: str = "state.als",
    selected_file: str = "preselected.cfg",
) -> str:
    """Return ``mlip.ini`` for MD that saves configurations graded above ``gamma_select``.

    The MD stops above ``gamma_break``; ``state.als`` is written by ``mlp calc-grade``.
    """
    return (
        f"mtp-filename {mtp_file}\n"
        "select TRUE\n"
        f"select:threshold {gamma_select:g}\n"
        f"select:threshold-break {gamma_break:g}\n"
        f"select:load-state {state_file}\n"
        f"select:save-selected {selected_file}\n"
    )


def write_mlip_ini(directory: str | Path, **kwargs: object) -> Path:
    """Write ``mlip.ini`` (see :func:`mlip_ini_text`) into ``directory``."""
    path = Path(directory) / "mlip.ini"
    path.write_text(mlip_ini_text(**kwargs))
    return path
