"""Nernst-Einstein, configuration weighting, crystallinity and Haven ratio."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants

from ionflow.analysis.conductivity import (
    configuration_weighted_conductivity,
    crystallinity_corrected_conductivity,
    haven_ratio,
    nernst_einstein_mS_cm,
)
from ionflow.errors import IonflowInputError
from ionflow.structures.boltzmann import boltzmann_weights


def test_nernst_einstein_in_millisiemens_per_cm():
    # SI by hand: n in m^-3, D in m^2/s -> S/m; 1 S/m = 10 mS/cm
    n_si = 24 / (1000.0 * 1e-30)
    D_si = 1e-6 * 1e-4
    sigma_si = n_si * constants.e**2 * D_si / (constants.k * 300.0)
    assert nernst_einstein_mS_cm(1e-6, 24, 1000.0, 300.0) == pytest.approx(10 * sigma_si)
    assert nernst_einstein_mS_cm(1e-6, 24, 1000.0, 300.0, charge=2) == pytest.approx(40 * sigma_si)
    with pytest.raises(IonflowInputError):
        nernst_einstein_mS_cm(1e-6, 24, 1000.0, 0.0)


def test_boltzmann_weights_of_configurations():
    w = boltzmann_weights([0.0, 0.05, 0.5], 300.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[0] / w[1] == pytest.approx(np.exp(0.05 / (constants.k / constants.e * 300.0)))
    assert w[2] < 1e-8
    sigma, err = configuration_weighted_conductivity(
        [10.0, 2.0, 50.0], 300.0, relative_energies_eV=[0.0, 0.05, 0.5], sigma_err_mS_cm=[1, 1, 1]
    )
    assert sigma == pytest.approx(w @ [10.0, 2.0, 50.0])
    assert err < 1.0
    sigma, _ = configuration_weighted_conductivity([10.0, 2.0], weights=[1, 3])
    assert sigma == pytest.approx(4.0)
    with pytest.raises(IonflowInputError):
        configuration_weighted_conductivity([10.0, 2.0], weights=[1, 3, 4])


def test_crystallinity_and_haven_ratio():
    assert crystallinity_corrected_conductivity(3.0, 0.8) == pytest.approx(2.4)
    assert crystallinity_corrected_conductivity(3.0, 0.8, 0.5) == pytest.approx(2.5)
    with pytest.raises(IonflowInputError, match="crystallinity"):
        crystallinity_corrected_conductivity(3.0, 1.2)
    assert haven_ratio(1e-6, 2e-6) == pytest.approx(0.5)
    assert np.isnan(haven_ratio(1e-6, 0.0))
