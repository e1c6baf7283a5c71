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
from ionflow.structures.contacts import closest_contacts_of_set


@dataclass
class ExplorationResult:
    """Configurations visited by exploration MD.

    Attributes:
        candidates: configurations graded above gamma_select (no labels).
        candidate_grades: their extrapolation grade (max over atoms).
        all_grades: grade of every graded snapshot.
        runs_stopped: runs stopped because a grade exceeded gamma_break.
        runs_unphysical: runs stopped at a configuration beyond the trust levels (never
            a candidate, never labelled).
        contacts: configurations that stopped a run with an element pair closer than the
            per-pair trust level (:attr:`TrustLevels.pair_distance_fraction`), or the last
            one graded before an unphysical stop: physical, and labelled so the potential
            learns the repulsion it was heading into.
        runs_contact: runs stopped at such a contact.
    """

    candidates: list[Atoms] = field(default_factory=list)
    candidate_grades: list[float] = field(default_factory=list)
    all_grades: list[float] = field(default_factory=list)
    runs_stopped: int = 0
    runs_unphysical: int = 0
    contacts: list[Atoms] = field(default_factory=list)
    runs_contact: int = 0


@dataclass(frozen=True)
class TrustLevels:
    """Where a visited configuration stops being physical (DP-GEN's "trust levels").

    A configuration with two atoms closer than ``min_distance_fraction`` times the
    potential's ``min_dist`` (its radial basis starts there: nothing below was fitted), or
    with a predicted energy per atom outside the training set's range widened by
    ``energy_window_eV_atom`` on both sides, ends its exploration run and is not labelled:
    the oracle would be asked about a collapsed or exploded cell the MTP should never visit.

    ``min_dist`` is one number for every element pair (the closest pair of any species in
    the training set), so a pair whose closest training distance is far above it (Sr-Sr at
    3.2 Å against a min_dist of 1.5 Å set by Li-O) can fall together unnoticed: the MTP was
    never shown that pair any closer and may well be attractive there. With
    ``pair_distance_fraction`` set, a configuration in which an element pair comes closer
    than that fraction of the same pair's closest distance in the training set (the
    potential's cutoff for a pair never inside it) also ends the run; it is a contact,
    still physical, and labelled, so each round moves that pair's trusted range inwards
    until the oracle's repulsion is learnt. A run that ends below ``min_dist`` then
    leaves its last configuration before that stop to be labelled the same way (the
    pair setting ``min_dist`` has no per-pair level above it).

    Attributes:
        min_distance_fraction: fraction of the potential's min_dist, below which atoms
            are too close.
        energy_window_eV_atom: allowed predicted energy per atom beyond the training
            set's lowest and highest, eV/atom.
        pair_distance_fraction: fraction of each element pair's closest training distance
            below which a run stops at a contact that is labelled (None: off).
    """

    min_distance_fraction: float = 1.0
    energy_window_eV_atom: float = 0.5
    pair_distance_fraction: float | None = None

    def bounds(self, data, training_set: Sequence[Atoms]) -> tuple[float, float, float]:
        """Return (shortest distance Å, lowest and highest energy eV/atom) for ``data``."""
        per_atom = [a.get_potential_energy() / len(a) for a in training_set]
        return (
            self.min_distance_fraction * float(data.radial_basis.min),
            min(per_atom) - self.energy_window_eV_atom,
            max(per_atom) + self.energy_window_eV_atom,
        )

    def pair_limits(self, data, training_set: Sequence[Atoms]) -> dict[str, float] | None:
        """Per element pair (``"O-Sr"``, sorted) the distance (Å) below which a run stops.

        ``pair_distance_fraction`` of the pair's closest distance in ``training_set``
        (periodic images included; the potential's cutoff for a pair never inside it).
        None when ``pair_distance_fraction`` is None.
        """
        if self.pair_distance_fraction is None:
            return None
        cutoff = float(data.radial_basis.max)
        closest = closest_contacts_of_set(training_set, cutoff)
        return {pair: self.pair_distance_fraction * d for pair, d in closest.items()}


