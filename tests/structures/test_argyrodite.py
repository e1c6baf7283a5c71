import pytest

from ionflow.errors import IonflowInputError
from ionflow.structures.argyrodite import (
    boltzmann_weights,
    cell_counts,
    characteristic_configurations,
    halide_4c_fraction,
    random_structure,
)
from ionflow.structures.parents import get_parent_structure


@pytest.mark.parametrize("halide", ["Cl", "Br", "I"])
def test_six_configurations(halide):
    configurations = characteristic_configurations(get_parent_structure(f"Li6PS5{halide}"))
    assert len(configurations) == 6
    fractions = [how["halide_4c_fraction"] for _, how in configurations]
    assert fractions == [0.0, 0.25, 0.5, 0.5, 0.75, 1.0]
    for structure, how in configurations:
        assert structure.composition.reduced_formula == f"Li6PS5{halide}"
        assert len(structure) == 52
        assert halide_4c_fraction(structure) == how["halide_4c_fraction"]
    # distinct structures: the two 50 % orderings share the Ewald energy, not the symmetry
    groups = [how["space_group"] for _, how in configurations]
    assert groups == ["F-43m", "R3m", "P222_1", "Pmm2", "R3m", "F-43m"]
    keys = {(how["space_group"], round(how["ewald_energy"], 6)) for _, how in configurations}
    assert len(keys) == 6


def test_configurations_need_labelled_parent(argyrodite_cl):
    unlabelled = argyrodite_cl.copy()
    unlabelled.remove_site_property("wyckoff")
    with pytest.raises(IonflowInputError):
        characteristic_configurations(unlabelled)


def test_boltzmann_weights_favour_low_energy():
    weights = boltzmann_weights({"a": 0.0, "b": 0.01, "c": 0.2}, temperature=300)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["a"] > weights["b"] > weights["c"]
    hot = boltzmann_weights({"a": 0.0, "b": 0.01, "c": 0.2}, temperature=3000)
    assert hot["c"] > weights["c"]


def test_cell_counts_sum_and_follow_weights():
    counts = cell_counts({"a": 0.5, "b": 0.3, "c": 0.2}, 27)
    assert sum(counts.values()) == 27
    assert counts["a"] >= counts["b"] >= counts["c"]


def test_random_structure_mixes_cells(argyrodite_cl):
    configurations = characteristic_configurations(argyrodite_cl)
    weights = {"X4c-000-F-43m": 1.0, "X4c-100-F-43m": 1.0}
    mixed, how = random_structure(configurations, scaling=(2, 2, 2), weights=weights)
    assert len(mixed) == 8 * 52
    assert mixed.composition.reduced_formula == "Li6PS5Cl"
    assert how["cell_counts"] == {"X4c-000-F-43m": 4, "X4c-100-F-43m": 4}
    assert how["halide_4c_fraction"] == pytest.approx(0.5)
    assert set(mixed.site_properties["configuration"]) == set(weights)
    assert min(mixed.distance_matrix[0][1:]) > 1.5  # no overlapping atoms across cells
    with pytest.raises(IonflowInputError):
        random_structure(configurations, weights={"nonsense": 1.0})
