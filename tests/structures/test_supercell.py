import numpy as np
import pytest

from ionflow.errors import IonflowInputError
from ionflow.structures.supercell import (
    make_supercell,
    parse_scaling,
    perpendicular_widths,
)


def test_fixed_scaling(argyrodite_cl):
    supercell = make_supercell(argyrodite_cl, scaling=(3, 3, 3))
    assert len(supercell) == 27 * 52
    assert supercell.composition.reduced_formula == argyrodite_cl.composition.reduced_formula
    assert len(argyrodite_cl) == 52  # input unchanged


def test_min_length_uses_perpendicular_widths(triclinic_cell):
    supercell = make_supercell(triclinic_cell, min_length=12.0)
    widths = perpendicular_widths(supercell.lattice)
    assert widths.min() >= 12.0
    # one repeat fewer in any direction would be too thin
    scaling = np.rint(np.array(supercell.lattice.abc) / triclinic_cell.lattice.abc).astype(int)
    thin = perpendicular_widths(triclinic_cell.lattice) * (scaling - 1)
    assert np.all(thin < 12.0)


def test_min_atoms(argyrodite_cl):
    supercell = make_supercell(argyrodite_cl, min_atoms=1000)
    assert len(supercell) >= 1000
    assert len(supercell) < 2 * 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scaling": (0, 1, 1)},
        {"min_atoms": 10**9},
        {},
        {"scaling": (1, 1, 1), "min_atoms": 4},
        {"min_length": -1.0},
    ],
)
def test_impossible_supercells_are_input_errors(argyrodite_cl, kwargs):
    with pytest.raises(IonflowInputError):
        make_supercell(argyrodite_cl, **kwargs)


def test_parse_scaling():
    assert parse_scaling("3x2x1") == (3, 2, 1)
    assert parse_scaling("2") == (2, 2, 2)
    for bad in ("3x3", "ax3x3", "0x1x1"):
        with pytest.raises(IonflowInputError):
            parse_scaling(bad)
