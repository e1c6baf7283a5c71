"""Site analysis: residence times, jump counts and back-jump fraction.

Every atom is assigned in every frame to its nearest site under periodic boundary
conditions (the Voronoi cell of the site). By default the sites are the positions of
the species in the first frame. An atom stays on a site until it is assigned to a
different one; a back jump returns to the site it came from (i -> j -> i).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ionflow.analysis.displacements import SpeciesTrajectory


def assign_sites(trajectory: SpeciesTrajectory, sites_A: np.ndarray | None = None) -> np.ndarray:
    """Nearest site of every atom in every frame.

    Args:
        trajectory: unwrapped positions of the diffusing species.
        sites_A: (M, 3) Cartesian site positions in Å (default: first-frame positions).

    Returns:
        (n_atoms, T) site indices.
    """
    if sites_A is None:
        sites_A = trajectory.positions[:, :, 0].T
    sites_A = np.asarray(sites_A, dtype=float)
    out = np.empty((trajectory.n_atoms, trajectory.n_frames), dtype=np.int32)
    for t in range(trajectory.n_frames):
        cell, origin = trajectory.cells[t], trajectory.origins[t]
        inv = np.linalg.inv(cell)
        atoms_frac = ((trajectory.positions[:, :, t].T - origin) @ inv) % 1.0
        sites_frac = ((sites_A - origin) @ inv) % 1.0
        if np.allclose(cell, np.diag(np.diag(cell))):
            lengths = np.diag(cell)
            tree = cKDTree((sites_frac * lengths) % lengths, boxsize=lengths)
            _, out[:, t] = tree.query((atoms_frac * lengths) % lengths)
        else:  # triclinic: minimum image by brute force over the sites
            delta = atoms_frac[:, None, :] - sites_frac[None, :, :]
            delta -= np.round(delta)
            out[:, t] = np.argmin(np.linalg.norm(delta @ cell, axis=-1), axis=1)
    return out


@dataclass
class SiteStatistics:
    """Jump statistics from a site assignment.

    Attributes:
        n_jumps: total number of site changes.
        jumps_per_atom: mean number of jumps per atom.
        back_jump_fraction: fraction of jumps (after an atom's first) that return to the
            previous site.
        mean_residence_time_fs: mean time between two jumps of an atom (complete stays
            only), in fs; NaN when no atom jumped twice.
        residence_times_fs: all complete residence times in fs.
    """

    n_jumps: int
    jumps_per_atom: float
    back_jump_fraction: float
    mean_residence_time_fs: float
    residence_times_fs: list[float]


def site_statistics(assignments: np.ndarray, time_fs: np.ndarray) -> SiteStatistics:
    """Jumps, back jumps and residence times from an (n_atoms, T) site assignment."""
    n_jumps = back = later_jumps = 0
    residence: list[float] = []
    for row in assignments:
        change = np.flatnonzero(row[1:] != row[:-1]) + 1
        n_jumps += len(change)
        if len(change) == 0:
            continue
        visited = np.concatenate([[row[0]], row[change]])
        back += int(np.sum(visited[2:] == visited[:-2]))
        later_jumps += max(len(change) - 1, 0)
        residence.extend(np.diff(time_fs[change]).tolist())
    return SiteStatistics(
        n_jumps=int(n_jumps),
        jumps_per_atom=n_jumps / max(len(assignments), 1),
        back_jump_fraction=back / later_jumps if later_jumps else float("nan"),
        mean_residence_time_fs=float(np.mean(residence)) if residence else float("nan"),
        residence_times_fs=residence,
    )
