"""From streamed frames to unwrapped, drift-corrected positions of one species.

Only the positions of the diffusing species are kept (float64, time-contiguous per
atom and axis, ready for the FFT); the framework enters as its centre of mass per
frame, so memory is ``3 * n_species * n_frames * 8`` bytes plus one frame.
Wrapped positions without image flags are unwrapped by the minimum image of the
fractional displacement between consecutive frames (valid while no atom moves more
than half a cell between two frames).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from ionflow.analysis.readers import TrajectoryReader
from ionflow.errors import IonflowInputError
from ionflow.io.trajectory_frame import Frame


@dataclass
class SpeciesTrajectory:
    """Unwrapped positions of the diffusing species.

    Attributes:
        species: element symbol (or LAMMPS type) of the diffusing atoms.
        time_fs: (T,) frame times in fs, starting at 0.
        positions: (3, n_atoms, T) unwrapped Cartesian positions in Å, framework drift
            removed.
        cells: (T, 3, 3) cell of every frame in Å.
        origins: (T, 3) cell origin of every frame in Å.
        framework_drift: (T, 3) displacement of the framework centre of mass in Å.
        n_atoms_total: atoms in the cell.
    """

    species: str
    time_fs: np.ndarray
    positions: np.ndarray
    cells: np.ndarray
    origins: np.ndarray
    framework_drift: np.ndarray
    n_atoms_total: int

    @property
    def n_atoms(self) -> int:
        """Number of diffusing atoms."""
        return self.positions.shape[1]

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.positions.shape[2]

    @property
    def mean_volume_A3(self) -> float:  # noqa: N802
        """Mean cell volume over the frames, in Å^3."""
        return float(np.mean(np.abs(np.linalg.det(self.cells))))

    @property
    def timestep_fs(self) -> float:
        """Time between frames in fs."""
        return float(self.time_fs[1] - self.time_fs[0]) if self.n_frames > 1 else 0.0


def _masses(labels: np.ndarray) -> np.ndarray:
    """Atomic masses for element symbols; 1 for labels that are not elements."""
    return np.array(
        [atomic_masses[atomic_numbers[s]] if s in atomic_numbers else 1.0 for s in labels]
    )


def frame_time_fs(frame: Frame, timestep_fs: float | None) -> float:
    """Time of a frame in fs: step x timestep if given, else the time in the file."""
    if timestep_fs is not None:
        return frame.step * timestep_fs
    if frame.time_fs is not None:
        return frame.time_fs
    raise IonflowInputError("the trajectory stores no times: pass --timestep-fs")


def collect_species_trajectory(
    reader: TrajectoryReader,
    species: str,
    timestep_fs: float | None = None,
    remove_drift: bool = True,
    stride: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SpeciesTrajectory:
    """Stream a trajectory and keep the unwrapped positions of one species.

    Args:
        reader: an open trajectory (see :func:`ionflow.analysis.readers.open_trajectory`).
        species: element symbol (or LAMMPS type number) of the diffusing atoms.
        timestep_fs: MD time step in fs (LAMMPS: time = step x timestep); for XYZ/ASE
            files, the time between frames. None: use the times stored in the file.
        remove_drift: subtract the centre-of-mass displacement of the other atoms.
        stride: keep every ``stride``-th frame.
        progress: called with the number of frames read so far.

    Raises:
        IonflowInputError: missing species, changing atom count, non-monotonic steps,
            non-uniform frame spacing, fewer than 3 frames.
    """
    labels = reader.species
    selected = labels == species
    if not selected.any():
        present = ", ".join(sorted(set(labels.tolist())))
        raise IonflowInputError(
            f"species '{species}' not in {reader.path} (present: {present}; "
            "map LAMMPS types with --type-map 1=Li,2=P,...)"
        )
    framework = ~selected
    masses = _masses(labels[framework])
    # XDATCAR/XYZ/ASE frames carry no MD step: the interval between frames is given
    use_index_time = reader.frame_index_times
    chunks: list[np.ndarray] = []
    times, cells, origins, drift = [], [], [], []
    previous_frac = None
    unwrapped = None
    for index, frame in enumerate(reader.frames()):
        if index % stride:
            continue
        if len(frame.positions) != len(labels):
            raise IonflowInputError(
                f"{reader.path}: atom count changes from {len(labels)} to {len(frame.positions)}"
            )
        if use_index_time and timestep_fs is not None:
            times.append(index * timestep_fs)
        else:
            times.append(frame_time_fs(frame, timestep_fs))
        if len(times) > 1 and times[-1] <= times[-2]:
            raise IonflowInputError(
                f"{reader.path}: steps are not increasing at frame {index} "
                f"(time {times[-1]:g} fs after {times[-2]:g} fs)"
            )
        if frame.unwrapped:
            unwrapped = frame.positions
        else:
            frac = np.linalg.solve(frame.cell.T, (frame.positions - frame.origin).T).T
            if previous_frac is None:
                unwrapped = frame.positions.copy()
            else:
                step = frac - previous_frac
                step -= np.round(step)
                unwrapped = unwrapped + step @ frame.cell
            previous_frac = frac
        cells.append(frame.cell)
        origins.append(frame.origin)
        if framework.any():
            drift.append(masses @ unwrapped[framework] / masses.sum())
        else:
            drift.append(np.zeros(3))
        chunks.append(unwrapped[selected].T.copy())
        if progress is not None:
            progress(index + 1)
    if len(times) < 3:
        raise IonflowInputError(f"{reader.path}: need at least 3 frames, found {len(times)}")
    time_fs = np.asarray(times, dtype=float)
    spacing = np.diff(time_fs)
    if not np.allclose(spacing, spacing[0], rtol=1e-6, atol=1e-9):
        raise IonflowInputError(
            f"{reader.path}: frames are not evenly spaced in time "
            f"({spacing.min():g} to {spacing.max():g} fs); split the file at the gap"
        )
    positions = np.empty((3, int(selected.sum()), len(chunks)))
    for t, chunk in enumerate(chunks):
        positions[:, :, t] = chunk
    chunks.clear()
    drift_arr = np.asarray(drift)
    drift_arr -= drift_arr[0]
    if remove_drift and framework.any():
        positions -= drift_arr.T[:, None, :]
    return SpeciesTrajectory(
        species=species,
        time_fs=time_fs - time_fs[0],
        positions=positions,
        cells=np.asarray(cells),
        origins=np.asarray(origins),
        framework_drift=drift_arr,
        n_atoms_total=len(labels),
    )


def from_positions(
    positions: np.ndarray,
    time_fs: np.ndarray,
    cell: np.ndarray,
    species: str = "Li",
    n_atoms_total: int | None = None,
) -> SpeciesTrajectory:
    """Build a :class:`SpeciesTrajectory` from in-memory unwrapped positions.

    Args:
        positions: (T, n_atoms, 3) unwrapped Cartesian positions in Å.
        time_fs: (T,) frame times in fs, evenly spaced.
        cell: (3, 3) cell in Å (constant).
        species: label of the atoms.
        n_atoms_total: atoms in the cell (default: ``n_atoms``).
    """
    positions = np.asarray(positions, dtype=float)
    n_frames = positions.shape[0]
    return SpeciesTrajectory(
        species=species,
        time_fs=np.asarray(time_fs, dtype=float) - time_fs[0],
        positions=np.ascontiguousarray(positions.transpose(2, 1, 0)),
        cells=np.repeat(np.asarray(cell, dtype=float)[None], n_frames, axis=0),
        origins=np.zeros((n_frames, 3)),
        framework_drift=np.zeros((n_frames, 3)),
        n_atoms_total=n_atoms_total or positions.shape[1],
    )
