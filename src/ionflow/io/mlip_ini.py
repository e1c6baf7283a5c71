"""``mlip.ini`` for LAMMPS+mlip on HPC (``pair_style mlip mlip.ini``).

The one writer of ``mlip.ini``: exploration (active learning, :mod:`ionflow.learning`)
selects configurations (``select TRUE``); production MD in :mod:`ionflow.md` only
evaluates the potential (``select FALSE``).
"""

from __future__ import annotations

from pathlib import Path


def mlip_ini_text(
    mtp_file: str = "pot.mtp",
    gamma_select: float = 2.0,
    gamma_break: float = 10.0,
    state_file: str = "state.als",
    selected_file: str = "preselected.cfg",
    select: bool = True,
) -> str:
    """Return ``mlip.ini`` for ``pair_style mlip``.

    Args:
        mtp_file: the potential file, relative to the run directory.
        gamma_select: with ``select``, configurations graded above it are saved.
        gamma_break: with ``select``, the MD stops above this grade.
        state_file: with ``select``, ``state.als`` written by ``mlp calc-grade``.
        selected_file: with ``select``, where the selected configurations go.
        select: grade and save configurations (exploration); False for production
            MD, which only evaluates the potential (the other arguments are unused).
    """
    if not select:
        return f"mtp-filename {mtp_file}\nselect FALSE\n"
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
