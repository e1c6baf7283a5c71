"""Li-deficient garnets Li_x La3 Zr2 O12 (x = 6.25-7) by Li vacancies.

As in the LLZO strain/amorphous study, Li is removed without charge-compensating
dopants (the cell carries a net charge; DFT and MD codes add a uniform background).
The remaining x Li per formula unit (8x in the conventional cell, 4x in the primitive
one) are placed on the Li sites (24d + 96h per conventional cell) at low Ewald energy
with the annealer of :mod:`ionflow.structures.ordering`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymatgen.core import Species, Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.ordering import anneal_orderings

FORMULA_UNITS_PER_CELL = 8  # Ia-3d conventional cell (the primitive bcc cell holds 4)
LI_EXCLUSION_RADIUS = 2.0  # Å; 24d-96h (1.6 Å) and 96h-96h (0.8 Å) pairs never both filled


def lithium_deficient_garnets(
    parent: Structure, x_values: Sequence[float] = (6.25, 6.5, 6.75, 7.0), seed: int = 0
) -> list[tuple[Structure, dict]]:
    """One low-Ewald ordering of Li_x La3 Zr2 O12 for each ``x``.

    Args:
        parent: the shipped LLZO parent (Li disordered on 24d/96h), conventional or
            primitive (``LLZO-primitive``).
        x_values: Li per formula unit; x times the formula units of the cell must be a
            whole number (steps of 0.125 in the conventional cell, 0.25 in the primitive).
        seed: annealing seed.

    Raises:
        IonflowInputError: x outside 6.25-7 or not a multiple of 1/8, or a parent that
            is not the LLZO conventional cell.
    """
    li_sites = [i for i, site in enumerate(parent) if "Li" in site.species.chemical_system]
    units = parent.composition["La"] / 3
    if units not in (FORMULA_UNITS_PER_CELL, FORMULA_UNITS_PER_CELL / 2) or not li_sites:
        raise IonflowInputError(
            "Li_x La3Zr2O12 needs the LLZO conventional or primitive cell (use LLZO or "
            "LLZO-primitive)"
        )
    results = []
    for x in x_values:
        n_li = x * units
        if not 6.25 - 1e-9 <= x <= 7 + 1e-9 or abs(n_li - round(n_li)) > 1e-6:
            raise IonflowInputError(f"x = {x} must lie in 6.25-7 in steps of {1 / units:g}")
        disordered = parent.copy()
        occupancy = round(n_li) / len(li_sites)
        for index in li_sites:
            disordered.replace(
                index, {Species("Li", 1): occupancy}, properties=parent[index].properties
            )
        (ordered, energy), *_ = anneal_orderings(
            disordered, 1, restarts=4, seed=seed, exclusion_radius=LI_EXCLUSION_RADIUS
        )
        results.append(
            (
                ordered,
                {
                    "transformation": "li_vacancies",
                    "label": f"Li{x:g}La3Zr2O12",
                    "x": float(x),
                    "net_charge": float(round(n_li) - 7 * units),
                    "ewald_energy": energy,
                    "method": "anneal",
                },
            )
        )
    return results
