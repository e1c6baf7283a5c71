"""Exploration on the production engine: LAMMPS+MLIP grades and selects inside LAMMPS.

The cluster path of active learning (the :class:`ionflow.learning.explore.Explorer` API). Each
(structure, temperature) pair is one NVT run of ionflow.md's deck with the ``lmp``
engine, at full LAMMPS speed; MLIP's own extrapolation control grades every step against
the active set of the training set, saves configurations graded above ``gamma_select`` to
``preselected.cfg`` and ends the run above ``gamma_break``:

- MLIP-2: ``pair_style mlip mlip.ini`` with ``select TRUE``, ``select:threshold``,
  ``select:threshold-break`` and the active set in ``state.als`` (``mlp calc-grade``);
- MLIP-3: ``pair_style mlip load_from=pot.almtp extrapolation_control=true ...`` with the
  active set in the ``.almtp`` (``mlp train --iteration_limit=0 --al_mode=nbh``).

The result has the local explorers' form; ``all_grades`` holds the grades of the saved
configurations only (LAMMPS reports no others). Selection among them is the next step
(``mlp select-add``/``select_add`` with ``mtp_engine: mlp``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.io.lammps_data import write_structure_data
from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg
from ionflow.io.mlip_ini import mlip_ini_text
from ionflow.learning.explore import ExplorationResult
from ionflow.learning.explore_lammps import LammpsExplorer
from ionflow.md.run import DECK_FILE, MdExtrapolationBreakError, MdUnstableError, run_engine
from ionflow.md.segments import write_mtp
from ionflow.md.sets.deck import ALMTP_FILE, DATA_FILE, MLIP_INI, SELECTED_FILE, render_deck
from ionflow.mtp.run import MlpEngine, gather_rank_files

STATE_FILE = "state.als"  # MLIP-2 active set, written by ``mlp calc-grade``


@dataclass
class LmpExplorer(LammpsExplorer):
    """NVT MD with LAMMPS+MLIP (``md_engine: lmp``), selecting inside LAMMPS.

    Attributes (besides :class:`LammpsExplorer`'s; ``grade_every`` is unused: MLIP grades
    every step):
        mlp_command: the ``mlp`` command that builds the active set (default: settings).
    """

    mlp_command: str | None = None

    def _active_set(self, engine: MlpEngine, mtp_path: str, train_cfg: Path) -> Path:
        """Build the active set of ``train_cfg`` in the form the LAMMPS interface reads."""
        work = train_cfg.parent
        if engine.dialect == "mlip2":
            engine.calc_grade(Path(mtp_path), train_cfg, train_cfg, work / "train.graded.cfg")
            return work / STATE_FILE
        return engine.active_set_potential(Path(mtp_path), train_cfg, work / ALMTP_FILE)

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
        """Run one MD per (structure, temperature K); see the ``Explorer`` API.

        A run ended by MLIP's break threshold, or one LAMMPS cannot continue (lost atoms,
        exploded box), counts as stopped; what it saved before is kept.
        """
        species = list(species)
        masses = [float(atomic_masses[atomic_numbers[s]]) for s in species]
        engine = MlpEngine(command=self.mlp_command)
        result = ExplorationResult()
        with tempfile.TemporaryDirectory(prefix="ionflow-explore-", dir=Path.cwd()) as tmp:
            work = Path(tmp)
            train_cfg = write_labelled_cfg(training_set, work / "train.cfg", species)
            active_set = self._active_set(engine, mtp_path, train_cfg)
            run_index = 0
            for structure in structures:
                for temperature in temperatures:
                    run_dir = work / f"run.{run_index:03d}"
                    run_dir.mkdir()
                    cutoff = write_mtp(mtp_path, run_dir)
                    shutil.copy(active_set, run_dir / active_set.name)
                    if engine.dialect == "mlip2":
                        ini = mlip_ini_text(
                            gamma_select=gamma_select,
                            gamma_break=gamma_break,
                            state_file=STATE_FILE,
                            selected_file=SELECTED_FILE,
                        )
                        (run_dir / MLIP_INI).write_text(ini)
                    write_structure_data(
                        AseAtomsAdaptor.get_structure(structure), species, run_dir / DATA_FILE
                    )
                    protocol = self.protocol(temperature, steps, self.seed + run_index)
                    deck = render_deck(
                        protocol, species, masses, "lmp", cutoff,
                        mlip_version=engine.dialect, extrapolation=(gamma_select, gamma_break),
                    )  # fmt: skip
                    (run_dir / DECK_FILE).write_text(deck)
                    try:
                        run_engine("lmp", run_dir)
                    except (MdExtrapolationBreakError, MdUnstableError):
                        result.runs_stopped += 1
                    self._collect(run_dir / SELECTED_FILE, species, result)
                    run_index += 1
        return result

    @staticmethod
    def _collect(selected: Path, species: list[str], result: ExplorationResult) -> None:
        """Add the configurations MLIP saved (with their ``MV_grade``) to ``result``."""
        if not selected.exists() and not selected.with_name(selected.name + ".0").exists():
            return  # nothing was graded above gamma_select
        for atoms in read_labelled_cfg(gather_rank_files(selected), species):
            grade = float(atoms.calc.results["MV_grade"])
            candidate = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
            result.candidates.append(candidate)
            result.candidate_grades.append(grade)
            result.all_grades.append(grade)
