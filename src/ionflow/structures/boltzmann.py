"""Boltzmann weights of configurations from their relative energies.

Used where configurations are chosen (:mod:`ionflow.structures.argyrodite`) and where
their conductivities are averaged (:mod:`ionflow.analysis.conductivity`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ionflow.constants import K_B_EV_PER_K
from ionflow.errors import IonflowInputError


def boltzmann_weights(
    relative_energies_eV: Sequence[float],
    temperature_K: float,
    multiplicities: Sequence[float] | None = None,
) -> np.ndarray:
    """Normalised Boltzmann weights ``g_i exp(-dE_i / k_B T)`` of configurations.

    Args:
        relative_energies_eV: energy of each configuration relative to the lowest, in eV
            (per formula unit or per cell, consistently).
        temperature_K: temperature in K.
        multiplicities: degeneracy of each configuration (default 1).

    Raises:
        IonflowInputError: a non-positive temperature or no energies.
    """
    if temperature_K <= 0:
        raise IonflowInputError(f"temperature {temperature_K} K must be > 0")
    energies = np.asarray(relative_energies_eV, dtype=float)
    if energies.size == 0:
        raise IonflowInputError("no relative energies given for the Boltzmann weights")
    g = np.ones_like(energies) if multiplicities is None else np.asarray(multiplicities, float)
    logw = np.log(g) - (energies - energies.min()) / (K_B_EV_PER_K * temperature_K)
    weights = np.exp(logw - logw.max())
    return weights / weights.sum()


def boltzmann_weights_by_group(
    energies_eV: Sequence[float],
    groups: Sequence[str],
    temperature_K: float,
) -> np.ndarray:
    """Boltzmann weights normalised within each group, never across groups.

    Energies of configurations of different compositions (e.g. Li_x La3Zr2O12 with
    different x) cannot be compared, so each group (one composition) is weighted on its
    own: the weights of a group sum to 1 and depend only on that group's energies.

    Args:
        energies_eV: energy of each configuration (eV, per atom or per cell consistently
            within a group); only differences inside a group matter.
        groups: group of each configuration (e.g. its reduced formula).
        temperature_K: temperature in K.

    Raises:
        IonflowInputError: lengths differ, no energies, or a non-positive temperature.
    """
    energies = np.asarray(energies_eV, dtype=float)
    if len(groups) != energies.size:
        raise IonflowInputError(f"{energies.size} energies for {len(groups)} group labels")
    weights = np.zeros_like(energies)
    for group in dict.fromkeys(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        weights[members] = boltzmann_weights(energies[members], temperature_K)
    return weights
