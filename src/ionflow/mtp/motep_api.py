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

import logging
import time
from collections.abc import Callable, Sequence
from copy import copy
from dataclasses import dataclass, field
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
from motep.loss import LossFunction, LossSetting
from motep.optimizers.lls import LLSOptimizer
from motep.optimizers.scipy import ScipyMinimizeOptimizer
from motep.parallel import DummyMPIComm
from motep.potentials.mtp.data import MTPData
from motep.upconvert.upconverter import upconvert
from scipy.optimize import OptimizeResult, minimize

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_mtp import read_mtp_file_text
from ionflow.mtp import pipe_comm

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


class _UnfilledActiveSetRows(logging.Filter):
    """Move motep's "Some parameters have not been selected" (and its index array) to DEBUG.

    MLIP-3's incremental MaxVol leaves rows that no neighbourhood fills at their ``1e-6``
    start whenever the training set spans fewer directions than there are coefficients;
    that is expected, not a failure, and printed an index array per grading.
    """

    follows = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        unfilled = "have not been selected" in str(record.msg)
        if unfilled or _UnfilledActiveSetRows.follows:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            _UnfilledActiveSetRows.follows = unfilled  # the next record is the index array
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("motep.grade.maxvol").addFilter(_UnfilledActiveSetRows())
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
    """Write ``data`` in the MLIP-2 ``.mtp`` layout (the one every engine reads).

    Under ``mpirun``, rank 0 writes and the other ranks wait until it has.
    """
    path = Path(path)
    world = mpi_world()
    if world is None or world.rank == 0:
        write_mtp(path, data, legacy=True)
    if world is not None:
        world.barrier()
    return path


def mpi_world():
    """``MPI.COMM_WORLD`` when this process is one of several MPI ranks, else None.

    motep binds its communicator to ``MPI.COMM_WORLD`` when mpi4py is importable; under
    ``mpirun``/``srun`` with more than one rank, every rank runs the same fit and motep
    shares the configurations among them (a cluster's usual way), so ionflow starts no
    worker processes of its own.
    """
    import motep.parallel

    world = motep.parallel.world
    return world if world.size > 1 else None


# Optimiser defaults, measured on 43 CHGNet-labelled 52-atom Li6PS5Cl cells (level 8,
# benchmarks/mtp_fit_quality.py): after linear least squares, full-memory BFGS reaches
# 0.06 eV/Å in 100 iterations where L-BFGS-B stalls near 0.24 eV/Å (also with 50
# corrections and ftol/gtol 1e-15/1e-12: neither memory nor its stopping rule is the
# cause; the loss is badly conditioned and the dense inverse-Hessian estimate of the 269
# parameters of a level-8, 4-species potential copes with it). Same cost per iteration.
QUASI_NEWTON_METHOD = "BFGS"
LOSS_PLATEAU_WINDOW = 20  # iterations over which the loss must still fall ...
LOSS_PLATEAU_REL_TOL = 1e-3  # ... by at least this fraction, or the fit stops


@dataclass
class FitLog:
    """What the optimiser did.

    Attributes:
        loss: loss after linear least squares (or at the warm start), then after every
            quasi-Newton iteration.
        seconds: wall time since the start of the fit at each entry of ``loss``.
        stopped_by: ``loss plateau``, ``max_iter``, ``gradient`` (scipy converged) or
            ``line search`` (scipy found no lower loss along its direction).
        processes: processes (or MPI ranks) that shared the loss evaluations.
    """

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped_by: str = ""
    processes: int = 1

    @property
    def n_iterations(self) -> int:
        """Quasi-Newton iterations run."""
        return max(len(self.loss) - 1, 0)


class _QuasiNewtonToPlateau(ScipyMinimizeOptimizer):
    """A scipy quasi-Newton method on motep's loss, stopped when the loss no longer falls."""

    def __init__(
        self,
        loss: LossFunction,
        *,
        log: FitLog,
        start_s: float,
        window: int,
        rel_tol: float,
        method: str,
        on_iteration: Callable[[int, np.ndarray], None] | None = None,
    ) -> None:
        super().__init__(loss)
        self.log, self.start_s, self.method = log, start_s, method
        self.window, self.rel_tol = window, rel_tol
        self.on_iteration = on_iteration

    def _record(self, x: np.ndarray, fun: float) -> None:
        self.log.loss.append(float(fun))
        self.log.seconds.append(time.perf_counter() - self.start_s)
        if self.on_iteration is not None:
            self.on_iteration(len(self.log.loss) - 1, np.array(x))

    def _callback(self, intermediate_result: OptimizeResult) -> None:
        self._record(intermediate_result.x, intermediate_result.fun)
        losses = self.log.loss
        if self.rel_tol > 0 and len(losses) > self.window:
            before = losses[-1 - self.window]
            if before - losses[-1] < self.rel_tol * abs(before):
                self.log.stopped_by = "loss plateau"
                raise StopIteration

    def _optimize(self, **kwargs) -> np.ndarray:
        x0 = self.loss.mtp_data.parameters
        self._record(x0, self.rank0_loss(x0))
        result = minimize(
            self.rank0_loss,
            x0,
            jac=self.rank0_jac,
            method=self.method,
            callback=self._callback,
            options={"maxiter": int(kwargs["max_iter"])},
        )
        if not self.log.stopped_by:
            self.log.stopped_by = {0: "gradient", 1: "max_iter"}.get(result.status, "line search")
        return result.x


@dataclass
class _FitRequest:
    """What every rank of a fit needs (rank 0 broadcasts it to the others)."""

    data: MTPData
    images: list[Atoms]
    setting: LossSetting
    max_iter: int
    plateau_window: int
    plateau_rel_tol: float
    method: str


