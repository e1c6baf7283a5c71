"""``pair_style mlip`` inputs for LAMMPS+MLIP on HPC, in both interfaces' syntax.

MLIP-2's interface reads its settings from ``mlip.ini`` (``pair_style mlip mlip.ini``);
MLIP-3's interface takes them as ``key=value`` words of the ``pair_style`` line
(``pair_style mlip load_from=pot.almtp extrapolation_control=true ...``). The one writer
of both: exploration (active learning, :mod:`ionflow.learning`) selects configurations
(MLIP-2 ``select TRUE``, MLIP-3 ``extrapolation_control=true``); production MD in
:mod:`ionflow.md` only evaluates the potential.
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


def mlip3_pair_style(
    potential_file: str = "pot.mtp",
    gamma_select: float = 2.0,
    gamma_break: float = 10.0,
    selected_file: str = "preselected.cfg",
    select: bool = True,
) -> str:
    """Return the ``pair_style mlip`` command of the MLIP-3 LAMMPS interface.

    Args:
        potential_file: with ``select``, an ``.almtp`` holding the active set (MLIP-3
            grades against it); otherwise any ``.mtp``.
        gamma_select: with ``select``, configurations graded above it are saved
            (``extrapolation_control:threshold_save``).
        gamma_break: with ``select``, the MD stops above this grade.
        selected_file: with ``select``, where the saved configurations go (an MPI build
            appends the rank, ``preselected.cfg.0``, ...).
        select: grade and save configurations (exploration); False for production MD.
    """
    if not select:
        return f"pair_style mlip load_from={potential_file}"
    return (
        f"pair_style mlip load_from={potential_file} extrapolation_control=true "
        f"extrapolation_control:threshold_save={gamma_select:g} "
        f"extrapolation_control:threshold_break={gamma_break:g} "
        f"extrapolation_control:save_extrapolative_to={selected_file}"
    )
