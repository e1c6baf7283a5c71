import numpy as np
import pytest

from ionflow.amorphous.flows.melt_quench import MeltQuenchFlowMaker
from ionflow.errors import IonflowInputError
from ionflow.structures.amorphous import at_density, expanded_cells
from ionflow.structures.garnet import lithium_deficient_garnets
from ionflow.structures.parents import get_parent_structure


def test_lithium_deficient_garnets():
    parent = get_parent_structure("LLZO")
    results = lithium_deficient_garnets(parent, (6.25, 7.0))
    for (structure, how), x in zip(results, (6.25, 7.0), strict=True):
        amounts = structure.composition.get_el_amt_dict()
        assert amounts["Li"] == pytest.approx(8 * x)
        assert amounts["La"] == 24 and amounts["Zr"] == 16 and amounts["O"] == 96
        assert how["net_charge"] == pytest.approx(8 * x - 56)
        li = [i for i, s in enumerate(structure) if s.specie.symbol == "Li"]
        dist = structure.distance_matrix[np.ix_(li, li)] + 10 * np.eye(len(li))
        assert dist.min() > 2.0  # split 24d/96h sites never filled together
    with pytest.raises(IonflowInputError):
        lithium_deficient_garnets(parent, (6.3,))


def test_melt_quench_recipe_and_expansion(argyrodite_cl):
    maker = MeltQuenchFlowMaker().md_maker
    assert maker.quench_ps == pytest.approx(500.0)
    assert maker.melt_temperature == 3000.0 and maker.temperature == 500.0
    assert maker.quench_rate_k_per_ps == 5.0 and maker.melt_ps == 1000.0
    dense = at_density(argyrodite_cl, 1.5)
    assert float(dense.density) == pytest.approx(1.5)
    for structure, how in expanded_cells(dense):
        assert structure.volume == pytest.approx(dense.volume * how["volume_fraction"])
        np.testing.assert_allclose(structure.frac_coords, dense.frac_coords)
    assert [h["volume_fraction"] for _, h in expanded_cells(dense)] == [1.05, 1.10, 1.15]


def test_lithium_deficient_garnets_in_the_primitive_cell():
    """LLZO-primitive: half the conventional cell (4 formula units), same Li_x contents."""
    primitive = get_parent_structure("LLZO-primitive")
    conventional = get_parent_structure("LLZO")
    assert len(primitive) == len(conventional) // 2
    assert primitive.volume == pytest.approx(conventional.volume / 2)
    (structure, how), *_ = lithium_deficient_garnets(primitive, (6.25,))
    amounts = structure.composition.get_el_amt_dict()
    assert (amounts["Li"], amounts["La"], amounts["Zr"], amounts["O"]) == (25, 12, 8, 48)
    assert how["net_charge"] == pytest.approx(25 - 28)
    li = [i for i, s in enumerate(structure) if s.specie.symbol == "Li"]
    dist = structure.distance_matrix[np.ix_(li, li)] + 10 * np.eye(len(li))
    assert dist.min() > 2.0
    with pytest.raises(IonflowInputError, match=r"steps of 0\.25"):
        lithium_deficient_garnets(primitive, (6.375,))  # 25.5 Li in 4 formula units
