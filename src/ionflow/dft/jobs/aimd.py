"""AIMD snapshots: NVT MD and evenly spaced snapshots (shared SPEC.md stage 4)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jobflow import Maker, job
from pymatgen.core import Structure

from ionflow.dft.labelled_set import provenance, with_provenance
from ionflow.dft.run import run_aimd
from ionflow.dft.schemas.runs import AimdSnapshotsDocument
from ionflow.dft.sets import check_oracle_level
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.errors import IonflowInputError


def snapshot_frames(n_frames: int, n_snapshots: int, equilibration_fraction: float) -> list[int]:
    """Return evenly spaced frame indices after the equilibration part.

    Args:
        n_frames: frames in the trajectory (frame 0 = initial structure).
        n_snapshots: snapshots wanted; fewer if the production part is shorter.
        equilibration_fraction: leading fraction of the frames skipped (0 <= f < 1).

    Returns:
        Sorted, distinct frame indices ending with the last frame.
    """
    if not 0 <= equilibration_fraction < 1:
        raise IonflowInputError("equilibration_fraction must be in [0, 1)")
    first = min(math.ceil(equilibration_fraction * n_frames), n_frames - 1)
    if n_frames <= 0 or n_snapshots <= 0:
        return []
    picks = np.linspace(first, n_frames - 1, min(n_snapshots, n_frames - first))
    return sorted({round(float(x)) for x in picks})


@dataclass
class AimdSnapshotMaker(Maker):
    """Run NVT Nosé-Hoover MD and keep evenly spaced snapshots.

    Attributes:
        name: job name.
        level_of_theory: level of the MD forces.
        oracle_settings: engine and settings (``aimd_kpoint_mesh``: Γ by default).
        temperature: K.
        duration: ps (10 ps in the argyrodite study).
        timestep: fs.
        n_snapshots: snapshots kept per run.
        equilibration_fraction: leading part of the run that is skipped.
        seed: initial velocities.
    """

    name: str = "aimd snapshots"
    level_of_theory: str = "PBE"
    oracle_settings: OracleSettings = field(default_factory=OracleSettings)
    temperature: float = 300.0
    duration: float = 10.0
    timestep: float = 2.0
    n_snapshots: int = 100
    equilibration_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        """Reject an unknown level (or one the oracle lacks) when the Maker is built."""
        self.oracle_settings.check_level(self.level_of_theory)

    @property
    def n_steps(self) -> int:
        """MD steps: duration / timestep."""
        return max(1, round(self.duration * 1000.0 / self.timestep))

    @job(data="snapshots")
    def make(self, structure: Structure) -> AimdSnapshotsDocument:
        """Run MD from ``structure`` (Å) and return its snapshots with provenance."""
        check_oracle_level(self.oracle_settings.resolved_oracle(), self.level_of_theory)
        frames = run_aimd(
            structure,
            self.level_of_theory,
            Path.cwd() / "aimd",
            self.oracle_settings,
            self.temperature,
            self.n_steps,
            self.timestep,
            self.seed,
        )
        picks = snapshot_frames(
            len(frames.structures), self.n_snapshots, self.equilibration_fraction
        )
        origin = provenance(structure)
        snapshots = [
            with_provenance(
                frames.structures[i],
                **{**origin, "source": f"aimd/{origin.get('source', 'input')}"},
                temperature_K=self.temperature,
                frame=i,
            )
            for i in picks
        ]
        energies = [frames.potential_energies[i] for i in picks]
        energies = [e for e in energies if e is not None]
        return AimdSnapshotsDocument(
            oracle=self.oracle_settings.resolved_oracle(),
            level_of_theory=self.level_of_theory,
            temperature=self.temperature,
            timestep=self.timestep,
            n_steps=self.n_steps,
            n_frames=len(frames.structures),
            snapshot_frames=picks,
            potential_energy_range=(min(energies), max(energies)) if energies else None,
            snapshots=snapshots,
        )
