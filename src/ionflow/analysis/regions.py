"""Region-resolved diffusion: slabs around grain-boundary planes, labels per frame.

Each atom is labelled in every frame by its distance from the nearest GB plane along
the plane normal (slabs of ``width_A``: GB, Near_GB, Far_GB, Bulk). The MSD of a
region averages the displacements over the time origins at which an atom was in that
region (masked all-origins MSD, still O(T log T) with FFT correlations).

A region's D error is its Gaussian random-walk error (``mean_count`` walkers) times the
ratio of the whole species' error to its own random-walk error
(:func:`ionflow.analysis.diffusion.fit_diffusion`: the excess the run's observed scatter
of squared displacements shows, from hops and concerted atoms). The origin variance is
not measured per region (origins move between regions); the whole run's excess stands in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

from ionflow.analysis.diffusion import (
    A2_PER_FS_TO_CM2_PER_S,
    choose_fit_window,
    fit_diffusion,
    gls_line,
)
from ionflow.analysis.displacements import SpeciesTrajectory
from ionflow.analysis.msd import species_msd
from ionflow.errors import IonflowInputError
from ionflow.structures.gb_regions import REGION_NAMES


def plane_distances(
    trajectory: SpeciesTrajectory, gb_planes_frac: Sequence[float], axis: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Distance of every atom in every frame to the nearest GB plane, and the plane area.

    Args:
        trajectory: unwrapped positions of the diffusing species.
        gb_planes_frac: fractional coordinates of the GB planes along ``axis``.
        axis: lattice direction normal to the GB planes (0, 1, 2).

    Returns:
        ((n_atoms, T) distances in Å, (T,) area of one plane in Å^2).
    """
    if not gb_planes_frac:
        raise IonflowInputError("give at least one GB plane position (fractional)")
    planes = np.asarray(gb_planes_frac, dtype=float)
    distances = np.empty((trajectory.n_atoms, trajectory.n_frames))
    areas = np.empty(trajectory.n_frames)
    for t in range(trajectory.n_frames):
        cell = trajectory.cells[t]
        shifted = trajectory.positions[:, :, t] - trajectory.origins[t][:, None]
        frac = np.linalg.solve(cell.T, shifted)
        normal = np.cross(cell[(axis + 1) % 3], cell[(axis + 2) % 3])
        areas[t] = np.linalg.norm(normal)
        height = abs(np.linalg.det(cell)) / areas[t]
        delta = frac[axis][:, None] - planes[None, :]
        delta -= np.round(delta)
        distances[:, t] = np.abs(delta).min(axis=1) * height
    return distances, areas