class SnapshotGrader:
    """Checks and grades exploration snapshots; both explorers call it after every chunk."""

    def __init__(
        self,
        data,
        training_set: Sequence[Atoms],
        gamma_select: float,
        gamma_break: float,
        trust: TrustLevels | dict,
        result: ExplorationResult,
    ) -> None:
        if isinstance(trust, dict):  # an explorer serialised by jobflow (dataclasses.asdict)
            trust = TrustLevels(**trust)
        self.data = data
        self.active = motep_api.active_set(data, training_set)
        self.active_inverse = np.linalg.inv(self.active)
        self.gamma_select, self.gamma_break = gamma_select, gamma_break
        self.min_distance_A, self.energy_min, self.energy_max = trust.bounds(data, training_set)
        self.pair_limits_A = trust.pair_limits(data, training_set)
        self.cutoff_A = float(data.radial_basis.max)
        self.result = result
        self.last_within: Atoms | None = None  # this run's last snapshot within the levels

    def pair_limit_matrix(self, snapshot: Atoms) -> np.ndarray:
        """Per-pair trust distance (Å) of every two atoms of ``snapshot``."""
        symbols = snapshot.get_chemical_symbols()
        kinds = sorted(set(symbols))
        index = np.array([kinds.index(s) for s in symbols])
        table = np.array(
            [
                [self.pair_limits_A.get("-".join(sorted((a, b))), self.cutoff_A) for b in kinds]
                for a in kinds
            ]
        )
        return table[np.ix_(index, index)]

    def contact(self, snapshot: Atoms) -> str | None:
        """Which distance trust level ``snapshot`` is beyond, if any.

        ``"unphysical"``: two atoms closer than min_dist allows; ``"pair"``: an element
        pair closer than its per-pair level; None: neither.
        """
        if len(snapshot) < 2:
            return None
        distances = snapshot.get_all_distances(mic=True)
        np.fill_diagonal(distances, np.inf)
        if distances.min() < self.min_distance_A:
            return "unphysical"
        if self.pair_limits_A is not None and (distances < self.pair_limit_matrix(snapshot)).any():
            return "pair"
        return None

    def too_close(self, snapshot: Atoms) -> bool:
        """True if two atoms of ``snapshot`` are closer than the trust level allows."""
        return self.contact(snapshot) == "unphysical"

    def energy_within(self, energy_eV: float, n_atoms: int) -> bool:
        """True if a predicted energy (eV, whole cell) is within the trust levels' window."""
        return bool(self.energy_min <= energy_eV / n_atoms <= self.energy_max)

    def physical(self, snapshot: Atoms) -> bool:
        """True if ``snapshot`` is within the trust levels (distances, predicted energy)."""
        if self.too_close(snapshot):
            return False
        energy = motep_api.predict(self.data, [snapshot])[0]["energy"]
        return self.energy_within(energy, len(snapshot))

    def __call__(self, snapshot: Atoms) -> bool:
        """Grade ``snapshot`` (kept above gamma_select); True ends the run.

        A run ends above gamma_break, at an unphysical snapshot (not kept, not graded), or
        at a contact closer than a per-pair trust level (kept as a contact to label). With
        per-pair levels, a run ended by an unphysical snapshot leaves the snapshot graded
        before it as a contact instead: the last configuration on the way there.
        The grade and the energy check share one evaluation of the potential.
        """
        contact = self.contact(snapshot)
        unphysical = contact == "unphysical"
        if not unphysical:
            rows, (energy,) = motep_api.rows_and_energies(self.data, [snapshot])
            unphysical = not self.energy_within(energy, len(snapshot))
        if unphysical:
            self.result.runs_unphysical += 1
            if self.pair_limits_A is not None and self.last_within is not None:
                self.result.contacts.append(self.last_within)  # the last one before the stop
            return self._stop()
        if contact == "pair":
            self.result.contacts.append(snapshot)
            self.result.runs_contact += 1
            return self._stop()
        grade = float(motep_api.grades_with_inverse(self.active_inverse, rows).max())
        self.result.all_grades.append(grade)
        if grade > self.gamma_select:
            self.result.candidates.append(snapshot)
            self.result.candidate_grades.append(grade)
        if grade > self.gamma_break:
            self.result.runs_stopped += 1
            return self._stop()
        self.last_within = snapshot
        return False

    def _stop(self) -> bool:
        self.last_within = None
        return True


class Explorer(Protocol):
    """Explore with MD and return the configurations the potential extrapolates on.

    Explorers are dataclasses with a ``seed`` (the velocities of their first MD run): the
    active-learning loop gives each of its exploration jobs its own
    (``dataclasses.replace(explorer, seed=...)``).
    """

    seed: int

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
        trust: where a visited configuration stops being physical.
    """

    timestep_fs: float = 1.0
    friction_per_fs: float = 0.02
    grade_every: int = 5
    seed: int = 0
    trust: TrustLevels = field(default_factory=TrustLevels)

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
        result = ExplorationResult()
        grader = SnapshotGrader(data, training_set, gamma_select, gamma_break, self.trust, result)
        rng = np.random.default_rng(self.seed)
        for structure in structures:
            for temperature in temperatures:
                atoms = structure.copy()
                atoms.calc = motep_api.calculator(data)

                def grade_snapshot(atoms: Atoms = atoms) -> bool:
                    return grader(Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True))

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
