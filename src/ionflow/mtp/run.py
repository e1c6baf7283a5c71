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
from typing import Protocol

from ase import Atoms

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg
from ionflow.settings import get_settings

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


class MlpEngine:
    """MLIP-2/3 ``mlp`` binary through subprocess (production on HPC)."""

    name = "mlp"

    def __init__(self, command: str | None = None, mpi_prefix: str | None = None) -> None:
        settings = get_settings()
        self.command = shlex.split(command or settings.mlp_cmd)
        prefix = settings.mpi_prefix if mpi_prefix is None else mpi_prefix
        self.mpi_prefix = shlex.split(prefix)

    def _run(self, args: list[str], cwd: Path, parallel: bool = False) -> None:
        cmd = [*(self.mpi_prefix if parallel else []), *self.command, *args]
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        except FileNotFoundError as exc:
            raise IonflowInputError(
                f"MTP engine command not found: {cmd[0]} (set mlp_cmd or use mtp_engine: motep)"
            ) from exc
        (cwd / f"mlp_{args[0]}.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}"
            )

    def train(self, initial_mtp, train_cfg, trained_mtp, species, weights, max_iter, seed):
        """Run ``mlp train`` (under the MPI prefix); returns the trained ``.mtp``."""
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
        self._run(args, Path(trained_mtp).parent, parallel=True)
        return Path(trained_mtp)

    def calc_efs(self, mtp, in_cfg, out_cfg, species):
        """Run ``mlp calc-efs``."""
        self._run(["calc-efs", str(mtp), str(in_cfg), str(out_cfg)], Path(out_cfg).parent)
        return Path(out_cfg)

    def calc_grade(self, mtp: Path, train_cfg: Path, in_cfg: Path, out_cfg: Path) -> list[float]:
        """Run ``mlp calc-grade`` (also writes ``state.als`` for LAMMPS); return grades."""
        self._run(
            ["calc-grade", str(mtp), str(train_cfg), str(in_cfg), str(out_cfg)],
            Path(out_cfg).parent,
        )
        return read_mv_grades(out_cfg)

    def select_add(self, mtp, train_cfg, candidates_cfg, new_cfg, species):
        """Run ``mlp select-add``."""
        self._run(
            ["select-add", str(mtp), str(train_cfg), str(candidates_cfg), str(new_cfg)],
            Path(new_cfg).parent,
        )
        return Path(new_cfg)


def read_mv_grades(cfg: str | Path) -> list[float]:
    """Return the ``Feature MV_grade`` of every configuration of an ``mlp`` output."""
    text = Path(cfg).read_text()
    return [float(v) for v in re.findall(r"Feature\s+MV_grade\s+(\S+)", text)]


class MotepEngine:
    """motep through its Python API (runs anywhere)."""

    name = "motep"

    def train(self, initial_mtp, train_cfg, trained_mtp, species, weights, max_iter, seed):
        """Fit with motep; warm start when ``initial_mtp`` holds coefficients."""
        from ionflow.mtp import motep_api

        data = motep_api.read_potential(initial_mtp, species)
        warm = data.moment_coeffs is not None and data.radial_coeffs is not None
        images = read_labelled_cfg(train_cfg, species)
        weights_tuple = (weights.energy, weights.force, weights.stress)
        motep_api.train(data, images, weights_tuple, max_iter, seed, warm=warm)
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
