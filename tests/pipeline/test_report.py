"""The report's configuration weights use the settings it is given."""

import math
from types import SimpleNamespace

import pytest
from pymatgen.core import Lattice, Structure

from ionflow.pipeline.report import configuration_results

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
