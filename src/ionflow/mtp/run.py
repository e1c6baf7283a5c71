"""The only place an MTP engine is called: ``mlp`` (subprocess) or motep (Python).

Both engines read and write the same files: MLIP-2 ``.mtp`` potentials and ``.cfg``
labelled sets (``ionflow.io.mlip_cfg``), so a potential fitted by one can be graded or
run by the other. The ``mlp`` command and its MPI prefix come from
``ionflow.settings.get_settings()`` (``mlp_cmd``, ``mpi_prefix``).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ase import Atoms

from ionflow.errors import EngineKilledError, IonflowInputError, killed_by_signal
from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg
from ionflow.settings import get_settings, job_cpus

MIN_ATOMS_FOR_TIMING = 64


@dataclass(frozen=True)
class FitWeights:
    """Loss weights of energy, forces and stress (``mlp train`` conventions)."""

    energy: float = 100.0
    force: float = 1.0
    stress: float = 0.0


class MtpEngine(Protocol):
    """What every MTP engine does, file in -> file out."""

    name: str

    def train(
        self,
        initial_mtp: Path,
        train_cfg: Path,
        trained_mtp: Path,
        species: Sequence[str],
        weights: FitWeights,
        max_iter: int,
        seed: int,
    ) -> Path:
        """Fit ``initial_mtp`` (untrained or warm start) to ``train_cfg``."""

    def calc_efs(self, mtp: Path, in_cfg: Path, out_cfg: Path, species: Sequence[str]) -> Path:
        """Write energies/forces/stresses predicted by ``mtp`` for ``in_cfg``."""

    def select_add(
        self,
        mtp: Path,
        train_cfg: Path,
        candidates_cfg: Path,
        new_cfg: Path,
        species: Sequence[str],
    ) -> Path:
        """Write the candidates that extend the active set of ``train_cfg`` to ``new_cfg``."""


MlpDialect = Literal["mlip2", "mlip3"]

# the command that names each dialect in ``mlp list`` (MLIP-2 hyphenates, MLIP-3 underscores)
DIALECT_PROBES: dict[str, MlpDialect] = {"calculate_grade": "mlip3", "calc-grade": "mlip2"}
ALMTP_SUFFIX = ".almtp"  # MLIP-3 potential + active set (text, then "#MVS_v1.1" state)


def probe_dialect(list_output: str) -> MlpDialect:
    """Return which ``mlp`` command set the output of ``mlp list`` shows.

    Raises:
        IonflowInputError: if it shows neither MLIP-2's nor MLIP-3's commands.
    """
    listed = {line.split(":", 1)[0].strip() for line in list_output.splitlines() if ":" in line}
    for command, dialect in DIALECT_PROBES.items():
        if command in listed:
            return dialect
    raise IonflowInputError(
        "`mlp list` shows neither calc-grade (MLIP-2) nor calculate_grade (MLIP-3); "
        "set mlp_cmd to an MLIP-2 or MLIP-3 mlp binary"
    )


def plain_mtp_text(almtp: str | Path) -> str:
    """Return the potential part of an MLIP-3 ``.almtp`` (without the active-set state).

    The plain part is an ``.mtp`` every engine reads (motep, MLIP-2, LAMMPS without
    extrapolation control).
    """
    raw = Path(almtp).read_bytes()
    return raw.split(b"#", 1)[0].decode().rstrip() + "\n"


def gather_rank_files(path: str | Path) -> Path:
    """Merge ``path.0``, ``path.1``, ... written by MPI builds of MLIP-3 into ``path``.

    MLIP-3 hands configuration ``k`` to rank ``k % n_ranks`` and each rank appends to its
    own file, so the merged order interleaves the files. A serial build writes ``path``
    itself, which is then left alone.
    """
    path = Path(path)
    parts = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
    parts.sort(key=lambda p: int(p.suffix[1:]))
    if not parts:
        if not path.exists():
            raise RuntimeError(f"mlp wrote neither {path} nor {path}.0")
        return path
    blocks = [re.findall(r"BEGIN_CFG.*?END_CFG\n?", p.read_text(), re.S) for p in parts]
    merged = [
        block
        for k in range(max(len(b) for b in blocks))
        for block in (b[k] for b in blocks if k < len(b))
    ]
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("".join(b if b.endswith("\n") else b + "\n" for b in merged))
    tmp.replace(path)
    for part in parts:
        part.unlink()
    return path


class MlpEngine:
    """MLIP-2 or MLIP-3 ``mlp`` binary through subprocess (production on HPC).

    The command set is probed once from ``mlp list``: MLIP-2 (``train``, ``calc-efs``,
    ``calc-grade``, ``select-add``; active-learning state in ``state.als``) or MLIP-3
    (``train --save_to``, ``calculate_efs``, ``calculate_grade``, ``select_add``; the
    active set lives in the ``.almtp`` potential). MLIP-3 active sets are built in
    neighbourhood mode (``--al_mode=nbh``), the convention of ionflow's own grades.
    """

    name = "mlp"

    def __init__(
        self,
        command: str | None = None,
        mpi_prefix: str | None = None,
        dialect: MlpDialect | None = None,
    ) -> None:
        settings = get_settings()
        self.command = shlex.split(command or settings.mlp_cmd)
        prefix = settings.mpi_prefix if mpi_prefix is None else mpi_prefix
        self.mpi_prefix = shlex.split(prefix)
        self._dialect = dialect or settings.mlip_version

    @property
    def dialect(self) -> MlpDialect:
        """``"mlip2"`` or ``"mlip3"``, probed from ``mlp list`` on first use."""
        if self._dialect is None:
            self._dialect = probe_dialect(self._run(["list"], Path.cwd(), log=False))
        return self._dialect

    def _run(self, args: list[str], cwd: Path, parallel: bool = False, log: bool = True) -> str:
        cmd = [*(self.mpi_prefix if parallel else []), *self.command, *args]
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        except FileNotFoundError as exc:
            raise IonflowInputError(
                f"MTP engine command not found: {cmd[0]} (set mlp_cmd or use mtp_engine: motep)"
            ) from exc
        if log:
            (cwd / f"mlp_{args[0]}.log").write_text(proc.stdout + proc.stderr)
        signal_number = killed_by_signal(proc.returncode)
        if signal_number is not None:
            raise EngineKilledError(
                f"{shlex.join(cmd)} was killed by signal {signal_number} (out of memory, "
                "node failure or walltime)"
            )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}"
            )
        return proc.stdout

    def _run_for(self, output: Path, args: list[str], cwd: Path, parallel: bool = False) -> Path:
        """Run ``mlp`` and check that it wrote ``output`` (or its MPI rank files).

        ``mlp`` exits with 0 after a usage error or an unknown command, printing only a
        message, so the output file is the evidence that the command ran.
        """
        output = Path(output)
        inputs = {Path(cwd, a).resolve() for a in args if not a.startswith("-")}
        ranks = (p for p in output.parent.glob(output.name + ".*") if p.suffix[1:].isdigit())
        for stale in (output, *ranks):
            if stale.resolve() not in inputs:
                stale.unlink(missing_ok=True)
        stdout = self._run(args, cwd, parallel=parallel)
        if not output.exists() and not output.with_name(output.name + ".0").exists():
            raise RuntimeError(
                f"{shlex.join([*self.command, *args])} wrote no {output.name}: {stdout[-500:]}"
            )
        return output

    def train(self, initial_mtp, train_cfg, trained_mtp, species, weights, max_iter, seed):
        """Run ``mlp train`` (under the MPI prefix); returns the trained ``.mtp``.

        MLIP-3 also leaves the trained potential with its active set beside it
        (``trained_mtp`` with suffix ``.almtp``).
        """
        trained_mtp = Path(trained_mtp)
        if self.dialect == "mlip2":
            args = [
                "train",
                str(initial_mtp),
                str(train_cfg),
                f"--energy-weight={weights.energy:g}",
                f"--force-weight={weights.force:g}",
                f"--stress-weight={weights.stress:g}",
                f"--max-iter={max_iter:d}",
                f"--trained-pot-name={trained_mtp}",
            ]
            return self._run_for(trained_mtp, args, trained_mtp.parent, parallel=True)
        almtp = trained_mtp.with_suffix(ALMTP_SUFFIX)
        args = [
            "train",
            str(initial_mtp),
            str(train_cfg),
            f"--save_to={almtp}",
            f"--energy_weight={weights.energy:g}",
            f"--force_weight={weights.force:g}",
            f"--stress_weight={weights.stress:g}",
            f"--iteration_limit={max_iter:d}",
            "--al_mode=nbh",
        ]
        self._run_for(almtp, args, trained_mtp.parent, parallel=True)
        trained_mtp.write_text(plain_mtp_text(almtp))
        return trained_mtp

    def active_set_potential(self, mtp: Path, train_cfg: Path, almtp: Path) -> Path:
        """MLIP-3: write ``almtp``, the potential ``mtp`` with the active set of ``train_cfg``.

        ``mlp train --iteration_limit=0 --al_mode=nbh``: the coefficients stay as they are
        (and ``min_dist``: ``--no_mindist_update``), the neighbourhood active set is built.
        """
        args = [
            "train",
            str(mtp),
            str(train_cfg),
            f"--save_to={almtp}",
            "--iteration_limit=0",
            "--no_mindist_update=true",
            "--al_mode=nbh",
        ]
        return self._run_for(Path(almtp), args, Path(almtp).parent, parallel=True)

    def calc_efs(self, mtp, in_cfg, out_cfg, species):
        """Run ``mlp calc-efs`` (MLIP-2) or ``mlp calculate_efs`` (MLIP-3)."""
        out_cfg = Path(out_cfg)
        if self.dialect == "mlip2":
            args = ["calc-efs", str(mtp), str(in_cfg), str(out_cfg)]
            return self._run_for(out_cfg, args, out_cfg.parent)
        args = ["calculate_efs", str(mtp), str(in_cfg), f"--output_filename={out_cfg}"]
        return gather_rank_files(self._run_for(out_cfg, args, out_cfg.parent))

    def calc_grade(self, mtp: Path, train_cfg: Path, in_cfg: Path, out_cfg: Path) -> list[float]:
        """Grade ``in_cfg`` against the active set of ``train_cfg``; return the grades.

        MLIP-2: ``mlp calc-grade`` (also writes ``state.als`` for LAMMPS ``mlip.ini``).
        MLIP-3: the ``.almtp`` of :meth:`active_set_potential` (beside ``out_cfg``,
        for LAMMPS ``load_from=``), then ``mlp calculate_grade``.
        """
        out_cfg = Path(out_cfg)
        if self.dialect == "mlip2":
            args = ["calc-grade", str(mtp), str(train_cfg), str(in_cfg), str(out_cfg)]
            return read_mv_grades(self._run_for(out_cfg, args, out_cfg.parent))
        almtp = self.active_set_potential(
            mtp, train_cfg, out_cfg.with_name(Path(mtp).stem + ALMTP_SUFFIX)
        )
        args = ["calculate_grade", str(almtp), str(in_cfg), str(out_cfg)]
        return read_mv_grades(gather_rank_files(self._run_for(out_cfg, args, out_cfg.parent)))

    def select_add(self, mtp, train_cfg, candidates_cfg, new_cfg, species):
        """Run ``mlp select-add`` (MLIP-2) or ``mlp select_add`` (MLIP-3, on an ``.almtp``)."""
        new_cfg = Path(new_cfg)
        if self.dialect == "mlip2":
            args = ["select-add", str(mtp), str(train_cfg), str(candidates_cfg), str(new_cfg)]
            return self._run_for(new_cfg, args, new_cfg.parent)
        almtp = self.active_set_potential(
            mtp, train_cfg, new_cfg.with_name(Path(mtp).stem + ALMTP_SUFFIX)
        )
        args = ["select_add", str(almtp), str(train_cfg), str(candidates_cfg), str(new_cfg)]
        return self._run_for(new_cfg, args, new_cfg.parent)


def read_mv_grades(cfg: str | Path) -> list[float]:
    """Return the ``Feature MV_grade`` of every configuration of an ``mlp`` output."""
    text = Path(cfg).read_text()
    return [float(v) for v in re.findall(r"Feature\s+MV_grade\s+(\S+)", text)]


class MotepEngine:
    """motep through its Python API (runs anywhere).

    Attributes:
        last_log: what the optimiser of the last ``train`` did (``motep_api.FitLog``).
    """

    name = "motep"
    last_log = None

    def train(self, initial_mtp, train_cfg, trained_mtp, species, weights, max_iter, seed):
        """Fit with motep; warm start when ``initial_mtp`` holds coefficients.

        The loss evaluations are shared by ``fit_processes`` processes (setting; default:
        the CPUs of the job, :func:`ionflow.settings.job_cpus`).
        """
        from ionflow.mtp import motep_api

        data = motep_api.read_potential(initial_mtp, species)
        warm = data.moment_coeffs is not None and data.radial_coeffs is not None
        images = read_labelled_cfg(train_cfg, species)
        weights_tuple = (weights.energy, weights.force, weights.stress)
        processes = get_settings().fit_processes or job_cpus()
        self.last_log = motep_api.train(
            data, images, weights_tuple, max_iter, seed, warm=warm, processes=processes
        )
        return motep_api.write_potential(trained_mtp, data)

    def calc_efs(self, mtp, in_cfg, out_cfg, species):
        """Predict energies, forces and stresses with motep."""
        from ionflow.mtp import motep_api

        data = motep_api.read_potential(mtp, species)
        images = read_labelled_cfg(in_cfg, species)
        return write_labelled_cfg(motep_api.predicted_images(data, images), out_cfg, species)

    def select_add(self, mtp, train_cfg, candidates_cfg, new_cfg, species):
        """MaxVol ``select-add`` on motep's grader (see :mod:`ionflow.mtp.selection`)."""
        from ionflow.mtp import motep_api
        from ionflow.mtp.selection import select_add

        data = motep_api.read_potential(mtp, species)
        candidates = read_labelled_cfg(candidates_cfg, species)
        chosen = select_add(data, read_labelled_cfg(train_cfg, species), candidates)
        return write_labelled_cfg([candidates[i] for i in chosen.indices], new_cfg, species)


