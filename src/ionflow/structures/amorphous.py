"""Amorphous cells, the structure side: the cell to melt and the expanded quenched cells.

The melt-quench itself runs on the MD stage (:mod:`ionflow.amorphous` composes the two);
this module builds the cells before and after it: the starting cell at a target density
and the quenched cell expanded to 105/110/115 % volume with fractional positions kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymatgen.core import Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.strain import volumetric_series

DEFAULT_EXPANSIONS: tuple[float, ...] = (1.05, 1.10, 1.15)


def density_g_cm3(structure: Structure) -> float:
    """Mass density of ``structure`` (g/cm^3)."""
    return float(structure.density)


def at_density(structure: Structure, density: float) -> Structure:
    """Copy of ``structure`` scaled isotropically to ``density`` (g/cm^3).

    Raises:
        IonflowInputError: density <= 0.
    """
    if density <= 0:
        raise IonflowInputError(f"target density {density} g/cm^3 must be > 0")
    scaled = structure.copy()
    scaled.scale_lattice(structure.volume * float(structure.density) / density)
    return scaled


def starting_cells(
    structure: Structure, densities: Sequence[float] | None = None
) -> list[tuple[Structure, dict]]:
    """Cells to melt: the structure itself, or one per target density (g/cm^3)."""
    if not densities:
        return [(structure.copy(), {"transformation": "melt_start", "label": "melt-start",
                                    "density": density_g_cm3(structure)})]  # fmt: skip
    return [
        (
            at_density(structure, density),
            {
                "transformation": "melt_start",
                "label": f"melt-start-{density:.2f}gcm3",
                "density": float(density),
            },
        )
        for density in densities
    ]


def expanded_cells(
    quenched: Structure, fractions: Sequence[float] = DEFAULT_EXPANSIONS
) -> list[tuple[Structure, dict]]:
    """The quenched cell expanded to ``fractions`` of its volume, fractional positions kept."""
    pairs = volumetric_series(quenched, fractions)
    for structure, how in pairs:
        how["transformation"] = "amorphous_expansion"
        how["density"] = density_g_cm3(structure)
        how["label"] = f"expanded-{round(100 * how['volume_fraction']):03d}"
    return pairs
