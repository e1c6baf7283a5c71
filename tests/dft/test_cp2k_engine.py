"""Real CP2K (Debian 2023.1) on Li2S, 12 atoms, Γ point, cheap settings.

One single point per level of theory (module-scoped) and one 5-step AIMD whose
snapshots are labelled into a .cfg, all with the "minimal" CP2K settings.
"""

from __future__ import annotations

import shutil
from itertools import combinations

import numpy as np
import pytest
from jobflow import Flow, run_locally
from monty.json import MontyDecoder

from ionflow.dft.jobs import AimdSnapshotMaker, LabelMaker
from ionflow.dft.run import run_single_point
from ionflow.dft.sets import LEVELS_OF_THEORY
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.io.labelled_set import LabelledSet
from ionflow.io.mlip_cfg import read_labelled_cfg
from tests.fixtures.dft import make_li2s
from tests.fixtures.engines import require_engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _cp2k_installed() -> None:
    require_engine(shutil.which("cp2k.psmp") is not None, "cp2k not installed (cp2k.psmp)")


# "minimal" quality (150 Ry, DZVP, Γ): ~20 s per single point; the numbers are not
# converged, the parsing, units and level differences are what is tested.
MINIMAL = OracleSettings(oracle="cp2k", cp2k_quality="minimal", kpoint_mesh=(1, 1, 1))


@pytest.fixture(scope="module")
def cp2k_labels(tmp_path_factory):
    """PBE, PBE-D3(BJ) and optB88-vdW single points of the same Li2S cell."""
    root = tmp_path_factory.mktemp("cp2k_levels")
    structure = make_li2s()
    labels = {}
    for level in LEVELS_OF_THEORY:
        directory = root / level.replace("(", "").replace(")", "")
        labels[level] = run_single_point(structure, level, directory, MINIMAL)
    return labels


def test_cp2k_levels_parse_energy_forces_stress(cp2k_labels):
    for level, label in cp2k_labels.items():
        assert label.oracle == "cp2k" and label.level_of_theory == level and label.converged
        assert -3000 < label.energy < -2500  # eV for Li8S4, not Hartree
        forces = np.array(label.forces)
        assert forces.shape == (12, 3) and np.abs(forces.sum(axis=0)).max() < 1e-2
        # every site of perfect antifluorite is a symmetry centre: forces are grid noise
        assert np.linalg.norm(forces, axis=1).max() < 0.02, level
        stress = np.array(label.stress)
        assert stress == pytest.approx(stress.T, abs=1e-4)
        # cubic cell, explicit grid: the three normal stresses are equal
        assert np.diag(stress) == pytest.approx([stress[0, 0]] * 3, abs=1e-3)
        assert 0.01 < abs(stress[0, 0]) < 50  # GPa


def test_cp2k_three_levels_differ_and_d3_adds_its_dispersion(cp2k_labels):
    energies = {level: label.energy for level, label in cp2k_labels.items()}
    for a, b in combinations(energies, 2):
        assert abs(energies[a] - energies[b]) > 1e-2, (a, b)
    d3 = cp2k_labels["PBE-D3(BJ)"]
    assert d3.dispersion_energy is not None and d3.dispersion_energy < 0
    # D3(BJ) is added after the SCF: the energy drops by exactly the printed term
    assert d3.energy - energies["PBE"] == pytest.approx(d3.dispersion_energy, abs=2e-3)
    assert cp2k_labels["PBE"].dispersion_energy is None


def test_cp2k_aimd_snapshots_label_into_cfg_motep_reads_identically(dft_store, tmp_path):
    aimd = AimdSnapshotMaker(
        oracle_settings=MINIMAL, temperature=600, duration=0.01, n_snapshots=2,
        equilibration_fraction=0.5, seed=3,
    ).make(make_li2s())  # fmt: skip
    label = LabelMaker(oracle_settings=MINIMAL).make(aimd.output.snapshots)
    run_locally(Flow([aimd, label]), store=dft_store, ensure_success=True)
    decode = MontyDecoder().process_decoded
    md = decode(dft_store.get_output(aimd.uuid, load=True))
    labelled = decode(dft_store.get_output(label.uuid, load=True))
    assert md.n_steps == 5 and md.n_frames == 6 and md.snapshot_frames == [3, 5]
    assert labelled.n_labelled == 2 and labelled.oracle == "cp2k" and not labelled.failures
    path = tmp_path / "labelled_set.cfg"
    text = labelled.labelled_set.cfg_text()
    path.write_text(text)
    images = read_labelled_cfg(path, labelled.species)
    assert [len(a) for a in images] == [12, 12]
    for atoms, snapshot in zip(images, md.snapshots, strict=True):
        assert atoms.positions == pytest.approx(snapshot.cart_coords, abs=1e-6)
        assert -3000 < atoms.get_potential_energy() < -2500
    rewritten = LabelledSet(images, labelled.oracle, labelled.level_of_theory, labelled.species)
    assert rewritten.cfg_text() == text  # identical rewrite
    lo, hi = md.potential_energy_range
    assert lo - 1.0 < images[0].get_potential_energy() < hi + 1.0  # same settings as the MD
