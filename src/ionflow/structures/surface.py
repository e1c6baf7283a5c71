"""Surface slabs (pymatgen's SlabGenerator): the (021) surfaces of the argyrodite GB study.

The Σ5[100](021) grain boundary joins two (021) surfaces, so its training set first gets
(021) slabs of the bulk configurations (strained and sampled by AIMD like the bulk).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymatgen.core import Structure
from pymatgen.core.surface import SlabGenerator

from ionflow.errors import IonflowInputError


def surface_slab(
    structure: Structure,
    miller_index: Sequence[int] = (0, 2, 1),
    min_slab_A: float = 8.0,
    vacuum_A: float = 12.0,
) -> tuple[Structure, dict]:
    """A stoichiometric slab of ``structure`` with vacuum along c, centred in the cell.

    Args:
        structure: ordered bulk structure (conventional cell).
        miller_index: surface plane.
        min_slab_A: slab at least this thick, Å.
        vacuum_A: vacuum at least this thick, Å.

    Returns:
        ``(slab, how)``; ``how`` records the plane, thicknesses and the slab's formula.

    Raises:
        IonflowInputError: a disordered structure or a slab off the bulk composition.
    """
    if not structure.is_ordered:
        raise IonflowInputError("surface slabs need an ordered structure; order it first")
    generator = SlabGenerator(
        structure, tuple(miller_index), min_slab_A, vacuum_A, center_slab=True, primitive=False
    )
    slab = generator.get_slab()
    if slab.composition.reduced_formula != structure.composition.reduced_formula:
        raise IonflowInputError(
            f"the {tuple(miller_index)} slab is {slab.composition.reduced_formula}, not "
            f"{structure.composition.reduced_formula}; choose another plane"
        )
    out = Structure(slab.lattice, slab.species, slab.frac_coords)  # no bulk_wyckoff etc.
    how = {
        "transformation": "surface_slab",
        "miller_index": list(miller_index),
        "min_slab_A": min_slab_A,
        "vacuum_A": vacuum_A,
        "label": f"slab-{''.join(map(str, miller_index))}",
    }
    return out, how
