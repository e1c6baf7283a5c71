import pytest

from ionflow.errors import IonflowInputError
from ionflow.structures.surface import surface_slab


def test_021_slab_is_stoichiometric_with_vacuum(argyrodite_cl):
    slab, how = surface_slab(argyrodite_cl, (0, 2, 1), min_slab_A=8.0, vacuum_A=12.0)
    assert slab.composition.reduced_formula == "Li6PS5Cl" and len(slab) == 104
    z = slab.cart_coords[:, 2]
    assert slab.lattice.c - (z.max() - z.min()) >= 12.0  # vacuum along the normal
    assert how["miller_index"] == [0, 2, 1]


def test_slab_of_a_disordered_structure_is_refused():
    from ionflow.structures.parents import get_parent_structure

    with pytest.raises(IonflowInputError):
        surface_slab(get_parent_structure("LSTH-1a"))
