"""Nernst-Einstein conductivity, configuration weighting, crystallinity, Haven ratio.

``sigma = n q^2 D / (k_B T)`` with n the number density of the mobile ion in the cell.
Units: D in cm^2/s, volume in Å^3, T in K, sigma in mS/cm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ionflow.errors import IonflowInputError
from ionflow.structures.boltzmann import boltzmann_weights

ELEMENTARY_CHARGE_C = 1.602176634e-19
K_B_J_PER_K = 1.380649e-23
A3_TO_CM3 = 1e-24


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


def configuration_weighted_conductivity(
    sigma_mS_cm: Sequence[float],
    temperature_K: float | None = None,
    relative_energies_eV: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    sigma_err_mS_cm: Sequence[float] | None = None,
) -> tuple[float, float | None]:
    """Bulk conductivity as the weighted mean over characteristic configurations.

    Give either ``weights`` or ``relative_energies_eV`` (with ``temperature_K``) for
    Boltzmann weights.

    Returns:
        (sigma_bulk in mS/cm, its propagated standard error or None).
    """
    sigma = np.asarray(sigma_mS_cm, dtype=float)
    if weights is None:
        if relative_energies_eV is None or temperature_K is None:
            raise IonflowInputError("give configuration weights or relative energies and T")
        w = boltzmann_weights(relative_energies_eV, temperature_K)
    else:
        w = np.asarray(weights, dtype=float)
        if np.any(w < 0) or w.sum() <= 0:
            raise IonflowInputError("configuration weights must be >= 0 and not all zero")
        w = w / w.sum()
    if len(w) != len(sigma):
        raise IonflowInputError(f"{len(w)} weights for {len(sigma)} configurations")
    err = None
    if sigma_err_mS_cm is not None:
        err = float(np.sqrt(np.sum((w * np.asarray(sigma_err_mS_cm, float)) ** 2)))
    return float(w @ sigma), err


def crystallinity_corrected_conductivity(
    sigma_crystalline_mS_cm: float,
    crystallinity: float = 0.8,
    sigma_amorphous_mS_cm: float = 0.0,
) -> float:
    """Conductivity of a partly crystalline sample (sigma_bulk^80% for 0.8).

    Parallel mixing of the crystalline and amorphous fractions:
    ``c sigma_cryst + (1 - c) sigma_amorph``. The argyrodite paper's exact rule is in
    its supplement (not available here); with ``sigma_amorphous = 0`` this is the plain
    crystalline-fraction scaling.
    """
    if not 0.0 <= crystallinity <= 1.0:
        raise IonflowInputError(f"crystallinity must be in [0, 1], got {crystallinity}")
    return float(
        crystallinity * sigma_crystalline_mS_cm + (1 - crystallinity) * sigma_amorphous_mS_cm
    )


def haven_ratio(D_tracer_cm2_s: float, D_sigma_cm2_s: float) -> float:
    """Haven ratio ``H_R = D_tracer / D_sigma`` (D_sigma from the collective MSD)."""
    if D_sigma_cm2_s <= 0:
        return float("nan")
    return float(D_tracer_cm2_s / D_sigma_cm2_s)
