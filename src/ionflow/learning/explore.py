"""Exploration: MD with the current MTP, grading every visited configuration.

The interface is :class:`Explorer` (structures, temperatures, steps, potential, gamma_select,
gamma_break -> visited configurations above gamma_select with their neighbourhood grades). This
module implements it with ASE Langevin MD and motep's calculator and grader;
:class:`ionflow.learning.explore_lammps.LammpsExplorer` implements it with the local LAMMPS
engine of ``ionflow.md`` (on HPC, ``pair_style mlip`` with the ``mlip.ini`` of
:mod:`ionflow.io.mlip_ini` selects inside LAMMPS itself). The ASE MD itself is started in
:func:`ionflow.learning.run.run_langevin`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from ase import Atoms

from ionflow.learning.run import run_langevin
from ionflow.mtp import motep_api


@dataclass
class ExplorationResult:
    """Configurations visited by exploration MD.

    Attributes:
        candidates: configurations graded above gamma_select (no labels).
        candidate_grades: their extrapolation grade (max over atoms).
        all_grades: grade of every graded snapshot.
        runs_stopped: runs stopped because a grade exceeded gamma_break.
    """

    candidates: list[Atoms] = field(default_factory=list)
    candidate_grades: list[float] = field(default_factory=list)
    all_grades: list[float] = field(default_factory=list)
    runs_stopped: int = 0


class Explorer(Protocol):
    """Explore with MD and return the configurations the potential extrapolates on."""

    def __call__(
        self,
        structures: Sequence[Atoms],
        temperatures: Sequence[float],
        steps: int,
        mtp_path: str,
        species: Sequence[str],
        training_set: Sequence[Atoms],
        gamma_select: float,
        gamma_break: float,
    ) -> ExplorationResult:
        """Run the exploration."""


@dataclass
class AseMdExplorer:
    """ASE Langevin MD with motep (NVT).

    Attributes:
        timestep_fs: MD time step, fs.
        friction_per_fs: Langevin friction, 1/fs.
        grade_every: grade every this many steps.
        seed: random seed of the velocities and the thermostat.
    """

    timestep_fs: float = 1.0
    friction_per_fs: float = 0.02
    grade_every: int = 5
    seed: int = 0

    def __call__(
        self,
        structures,
        temperatures,
        steps,
        mtp_path,
        species,
        training_set,
        gamma_select,
        gamma_break,
    ) -> ExplorationResult:
        """Run one MD per (structure, temperature K); see :class:`Explorer`."""
        data = motep_api.read_potential(mtp_path, species)
        active = motep_api.active_set(data, training_set)
        result = ExplorationResult()
        rng = np.random.default_rng(self.seed)
        for structure in structures:
            for temperature in temperatures:
                atoms = structure.copy()
                atoms.calc = motep_api.calculator(data)

                def grade_snapshot(atoms: Atoms = atoms) -> bool:
                    """Grade the current atoms; True stops the run (above gamma_break)."""
                    snapshot = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
                    rows = motep_api.neighbourhood_rows(data, [snapshot])
                    grade = float(motep_api.grades_against(active, rows).max())
                    result.all_grades.append(grade)
                    if grade > gamma_select:
                        result.candidates.append(snapshot)
                        result.candidate_grades.append(grade)
                    if grade > gamma_break:
                        result.runs_stopped += 1
                        return True
                    return False

                run_langevin(
                    atoms,
                    temperature,
                    self.timestep_fs,
                    self.friction_per_fs,
                    rng,
                    n_chunks=max(steps // self.grade_every, 1),
                    chunk_steps=self.grade_every,
                    after_chunk=grade_snapshot,
                )
        return result
