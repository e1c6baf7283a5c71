import numpy as np
import pytest

from ionflow.errors import IonflowInputError
from ionflow.structures.strain import strain_perturbations, strain_steps, volumetric_series


def test_strain_along_each_direction_matches_request(triclinic_cell):
    magnitudes = (-0.05, -0.02, 0.03, 0.05)
    strained = strain_perturbations(triclinic_cell, magnitudes=magnitudes)
    assert len(strained) == 4 * len(magnitudes)
    ref = np.array(triclinic_cell.lattice.abc)
    for structure, how in strained:
        abc = np.array(structure.lattice.abc)
        axes = {"a": [0], "b": [1], "c": [2], "abc": [0, 1, 2]}[how["direction"]]
        expected = ref.copy()
        expected[axes] *= 1 + how["strain"]
        np.testing.assert_allclose(abc, expected, rtol=0, atol=1e-8)
        # directions are kept: angles only change when one vector is stretched alone
        np.testing.assert_allclose(structure.frac_coords, triclinic_cell.frac_coords, atol=1e-12)
        if how["direction"] == "abc":
            np.testing.assert_allclose(
                structure.volume, triclinic_cell.volume * (1 + how["strain"]) ** 3, rtol=1e-10
            )


def test_strain_keeps_site_properties(argyrodite_cl):
    (structure, how), *_ = strain_perturbations(argyrodite_cl, magnitudes=[0.05], directions="b")
    assert how == {"strain": 0.05, "direction": "b"}
    assert structure.site_properties["wyckoff"] == argyrodite_cl.site_properties["wyckoff"]


@pytest.mark.parametrize(("magnitudes", "directions"), [((-1.0,), ("a",)), ((0.1,), ("x",))])
def test_impossible_strain_is_an_input_error(triclinic_cell, magnitudes, directions):
    with pytest.raises(IonflowInputError):
        strain_perturbations(triclinic_cell, magnitudes=magnitudes, directions=directions)


def test_volumetric_series_hits_each_fraction(triclinic_cell):
    fractions = (0.85, 1.0, 1.3)
    series = volumetric_series(triclinic_cell, fractions)
    for (structure, how), fraction in zip(series, fractions, strict=True):
        assert structure.volume == pytest.approx(triclinic_cell.volume * fraction, rel=1e-10)
        assert how["volume_fraction"] == fraction
        np.testing.assert_allclose(structure.lattice.angles, triclinic_cell.lattice.angles)
    with pytest.raises(IonflowInputError):
        volumetric_series(triclinic_cell, (0.0,))


def test_strain_steps_are_symmetric():
    steps = strain_steps(0.05, 0.025)
    assert steps == [-0.05, -0.025, 0.025, 0.05]
