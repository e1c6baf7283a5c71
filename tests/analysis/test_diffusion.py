"""MSD and D with error bars on random walks with known D; agreement with other codes."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fixtures.analysis import (
    kinisi_d_samples,
    kinisi_from_ase,
    random_walk,
    write_text_dump,
)

from ionflow.analysis.diffusion import combine_estimates, fit_diffusion
from ionflow.analysis.displacements import collect_species_trajectory, from_positions
from ionflow.analysis.msd import msd_fft, species_msd
from ionflow.analysis.readers import open_trajectory, parse_type_map
from ionflow.analysis.schemas.diffusion import DiffusionDocument
from ionflow.errors import IonflowInputError

D_A2_FS = 1e-4  # = 1e-5 cm^2/s
DT_FS = 20.0
CELL = np.eye(3) * 12.0


def analyse(walk: np.ndarray, dt_fs: float = DT_FS, **kwargs):
    traj = from_positions(walk, np.arange(len(walk)) * dt_fs, CELL)
    return fit_diffusion(species_msd(traj), **kwargs)


def test_fft_msd_matches_the_direct_average_over_origins():
    x = np.random.default_rng(0).normal(size=(3, 64)).cumsum(axis=1)
    direct = np.array([[np.mean((s[m:] - s[: len(s) - m]) ** 2) for m in range(64)] for s in x])
    np.testing.assert_allclose(msd_fft(x), direct, rtol=1e-10, atol=1e-10)


def test_known_d_recovered_within_stated_errors_and_errors_are_calibrated():
    D_true = D_A2_FS * 0.1
    fits = [analyse(random_walk(24, 400, (D_A2_FS,) * 3, DT_FS, seed=s)) for s in range(20)]
    D = np.array([f.D_cm2_s for f in fits])
    err = np.array([f.D_err_cm2_s for f in fits])
    z = (D - D_true) / err
    assert np.all(np.abs(z) < 3.5), z
    # the stated error describes the seed-to-seed scatter (neither 3x too small nor too large)
    assert 0.33 < np.std(D, ddof=1) / np.median(err) < 3.0
    assert all(f.linear_regime_found for f in fits[:5])


def test_per_axis_d_recovers_an_anisotropic_walk():
    axes = (2e-4, 5e-5, 1e-5)
    fit = analyse(random_walk(40, 500, axes, DT_FS, seed=7))
    for k, D_axis in enumerate(axes):
        assert abs(fit.D_xyz_cm2_s[k] - 0.1 * D_axis) < 3.5 * fit.D_xyz_err_cm2_s[k]
    assert abs(fit.D_cm2_s - 0.1 * np.mean(axes)) < 3.5 * fit.D_err_cm2_s


def test_framework_drift_is_removed(tmp_path):
    walk = random_walk(12, 200, (D_A2_FS,) * 3, DT_FS, seed=3)
    walk[:, 8:] = walk[0, 8:]  # 4 framework atoms at rest
    drift = np.linspace(0, 1, len(walk))[:, None, None] * np.array([6.0, -3.0, 2.0])
    types = np.array([1] * 8 + [2] * 4)
    still = write_text_dump(tmp_path / "still.dump", walk, types, (12.0, 12.0, 12.0))
    moving = write_text_dump(tmp_path / "drift.dump", walk + drift, types, (12.0, 12.0, 12.0))
    type_map = parse_type_map("1=Li,2=S")
    results = []
    for path in (still, moving):
        traj = collect_species_trajectory(open_trajectory(path, type_map), "Li", DT_FS)
        results.append(fit_diffusion(species_msd(traj)))
    assert results[1].D_cm2_s == pytest.approx(results[0].D_cm2_s, rel=1e-4)
    traj = collect_species_trajectory(open_trajectory(moving, type_map), "Li", DT_FS, False)
    assert fit_diffusion(species_msd(traj)).D_cm2_s > 2 * results[0].D_cm2_s


def test_haven_ratio_of_independent_walkers_is_one_within_error():
    fit = analyse(random_walk(30, 2000, (D_A2_FS,) * 3, DT_FS, seed=2))
    assert abs(fit.D_sigma_cm2_s - fit.D_cm2_s) < 3.5 * fit.D_sigma_err_cm2_s


def test_given_fit_window_is_used_and_checked():
    walk = random_walk(10, 300, (D_A2_FS,) * 3, DT_FS, seed=4)
    fit = analyse(walk, window_fs=(1000.0, 2000.0))
    assert fit.fit_window_fs == (1000.0, 2000.0)
    with pytest.raises(IonflowInputError, match="fit window"):
        analyse(walk, window_fs=(1000.0, 1e9))


def test_atoms_that_never_move_are_an_input_error_not_a_crash():
    still = from_positions(np.ones((50, 4, 3)), np.arange(50) * DT_FS, 10 * np.eye(3))
    with pytest.raises(IonflowInputError, match="never move"):
        fit_diffusion(species_msd(still))


def test_effective_jumps_and_rsd_follow_he_et_al():
    fit = analyse(random_walk(20, 300, (D_A2_FS,) * 3, DT_FS, seed=9), jump_distance_A=2.0)
    msd_total = 6 * fit.D_cm2_s / 0.1 * 299 * DT_FS
    assert fit.n_eff_jumps == pytest.approx(20 * msd_total / 4.0, rel=1e-6)
    assert fit.rsd_he == pytest.approx(3.43 / np.sqrt(fit.n_eff_jumps) + 0.04)


def test_combining_runs_weights_by_error_and_widens_on_disagreement():
    mean, err = combine_estimates([1.0, 3.0], [0.1, 0.2])
    assert 1.0 < mean < 2.0 and mean == pytest.approx((1 / 0.01 + 3 / 0.04) / (100 + 25))
    assert err > 1 / np.sqrt(125)  # scatter of 2 with errors ~0.1 inflates the error
    mean, err = combine_estimates([1.0, 1.01], [0.1, 0.1])
    assert err == pytest.approx(0.1 / np.sqrt(2))


def test_lammps_random_walk_d_from_binary_dump(lammps_walk):
    doc = DiffusionDocument.from_file(
        lammps_walk.binary,
        "Li",
        300.0,
        parse_type_map(lammps_walk.type_map),
        lammps_walk.timestep_fs,
    )
    assert doc.n_species_atoms == lammps_walk.n_li
    assert abs(doc.D_cm2_s - lammps_walk.D_cm2_s) < 3.5 * doc.D_err_cm2_s


def test_d_agrees_with_pymatgen_diffusion_and_kinisi():
    """Same trajectory, three codes: D within the combined uncertainty."""
    from ase import Atoms
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    n_li, n_frames, n_framework = 24, 300, 8
    walk = random_walk(n_li, n_frames, (D_A2_FS,) * 3, DT_FS, seed=11)
    framework = np.random.default_rng(1).uniform(0, 12.0, size=(n_framework, 3))
    ours = DiffusionDocument.from_species_trajectory(
        from_positions(walk, np.arange(n_frames) * DT_FS, CELL), 600.0
    )
    species = ["Li"] * n_li + ["S"] * n_framework
    structure = Structure(
        Lattice(CELL), species, np.vstack([walk[0], framework]), coords_are_cartesian=True
    )
    displacements = np.concatenate(
        [walk - walk[0], np.zeros((n_frames, n_framework, 3))], axis=1
    ).transpose(1, 0, 2)
    pmg = DiffusionAnalyzer(structure, displacements, "Li", 600, DT_FS, 1, smoothed=False)
    frames = []
    for positions in walk:
        atoms = Atoms(species, positions=np.vstack([positions, framework]), cell=CELL, pbc=True)
        atoms.wrap()
        frames.append(atoms)
    samples = kinisi_d_samples(kinisi_from_ase(frames, DT_FS), 20 * DT_FS)
    D_kinisi, err_kinisi = np.mean(samples), np.std(samples)
    assert abs(ours.D_cm2_s - pmg.diffusivity) < 3 * np.hypot(
        ours.D_err_cm2_s, pmg.diffusivity_std_dev
    )
    assert abs(ours.D_cm2_s - D_kinisi) < 3 * np.hypot(ours.D_err_cm2_s, err_kinisi)
