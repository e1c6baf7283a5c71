"""Mean squared displacement over all time origins with the FFT algorithm.

For a series x(0..T-1) the all-origins MSD at lag m is
``S1(m) - 2 S2(m)`` with ``S2`` the autocorrelation (one FFT of length 2T) and ``S1``
a running sum of x^2 (Calandrini et al., nMoldyn), O(T log T) per atom and axis.
Atoms are processed in chunks so the complex work arrays stay below ``chunk_bytes``.

Beside the MSD, :func:`origin_variance` measures how much the atom-averaged squared
displacement of one window of length t scatters between time origins, at a few lags:
the observed statistics the error of D is built from (:mod:`ionflow.analysis.diffusion`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

from ionflow.analysis.displacements import SpeciesTrajectory

DEFAULT_CHUNK_BYTES = 256 * 1024**2
VARIANCE_LAGS = 48  # log-spaced lags at which the origin variance is measured
VARIANCE_MAX_ORIGINS = 1000  # time origins per lag (evenly strided) for that variance


def msd_fft(series: np.ndarray) -> np.ndarray:
    """All-origins MSD of every 1-D series along the last axis.

    Args:
        series: (..., T) positions (Å) of each series over T evenly spaced frames.

    Returns:
        (..., T) mean squared displacement (Å^2) at lags 0..T-1 frames.
    """
    x = np.asarray(series, dtype=float)
    n = x.shape[-1]
    n_fft = sp_fft.next_fast_len(2 * n, real=True)
    spectrum = sp_fft.rfft(x, n=n_fft, axis=-1)
    autocorr = sp_fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_fft, axis=-1)[..., :n]
    counts = np.arange(n, 0, -1, dtype=float)
    squares = x * x
    # S1(m) = sum_{k=0}^{T-1-m} (x_k^2 + x_{k+m}^2) / (T - m)
    head = np.cumsum(squares, axis=-1)  # sum_{k<=j}
    tail = np.cumsum(squares[..., ::-1], axis=-1)[..., ::-1]  # sum_{k>=j}
    s1 = head[..., ::-1] + tail
    return (s1 - 2.0 * autocorr) / counts


@dataclass
class MSDResult:
    """Atom-averaged MSD of one species.

    Attributes:
        time_fs: (T,) lag times in fs (lag 0 first).
        msd_xyz: (T, 3) MSD along x, y, z in Å^2 (sum = total MSD).
        n_atoms: atoms averaged over.
        total_time_fs: length of the trajectory in fs.
        collective_msd: (T,) MSD of the summed displacement divided by n_atoms in Å^2
            (charge/collective MSD for the Haven ratio), or None.
        variance_lags: (L,) lag indices at which ``origin_variance_xyz`` was measured,
            or None (then the error of D falls back to the Gaussian random-walk model).
        origin_variance_xyz: (L, 4) variance over time origins of the atom-averaged
            squared displacement in Å^4 (see :func:`origin_variance`): total, x, y, z.
    """

    time_fs: np.ndarray
    msd_xyz: np.ndarray
    n_atoms: int
    total_time_fs: float
    collective_msd: np.ndarray | None = None
    variance_lags: np.ndarray | None = None
    origin_variance_xyz: np.ndarray | None = None

    @property
    def msd(self) -> np.ndarray:
        """(T,) total MSD in Å^2."""
        return self.msd_xyz.sum(axis=1)


def species_msd(
    trajectory: SpeciesTrajectory,
    atoms: np.ndarray | None = None,
    collective: bool = True,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> MSDResult:
    """Atom-averaged MSD (total and per axis) of a species trajectory.

    Args:
        trajectory: unwrapped positions (see ``collect_species_trajectory``).
        atoms: indices of the atoms to average over (default: all).
        collective: also compute the collective (centre-of-charge) MSD.
        chunk_bytes: memory bound for the FFT work arrays.
    """
    positions = trajectory.positions if atoms is None else trajectory.positions[:, atoms]
    _, n_atoms, n_frames = positions.shape
    per_atom_bytes = 8 * 2 * sp_fft.next_fast_len(2 * n_frames, real=True) * 3
    chunk = max(1, int(chunk_bytes // per_atom_bytes))
    msd_xyz = np.zeros((3, n_frames))
    for start in range(0, n_atoms, chunk):
        block = positions[:, start : start + chunk]
        for axis in range(3):
            msd_xyz[axis] += msd_fft(block[axis]).sum(axis=0)
    msd_xyz /= n_atoms
    collective_msd = None
    if collective:
        collective_msd = msd_fft(positions.sum(axis=1)).sum(axis=0) / n_atoms
    lags = variance_lags(n_frames)
    return MSDResult(
        time_fs=trajectory.time_fs.copy(),
        msd_xyz=msd_xyz.T,
        n_atoms=n_atoms,
        total_time_fs=float(trajectory.time_fs[-1]),
        collective_msd=collective_msd,
        variance_lags=lags,
        origin_variance_xyz=origin_variance(positions, lags, chunk_bytes=chunk_bytes),
    )


def variance_lags(n_frames: int, n_lags: int = VARIANCE_LAGS) -> np.ndarray:
    """Log-spaced lag indices from 1 frame to half the trajectory (the longest fitted)."""
    return np.unique(np.geomspace(1, max(1, (n_frames - 1) // 2), n_lags).astype(int))


def origin_variance(
    positions: np.ndarray,
    lags: np.ndarray,
    max_origins: int = VARIANCE_MAX_ORIGINS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> np.ndarray:
    """Scatter between time origins of the atom-averaged squared displacement.

    For each lag m, ``y(t0) = (1/N) sum_i |r_i(t0 + m) - r_i(t0)|^2`` over the origins
    t0 (at most ``max_origins``, evenly strided); returned is its sample variance over
    t0 (ddof=1), for the total and for each axis. It holds what a Gaussian model of
    independent atoms leaves out: heavy-tailed (hopping) displacements and atoms that
    move together. Origins overlap, so it is biased low by the variance of the mean over
    origins; :func:`ionflow.analysis.diffusion.observed_variance_model` corrects that.

    Args:
        positions: (3, N, T) unwrapped positions in Å.
        lags: (L,) lag indices (1 <= m < T).
        max_origins: time origins used per lag, evenly strided.
        chunk_bytes: memory bound for the displacement work arrays.

    Returns:
        (L, 4) variances in Å^4: total, x, y, z (NaN where fewer than 2 origins).
    """
    _, n_atoms, n_frames = positions.shape
    chunk = max(1, int(chunk_bytes // (8 * 3 * max_origins * 2)))
    result = np.full((len(lags), 4), np.nan)
    for row, lag in enumerate(lags):
        n_origins = n_frames - lag
        if n_origins < 2:
            continue
        origins = np.unique(np.linspace(0, n_origins - 1, min(n_origins, max_origins)).astype(int))
        y = np.zeros((3, len(origins)))
        for start in range(0, n_atoms, chunk):
            block = positions[:, start : start + chunk]
            step = block[:, :, origins + lag] - block[:, :, origins]
            y += (step * step).sum(axis=1)
        y /= n_atoms
        result[row, 1:] = y.var(axis=1, ddof=1)
        result[row, 0] = y.sum(axis=0).var(ddof=1)
    return result
