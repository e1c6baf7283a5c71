"""Strained copies of a structure: per lattice direction, all together, or by volume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymatgen.core import Lattice, Structure

from ionflow.errors import IonflowInputError

LATTICE_DIRECTIONS: dict[str, tuple[int, ...]] = {
    "a": (0,),
    "b": (1,),
    "c": (2,),
    "abc": (0, 1, 2),
}

DEFAULT_VOLUME_FRACTIONS: tuple[float, ...] = (
    0.85, 0.90, 0.95, 1.00, 1.05, 1.10, 1.15, 1.20, 1.25, 1.30,
)  # fmt: skip


def strain_lattice(lattice: Lattice, strain: float, direction: str) -> Lattice:
    """Return ``lattice`` with the named lattice vectors stretched by ``1 + strain``.

    Args:
        lattice: lattice to strain (Å).
        strain: engineering strain (dimensionless, 0.05 = +5 %).
        direction: one of ``a``, ``b``, ``c`` (one vector) or ``abc`` (all three).

    Raises:
        IonflowInputError: unknown direction or a strain that makes the volume <= 0.
    """
    if direction not in LATTICE_DIRECTIONS:
        known = ", ".join(LATTICE_DIRECTIONS)
        raise IonflowInputError(f"unknown strain direction '{direction}' (use one of {known})")
    if strain <= -1.0:
        raise IonflowInputError(
            f"strain {strain:+g} along {direction} makes the cell volume <= 0 (use strain > -1)"
        )
    matrix = np.array(lattice.matrix, dtype=float)
    for index in LATTICE_DIRECTIONS[direction]:
        matrix[index] *= 1.0 + strain
    return Lattice(matrix)


def strain_perturbations(
    structure: Structure,
    magnitudes: Sequence[float] = (-0.05, 0.05),
    directions: Sequence[str] = ("a", "b", "c", "abc"),
) -> list[tuple[Structure, dict]]:
    """Strained copies of ``structure`` along each lattice direction and all together.

    Fractional coordinates are kept, so atoms follow the cell.

    Args:
        structure: reference structure (Å).
        magnitudes: engineering strains (dimensionless; -0.05 = 5 % compression).
        directions: lattice directions, each ``a``, ``b``, ``c`` or ``abc`` (isotropic).

    Returns:
        One ``(structure, how)`` pair per direction and magnitude, in that order; ``how``
        is e.g. ``{"strain": 0.05, "direction": "a"}``.

    Raises:
        IonflowInputError: unknown direction or a strain giving a volume <= 0.
    """
    strained = []
    for direction in directions:
        for magnitude in magnitudes:
            lattice = strain_lattice(structure.lattice, float(magnitude), direction)
            copy = Structure(
                lattice,
                structure.species_and_occu,
                structure.frac_coords,
                site_properties=structure.site_properties,
                charge=structure.charge,
            )
            strained.append((copy, {"strain": float(magnitude), "direction": direction}))
    return strained


def strain_steps(maximum: float, step: float) -> list[float]:
    """Symmetric strain magnitudes ``-maximum .. +maximum`` in ``step`` (zero left out).

    Args:
        maximum: largest strain magnitude (dimensionless, e.g. 0.05).
        step: spacing between magnitudes (dimensionless, e.g. 0.01).

    Raises:
        IonflowInputError: non-positive step or maximum.
    """
    if step <= 0 or maximum <= 0:
        raise IonflowInputError("strain maximum and step must both be > 0 (e.g. 0.05 and 0.01)")
    count = int(np.floor(maximum / step + 1e-9))
    positive = [round(step * i, 12) for i in range(1, count + 1)]
    return [-s for s in reversed(positive)] + positive


def volumetric_series(
    structure: Structure, fractions: Sequence[float] = DEFAULT_VOLUME_FRACTIONS
) -> list[tuple[Structure, dict]]:
    """Isotropically scaled copies at the given fractions of the reference volume.

    Args:
        structure: reference structure (Å).
        fractions: target volume / reference volume (dimensionless; 1.10 = 110 %).

    Returns:
        One ``(structure, how)`` pair per fraction; ``how`` is
        ``{"volume_fraction": f, "volume": V}`` with V in Å^3.

    Raises:
        IonflowInputError: a fraction <= 0.
    """
    series = []
    for fraction in fractions:
        if fraction <= 0:
            raise IonflowInputError(f"volume fraction {fraction:g} gives a volume <= 0 (use > 0)")
        copy = structure.copy()
        copy.scale_lattice(structure.volume * float(fraction))
        series.append((copy, {"volume_fraction": float(fraction), "volume": copy.volume}))
    return series