def cost_per_atom_step_s(mtp: Path, species: Sequence[str], images: Sequence[Atoms]) -> float:
    """Wall time of one force evaluation per atom (s) of ``mtp`` with motep, on ``images[0]``.

    The cell is repeated to at least ``MIN_ATOMS_FOR_TIMING`` atoms so that the per-atom
    cost is free of small-cell overheads.
    """
    from ionflow.mtp import motep_api

    data = motep_api.read_potential(mtp, species)
    atoms = images[0].copy()
    while len(atoms) < MIN_ATOMS_FOR_TIMING:
        atoms = atoms.repeat(2)
    atoms.calc = motep_api.calculator(data)
    atoms.get_forces()  # warm-up (kernel set-up)
    repeats, start = 5, time.perf_counter()
    for _ in range(repeats):
        atoms.positions[0, 0] += 1e-4  # force a new evaluation
        atoms.get_forces()
    return (time.perf_counter() - start) / repeats / len(atoms)


def get_engine(name: str | None = None) -> MtpEngine:
    """Return the engine ``name`` (default: the ``mtp_engine`` setting)."""
    name = name or get_settings().mtp_engine
    engines = {"mlp": MlpEngine, "motep": MotepEngine}
    if name not in engines:
        raise IonflowInputError(f"unknown MTP engine '{name}' (choose mlp or motep)")
    return engines[name]()