def _fit_ranks(
    comm,
    request: _FitRequest | None,
    start_s: float,
    on_iteration: Callable[[int, np.ndarray], None] | None = None,
) -> FitLog:
    """Run one rank of a fit: rank 0 optimises ``request.data``, the others serve its loss.

    Every rank builds its own loss on the same configurations and evaluates its share of
    them (``range(rank, n, size)``); rank 0 receives the sums. Only rank 0's log is filled.
    """
    received = comm.bcast(request, root=0)
    if comm.rank != 0:  # rank 0 keeps its own objects: the caller's ``data`` is fitted
        request = received
    loss = LossFunction(list(request.images), request.data, request.setting, comm=comm)
    LLSOptimizer(loss).optimize()
    log = FitLog(processes=comm.size)
    optimizer = _QuasiNewtonToPlateau(
        loss,
        log=log,
        start_s=start_s,
        window=request.plateau_window,
        rel_tol=request.plateau_rel_tol,
        method=request.method,
        on_iteration=on_iteration,
    )
    optimizer.optimize(max_iter=request.max_iter)
    return log


def _fit_worker(comm: pipe_comm.PipeComm) -> None:
    """Rank 1..N-1 of a fit in a worker process (:func:`pipe_comm.worker_processes`)."""
    _fit_ranks(comm, None, time.perf_counter())


def train(
    data: MTPData,
    images: Sequence[Atoms],
    weights: tuple[float, float, float],
    max_iter: int,
    seed: int,
    warm: bool,
    plateau_window: int = LOSS_PLATEAU_WINDOW,
    plateau_rel_tol: float = LOSS_PLATEAU_REL_TOL,
    method: str = QUASI_NEWTON_METHOD,
    on_iteration: Callable[[int, np.ndarray], None] | None = None,
    processes: int = 1,
) -> FitLog:
    """Fit ``data`` in place to labelled ``images``; return what the optimiser did.

    A fresh potential gets random radial coefficients (seeded), then linear least squares
    for the linear coefficients, then BFGS on all coefficients. A warm start (``warm``)
    first refits the linear coefficients by least squares for the new set, then runs BFGS
    from the coefficients of ``data``. BFGS stops after ``max_iter`` iterations or as soon
    as the loss fell by less than ``plateau_rel_tol`` (relative) over the last
    ``plateau_window`` iterations (``plateau_rel_tol=0``: run all ``max_iter``).

    With ``processes`` > 1 the configurations are shared among this process and
    ``processes - 1`` worker processes (at most one per configuration; see
    :mod:`ionflow.mtp.pipe_comm`); the result differs from one process's only in the
    order of floating-point sums. Under ``mpirun`` with several ranks, the MPI ranks share
    them instead (:func:`mpi_world`) and ``processes`` is not used.

    Args:
        data: the potential; untrained or trained (``warm``: continue from it).
        images: labelled structures (energy eV, forces eV/Å, stress).
        weights: energy, force, stress weights (as ``mlp train``).
        max_iter: most BFGS iterations.
        seed: random seed of the initial radial coefficients.
        warm: keep the coefficients of ``data`` instead of initialising them.
        plateau_window: iterations of the loss-plateau stopping rule.
        plateau_rel_tol: relative loss decrease the window must reach to go on.
        method: the scipy quasi-Newton method (``L-BFGS-B``: ionflow's choice before
            benchmarks/mtp_fit_quality.py measured BFGS).
        on_iteration: called with (iteration, parameter vector) after every iteration
            (benchmarks record intermediate potentials through it).
        processes: processes that share the loss evaluations (1: this one alone).

    Raises:
        pipe_comm.FitWorkerError: a worker process failed (its error, named).
        EngineKilledError: a worker process was killed.
    """
    energy, force, stress = weights
    setting = LossSetting(energy_weight=energy, forces_weight=force, stress_weight=stress)
    start = time.perf_counter()
    if not warm:
        # motep treats seed=0 as 'no seed': a generator makes every seed reproducible
        data.initialize(np.random.default_rng(seed))
    request = _FitRequest(
        data, list(images), setting, max_iter, plateau_window, plateau_rel_tol, method
    )
    world = mpi_world()
    if world is not None:
        return _fit_ranks(world, request, start, on_iteration)
    processes = min(processes, len(request.images))
    if processes > 1 and not pipe_comm.can_start_workers():
        logging.getLogger(__name__).info("a daemonic process cannot start fit workers: 1 process")
        processes = 1
    if processes <= 1:
        return _fit_ranks(DummyMPIComm(), request, start, on_iteration)
    with pipe_comm.worker_processes(processes, _fit_worker) as comm:
        return _fit_ranks(comm, request, start, on_iteration)


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
    return rows_and_energies(data, images)[0]


def rows_and_energies(data: MTPData, images: Sequence[Atoms]) -> tuple[np.ndarray, np.ndarray]:
    """Return :func:`neighbourhood_rows` and the predicted energy of each image (eV).

    Both come from one evaluation of the potential (exploration checks the energy of
    every snapshot it grades).
    """
    grader = _grader(data)
    images = [copy(a) for a in images]
    grader._evaluate(images)
    energies = np.array([a.calc.results["energy"] for a in images])
    return grader._calc_jacobian(images), energies


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


def grades_with_inverse(active_inverse: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """:func:`grades_against` with ``np.linalg.inv(active)`` computed once by the caller.

    An exploration run grades thousands of snapshots against one active set: one
    matrix product each instead of a new factorisation (same grades to ~1e-10).
    """
    return np.abs(rows @ active_inverse).max(axis=1)


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
