"""The report's configuration weights use the settings it is given."""

import math
from types import SimpleNamespace

import pytest
from pymatgen.core import Lattice, Structure

from ionflow.pipeline.report import (
    composition_results,
    configuration_results,
    headline_composition,
    parent_formula,
    unresolved_sigma_warnings,
)

K_B_EV_PER_K = 8.617333262e-5


def _arrhenius(sigma_mS_cm: float) -> SimpleNamespace:
    return SimpleNamespace(
        Ea_eV=0.3,
        Ea_err_eV=0.01,
        sigma300_mS_cm=sigma_mS_cm,
        sigma300_ci_mS_cm=(0.5 * sigma_mS_cm, 2 * sigma_mS_cm),
        break_K=None,
    )


def _relaxed(energy_eV_atom: float) -> SimpleNamespace:
    cell = Structure(Lattice.cubic(4.0), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return SimpleNamespace(energy=2 * energy_eV_atom, structure=cell)


@pytest.mark.parametrize("temperature_K", [300.0, 600.0])
def test_weights_are_boltzmann_factors_at_the_given_temperature(temperature_K):
    gap_eV = 0.02
    results = configuration_results(
        [_relaxed(-3.0), _relaxed(-3.0 + gap_eV)], [_arrhenius(1.0), _arrhenius(4.0)], temperature_K
    )
    assert [r.relative_energy_eV_atom for r in results] == pytest.approx([0.0, gap_eV])
    ratio = results[1].weight / results[0].weight
    assert ratio == pytest.approx(math.exp(-gap_eV / (K_B_EV_PER_K * temperature_K)), rel=1e-6)
    assert sum(r.weight for r in results) == pytest.approx(1.0)
    assert (results[0].formula, results[0].n_atoms) == ("Li", 2)


def test_equal_weights_without_relaxation():
    results = configuration_results([], [_arrhenius(1.0), _arrhenius(2.0), _arrhenius(3.0)], 300.0)
    assert [r.weight for r in results] == pytest.approx([1 / 3] * 3)
    assert all(r.relative_energy_eV_atom is None for r in results)


def test_a_sigma_interval_of_many_decades_is_named_not_reported_silently():
    unresolved = _arrhenius(2.0)
    unresolved.sigma300_ci_mS_cm, unresolved.Ea_err_eV = (0.0, 1.4e307), 4.2
    results = configuration_results([], [_arrhenius(1.0), unresolved], 300.0)
    notes = unresolved_sigma_warnings(results, 300.0)
    assert len(notes) == 1 and notes[0].startswith("configuration 1: sigma(300 K) is not resolved")
    assert "4.200 eV" in notes[0]


def _relaxed_cell(n_li: int, energy_eV_atom: float) -> SimpleNamespace:
    """A cell of n_li Li and 2 O (a different composition for every n_li)."""
    species = ["Li"] * n_li + ["O", "O"]
    coords = [[0.1 * i, 0.05 * i, 0.0] for i in range(n_li)] + [[0.5, 0.5, 0.5], [0.5, 0, 0.5]]
    cell = Structure(Lattice.cubic(6.0), species, coords)
    return SimpleNamespace(energy=len(cell) * energy_eV_atom, structure=cell)


def test_mixed_compositions_are_weighted_per_composition_never_across():
    """Li3O2 is far lower per atom than Li4O2, yet each composition keeps its own weights."""
    relaxed = [
        _relaxed_cell(4, -3.00),  # Li2O
        _relaxed_cell(3, -4.00),  # Li3O2: 1 eV/atom lower, but another composition
        _relaxed_cell(4, -2.98),  # Li2O, 20 meV/atom above the first
    ]
    arrhenius = [_arrhenius(1.0), _arrhenius(10.0), _arrhenius(4.0)]
    results = configuration_results(relaxed, arrhenius, 300.0)
    assert [r.formula for r in results] == ["Li2O", "Li3O2", "Li2O"]
    # relative energies are within a composition: each composition has its own zero
    assert [r.relative_energy_eV_atom for r in results] == pytest.approx([0.0, 0.0, 0.02])
    assert results[1].weight == pytest.approx(1.0)  # alone in its composition
    ratio = results[2].weight / results[0].weight
    assert ratio == pytest.approx(math.exp(-0.02 / (K_B_EV_PER_K * 300.0)), rel=1e-6)
    assert results[0].weight + results[2].weight == pytest.approx(1.0)

    compositions = composition_results(results, 0.8, 0.0, "parallel")
    by_formula = {c.formula: c for c in compositions}
    assert set(by_formula) == {"Li2O", "Li3O2"}
    assert by_formula["Li2O"].configurations == [0, 2]
    expected = results[0].weight * 1.0 + results[2].weight * 4.0
    assert by_formula["Li2O"].sigma_bulk_mS_cm == pytest.approx(expected)
    assert by_formula["Li3O2"].sigma_bulk_mS_cm == pytest.approx(10.0)
    assert by_formula["Li3O2"].sigma_bulk_crystallinity_mS_cm == pytest.approx(8.0)
    assert headline_composition(compositions, "Li3O2").formula == "Li3O2"
    assert headline_composition(compositions, "LiO").formula == "Li2O"  # parent absent


def test_llzo_parent_formula_names_the_stoichiometric_composition():
    assert parent_formula("LLZO") == "Li7La3Zr2O12"
    assert parent_formula("no-such-material") == ""


def test_without_relaxation_equal_weights_within_each_composition():
    """No energies: equal weights, but still per composition (from the MD start cells)."""
    cells = [_relaxed_cell(4, 0.0).structure, _relaxed_cell(3, 0.0).structure]
    cells.append(_relaxed_cell(4, 0.0).structure)
    results = configuration_results([], [_arrhenius(1.0)] * 3, 300.0, structures=cells)
    assert [r.formula for r in results] == ["Li2O", "Li3O2", "Li2O"]
    assert [r.weight for r in results] == pytest.approx([0.5, 1.0, 0.5])
    compositions = composition_results(results, 1.0, 0.0, "parallel")
    assert [c.formula for c in compositions] == ["Li2O", "Li3O2"]