def assign_slab_regions(
    trajectory: SpeciesTrajectory,
    gb_planes_frac: Sequence[float],
    axis: int = 2,
    width_A: float = 10.0,
    n_regions: int = len(REGION_NAMES),
) -> np.ndarray:
    """Region label of every atom in every frame from its distance to the GB planes.

    Args:
        trajectory: unwrapped positions of the diffusing species.
        gb_planes_frac: fractional coordinates of the GB planes along ``axis``.
        axis: lattice direction normal to the GB planes (0, 1, 2).
        width_A: slab width in Å.
        n_regions: number of slabs; the last one holds everything farther away.

    Returns:
        (n_atoms, T) integer labels (0 = GB ... n_regions-1 = Bulk).
    """
    distances, _ = plane_distances(trajectory, gb_planes_frac, axis)
    return np.minimum((distances // width_A).astype(int), n_regions - 1).astype(np.int8)


def density_profile(
    trajectory: SpeciesTrajectory,
    gb_planes_frac: Sequence[float],
    axis: int = 2,
    bin_A: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged number density of the species against distance from the nearest plane.

    Bins of ``bin_A`` from the plane up to half the smallest spacing between planes (the
    farthest any atom can be); each bin holds the slabs on both sides of every plane.

    Returns:
        (bin centres in Å, density in atoms/Å^3).
    """
    distances, areas = plane_distances(trajectory, gb_planes_frac, axis)
    planes = np.sort(np.asarray(gb_planes_frac, dtype=float) % 1.0)
    gaps = np.diff(np.concatenate([planes, [planes[0] + 1.0]]))
    heights = np.array(
        [abs(np.linalg.det(c)) / a for c, a in zip(trajectory.cells, areas, strict=True)]
    )
    reach = 0.5 * gaps.min() * heights.min()
    n_bins = max(1, int(np.floor(reach / bin_A + 1e-9)))
    edges = np.arange(n_bins + 1) * bin_A
    density = np.zeros(n_bins)
    for t in range(trajectory.n_frames):
        counts, _ = np.histogram(distances[:, t], bins=edges)
        density += counts / (areas[t] * bin_A * 2 * len(planes))
    return 0.5 * (edges[1:] + edges[:-1]), density / trajectory.n_frames


def region_counts(labels: np.ndarray, n_regions: int = len(REGION_NAMES)) -> np.ndarray:
    """(T, n_regions) number of atoms in each region in every frame."""
    counts = np.zeros((labels.shape[1], n_regions), dtype=int)
    for region in range(n_regions):
        counts[:, region] = (labels == region).sum(axis=0)
    return counts


def masked_msd(positions: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSD over the time origins where ``mask`` is true, summed over atoms.

    Args:
        positions: (3, n_atoms, T) unwrapped positions in Å.
        mask: (n_atoms, T) true where an origin counts.

    Returns:
        (msd in Å^2 per lag, number of (atom, origin) pairs per lag).
    """
    _, _, n = positions.shape
    n_fft = sp_fft.next_fast_len(2 * n, real=True)
    m = mask.astype(float)
    m_hat = sp_fft.rfft(m, n=n_fft, axis=-1)

    def corr(a_hat: np.ndarray, b: np.ndarray) -> np.ndarray:
        # sum_t a_t b_{t+lag}
        b_hat = sp_fft.rfft(b, n=n_fft, axis=-1)
        return sp_fft.irfft(np.conj(a_hat) * b_hat, n=n_fft, axis=-1)[..., :n]

    counts = corr(m_hat, np.ones_like(m)).sum(axis=0)
    total = np.zeros(n)
    for k in range(3):
        x = positions[k]
        term1 = corr(m_hat, x * x)
        term2 = corr(sp_fft.rfft(m * x, n=n_fft, axis=-1), x)
        # sum_{t <= T-1-lag} m_t x_t^2
        term3 = np.cumsum(m * x * x, axis=-1)[..., ::-1]
        total += (term1 - 2 * term2 + term3).sum(axis=0)
    counts = np.rint(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / counts, np.nan), counts


@dataclass
class RegionDiffusion:
    """D of one region (cm^2/s) with its error, mean occupancy and fit window (fs)."""

    region: str
    D_cm2_s: float
    D_err_cm2_s: float
    mean_count: float
    fit_window_fs: tuple[float, float]


def random_walk_excess(statistical_err: float, random_walk_err: float) -> float:
    """How many times the observed error of D exceeds its random-walk error (>= 1)."""
    return max(1.0, statistical_err / random_walk_err) if random_walk_err > 0 else 1.0


def region_diffusion(
    trajectory: SpeciesTrajectory,
    labels: np.ndarray,
    names: Sequence[str] = REGION_NAMES,
    max_lag_fraction: float = 0.5,
    excess: float | None = None,
) -> list[RegionDiffusion]:
    """D per region from origin-labelled MSDs (regions never visited are skipped).

    Errors: the random-walk error scaled by the whole species' observed ``excess``
    (module docstring); None: measured here from the automatic-window fit of the whole
    species (a caller that has that fit already passes its :func:`random_walk_excess`).
    """
    t = trajectory.time_fs
    dt = trajectory.timestep_fs
    if excess is None:
        whole = fit_diffusion(species_msd(trajectory, collective=False))
        excess = random_walk_excess(whole.D_statistical_err_cm2_s, whole.D_random_walk_err_cm2_s)
    results = []
    for region, name in enumerate(names):
        mask = labels == region
        if not mask.any():
            continue
        msd, _ = masked_msd(trajectory.positions, mask)
        mean_count = float(mask.sum(axis=0).mean())
        valid = np.isfinite(msd)
        valid[0] = False
        usable = np.flatnonzero(valid)
        if len(usable) < 3:
            continue
        start, end, _ = choose_fit_window(t, np.nan_to_num(msd), max_lag_fraction)
        idx = usable[(usable >= start) & (usable <= end)]
        if len(idx) < 3:
            continue
        idx = idx[np.unique(np.linspace(0, len(idx) - 1, min(200, len(idx))).astype(int))]
        fit = gls_line(t[idx], msd[idx], max(mean_count, 1.0), t[-1], 3, dt)
        results.append(
            RegionDiffusion(
                region=name,
                D_cm2_s=fit.slope / 6.0 * A2_PER_FS_TO_CM2_PER_S,
                D_err_cm2_s=excess * fit.slope_err / 6.0 * A2_PER_FS_TO_CM2_PER_S,
                mean_count=mean_count,
                fit_window_fs=(float(t[idx[0]]), float(t[idx[-1]])),
            )
        )
    return results
