"""Amorphous cells: the melt-quench recipe and the structure side (densities, expansion).

The MD part (melt, hold, quench) runs on the MD engine of ``ionflow.md``
(:class:`ionflow.md.jobs.melt_quench.MeltQuenchMdMaker`); this module holds the recipe
and builds the cells before and after it: the starting cell at a target density and
the quenched cell expanded to 105/110/115 % volume with fractional positions kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymatgen.core import Structure

from ionflow.errors import IonflowInputError
from ionflow.md.schemas.protocol import (
    MELT_HOLD_PS,
    MELT_QUENCH_TIMESTEP_FS,
    MELT_TEMPERATURE_K,
    QUENCH_FINAL_TEMPERATURE_K,
    QUENCH_RATE_K_PER_PS,
)
from ionflow.structures.strain import volumetric_series

DEFAULT_EXPANSIONS: tuple[float, ...] = (1.05, 1.10, 1.15)


@dataclass
class MeltQuenchRecipe:
    """Melt-quench protocol of the LLZO study (melt, hold, quench at a set rate).

    Defaults come from :mod:`ionflow.md.schemas.protocol` (3000 K for 1 ns, 5 K/ps down
    to 500 K, 1 fs), the same as :class:`ionflow.md.jobs.melt_quench.MeltQuenchMdMaker`.

    Attributes:
        melt_temperature: melt and hold temperature (K).
        melt_ps: hold time at the melt temperature (ps).
        quench_rate_k_per_ps: cooling rate (K/ps).
        final_temperature: temperature the quench ends at (K).
        timestep_fs: MD time step (fs).
    """

    melt_temperature: float = MELT_TEMPERATURE_K
    melt_ps: float = MELT_HOLD_PS
    quench_rate_k_per_ps: float = QUENCH_RATE_K_PER_PS
    final_temperature: float = QUENCH_FINAL_TEMPERATURE_K
    timestep_fs: float = MELT_QUENCH_TIMESTEP_FS

    @property
    def quench_ps(self) -> float:
        """Duration of the quench (ps)."""
        return (self.melt_temperature - self.final_temperature) / self.quench_rate_k_per_ps

    def md_maker(self, **kwargs):
        """The MD-stage Maker that runs this recipe (``make(structure, mtp)``)."""
        from ionflow.md.jobs.melt_quench import MeltQuenchMdMaker

        return MeltQuenchMdMaker(
            melt_temperature=self.melt_temperature,
            melt_ps=self.melt_ps,
            quench_rate_k_per_ps=self.quench_rate_k_per_ps,
            temperature=self.final_temperature,
            timestep_fs=self.timestep_fs,
            **kwargs,
        )


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
