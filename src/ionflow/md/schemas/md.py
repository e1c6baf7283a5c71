"""Output documents of the MD stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ionflow.md.schemas.protocol import MdProtocol
from ionflow.md.sets.wall import CoreRepulsion

# LAMMPS thermo column -> MdThermo field
THERMO_COLUMNS = {
    "Step": "step",
    "Time": "time_ps",
    "Temp": "temperature_k",
    "Press": "pressure_bar",
    "PotEng": "potential_energy_ev",
    "TotEng": "total_energy_ev",
    "Volume": "volume_a3",
    "c_wall": "wall_energy_ev",  # the core-repulsion wall (ionflow.md.sets.wall), if any
}
OPTIONAL_COLUMNS = ("wall_energy_ev",)  # left empty when no log has the column


def _thermo_lines(log: Path) -> list[tuple[int, dict[str, float]]]:
    """``(step, {column: value})`` of every thermo line of a LAMMPS log (killed or not).

    Warnings printed inside a thermo block and a half-written last line are skipped.
    """
    if not log.exists():
        return []
    out = []
    header: list[str] | None = None
    for line in log.read_text(errors="replace").splitlines():
        words = line.split()
        if words[:1] == ["Step"]:
            header = words
            continue
        if header is None or not words:
            continue
        if line.startswith("Loop time"):
            header = None
            continue
        if len(words) != len(header):
            continue
        try:
            numbers = [float(w) for w in words]
        except ValueError:
            continue
        out.append((int(numbers[0]), dict(zip(header, numbers, strict=True))))
    return out


class MdThermo(BaseModel):
    """Thermodynamic output of a run, one entry per thermo line (LAMMPS metal units)."""

    step: list[int] = Field(default_factory=list)
    time_ps: list[float] = Field(default_factory=list)
    temperature_k: list[float] = Field(default_factory=list)
    pressure_bar: list[float] = Field(default_factory=list)
    potential_energy_ev: list[float] = Field(default_factory=list)
    total_energy_ev: list[float] = Field(default_factory=list)
    volume_a3: list[float] = Field(default_factory=list)
    wall_energy_ev: list[float] = Field(
        default_factory=list,
        description="Energy of the core-repulsion wall (included in the potential energy); "
        "empty for a run without a wall.",
    )

    @classmethod
    def from_logs(cls, segments: list[tuple[int, Path]]) -> MdThermo:
        """Collect the thermo lines of a run's segments, each step once.

        Args:
            segments: ``(start_step, log.lammps)`` per segment in run order. Lines of a
                segment at or after the next segment's start are dropped (the next
                segment restarted earlier and wrote them again), as for the dumps.
        """
        rows: dict[int, list[float]] = {}
        for k, (start, log) in enumerate(segments):
            stop = segments[k + 1][0] if k + 1 < len(segments) else None
            for step, values in _thermo_lines(Path(log)):
                if step < start or (stop is not None and step >= stop):
                    continue
                rows.setdefault(step, values)
        values: dict[str, list] = {field: [] for field in THERMO_COLUMNS.values()}
        for step in sorted(rows):
            for column, field in THERMO_COLUMNS.items():
                value = rows[step].get(column, np.nan)  # type: ignore[union-attr]
                values[field].append(int(value) if field == "step" else float(value))
        for field in OPTIONAL_COLUMNS:
            if all(np.isnan(values[field])):
                values[field] = []
        return cls(**values)

    def mean(self, field: str, from_step: int = 0) -> float:
        """Mean of ``field`` over thermo lines at or after ``from_step`` (NaN if none)."""
        steps = np.asarray(self.step)
        data = np.asarray(getattr(self, field), dtype=float)[steps >= from_step]
        return float(data.mean()) if data.size else float("nan")


class MdTaskDoc(BaseModel):
    """Result of one MD run (all its segments): where the trajectory is and what it did.

    The trajectory itself stays a file (binary LAMMPS dump, ``id type xu yu zu``, Å)
    referenced by path; the thermo arrays and the final structure go to the JobStore
    ``data`` store.
    """

    dir_name: str = Field(description="Directory of the last segment (holds the trajectory).")
    engine: str = Field(description="'lmp' or 'lammps-python'.")
    temperature_k: float = Field(description="Production temperature (K).")
    seed: int = Field(description="Velocity seed.")
    species: list[str] = Field(description="Element of each LAMMPS type (type k = species[k-1]).")
    n_atoms: int
    protocol: MdProtocol
    completed_steps: int
    total_steps: int
    segment_dirs: list[str] = Field(description="Run directory of each segment, in order.")
    trajectory_file: str | None = Field(None, description="Joined binary dump (absolute path).")
    n_frames: int = 0
    type_map: dict[str, str] = Field(
        default_factory=dict, description="LAMMPS type -> element, for the trajectory readers."
    )
    production_mean_temperature_k: float | None = None
    production_mean_volume_a3: float | None = None
    production_mean_pressure_bar: float | None = None
    speed_steps_per_s: float | None = Field(None, description="MD steps per second (last segment).")
    us_per_atom_step: float | None = Field(None, description="Wall time per atom and step (µs).")
    thermo: MdThermo = Field(default_factory=MdThermo)
    final_structure: Structure | None = Field(None, description="All atoms at the end.")
    classical_potential: str | None = Field(
        None, description="Name of the classical potential of the run; None: the MTP."
    )
    core_repulsion: CoreRepulsion | None = Field(
        None, description="The wall below each pair's closest training distance, if any."
    )
    wall_active_rows: int = Field(
        0, description="Thermo rows with wall energy > 0: the run was outside its training."
    )
    wall_rows: int = Field(0, description="Thermo rows with a wall energy column.")
    wall_max_energy_ev: float = Field(0.0, description="Largest wall energy of a thermo row.")
    warnings: list[str] = Field(default_factory=list, description="What a reader must know.")
