"""Nernst-Einstein, configuration weighting, crystallinity and Haven ratio."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants

from ionflow.analysis.conductivity import (
    configuration_weighted_conductivity,
    crystallinity_corrected_conductivity,
    haven_ratio,
    log_sigma_of_interval,
    nernst_einstein_mS_cm,
    weighted_conductivity_interval,
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
    sigma = configuration_weighted_conductivity(
        [10.0, 2.0, 50.0], 300.0, relative_energies_eV=[0.0, 0.05, 0.5]
    )
    assert sigma == pytest.approx(w @ [10.0, 2.0, 50.0])
    sigma = configuration_weighted_conductivity([10.0, 2.0], weights=[1, 3])
    assert sigma == pytest.approx(4.0)
    with pytest.raises(IonflowInputError):
        configuration_weighted_conductivity([10.0, 2.0], weights=[1, 3, 4])


def test_crystallinity_mixing_rules_and_haven_ratio():
    assert crystallinity_corrected_conductivity(3.0, 0.8) == pytest.approx(2.4)
    assert crystallinity_corrected_conductivity(3.0, 0.8, 0.5) == pytest.approx(2.5)
    # series: 1/sigma = 0.8/3 + 0.2/0.5 = 0.6667 -> 1.5 mS/cm, below the parallel 2.5
    series = crystallinity_corrected_conductivity(3.0, 0.8, 0.5, rule="series")
    assert series == pytest.approx(1.5)
    assert crystallinity_corrected_conductivity(3.0, 1.0, 0.0, rule="series") == 3.0
    samples = crystallinity_corrected_conductivity(np.array([3.0, 6.0]), 0.8, 0.5, "series")
    assert samples == pytest.approx([1.5, 1.0 / (0.8 / 6.0 + 0.4)])
    with pytest.raises(IonflowInputError, match="series mixing rule needs a positive"):
        crystallinity_corrected_conductivity(3.0, 0.8, 0.0, rule="series")
    with pytest.raises(IonflowInputError, match="mixing rule"):
        crystallinity_corrected_conductivity(3.0, 0.8, 0.5, rule="harmonic")
    with pytest.raises(IonflowInputError, match="crystallinity"):
        crystallinity_corrected_conductivity(3.0, 1.2)
    assert haven_ratio(1e-6, 2e-6) == pytest.approx(0.5)
    assert haven_ratio(1e-6, 0.0) is None and haven_ratio(-1e-7, 2e-6) is None


# the demo's per-configuration sigma(300 K) intervals (issue 12): log-normal, 95 %
DEMO_INTERVALS = [(0.735, 37.9), (0.0654, 2.24)]


def test_weighted_interval_is_log_normal_not_a_symmetric_bar():
    centres = [float(np.sqrt(lo * hi)) for lo, hi in DEMO_INTERVALS]  # log-midpoints
    bulk = weighted_conductivity_interval(centres, DEMO_INTERVALS, [0.5, 0.5])
    assert bulk.value_mS_cm == pytest.approx(0.5 * sum(centres))
    assert 0 < bulk.low_mS_cm < bulk.value_mS_cm < bulk.high_mS_cm
    # asymmetric like its parts: the upper arm is longer than the lower one
    assert bulk.high_mS_cm - bulk.value_mS_cm > 3 * (bulk.value_mS_cm - bulk.low_mS_cm)
    # inside the envelope of the per-configuration intervals
    assert 0.5 * (0.735 + 0.0654) < bulk.high_mS_cm < 0.5 * (37.9 + 2.24)
    assert bulk.low_mS_cm > 0.5 * (0.735 + 0.0654)
    eighty = weighted_conductivity_interval(centres, DEMO_INTERVALS, [1, 1], crystallinity=0.8)
    assert eighty.low_mS_cm == pytest.approx(0.8 * bulk.low_mS_cm)
    series = weighted_conductivity_interval(
        centres, DEMO_INTERVALS, [1, 1], 0.8, sigma_amorphous_mS_cm=0.1, rule="series"
    )
    assert 0 < series.low_mS_cm < series.value_mS_cm < series.high_mS_cm < eighty.high_mS_cm
    # one configuration with all the weight: exactly its own interval
    alone = weighted_conductivity_interval(centres, DEMO_INTERVALS, [1, 0], n_samples=200_000)
    assert alone.low_mS_cm == pytest.approx(0.735, rel=0.02)
    assert alone.high_mS_cm == pytest.approx(37.9, rel=0.02)
    with pytest.raises(IonflowInputError, match="log-normal"):
        log_sigma_of_interval((-1.0, 2.0))


def test_an_interval_too_wide_for_floats_is_weighted_not_refused():
    """A poorly resolved E_a extrapolated to 300 K: exp underflows the lower bound to 0."""
    centre, z = 2.0, 1.959963984540054
    wide = (0.0, float(centre * np.exp(z * 360.0)))  # ln-sd 360: exp(-705) underflows
    assert log_sigma_of_interval(wide, centre=centre) == pytest.approx(360.0)
    with pytest.raises(IonflowInputError, match="log-normal"):
        log_sigma_of_interval(wide)  # without its centre the width is unknown
    mixed = weighted_conductivity_interval([centre, 1.0], [wide, DEMO_INTERVALS[0]], [0.5, 0.5])
    assert np.isfinite(mixed.high_mS_cm) and mixed.high_mS_cm > 1e100
    assert 0 <= mixed.low_mS_cm < mixed.value_mS_cm
    # the same configuration weighted alone keeps its own width
    mid = float(np.sqrt(0.735 * 37.9))
    alone = weighted_conductivity_interval([mid], [DEMO_INTERVALS[0]], [1.0], n_samples=200_000)
    assert alone.high_mS_cm == pytest.approx(37.9, rel=0.02)


def test_weighted_interval_covers_the_sampled_truth():
    """Frequentist coverage: repeat 'run the Arrhenius fits' with known true sigma."""
    rng = np.random.default_rng(12)
    true_sigma = np.array([5.3, 0.38])
    log_sd = np.array([log_sigma_of_interval(ci) for ci in DEMO_INTERVALS])
    weights = np.array([0.6, 0.4])
    truth = weights @ true_sigma
    trials, covered = 400, 0
    for _ in range(trials):
        ln_fit = np.log(true_sigma) + log_sd * rng.standard_normal(2)
        intervals = list(
            zip(np.exp(ln_fit - 1.96 * log_sd), np.exp(ln_fit + 1.96 * log_sd), strict=True)
        )
        bulk = weighted_conductivity_interval(
            np.exp(ln_fit), intervals, weights, n_samples=4000, seed=int(rng.integers(2**31))
        )
        covered += bulk.low_mS_cm <= truth <= bulk.high_mS_cm
    # nominal 95 %; 400 trials give a binomial standard error of ~1.1 %
    assert 0.90 <= covered / trials <= 0.99
