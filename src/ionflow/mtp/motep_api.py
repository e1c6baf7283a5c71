"""Every use of motep's Python API in ionflow, in one module.

motep 0.2.0 is used through its Python API, not its CLI: ``motep train`` writes a
``.mtp`` layout that its own ``read_mtp`` cannot read back, so potentials are always
written here with ``write_mtp(..., legacy=True)`` (the MLIP-2 layout that ``mlp`` and
LAMMPS+mlip read). MaxVol selection (``select-add``) and the neighbourhood basis rows
use motep's private helpers (``Grader._evaluate``, ``Grader._calc_jacobian``,
``maxvol._maxvol``); they are wrapped here and covered by ``tests/mtp/test_motep_api.py``
and ``tests/mtp/test_grades_mlip3.py`` so an upgrade that changes them fails loudly.

Extrapolation grades follow MLIP-3's neighbourhood mode (``mlp train --al_mode=nbh``
builds the active set, ``mlp calculate_grade`` grades): one row per atom, the gradient
of its site energy with respect to *every* coefficient MLIP-3 fits (``MLMTPR::CoeffCount``:
radial, species and moment coefficients); the active set is found by MLIP's own
incremental MaxVol (start from 1e-6 x identity, swap rows in while a coefficient exceeds
1.001; rows it never fills keep their 1e-6 start, as in MLIP); a configuration's grade is
the largest grade of its atoms. On MLIP-3's own grades of 1001 configurations
(``../shared/reference/mtp-grades-mlip3``) they agree to 1e-6. MLIP-2 grades differently
(configuration mode: one energy row per configuration), so its numbers are not these.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from copy import copy
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from motep.calculator import make_calculator
from motep.grade.grader import Grader
from motep.grade.maxvol import _maxvol
from motep.grade.setting import GradeMode
from motep.io.mlip.mtp import read_mtp, write_mtp
from motep.potentials.mtp.data import MTPData
from motep.train.trainer import Trainer
from motep.upconvert.upconverter import upconvert

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_mtp import read_mtp_file_text

MOTEP_VERSION = version("motep")


class _FirstMinDistWarning(logging.Filter):
    """Let motep's "distance smaller than min_dist" warning through once per process.

    MD and grading at high temperature meet such distances thousands of times; one line
    says it happened (extrapolation grades measure how much it matters).
    """

    seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "smaller than min_dist" not in record.getMessage():
            return True
        if _FirstMinDistWarning.seen:
            return False
        _FirstMinDistWarning.seen = True
        record.msg += " (further warnings of this kind are not shown)"
        return True


logging.getLogger("motep.potentials.mtp.base").addFilter(_FirstMinDistWarning())
# parameters whose derivatives span the active set: all that MLIP-3 fits and differentiates
# (MLMTPR::CoeffCount); with the linear ones alone, grades differ from MLIP's by up to 0.4
ACTIVE_SET_PARAMETERS = ["species_coeffs", "moment_coeffs", "radial_coeffs"]
# MLIP-3's MaxVol: incremental from 1e-6 x identity, swap threshold 1.001 (motep "mlip")
MLIP_MAXVOL = {"algorithm": "mlip"}


def read_potential(path: str | Path, species: Sequence[str]) -> MTPData:
    """Read an MLIP ``.mtp`` and attach the species order (element symbols).

    Raises:
        IonflowInputError: missing or malformed file, or a species count that differs
            from ``species`` (one line naming the file and the line).
    """
    read_mtp_file_text(path, species)
    data = read_mtp(Path(path))
    data.species = [atomic_numbers[s] for s in species]
    return data


def write_potential(path: str | Path, data: MTPData) -> Path:
    """Write ``data`` in the MLIP-2 ``.mtp`` layout (the one every engine reads)."""
    path = Path(path)
    write_mtp(path, data, legacy=True)
    return path


@contextlib.contextmanager
def _in_scratch_dir():
    """Run in a scratch directory: motep's trainer drops ``intermediate_*.mtp`` in cwd."""
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="ionflow-motep-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(cwd)


