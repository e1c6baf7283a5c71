"""CP2K output adapters on recorded CP2K 2023.1 outputs (units, signs, truncated runs)."""

from __future__ import annotations

import numpy as np
import pytest

from ionflow.dft.jobs.aimd import snapshot_frames
from ionflow.dft.parsers import (
    BAR_IN_GPA,
    HARTREE_IN_EV,
    HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM,
    parse_cp2k_single_point,
    read_cp2k_trajectory,
)
from tests.fixtures.dft import DFT_DATA

CP2K_DATA = DFT_DATA / "cp2k"


def _printed(text: str, marker: str) -> list[str]:
    return [line for line in text.splitlines() if marker in line]


def test_cp2k_single_point_units_and_signs():
    out = CP2K_DATA / "li2s_pbe_d3bj" / "cp2k.out"
    text = out.read_text()
    label = parse_cp2k_single_point(out, "PBE-D3(BJ)")
    hartree = float(_printed(text, "ENERGY| Total FORCE_EVAL")[-1].split()[-1])
    assert label.energy == pytest.approx(hartree * HARTREE_IN_EV)
    dispersion = float(_printed(text, "Dispersion energy:")[-1].split()[-1])
    assert label.dispersion_energy == pytest.approx(dispersion * HARTREE_IN_EV)
    assert label.dispersion_energy < 0 and label.converged
    forces = np.array(label.forces)
    assert forces.shape == (12, 3)
    first_atom = [
        float(x) for x in text.split("ATOMIC FORCES in [a.u.]")[1].splitlines()[3].split()[3:]
    ]
    assert forces[0] == pytest.approx(np.array(first_atom) * HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM)
    assert np.abs(forces.sum(axis=0)).max() < 1e-3  # no net force
    stress = np.array(label.stress)
    printed_xx = float(text.split("Analytical stress tensor [GPa]")[1].splitlines()[2].split()[2])
    assert stress[0, 0] == pytest.approx(-printed_xx)  # CP2K: pressure-positive
    assert np.diag(stress) == pytest.approx([stress[0, 0]] * 3, abs=1e-4)  # cubic
    assert stress == pytest.approx(stress.T, abs=1e-6)


def test_cp2k_unconverged_scf_is_flagged(tmp_path):
    text = (CP2K_DATA / "li2s_pbe_d3bj" / "cp2k.out").read_text()
    broken = text.replace("*** SCF run converged in", "*** SCF run NOT converged ***\n  was", 1)
    (tmp_path / "cp2k.out").write_text(broken)
    assert not parse_cp2k_single_point(tmp_path / "cp2k.out", "PBE").converged


def test_cp2k_md_read_back_skips_incomplete_frames():
    directory = CP2K_DATA / "li2s_md_truncated"
    frames = read_cp2k_trajectory(directory)
    # step 4 has positions but no cell/forces, step 5 was cut mid-write: both skipped
    assert [f.step for f in frames] == [0, 1, 2, 3]
    stress_bar = np.loadtxt(directory / "ionflow-1.stress")
    assert frames[2].stress[0, 0] == pytest.approx(-stress_bar[2, 2] * BAR_IN_GPA)
    assert 1.0 < abs(frames[2].stress[0, 0]) < 20.0  # GPa, not bar
    assert frames[3].structure.lattice.abc == pytest.approx((5.7, 5.7, 5.7))
    assert frames[3].forces.shape == (12, 3)
    assert [site.specie.symbol for site in frames[0].structure].count("Li") == 8
    energies = np.loadtxt(directory / "ionflow-1.ener")[:, 4] * HARTREE_IN_EV
    assert [f.potential_energy for f in frames] == pytest.approx(list(energies), abs=1e-6)


@pytest.mark.parametrize(
    ("n_frames", "n_snapshots", "skip", "expected"),
    [(11, 5, 0.2, [3, 5, 6, 8, 10]), (101, 100, 0.5, list(range(51, 101))), (6, 2, 0.5, [3, 5])],
)
def test_snapshots_are_evenly_spaced_after_equilibration(n_frames, n_snapshots, skip, expected):
    frames = snapshot_frames(n_frames, n_snapshots, skip)
    assert frames == expected
    assert min(frames) >= skip * n_frames and frames[-1] == n_frames - 1
    gaps = np.diff(frames)
    assert gaps.max() - gaps.min() <= 1  # evenly spaced up to rounding
