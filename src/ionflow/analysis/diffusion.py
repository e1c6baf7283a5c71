"""Diffusion coefficients from the linear regime of the MSD, with standard errors.

Fit: generalised least squares of ``MSD(t) = 2 d D t + c`` (d = 3 for the total MSD,
1 per axis) over the fit window. Its covariance starts from that of N independent
Gaussian random walkers observed over a total time T (the model kinisi's covariance
builds on): ``Var MSD(t) = 4 MSD(t)^2 t / (3 d N (T - t + dt))`` (the time-averaged MSD
of Brownian motion, Qian et al. 1991) and ``Corr(t_i, t_j) = sqrt(t_i / t_j)`` for
``t_i <= t_j``. This accounts for the strong correlation of overlapping time origins,
so the error does not shrink just because more origins were used.

Real ions are not Gaussian walkers: for 12 ps of a 24-Li argyrodite cell (MTP, 1000 K)
the spread of D over 8 seeds is 1.5x the error of that model alone, for concerted
synthetic hoppers 3.2x (numbers below). Two reasons: (1) hopping is heavy-tailed (at
the fitted lags few atoms have hopped, so the squared displacement scatters far more
than the Gaussian ``(2/d) MSD^2``), and (2) Li hops are concerted, so N atoms are
fewer than N independent walkers. Both show in one quantity the
run itself measures (:func:`ionflow.analysis.msd.origin_variance`, as kinisi uses the
observed variance of the squared displacements instead of the Gaussian one): the variance,
over time origins, of the atom-averaged squared displacement of a window of length t,
``Var_y(t)``. It is modelled as

    ``Var_y(t) = r (2/d) m(t)^2 / N + beta t``,   r >= 1, beta >= 0,

with ``m(t)`` the fitted MSD: ``r`` scales the Gaussian term (correlated atoms: N/r
independent walkers), ``beta t`` is the non-Gaussian (jump) excess, the fourth cumulant
of a sum of independent hops, which grows as t, not t^2. ``r`` and ``beta`` are fitted by
non-negative weighted least squares on the measured lags of the fit window up to T/4
(longer lags have few independent windows), after correcting the sample variance for the
overlap of its origins. Averaging over origins then gives the covariance of the MSD: the
Gaussian part as above times ``r``, plus ``beta t_i t_j / sqrt((T - t_i + dt)(T - t_j + dt))``
(the jump part, fully correlated between lags: each hop adds to every longer lag). The
floor ``r >= 1`` keeps the Gaussian error for Gaussian walkers; ``D_random_walk_err_cm2_s``
keeps the Gaussian-only error and ``rsd_he`` He et al.'s estimate as cross-checks.

The window start. The log-log slope accepts an MSD whose slope at short lags is still
above the long-time one (hot MD: ballistic and in-site motion, back-hops, fading over
0.2-2 ps), and GLS weights the short lags most: a 12 ps MTP run at 1300 K started its
window at 60 fs and gave D = 2.32e-4 cm^2/s in all of 8 seeds, +33 % over the slope of
their pooled MSD beyond 1 ps, with a 2 % error. :func:`settled_start` therefore moves the
start on (doubling) until the fit from it agrees with every fit from a later start
within :data:`START_CHECK_Z` of their Hausman difference (1.5: 2 left the 6 ps runs at
1300 K at 1.9x, 1 made Gaussian walkers' errors 1.3x too small).

Calibration, spread of D over independent runs / median single-run D_err (1 is right)
and 95 % coverage of the true D; before = the Gaussian error and the window from the
log-log slope alone:

- ``tests/analysis/test_error_calibration.py`` (24 atoms, 12 ps, 40 seeds each):
  Gaussian walkers 0.98 (coverage 0.93; before 0.92, 0.93); independent hoppers (6, 20
  hops per atom; 10 with in-site rattle) 1.14 / 1.49 / 0.88 (0.95 / 0.98 / 0.98; before
  1.68 / 1.78 / 1.11, 0.85 / 0.78 / 0.90); concerted pairs 0.81 (0.93; before 1.85,
  0.65) and triples 1.41 (0.95; before 3.24, 0.58).
- ``benchmarks/d_error_calibration.py`` (MTP MD, 24 Li, 8 seeds, 12 ps and 6 ps halves;
  the numbers in its docstring): 1000 K 0.97 / 0.92 (before 1.48 / 1.07); 1300 K 0.87 /
  1.80 (before 0.63 / 5.97, around a D 33 % too high).

When no linear (diffusive) regime is found (a short or sub-diffusive run), D depends on
the fit window more than the random-walk error says. Then D is fitted over a grid of
plausible windows (:data:`WINDOW_START_FRACTIONS` x :data:`WINDOW_END_FRACTIONS` of the
trajectory, the ranges other codes fit: pymatgen-analysis-diffusion from 1 ps to the end,
kinisi from a user's start time to the end), the reported D is the median over windows,
and the 95 % interval spans every window's own 95 % interval; ``D_err_cm2_s`` then is
the half-width of that interval / 1.96, so it carries the window dependence into
everything downstream (Arrhenius weights, sigma).

Units: time fs, MSD Å^2, D reported in cm^2/s (1 Å^2/fs = 0.1 cm^2/s).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ionflow.analysis.msd import MSDResult
from ionflow.errors import IonflowInputError

A2_PER_FS_TO_CM2_PER_S = 0.1
MAX_FIT_POINTS = 200
Z_95 = 1.959963984540054  # two-sided 95 % quantile of the normal distribution
# fit windows tried when no linear regime is found, as fractions of the trajectory length
WINDOW_START_FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.5)
WINDOW_END_FRACTIONS = (0.5, 0.75, 0.95)
MIN_WINDOW_FRACTION = 0.2
# window start check: the slope from the start against the slope from twice the start
LATEST_START_DIVISOR = 4
START_CHECK_Z = 1.5
# an MSD below this (Å^2; 1e-5 Å rms) is no motion, only the FFT's rounding
STILL_MSD_A2 = 1e-10


@dataclass
class LinearFit:
    """GLS fit of MSD = slope * t + intercept (slope in Å^2/fs)."""

    slope: float
    slope_err: float
    intercept: float


@dataclass
class DiffusionFit:
    """Diffusion coefficient of one species from one MSD.

    Attributes:
        D_cm2_s: tracer diffusion coefficient in cm^2/s (without a linear regime: the
            median over the plausible fit windows).
        D_err_cm2_s: standard error of D in cm^2/s (observed variance model, see the
            module docstring); without a linear regime, the
            half-width of ``D_interval_cm2_s`` / 1.96 (window spread included).
        D_interval_cm2_s: 95 % interval of D in cm^2/s; without a linear regime it
            spans the 95 % intervals of every plausible fit window.
        D_xyz_cm2_s: (3,) per-axis diffusion coefficients in cm^2/s.
        D_xyz_err_cm2_s: (3,) their standard errors.
        fit_window_fs: (start, end) of the fit window in fs.
        linear_regime_found: False when the log-log slope never reached ~1 and the
            window fell back to the second half of the usable lags.
        n_eff_jumps: effective number of jumps ``N_atoms * MSD(T) / a^2`` (He et al.).
        rsd_he: He et al.'s relative standard deviation estimate ``3.43/sqrt(N)+0.04``.
        D_sigma_cm2_s: collective (charge) diffusion coefficient in cm^2/s, or None.
        D_sigma_err_cm2_s: its standard error, or None.
        D_statistical_err_cm2_s: the GLS standard error of D in its fit window alone
            (observed variance model, window spread excluded).
        n_windows: fit windows behind the interval (1 with a linear regime).
        D_random_walk_err_cm2_s: the GLS error with the Gaussian random-walk covariance
            alone (N independent walkers) in the same window: a cross-check.
    """

    D_cm2_s: float
    D_err_cm2_s: float
    D_interval_cm2_s: tuple[float, float]
    D_xyz_cm2_s: list[float]
    D_xyz_err_cm2_s: list[float]
    fit_window_fs: tuple[float, float]
    linear_regime_found: bool
    n_eff_jumps: float
    rsd_he: float
    D_sigma_cm2_s: float | None = None
    D_sigma_err_cm2_s: float | None = None
    D_statistical_err_cm2_s: float = 0.0
    n_windows: int = 1
    D_random_walk_err_cm2_s: float = 0.0


def log_log_slope(time_fs: np.ndarray, msd: np.ndarray, n_points: int = 40) -> tuple:
    """Local slope d ln MSD / d ln t on log-spaced lags.

    Returns:
        (lag indices, slopes) for ``n_points`` log-spaced lags (>= 1 frame).
    """
    n = len(time_fs)
    lags = np.unique(np.geomspace(1, n - 1, n_points).astype(int))
    lags = lags[msd[lags] > 0]
    log_t, log_m = np.log(time_fs[lags]), np.log(msd[lags])
    return lags, np.gradient(log_m, log_t)


def choose_fit_window(
    time_fs: np.ndarray,
    msd: np.ndarray,
    max_lag_fraction: float = 0.5,
    tolerance: float = 0.2,
) -> tuple[int, int, bool]:
    """Pick the linear (diffusive) regime of an MSD automatically.

    The window ends at ``max_lag_fraction`` of the trajectory (longer lags have few
    independent origins) and starts at the first lag from which the log-log slope
    stays within ``1 +- tolerance`` (skipping the ballistic and caged start).

    Returns:
        (first lag index, last lag index, whether a linear regime was found).
    """
    n = len(time_fs)
    end = max(2, int((n - 1) * max_lag_fraction))
    lags, slopes = log_log_slope(time_fs[: end + 1], msd[: end + 1])
    ok = np.abs(slopes - 1.0) <= tolerance
    # the slope is checked up to half the window: beyond, few independent origins
    # make it noisy even for a perfect random walk
    checked = max(3, int(np.searchsorted(lags, end // 2, side="right")))
    for i in range(len(lags) - 2):
        if ok[i : max(checked, i + 3)].all():
            return max(1, int(lags[i])), end, True
    # a window that starts after a fifth of the usable lags, e.g. for sub-diffusive runs
    return max(1, end // 5), end, False


def gls_line(
    time_fs: np.ndarray,
    msd: np.ndarray,
    n_atoms: float,
    total_time_fs: float,
    dimensions: int,
    dt_fs: float,
    observed: tuple[np.ndarray, np.ndarray] | None = None,
) -> LinearFit:
    """Fit MSD = slope t + c with the covariance of the MSD (see the module docstring).

    Args:
        time_fs: the lags to fit, fs.
        msd: the MSD at those lags, Å^2.
        n_atoms: atoms averaged over.
        total_time_fs: length of the run, fs.
        dimensions: 3 for the total MSD, 1 for one axis.
        dt_fs: time between frames, fs.
        observed: (lag times in fs, variance over origins of the atom-averaged squared
            displacement in Å^4, see :func:`ionflow.analysis.msd.origin_variance`) at the
            lags of the fit window, or None: the Gaussian random-walk covariance alone.
    """
    t = np.asarray(time_fs, dtype=float)
    design = np.column_stack([t, np.ones_like(t)])
    model = msd.copy()
    fit = None
    for _ in range(3):  # covariance from the model MSD, refined twice
        # a line that dips below zero (sub-diffusive MSD, negative intercept) must not
        # give lags a near-zero variance: floor the model at a tenth of the data
        floor = np.maximum(0.1 * np.abs(msd), 1e-12 * max(float(np.max(np.abs(msd))), 1e-300))
        model = np.maximum(model, floor)
        remaining = total_time_fs - t + dt_fs
        variance = 4.0 * model**2 * t / (3.0 * dimensions * n_atoms * remaining)
        sigma = np.sqrt(variance)
        ratio = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
        covariance = np.outer(sigma, sigma) * ratio
        if observed is not None and fit is not None:
            scale, beta = observed_variance_model(
                *observed, fit, n_atoms, dimensions, total_time_fs, dt_fs
            )
            jumps = t / np.sqrt(remaining)
            covariance = scale * covariance + beta * np.outer(jumps, jumps)
        covariance[np.diag_indices_from(covariance)] *= 1.0 + 1e-9
        try:
            chol = np.linalg.cholesky(covariance)
        except np.linalg.LinAlgError:
            chol = np.diag(np.sqrt(np.diag(covariance)))
        white_x = np.linalg.solve(chol, design)
        white_y = np.linalg.solve(chol, msd)
        params, *_ = np.linalg.lstsq(white_x, white_y, rcond=None)
        param_cov = np.linalg.pinv(white_x.T @ white_x)
        fit = LinearFit(float(params[0]), float(np.sqrt(param_cov[0, 0])), float(params[1]))
        model = design @ params
    return fit


def observed_variance_model(
    lag_fs: np.ndarray,
    variance_A4: np.ndarray,
    line: LinearFit,
    n_atoms: float,
    dimensions: int,
    total_time_fs: float,
    dt_fs: float,
) -> tuple[float, float]:
    """The observed excess over the Gaussian model: (scale of its covariance, beta).

    The variance over origins of the atom-averaged squared displacement of a window t is
    modelled as ``Var_y(t) = r (2/d) m(t)^2 / N + beta t`` with ``m(t)`` the fitted MSD:
    ``r >= 1`` scales the Gaussian term (atoms moving together), ``beta >= 0`` is the
    heavy-tailed (hopping) excess, which grows with t, not t^2. Both are fitted by
    non-negative weighted least squares to ``excess(t) / t = beta + alpha_ex t`` with
    ``r = 1 + alpha_ex / alpha_g``; the sample variance over overlapping origins is first
    corrected for its bias (the variance of the mean over origins), twice.
    """
    from scipy.optimize import nnls

    t = np.asarray(lag_fs, dtype=float)
    remaining = total_time_fs - t + dt_fs
    model = np.maximum(line.slope * t + line.intercept, 1e-12)
    gauss = 2.0 * model**2 / (dimensions * n_atoms)
    alpha_g = max(2.0 * line.slope**2 / (dimensions * n_atoms), 1e-300)
    alpha_ex = beta = 0.0
    for _ in range(3):
        var_y = gauss * (1 + alpha_ex / alpha_g) + beta * t
        # bias of the sample variance: Var(mean over origins) / Var_y, Gaussian part 2/3
        kappa = (2.0 / 3.0 * (gauss + alpha_ex * t**2) + beta * t) / var_y * t / remaining
        corrected = variance_A4 / np.maximum(1.0 - kappa, 0.25)
        weights = remaining / t / (var_y / t) ** 2  # 1 / Var(sample variance / t), ~
        root_w = np.sqrt(weights / weights.max())
        design = np.column_stack([np.ones_like(t), t]) * root_w[:, None]
        (beta, alpha_ex), _ = nnls(design, (corrected - gauss) / t * root_w)
    return 1.0 + alpha_ex / alpha_g, float(beta)


def fit_diffusion(
    msd: MSDResult,
    window_fs: tuple[float, float] | None = None,
    jump_distance_A: float = 2.5,
    max_lag_fraction: float = 0.5,
) -> DiffusionFit:
    """D (total, per axis, collective) with standard errors from an MSD.

    Args:
        msd: atom-averaged MSD (see :func:`ionflow.analysis.msd.species_msd`).
        window_fs: fit window (start, end) in fs; chosen automatically if None.
        jump_distance_A: typical hop length in Å for He et al.'s effective jump count.
        max_lag_fraction: longest lag of the automatic window, as a fraction of T.

    Raises:
        IonflowInputError: a given window outside the trajectory or with < 3 frames, or
            atoms that never move (an MSD of zero at every lag: nothing to fit).
    """
    t, total = msd.time_fs, msd.msd
    if np.count_nonzero(total[1:] > STILL_MSD_A2) < 2:
        raise IonflowInputError(
            f"the {msd.n_atoms} analysed atoms never move (their MSD is < {STILL_MSD_A2:g} Å^2 "
            "at every lag): "
            "check the species and atoms given to the analysis, or that the trajectory's "
            "frames differ"
        )
    dt = float(t[1] - t[0])
    if window_fs is None:
        start, end, found = choose_fit_window(t, total, max_lag_fraction)
    else:
        start = int(np.searchsorted(t, window_fs[0]))
        end = int(np.searchsorted(t, window_fs[1], side="right")) - 1
        found = True
        if start < 1:
            start = 1
        if window_fs[1] > t[-1] * (1 + 1e-9) or end - start < 2:
            raise IonflowInputError(
                f"fit window {window_fs} fs must hold >= 3 frames within 0..{t[-1]:g} fs"
            )

    def fit(
        values: np.ndarray, dims: int, n_atoms: int, first: int, last: int, column: int | None
    ) -> LinearFit:
        idx = np.unique(np.linspace(first, last, min(MAX_FIT_POINTS, last - first + 1)).astype(int))
        observed = observed_variance(msd, first, last, column)
        return gls_line(t[idx], values[idx], n_atoms, msd.total_time_fs, dims, dt, observed)

    scale = A2_PER_FS_TO_CM2_PER_S / 6.0
    if found:
        total_fit = fit(total, 3, msd.n_atoms, start, end, 0)
        if window_fs is None:
            start, total_fit = settled_start(
                lambda first: fit(total, 3, msd.n_atoms, first, end, 0), start, end, total_fit
            )
        D, D_stat = total_fit.slope * scale, total_fit.slope_err * scale
        D_err, interval, n_windows = D_stat, (D - Z_95 * D_stat, D + Z_95 * D_stat), 1
    else:
        windows = [
            (first, last, fit(total, 3, msd.n_atoms, first, last, 0))
            for first, last in plausible_windows(len(t))
        ] or [(start, end, fit(total, 3, msd.n_atoms, start, end, 0))]
        slopes = [w[2].slope for w in windows]
        start, end, total_fit = windows[int(np.argsort(slopes)[(len(slopes) - 1) // 2])]
        D, D_stat = total_fit.slope * scale, total_fit.slope_err * scale
        low = min((w.slope - Z_95 * w.slope_err) * scale for _, _, w in windows)
        high = max((w.slope + Z_95 * w.slope_err) * scale for _, _, w in windows)
        interval, n_windows = (low, high), len(windows)
        D_err = max(D_stat, (high - low) / (2 * Z_95))
    axis_fits = [fit(msd.msd_xyz[:, k], 1, msd.n_atoms, start, end, k + 1) for k in range(3)]
    random_walk = fit(total, 3, msd.n_atoms, start, end, None)
    n_eff = msd.n_atoms * max(total_fit.slope, 0.0) * msd.total_time_fs / jump_distance_A**2
    rsd = 3.43 / np.sqrt(n_eff) + 0.04 if n_eff > 0 else float("inf")
    D_sigma = D_sigma_err = None
    if msd.collective_msd is not None:
        # the collective MSD is one "particle" (the centre of charge) scaled by N
        coll = fit(msd.collective_msd, 3, 1, start, end, None)
        D_sigma, D_sigma_err = coll.slope * scale, coll.slope_err * scale
    return DiffusionFit(
        D_cm2_s=D,
        D_err_cm2_s=D_err,
        D_interval_cm2_s=(float(interval[0]), float(interval[1])),
        D_xyz_cm2_s=[f.slope * 3.0 * scale for f in axis_fits],
        D_xyz_err_cm2_s=[f.slope_err * 3.0 * scale for f in axis_fits],
        fit_window_fs=(float(t[start]), float(t[end])),
        linear_regime_found=found,
        n_eff_jumps=float(n_eff),
        rsd_he=float(rsd),
        D_sigma_cm2_s=D_sigma,
        D_sigma_err_cm2_s=D_sigma_err,
        D_statistical_err_cm2_s=D_stat,
        n_windows=n_windows,
        D_random_walk_err_cm2_s=random_walk.slope_err * scale,
    )


def observed_variance(
    msd: MSDResult, first: int, last: int, column: int | None, max_lag_fraction: float = 0.25
) -> tuple[np.ndarray, np.ndarray] | None:
    """(lag times in fs, origin variance in Å^4) measured inside a fit window.

    Lags up to ``max_lag_fraction`` of the run (beyond, few independent windows make the
    variance noisy), or the whole window where that leaves fewer than 3. None without a
    measured variance (``column`` None, or an MSD without ``origin_variance_xyz``).
    """
    if column is None or msd.variance_lags is None or msd.origin_variance_xyz is None:
        return None
    lags, values = msd.variance_lags, msd.origin_variance_xyz[:, column]
    inside = (lags >= first) & (lags <= last) & np.isfinite(values)
    short = inside & (lags <= max_lag_fraction * (len(msd.time_fs) - 1))
    chosen = short if short.sum() >= 3 else inside
    if chosen.sum() < 3:
        return None
    return msd.time_fs[lags[chosen]], values[chosen]


def settled_start(
    fit_from: Callable[[int], LinearFit], start: int, end: int, first_fit: LinearFit
) -> tuple[int, LinearFit]:
    """Move the window start later while D still changes with it.

    The log-log slope accepts an MSD whose short-lag slope is still above the long-time
    one (ballistic and in-site motion fading slowly, as in hot MD): GLS weights those
    lags most, so D came out high with a small error, the same in every run. The fit from
    ``start`` is compared with the fit from ``2 start``; nested GLS estimates differ by
    ``sqrt(err_later^2 - err^2)`` when both measure the same line (Hausman), and while
    they differ by more than :data:`START_CHECK_Z` of that, the start doubles (up to
    ``end / LATEST_START_DIVISOR``).

    Returns:
        (start lag index, the fit from it).
    """
    starts = [start]
    while 2 * starts[-1] <= end // LATEST_START_DIVISOR:
        starts.append(2 * starts[-1])
    fits = [first_fit] + [fit_from(s) for s in starts[1:]]

    def agrees(a: LinearFit, b: LinearFit) -> bool:
        allowed = START_CHECK_Z * np.sqrt(abs(b.slope_err**2 - a.slope_err**2))
        return abs(b.slope - a.slope) <= allowed

    for k, fit in enumerate(fits):
        if all(agrees(fit, later) for later in fits[k + 1 :]):
            return starts[k], fit
    return starts[-1], fits[-1]


def plausible_windows(n_frames: int) -> list[tuple[int, int]]:
    """Fit windows (first, last lag index) tried when no linear regime is found.

    Every start of :data:`WINDOW_START_FRACTIONS` with every end of
    :data:`WINDOW_END_FRACTIONS` of the trajectory, at least 3 frames and
    :data:`MIN_WINDOW_FRACTION` of it long.
    """
    last_lag = n_frames - 1
    windows = set()
    for fs in WINDOW_START_FRACTIONS:
        for fe in WINDOW_END_FRACTIONS:
            first, last = max(1, round(fs * last_lag)), round(fe * last_lag)
            if last - first >= max(2, MIN_WINDOW_FRACTION * last_lag):
                windows.add((first, last))
    return sorted(windows)


def combine_estimates(values: Sequence[float], errors: Sequence[float]) -> tuple[float, float]:
    """Inverse-variance weighted mean of repeated runs, error inflated by the Birge ratio.

    When the runs scatter more than their errors allow (chi^2/dof > 1), the error of
    the mean is multiplied by sqrt(chi^2/dof), so disagreeing seeds widen the error.

    Returns:
        (mean, standard error) in the units of ``values``.
    """
    values = np.asarray(values, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if len(values) == 1:
        return float(values[0]), float(errors[0])
    weights = 1.0 / np.maximum(errors, 1e-300) ** 2
    mean = float(np.sum(weights * values) / weights.sum())
    err = float(1.0 / np.sqrt(weights.sum()))
    chi2_dof = float(np.sum(weights * (values - mean) ** 2) / (len(values) - 1))
    return mean, err * np.sqrt(max(1.0, chi2_dof))