def train(
    data: MTPData,
    images: Sequence[Atoms],
    weights: tuple[float, float, float],
    max_iter: int,
    seed: int,
    warm: bool,
) -> MTPData:
    """Fit ``data`` in place to labelled ``images``.

    Args:
        data: the potential; untrained (random start, then linear least squares) or
            trained (``warm``: continue from its coefficients).
        images: labelled structures (energy eV, forces eV/Å, stress).
        weights: energy, force, stress weights (as ``mlp train``).
        max_iter: L-BFGS-B iterations.
        seed: random seed of the initial coefficients.
        warm: keep the coefficients of ``data`` instead of initialising them.
    """
    energy, force, stress = weights
    loss = {"energy_weight": energy, "forces_weight": force, "stress_weight": stress}
    lbfgs = {"method": "minimize", "kwargs": {"method": "L-BFGS-B"}}
    lbfgs["kwargs"]["options"] = {"maxiter": int(max_iter)}
    steps = [lbfgs] if warm else [{"method": "LLS"}, lbfgs]
    # motep treats seed=0 as 'no seed': pass a generator so every seed is reproducible
    trainer = Trainer(data, rng=np.random.default_rng(seed), loss=loss, steps=steps)
    with _in_scratch_dir():
        trainer.train(list(images))
    return data


def predict(data: MTPData, images: Sequence[Atoms]) -> list[dict[str, np.ndarray]]:
    """Return energy (eV), forces (eV/Å) and stress (eV/Å^3, Voigt) for each image."""
    out = []
    for atoms in images:
        image = atoms.copy()
        image.calc = make_calculator(data)
        out.append(
            {
                "energy": image.get_potential_energy(),
                "forces": image.get_forces(),
                "stress": image.get_stress(),
            }
        )
    return out


def predicted_images(data: MTPData, images: Sequence[Atoms]) -> list[Atoms]:
    """Return copies of ``images`` carrying ``data``'s energy, forces and stress."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for atoms, result in zip(images, predict(data, images), strict=True):
        copy = atoms.copy()
        copy.calc = SinglePointCalculator(copy, **result)
        out.append(copy)
    return out


def calculator(data: MTPData):
    """Return an ASE calculator for ``data`` (for MD with the current potential)."""
    return make_calculator(data)


def _grading_copy(data: MTPData) -> MTPData:
    graded = copy(data)
    graded.optimized = list(ACTIVE_SET_PARAMETERS)
    return graded


def _grader(data: MTPData) -> Grader:
    # seed: the MLIP algorithm draws no random numbers, but motep's Grader takes seed=0
    # as "no seed" and would otherwise draw (and broadcast) one
    return Grader(
        _grading_copy(data), seed=1, mode=GradeMode.NEIGHBORHOOD, maxvol_setting=MLIP_MAXVOL
    )


def neighbourhood_rows(data: MTPData, images: Sequence[Atoms]) -> np.ndarray:
    """Return d(E_i)/d(coefficients), one row per atom of ``images`` (MLIP-3 ``nbh`` rows)."""
    grader = _grader(data)
    images = [copy(a) for a in images]
    grader._evaluate(images)
    return grader._calc_jacobian(images)


def active_set(
    data: MTPData, train_images: Sequence[Atoms], rows: np.ndarray | None = None
) -> np.ndarray:
    """Return the MaxVol active set (square matrix) of the training set, as MLIP-3 builds it.

    Rows MLIP's incremental MaxVol did not fill keep their ``1e-6`` start, as in MLIP-3.
    ``rows``: the training set's :func:`neighbourhood_rows`, if already computed.

    Raises:
        IonflowInputError: the training set has fewer neighbourhoods than basis functions.
    """
    rows = neighbourhood_rows(data, train_images) if rows is None else rows
    if rows.shape[0] < rows.shape[1]:
        raise IonflowInputError(
            f"{rows.shape[0]} neighbourhoods cannot span {rows.shape[1]} basis functions; "
            "add training configurations"
        )
    return _grader(data).maxvol.run(rows).submatrix


def grades_against(active: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return the MaxVol extrapolation grade of every row against ``active``.

    Grade = max |c| with ``rows = c @ active`` (Podryabinkin & Shapeev 2017, Eq. 8).
    """
    coefficients = np.linalg.solve(active.T, rows.T).T
    return np.abs(coefficients).max(axis=1)


def maxvol_extend(matrix: np.ndarray, start: np.ndarray, threshold: float) -> np.ndarray:
    """Run MaxVol on ``matrix`` from the rows ``start``; return the final row indices.

    Rows are swapped in while some row has a coefficient above ``1 + threshold``
    (MLIP's ``select-add``: the candidates that end up in the set are selected).
    """
    return _maxvol(matrix, np.asarray(start), threshold=threshold).indices


def upconvert_potential(trained: MTPData, untrained: MTPData) -> MTPData:
    """Copy the coefficients of a fitted lower-level ``trained`` into ``untrained``."""
    upconvert(trained, untrained)
    untrained.species = trained.species
    return untrained
