"""Nernst-Einstein conductivity, configuration weighting, crystallinity, Haven ratio.

``sigma = n q^2 D / (k_B T)`` with n the number density of the mobile ion in the cell.
Units: D in cm^2/s, volume in Å^3, T in K, sigma in mS/cm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from scipy.special import logsumexp

from ionflow.errors import IonflowInputError
from ionflow.structures.boltzmann import boltzmann_weights

ELEMENTARY_CHARGE_C = 1.602176634e-19
K_B_J_PER_K = 1.380649e-23
A3_TO_CM3 = 1e-24

MixingRule = Literal["parallel", "series"]
"""How crystalline and amorphous fractions combine (see crystallinity_corrected_conductivity)."""


def nernst_einstein_mS_cm(  # noqa: N802
    D_cm2_s: float, n_ions: int, volume_A3: float, temperature_K: float, charge: float = 1.0
) -> float:
    """Nernst-Einstein conductivity in mS/cm.

    Args:
        D_cm2_s: diffusion coefficient (tracer, or collective for sigma without Haven
            correction) in cm^2/s.
        n_ions: number of mobile ions in the cell.
        volume_A3: cell volume in Å^3.
        temperature_K: temperature in K.
        charge: ion charge in units of e (1 for Li+).
    """
    if temperature_K <= 0 or volume_A3 <= 0:
        raise IonflowInputError("temperature (K) and cell volume (Å^3) must be positive")
    density_cm3 = n_ions / (volume_A3 * A3_TO_CM3)
    q = charge * ELEMENTARY_CHARGE_C
    return float(density_cm3 * q**2 * D_cm2_s / (K_B_J_PER_K * temperature_K) * 1e3)


def _configuration_weights(
    n_configurations: int,
    temperature_K: float | None,
    relative_energies_eV: Sequence[float] | None,
    weights: Sequence[float] | None,
) -> np.ndarray:
    if weights is None:
        if relative_energies_eV is None or temperature_K is None:
            raise IonflowInputError("give configuration weights or relative energies and T")
        w = boltzmann_weights(relative_energies_eV, temperature_K)
    else:
        w = np.asarray(weights, dtype=float)
        if np.any(w < 0) or w.sum() <= 0:
            raise IonflowInputError("configuration weights must be >= 0 and not all zero")
        w = w / w.sum()
    if len(w) != n_configurations:
        raise IonflowInputError(f"{len(w)} weights for {n_configurations} configurations")
    return w


def configuration_weighted_conductivity(
    sigma_mS_cm: Sequence[float],
    temperature_K: float | None = None,
    relative_energies_eV: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
) -> float:
    """Bulk conductivity in mS/cm as the weighted mean over characteristic configurations.

    Give either ``weights`` or ``relative_energies_eV`` (with ``temperature_K``) for
    Boltzmann weights. Its interval: :func:`weighted_conductivity_interval`.
    """
    sigma = np.asarray(sigma_mS_cm, dtype=float)
    w = _configuration_weights(len(sigma), temperature_K, relative_energies_eV, weights)
    return float(w @ sigma)


def crystallinity_corrected_conductivity(
    sigma_crystalline_mS_cm: float | np.ndarray,
    crystallinity: float = 0.8,
    sigma_amorphous_mS_cm: float = 0.0,
    rule: MixingRule = "parallel",
) -> float | np.ndarray:
    """Conductivity of a partly crystalline sample (sigma_bulk^80% for 0.8), mS/cm.

    ``parallel``: ``c sigma_cryst + (1 - c) sigma_amorph`` (fractions side by side; with
    ``sigma_amorph = 0`` the plain crystalline-fraction scaling). ``series``:
    ``1/sigma = c/sigma_cryst + (1 - c)/sigma_amorph`` (fractions one after the other;
    needs ``sigma_amorph > 0`` unless c = 1). The argyrodite paper's own rule is in its
    supplement (not available here). Works element-wise on arrays of samples.
    """
    if not 0.0 <= crystallinity <= 1.0:
        raise IonflowInputError(f"crystallinity must be in [0, 1], got {crystallinity}")
    if sigma_amorphous_mS_cm < 0:
        raise IonflowInputError(
            f"amorphous conductivity must be >= 0 mS/cm, got {sigma_amorphous_mS_cm}"
        )
    cryst = np.asarray(sigma_crystalline_mS_cm, dtype=float)
    if rule == "parallel":
        mixed = crystallinity * cryst + (1 - crystallinity) * sigma_amorphous_mS_cm
    elif rule == "series":
        if crystallinity < 1.0 and sigma_amorphous_mS_cm <= 0:
            raise IonflowInputError(
                "the series mixing rule needs a positive amorphous conductivity "
                "(sigma_amorphous_mS_cm); with 0 the sample would not conduct"
            )
        amorph = (1 - crystallinity) / sigma_amorphous_mS_cm if crystallinity < 1.0 else 0.0
        mixed = 1.0 / (crystallinity / cryst + amorph)
    else:
        raise IonflowInputError(f"mixing rule must be 'parallel' or 'series', got {rule!r}")
    return float(mixed) if mixed.ndim == 0 else mixed


@dataclass
class ConductivityInterval:
    """A conductivity with its interval, mS/cm (asymmetric: log-normal parts).

    Attributes:
        value_mS_cm: weighted mean of the per-configuration central values.
        low_mS_cm, high_mS_cm: equal-tailed interval of the sampled distribution.
        confidence: its coverage (0.95 for 95 %).
    """

    value_mS_cm: float
    low_mS_cm: float
    high_mS_cm: float
    confidence: float


def log_sigma_of_interval(
    interval: tuple[float, float], confidence: float = 0.95, centre: float | None = None
) -> float:
    """Standard deviation of ln(x) behind a log-symmetric interval (low, high) > 0.

    With the interval's ``centre`` given, one bound that fell outside the floating-point
    range (a very wide interval extrapolated to 300 K: ``exp`` underflows the lower bound
    to 0, or overflows the upper one to inf) is no longer needed: the other bound and the
    centre give the same width.
    """
    low, high = interval
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    if centre is not None and 0 < centre < high and low == 0:
        return float(np.log(high / centre) / z)
    if centre is not None and 0 < low < centre and np.isinf(high):
        return float(np.log(centre / low) / z)
    if not 0 < low <= high or np.isinf(high):
        raise IonflowInputError(
            f"interval ({low:g}, {high:g}) is not a positive log-normal interval"
        )
    return float(np.log(high / low) / (2.0 * z))


def weighted_conductivity_interval(
    sigma_mS_cm: Sequence[float],
    interval_mS_cm: Sequence[tuple[float, float]],
    weights: Sequence[float],
    crystallinity: float = 1.0,
    sigma_amorphous_mS_cm: float = 0.0,
    rule: MixingRule = "parallel",
    confidence: float = 0.95,
    n_samples: int = 20000,
    seed: int = 0,
) -> ConductivityInterval:
    """Configuration-weighted (and crystallinity-mixed) sigma with a propagated interval.

    Each configuration's sigma at the extrapolation temperature is log-normal: ln sigma
    is linear in the Arrhenius parameters (ln D0, E_a), whose fit covariance gives the
    stored log-symmetric ``interval_mS_cm`` (``ArrheniusDocument.sigma300_ci_mS_cm``).
    ln sigma_i is sampled from N(ln sigma_i, s_i) with s_i from that interval (the same
    as sampling the fit's parameter covariance), the weighted sum (then the mixing rule)
    is taken per sample and the interval is the equal-tailed percentile range: positive
    and asymmetric, never a symmetric bar below zero.

    Args:
        sigma_mS_cm: central sigma per configuration, mS/cm.
        interval_mS_cm: its interval (low, high) at ``confidence``, mS/cm.
        weights: configuration weights (normalised here).
        crystallinity: crystalline fraction c (1: sigma_bulk itself).
        sigma_amorphous_mS_cm: conductivity of the amorphous fraction, mS/cm.
        rule: mixing rule of :func:`crystallinity_corrected_conductivity`.
        confidence: coverage of the given and the returned intervals.
        n_samples: Monte-Carlo samples.
        seed: random seed (the interval is reproducible).
    """
    sigma = np.asarray(sigma_mS_cm, dtype=float)
    if np.any(sigma <= 0) or len(interval_mS_cm) != len(sigma):
        raise IonflowInputError("one positive sigma and one interval per configuration")
    w = _configuration_weights(len(sigma), None, None, weights)
    scale = np.array(
        [
            log_sigma_of_interval(ci, confidence, c)
            for ci, c in zip(interval_mS_cm, sigma, strict=True)
        ]
    )
    rng = np.random.default_rng(seed)
    ln_samples = np.log(sigma) + scale * rng.standard_normal((n_samples, len(sigma)))
    # the weighted sum in log space: an interval too wide for floats stays finite
    ln_bulk = logsumexp(ln_samples, axis=1, b=w)
    bulk = np.exp(np.minimum(ln_bulk, np.log(np.finfo(float).max)))
    mixed = crystallinity_corrected_conductivity(bulk, crystallinity, sigma_amorphous_mS_cm, rule)
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(mixed, [tail, 100.0 - tail])
    value = crystallinity_corrected_conductivity(
        float(w @ sigma), crystallinity, sigma_amorphous_mS_cm, rule
    )
    return ConductivityInterval(float(value), float(low), float(high), confidence)


def haven_ratio(D_tracer_cm2_s: float, D_sigma_cm2_s: float) -> float | None:
    """Haven ratio ``H_R = D_tracer / D_sigma`` (D_sigma from the collective MSD).

    None where it is undefined: no diffusion seen in either coefficient (a ratio of
    noise around zero is not a Haven ratio, and NaN is not storable as JSON).
    """
    if D_sigma_cm2_s <= 0 or D_tracer_cm2_s <= 0:
        return None
    return float(D_tracer_cm2_s / D_sigma_cm2_s)
