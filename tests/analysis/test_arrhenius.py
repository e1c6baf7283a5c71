"""Arrhenius fits: E_a from random walks at several T, extrapolation, kinks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fixtures.analysis import random_walk

from ionflow.analysis.arrhenius import K_B_EV_PER_K, fit_arrhenius, fit_piecewise_arrhenius
from ionflow.analysis.displacements import from_positions
from ionflow.analysis.schemas.diffusion import ArrheniusDocument, DiffusionDocument
from ionflow.errors import IonflowInputError, MissingResultsError

EA_EV = 0.25
D0_A2_FS = 0.02  # Å^2/fs
DT_FS = 20.0


def walk_document(temperature_K: float, seed: int) -> DiffusionDocument:
    D = D0_A2_FS * np.exp(-EA_EV / (K_B_EV_PER_K * temperature_K))
    walk = random_walk(16, 300, (D,) * 3, DT_FS, seed=seed)
    traj = from_positions(walk, np.arange(300) * DT_FS, np.eye(3) * 10.0, n_atoms_total=40)
    return DiffusionDocument.from_species_trajectory(traj, temperature_K)


def test_activation_energy_and_extrapolation_recovered_from_random_walks():
    docs = [walk_document(T, seed) for seed, T in enumerate([500, 600, 700, 800, 900])]
    docs += [walk_document(600, 99)]  # a repeated run at 600 K is combined
    result = ArrheniusDocument.from_diffusion_documents(docs)
    assert abs(result.Ea_eV - EA_EV) < 3 * result.Ea_err_eV
    assert result.Ea_err_eV < 0.05
    assert [t.n_runs for t in result.temperatures] == [1, 2, 1, 1, 1]
    D300_true = 0.1 * D0_A2_FS * np.exp(-EA_EV / (K_B_EV_PER_K * 300))
    low, high = result.D300_ci_cm2_s
    assert low < D300_true < high
    s_low, s_high = result.sigma300_ci_mS_cm
    assert s_low < result.sigma300_mS_cm < s_high
    assert result.break_K is None  # one Arrhenius law: no significant kink


def test_piecewise_fit_finds_a_kink_and_tests_its_significance():
    T = np.array([400, 450, 500, 550, 600, 700, 800, 900, 1000, 1100])
    x = 1.0 / (K_B_EV_PER_K * T)
    x_break = 1.0 / (K_B_EV_PER_K * 650.0)
    # E_a 0.45 eV below 650 K, 0.20 eV above (the LSTH kink), continuous at the break
    ln_D = -4.0 - 0.20 * x - 0.25 * np.maximum(x - x_break, 0.0)
    rng = np.random.default_rng(0)
    noisy = np.exp(ln_D + rng.normal(scale=0.03, size=len(T)))
    piece = fit_piecewise_arrhenius(T, noisy, 0.03 * noisy)
    assert piece.significant and piece.p_value < 1e-3 and piece.delta_bic < 0
    assert 600 < piece.break_K < 700
    assert piece.Ea_low_eV == pytest.approx(0.45, abs=0.05)
    assert piece.Ea_high_eV == pytest.approx(0.20, abs=0.05)
    straight = np.exp(-4.0 - 0.3 * x + rng.normal(scale=0.03, size=len(T)))
    assert not fit_piecewise_arrhenius(T, straight, 0.03 * straight).significant
    assert fit_piecewise_arrhenius(T[:4], noisy[:4], noisy[:4] * 0.03) is None


def test_piecewise_intervals_cover_the_true_kink_and_extrapolation():
    """Over many noise draws the 95 % intervals hold the truth about as often as they say."""
    T = np.array([400, 450, 500, 550, 600, 700, 800, 900, 1000, 1100])
    x = 1.0 / (K_B_EV_PER_K * T)
    x_break = 1.0 / (K_B_EV_PER_K * 650.0)
    ln_D = -4.0 - 0.20 * x - 0.25 * np.maximum(x - x_break, 0.0)
    ln_D298 = -4.0 - 0.45 / (K_B_EV_PER_K * 298.0) + 0.25 * x_break
    rng = np.random.default_rng(1)
    hits = {"break": 0, "low": 0, "high": 0, "D298": 0}
    draws = 100
    for _ in range(draws):
        noisy = np.exp(ln_D + rng.normal(scale=0.05, size=len(T)))
        piece = fit_piecewise_arrhenius(T, noisy, 0.05 * noisy)
        hits["break"] += piece.break_interval_K[0] <= 650.0 <= piece.break_interval_K[1]
        hits["low"] += piece.Ea_low_interval_eV[0] <= 0.45 <= piece.Ea_low_interval_eV[1]
        hits["high"] += piece.Ea_high_interval_eV[0] <= 0.20 <= piece.Ea_high_interval_eV[1]
        value, low, high = piece.D_low_at(298.0)
        assert low <= value <= high
        hits["D298"] += low <= np.exp(ln_D298) <= high
        assert 0 < piece.Ea_low_err_eV < 0.2 and 0 < piece.Ea_high_err_eV < 0.2
    assert all(count >= 0.88 * draws for count in hits.values()), hits


def test_line_fit_weights_by_error():
    T = np.array([500.0, 600.0, 700.0])
    D = np.exp(-0.3 / (K_B_EV_PER_K * T))
    D_bad = D.copy()
    D_bad[0] *= 3  # far off, but with a huge error bar
    fit = fit_arrhenius(T, D_bad, [100 * D_bad[0], 1e-3 * D[1], 1e-3 * D[2]])
    assert fit.Ea_eV == pytest.approx(0.3, abs=0.01)


def test_single_temperature_or_non_diffusing_run_is_an_input_error():
    with pytest.raises(IonflowInputError, match="two or more temperatures"):
        fit_arrhenius([600, 600], [1e-6, 2e-6], [1e-7, 1e-7])
    with pytest.raises(IonflowInputError, match="positive D"):
        fit_arrhenius([600, 700], [-1e-6, 2e-6], [1e-7, 1e-7])
    with pytest.raises(IonflowInputError, match="two or more temperatures"):
        ArrheniusDocument.from_diffusion_documents([walk_document(600, 0), walk_document(600, 1)])


def test_a_temperature_without_diffusion_is_left_out_of_the_fit_with_a_warning():
    docs = [walk_document(T, seed) for seed, T in enumerate([600, 700, 800, 900])]
    frozen = docs[0].model_copy(update={"D_cm2_s": -2e-9})  # sub-diffusive run: slope < 0
    with pytest.warns(UserWarning, match="no diffusion seen at 600 K"):
        result = ArrheniusDocument.from_diffusion_documents([frozen, *docs[1:]])
    assert result.excluded_K == [600.0]
    assert [t.temperature_K for t in result.temperatures] == [600.0, 700.0, 800.0, 900.0]
    reference = ArrheniusDocument.from_diffusion_documents(docs[1:])
    assert result.Ea_eV == pytest.approx(reference.Ea_eV)
    # with only one diffusing temperature there is nothing to fit: the input error stays
    with pytest.raises(IonflowInputError, match="positive D"):
        ArrheniusDocument.from_diffusion_documents([frozen, docs[1]])


def test_failed_runs_are_left_out_named_and_counted():
    """A grid of 3 temperatures x 2 runs whose 900 K runs both failed and one 500 K run too."""
    runs = [(T, r) for r in (1, 2) for T in (500.0, 700.0, 900.0)]
    docs = [walk_document(T, 10 * r + k) for k, (T, r) in enumerate(runs)]
    docs[0].md_warnings = ["core repulsion active in 3 of 40 thermo rows", "wall"] * 2
    docs[1].md_warnings = ["core repulsion active in 1 of 40 thermo rows"]
    docs[2] = docs[5] = docs[3] = None  # 900 K #1, 900 K #2, 500 K #2
    result = ArrheniusDocument.from_runs(docs, runs)
    assert [(t.temperature_K, t.n_runs) for t in result.temperatures] == [(500, 1), (700, 2)]
    assert result.missing_runs == ["900 K #1", "500 K #2", "900 K #2"]
    assert (result.n_temperatures_fitted, result.n_temperatures_planned) == (2, 3)
    assert result.missing_runs_warning().endswith("are left out: E_a from 2 of 3 temperatures")
    assert result.md_warnings == [  # one line per run, its warnings once each
        "500 K #1: core repulsion active in 3 of 40 thermo rows; wall",
        "700 K #1: core repulsion active in 1 of 40 thermo rows",
    ]
    complete = ArrheniusDocument.from_runs([walk_document(T, 1) for T in (500.0, 700.0)])
    assert complete.missing_runs == [] and complete.missing_runs_warning() is None


def test_failed_runs_leaving_one_temperature_are_a_missing_results_error():
    runs = [(500.0, 1), (700.0, 1), (900.0, 1)]
    with pytest.raises(MissingResultsError, match=r"700 K #1, 900 K #1 failed: 1 of 3 .*500 K"):
        ArrheniusDocument.from_runs([walk_document(500.0, 1), None, None], runs)
    with pytest.raises(MissingResultsError, match=r"0 of 3 temperatures left \(none\)"):
        ArrheniusDocument.from_runs([None, None, None], runs)
