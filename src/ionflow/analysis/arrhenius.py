"""Arrhenius fits of D(T): activation energy, extrapolation, piecewise (kinked) fits.

``ln D = ln D0 - E_a / (k_B T)``, weighted by the error of ln D (``sigma_D / D``).
The two-segment fit is a continuous hinge in 1/T with the break found by scanning the
data range; it is kept only when an F-test against the single line gives p < alpha
(BIC and AIC differences are reported too). Its uncertainty: the break's 95 % profile
interval (every scanned break whose chi^2 is within 3.84 (scaled by the reduced chi^2
when above 1) of the best), and 95 % intervals of both activation energies and of the
low-temperature extrapolation that span every break in that interval, so they hold the
break's uncertainty as well as the segments' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from scipy.special import fdtrc  # F-distribution survival function (light import)

from ionflow.constants import K_B_EV_PER_K
from ionflow.errors import IonflowInputError


@dataclass
class ArrheniusFit:
    """Weighted Arrhenius line.

    Attributes:
        Ea_eV, Ea_err_eV: activation energy and its standard error in eV.
        ln_D0, ln_D0_err: intercept (ln of D0 in cm^2/s) and its error.
        cov_ln_D0_Ea: covariance of (ln D0, E_a) in eV.
        chi2: weighted sum of squared residuals; dof: degrees of freedom.
        T_min_K, T_max_K: temperature range of the data in K.
    """

    Ea_eV: float
    Ea_err_eV: float
    ln_D0: float
    ln_D0_err: float
    cov_ln_D0_Ea: float
    chi2: float
    dof: int
    T_min_K: float
    T_max_K: float

    def ln_D(self, temperature_K: float) -> tuple[float, float]:  # noqa: N802
        """Ln D (cm^2/s) at a temperature and its standard error from the fit covariance."""
        x = -1.0 / (K_B_EV_PER_K * temperature_K)
        value = self.ln_D0 + self.Ea_eV * x
        var = self.ln_D0_err**2 + x**2 * self.Ea_err_eV**2 + 2 * x * self.cov_ln_D0_Ea
        return float(value), float(np.sqrt(max(var, 0.0)))

    def D_at(  # noqa: N802
        self, temperature_K: float, confidence: float = 0.95
    ) -> tuple[float, float, float]:
        """Extrapolated D in cm^2/s with a two-sided confidence interval (low, high)."""
        value, err = self.ln_D(temperature_K)
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        return float(np.exp(value)), float(np.exp(value - z * err)), float(np.exp(value + z * err))


@dataclass
class PiecewiseArrhenius:
    """Two Arrhenius segments joined at a break temperature.

    Attributes:
        break_K: temperature of the kink in K.
        Ea_low_eV, Ea_high_eV: activation energies below and above the break in eV.
        chi2: weighted residual sum; f_statistic, p_value: F-test against one line.
        delta_bic, delta_aic: (two segments) - (one line); negative favours the break.
        significant: p_value < alpha.
        break_interval_K: 95 % profile interval of the break temperature (low, high) in
            K, within the scanned range (between the second-lowest and second-highest
            temperature).
        Ea_low_err_eV, Ea_high_err_eV: standard errors of the two activation energies
            at the best break.
        Ea_low_interval_eV, Ea_high_interval_eV: 95 % intervals over every break in
            ``break_interval_K``.
        low_segments: (ln D0, E_a, covariance 2x2) of the low-temperature segment for
            each break in the interval (the extrapolation below the data uses them).
    """

    break_K: float
    Ea_low_eV: float
    Ea_high_eV: float
    chi2: float
    f_statistic: float
    p_value: float
    delta_bic: float
    delta_aic: float
    significant: bool
    break_interval_K: tuple[float, float] = (float("nan"), float("nan"))
    Ea_low_err_eV: float = float("nan")
    Ea_high_err_eV: float = float("nan")
    Ea_low_interval_eV: tuple[float, float] = (float("nan"), float("nan"))
    Ea_high_interval_eV: tuple[float, float] = (float("nan"), float("nan"))
    low_segments: list[tuple[float, float, list[list[float]]]] = field(default_factory=list)

    def D_low_at(  # noqa: N802
        self, temperature_K: float, confidence: float = 0.95
    ) -> tuple[float, float, float]:
        """D (cm^2/s) from the low-temperature segment at ``temperature_K``, with an interval.

        The value is the best break's; the interval spans the segment's own interval for
        every break in ``break_interval_K``.
        """
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        x = -1.0 / (K_B_EV_PER_K * temperature_K)
        values, lows, highs = [], [], []
        for ln_D0, Ea, cov in self.low_segments:
            vector = np.array([1.0, x])
            value = ln_D0 + Ea * x
            err = float(np.sqrt(max(vector @ np.asarray(cov) @ vector, 0.0)))
            values.append(value)
            lows.append(value - z * err)
            highs.append(value + z * err)
        best = int(np.argmin([abs(segment[1] - self.Ea_low_eV) for segment in self.low_segments]))
        return float(np.exp(values[best])), float(np.exp(min(lows))), float(np.exp(max(highs)))


def _validate(temperatures_K: Sequence[float], D: Sequence[float], D_err: Sequence[float]):
    T = np.asarray(temperatures_K, dtype=float)
    D = np.asarray(D, dtype=float)
    err = np.asarray(D_err, dtype=float)
    if len(np.unique(T)) < 2:
        raise IonflowInputError("an Arrhenius fit needs runs at two or more temperatures")
    if np.any(D <= 0) or np.any(~np.isfinite(D)):
        raise IonflowInputError(
            "an Arrhenius fit needs positive D at every temperature (a run did not diffuse)"
        )
    if np.any(T <= 0):
        raise IonflowInputError("temperatures must be positive (K)")
    sigma = np.where(err > 0, err / D, np.nan)
    sigma = np.where(np.isfinite(sigma), sigma, np.nanmax(sigma) if np.isfinite(sigma).any() else 1)
    return T, np.log(D), sigma


def fit_arrhenius(
    temperatures_K: Sequence[float], D_cm2_s: Sequence[float], D_err_cm2_s: Sequence[float]
) -> ArrheniusFit:
    """Weighted least-squares fit of ln D against -1/(k_B T).

    Args:
        temperatures_K: temperatures in K (two or more distinct).
        D_cm2_s: diffusion coefficients in cm^2/s.
        D_err_cm2_s: their standard errors in cm^2/s.

    Raises:
        IonflowInputError: fewer than two temperatures or non-positive D.
    """
    T, y, sigma = _validate(temperatures_K, D_cm2_s, D_err_cm2_s)
    x = -1.0 / (K_B_EV_PER_K * T)
    w = 1.0 / sigma**2
    design = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    params = cov @ design.T @ (w * y)
    chi2 = float(np.sum(w * (y - design @ params) ** 2))
    dof = len(T) - 2
    if dof > 0 and chi2 / dof > 1.0:  # points scatter more than their errors: widen
        cov = cov * chi2 / dof
    return ArrheniusFit(
        Ea_eV=float(params[1]),
        Ea_err_eV=float(np.sqrt(cov[1, 1])),
        ln_D0=float(params[0]),
        ln_D0_err=float(np.sqrt(cov[0, 0])),
        cov_ln_D0_Ea=float(cov[0, 1]),
        chi2=chi2,
        dof=dof,
        T_min_K=float(T.min()),
        T_max_K=float(T.max()),
    )


def _hinge_chi2(x: np.ndarray, y: np.ndarray, w: np.ndarray, x_break: float):
    design = np.column_stack([np.ones_like(x), x, np.maximum(x - x_break, 0.0)])
    params, *_ = np.linalg.lstsq(design * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)
    return float(np.sum(w * (y - design @ params) ** 2)), params


def _hinge_covariance(x: np.ndarray, w: np.ndarray, x_break: float, scale: float) -> np.ndarray:
    """Covariance of (ln D0, E_a low, E_a high - E_a low) at a fixed break."""
    design = np.column_stack([np.ones_like(x), x, np.maximum(x - x_break, 0.0)])
    return np.linalg.pinv(design.T @ (w[:, None] * design)) * scale


# chi^2 rise of a 95 % profile interval of one parameter
PROFILE_DELTA_CHI2_95 = 3.841


def fit_piecewise_arrhenius(
    temperatures_K: Sequence[float],
    D_cm2_s: Sequence[float],
    D_err_cm2_s: Sequence[float],
    alpha: float = 0.05,
    n_grid: int = 200,
) -> PiecewiseArrhenius | None:
    """Two-segment Arrhenius fit with the break temperature found from the data.

    The break is scanned between the second-lowest and second-highest temperature (so
    each segment has at least two points) and the one with the lowest weighted chi^2
    is kept. Needs at least 5 distinct temperatures (one more than the 4 parameters).

    Returns:
        the best two-segment fit with its significance and uncertainty (module
        docstring), or None with < 5 temperatures.
    """
    T, y, sigma = _validate(temperatures_K, D_cm2_s, D_err_cm2_s)
    if len(np.unique(T)) < 5:
        return None
    x = -1.0 / (K_B_EV_PER_K * T)
    w = 1.0 / sigma**2
    xs = np.sort(np.unique(x))
    candidates = np.linspace(xs[1], xs[-2], n_grid)
    chi2s = [(_hinge_chi2(x, y, w, xb)[0], xb) for xb in candidates]
    chi2_two, x_break = min(chi2s)
    _, params = _hinge_chi2(x, y, w, x_break)
    line = fit_arrhenius(T, np.exp(y), np.exp(y) * sigma)
    n = len(T)
    f_stat = ((line.chi2 - chi2_two) / 2.0) / (chi2_two / (n - 4)) if chi2_two > 0 else np.inf
    p_value = float(fdtrc(2, n - 4, f_stat)) if np.isfinite(f_stat) else 0.0
    # x = -1/(kT) grows with T: the "low" segment (small x) is the low-temperature one
    Ea_low, Ea_high = float(params[1]), float(params[1] + params[2])
    scale = max(1.0, chi2_two / (n - 4)) if n > 4 else 1.0  # widen for overdispersed points
    z = NormalDist().inv_cdf(0.975)
    inside = [xb for c, xb in chi2s if c <= chi2_two + PROFILE_DELTA_CHI2_95 * scale]
    low_segments, lows, highs = [], [], []
    for xb in inside:
        _, p = _hinge_chi2(x, y, w, xb)
        cov = _hinge_covariance(x, w, xb, scale)
        err_low = float(np.sqrt(max(cov[1, 1], 0.0)))
        err_high = float(np.sqrt(max(cov[1, 1] + cov[2, 2] + 2 * cov[1, 2], 0.0)))
        lows.append((p[1] - z * err_low, p[1] + z * err_low))
        highs.append((p[1] + p[2] - z * err_high, p[1] + p[2] + z * err_high))
        low_segments.append((float(p[0]), float(p[1]), cov[:2, :2].tolist()))
    cov_best = _hinge_covariance(x, w, x_break, scale)
    breaks_K = [float(-1.0 / (K_B_EV_PER_K * xb)) for xb in inside]
    return PiecewiseArrhenius(
        break_K=float(-1.0 / (K_B_EV_PER_K * x_break)),
        Ea_low_eV=Ea_low,
        Ea_high_eV=Ea_high,
        chi2=chi2_two,
        f_statistic=float(f_stat),
        p_value=p_value,
        delta_bic=float(chi2_two - line.chi2 + 2 * np.log(n)),
        delta_aic=float(chi2_two - line.chi2 + 4),
        significant=bool(p_value < alpha),
        break_interval_K=(min(breaks_K), max(breaks_K)),
        Ea_low_err_eV=float(np.sqrt(max(cov_best[1, 1], 0.0))),
        Ea_high_err_eV=float(
            np.sqrt(max(cov_best[1, 1] + cov_best[2, 2] + 2 * cov_best[1, 2], 0.0))
        ),
        Ea_low_interval_eV=(float(min(a for a, _ in lows)), float(max(b for _, b in lows))),
        Ea_high_interval_eV=(float(min(a for a, _ in highs)), float(max(b for _, b in highs))),
        low_segments=low_segments,
    )
