"""Output documents of relaxation and AIMD snapshot jobs (eV, Å, K, fs)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pymatgen.core import Structure


class RelaxDocument(BaseModel):
    """A relaxed structure."""

    model_config = {"arbitrary_types_allowed": True}

    oracle: str
    level_of_theory: str
    structure: Structure = Field(description="Relaxed structure (Å), provenance 'relaxed'.")
    energy: float = Field(description="Final total energy, eV.")
    converged: bool = Field(description="Forces below the tolerance within max_steps.")
    failure: str | None = Field(
        None, description="Why it did not converge, when the engine says (e.g. SCF hit NELM)."
    )
    n_steps: int
    force_tolerance: float = Field(description="eV/Å.")


class AimdSnapshotsDocument(BaseModel):
    """Evenly spaced snapshots of one NVT AIMD run (equilibration skipped)."""

    model_config = {"arbitrary_types_allowed": True}

    oracle: str
    level_of_theory: str
    temperature: float = Field(description="Thermostat temperature, K.")
    timestep: float = Field(description="fs.")
    n_steps: int = Field(description="MD steps run.")
    n_frames: int = Field(description="Frames read back (initial frame included).")
    snapshot_frames: list[int] = Field(description="Frame index of each snapshot.")
    potential_energy_range: tuple[float, float] | None = Field(
        None, description="Potential energy over the snapshots, eV."
    )
    snapshots: list[Structure] = Field(
        default_factory=list, description="Snapshot structures (stored in the data store)."
    )
