"""The only place where the DFT stage calls an engine (VASP, CP2K or CHGNet).

Three operations, each for one structure in one working directory:
:func:`run_single_point` (a label), :func:`run_relax` (cell + ions) and
:func:`run_aimd` (NVT MD frames). VASP and CP2K run through atomate2's ``run_vasp`` /
``run_cp2k`` (custodian with its error handlers); CHGNet through atomate2's
``ase_calculator`` and ASE dynamics. Results are always in eV, Å, eV/Å and GPa
(positive under tension), see :mod:`ionflow.dft.schemas.labels`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from rich.progress import track

from ionflow.dft.parsers import (
    Cp2kOutputError,
    check_vasp_level,
    check_vasp_structure,
    parse_cp2k_single_point,
    parse_vasp_single_point,
    read_cp2k_trajectory,
    read_vasp_frames,
    read_vasprun,
    scf_failure,
    vasp_output_file,
)
from ionflow.dft.schemas.labels import SinglePointLabel
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.settings import get_settings

EV_PER_A3_IN_GPA = 160.21766208


@dataclass
class RelaxResult:
    """Relaxed structure (Å), its energy (eV) and whether the optimiser converged.

    ``failure`` says why a run did not converge when the engine tells (e.g. an
    electronic SCF that hit NELM), else None.
    """

    structure: Structure
    energy: float
    converged: bool
    n_steps: int
    failure: str | None = None


@dataclass
class MdFrames:
    """Frames of an NVT run: structures every MD step, potential energies in eV."""

    structures: list[Structure]
    potential_energies: list[float | None]
    timestep: float  # fs


def _mpi_command(command: str) -> str:
    prefix = get_settings().mpi_prefix
    return f"{prefix} {command}".strip()


# --------------------------------------------------------------------------- CHGNet
@cache
def chgnet_calculator(model: str = "CHGNet") -> Any:
    """Return atomate2's ASE calculator for ``model`` (loaded once per process)."""
    from atomate2.forcefields.utils import ase_calculator

    return ase_calculator(model)


def chgnet_single_points(images: list[Any], model: str = "CHGNet") -> list[Any]:
    """Label ASE ``images`` with CHGNet as single points.

    Returns copies carrying energy (eV), forces (eV/Å) and stress (eV/Å^3, ASE sign
    convention) in a SinglePointCalculator.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    calc = chgnet_calculator(model)
    labelled = []
    for atoms in images:
        atoms = atoms.copy()
        atoms.calc = calc
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        labelled.append(atoms)
    return labelled


def _chgnet_single_point(structure: Structure, level: str, settings: OracleSettings):
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = chgnet_calculator(settings.chgnet_model)
    stress_voigt = atoms.get_stress(voigt=False)  # eV/Å^3, tension-positive
    return SinglePointLabel(
        oracle="chgnet",
        level_of_theory=level,
        energy=float(atoms.get_potential_energy()),
        forces=np.asarray(atoms.get_forces()).tolist(),
        stress=(np.asarray(stress_voigt) * EV_PER_A3_IN_GPA).tolist(),
        converged=True,
        metadata={"model": settings.chgnet_model},
    )


def _chgnet_relax(
    structure: Structure, settings: OracleSettings, force_tolerance: float, max_steps: int
) -> RelaxResult:
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = chgnet_calculator(settings.chgnet_model)
    optimiser = FIRE(FrechetCellFilter(atoms), logfile=None)
    converged = bool(optimiser.run(fmax=force_tolerance, steps=max_steps))
    return RelaxResult(
        structure=AseAtomsAdaptor.get_structure(atoms),
        energy=float(atoms.get_potential_energy()),
        converged=converged,
        n_steps=int(optimiser.nsteps),
    )


def _chgnet_md(
    structure: Structure,
    settings: OracleSettings,
    temperature: float,
    n_steps: int,
    timestep: float,
    seed: int,
) -> MdFrames:
    from ase import units
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = chgnet_calculator(settings.chgnet_model)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
    dynamics = NoseHooverChainNVT(
        atoms, timestep=timestep * units.fs, temperature_K=temperature, tdamp=100 * units.fs
    )
    # energy first: the shared calculator's results may still be another cell's, and
    # get_structure reads them (magnetic moments of a different number of atoms)
    energies: list[float | None] = [float(atoms.get_potential_energy())]
    structures = [AseAtomsAdaptor.get_structure(atoms)]
    for _ in track(range(n_steps), description=f"CHGNet NVT MD at {temperature:g} K"):
        dynamics.run(1)
        structures.append(AseAtomsAdaptor.get_structure(atoms))
        energies.append(float(atoms.get_potential_energy()))
    return MdFrames(structures=structures, potential_energies=energies, timestep=timestep)


# ----------------------------------------------------------------------------- CP2K
def run_cp2k_program(directory: Path) -> None:
    """Run ``cp2k.inp`` in ``directory`` through atomate2's ``run_cp2k``.

    That is custodian's ``Cp2kJob`` with atomate2's default CP2K handlers (unconverged
    or diverging SCF, frozen job, numerical precision, ...) and output validator;
    the output is ``cp2k.out``. ``OMP_NUM_THREADS`` defaults to 1 (MPI via
    ``mpi_prefix``).

    Raises:
        Cp2kOutputError: custodian gave up (the reason is in the message).
    """
    from atomate2.cp2k.run import run_cp2k

    cwd = Path.cwd()
    env_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        os.chdir(directory)
        run_cp2k(
            cp2k_cmd=_mpi_command(get_settings().cp2k_cmd),
            # poll every second (custodian's default 10 s adds ~5 s per single point);
            # the handlers still look at the output every 30 s
            custodian_kwargs={"polling_time_step": 1, "monitor_freq": 30},
        )
    except Exception as exc:  # custodian's errors do not share a base class
        raise Cp2kOutputError(f"CP2K failed in {directory}: {exc}") from exc
    finally:
        os.chdir(cwd)
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        for wavefunction in directory.glob("*.wfn*"):
            wavefunction.unlink()  # restart files are large and never reused


def _cp2k_single_point(
    structure: Structure, level: str, directory: Path, settings: OracleSettings
) -> SinglePointLabel:
    from ionflow.dft.sets.cp2k import cp2k_input_set, write_cp2k_input_set

    input_set = cp2k_input_set(
        structure, level, kpoint_mesh=settings.kpoint_mesh, quality=settings.cp2k_quality
    )
    write_cp2k_input_set(input_set, directory)
    run_cp2k_program(directory)
    return parse_cp2k_single_point(directory / "cp2k.out", level)


def _cp2k_relax(
    structure: Structure,
    level: str,
    directory: Path,
    settings: OracleSettings,
    force_tolerance: float,
    max_steps: int,
) -> RelaxResult:
    from ionflow.dft.sets.cp2k import cell_opt_motion, cp2k_input_set, write_cp2k_input_set

    input_set = cp2k_input_set(
        structure,
        level,
        kpoint_mesh=settings.kpoint_mesh,
        run_type="CELL_OPT",
        motion=cell_opt_motion(force_tolerance, max_steps),
        quality=settings.cp2k_quality,
    )
    write_cp2k_input_set(input_set, directory)
    run_cp2k_program(directory)
    frames = read_cp2k_trajectory(directory)
    if not frames:
        raise Cp2kOutputError(f"{directory}: CP2K cell optimisation wrote no frame")
    text = (directory / "cp2k.out").read_text(errors="replace")
    return RelaxResult(
        structure=frames[-1].structure,
        energy=float(frames[-1].potential_energy or np.nan),
        converged="GEOMETRY OPTIMIZATION COMPLETED" in text,
        n_steps=frames[-1].step,
    )


def _cp2k_md(
    structure: Structure,
    level: str,
    directory: Path,
    settings: OracleSettings,
    temperature: float,
    n_steps: int,
    timestep: float,
    seed: int,
) -> MdFrames:
    from ionflow.dft.sets.cp2k import cp2k_input_set, md_motion, write_cp2k_input_set

    input_set = cp2k_input_set(
        structure,
        level,
        kpoint_mesh=settings.aimd_kpoint_mesh,
        run_type="MD",
        motion=md_motion(temperature, n_steps, timestep),
        quality=settings.cp2k_quality,
    )
    input_set.cp2k_input.update({"GLOBAL": {"SEED": int(seed)}})
    write_cp2k_input_set(input_set, directory)
    run_cp2k_program(directory)
    frames = read_cp2k_trajectory(directory)
    return MdFrames(
        structures=[frame.structure for frame in frames],
        potential_energies=[frame.potential_energy for frame in frames],
        timestep=timestep,
    )


# ----------------------------------------------------------------------------- VASP
def run_vasp_program(directory: Path, gamma_only: bool = False) -> None:
    """Run VASP in ``directory`` through atomate2's ``run_vasp`` (custodian handlers)."""
    from atomate2.vasp.run import run_vasp

    settings = get_settings()
    command = settings.vasp_gamma_cmd if gamma_only else settings.vasp_cmd
    cwd = Path.cwd()
    try:
        os.chdir(directory)
        run_vasp(
            vasp_cmd=_mpi_command(command),
            vasp_gamma_cmd=_mpi_command(settings.vasp_gamma_cmd),
        )
    finally:
        os.chdir(cwd)


def _write_vasp(structure: Structure, generator: Any, directory: Path, settings: OracleSettings):
    from ionflow.dft.sets.vasp import write_vasp_inputs

    write_vasp_inputs(structure, generator, directory, potcar_spec=settings.vasp_potcar_spec)


def _vasp_single_point(
    structure: Structure, level: str, directory: Path, settings: OracleSettings
) -> SinglePointLabel:
    from ionflow.dft.sets.vasp import vasp_static_generator

    generator = vasp_static_generator(level, settings.encut, settings.kpoint_mesh)
    _write_vasp(structure, generator, directory, settings)
    run_vasp_program(directory)
    return parse_vasp_single_point(directory, level, structure)


def _vasp_relax(
    structure: Structure,
    level: str,
    directory: Path,
    settings: OracleSettings,
    force_tolerance: float,
    max_steps: int,
) -> RelaxResult:
    from ionflow.dft.sets.vasp import vasp_relax_generator

    generator = vasp_relax_generator(
        level, settings.encut, settings.kpoint_mesh, force_tolerance, max_steps
    )
    _write_vasp(structure, generator, directory, settings)
    run_vasp_program(directory)
    run = read_vasprun(directory)
    source = vasp_output_file(directory, "vasprun.xml")
    check_vasp_level(run.incar, level, source)
    check_vasp_structure(run.initial_structure, structure, source)
    failure = scf_failure(run)
    if failure is None and not run.converged_ionic:
        failure = (
            f"ionic relaxation not converged in {len(run.ionic_steps)} steps "
            f"(NSW = {run.parameters.get('NSW')})"
        )
    return RelaxResult(
        structure=run.final_structure,
        energy=float(run.ionic_steps[-1]["e_fr_energy"]),
        converged=failure is None,
        n_steps=len(run.ionic_steps),
        failure=failure,
    )


def _vasp_md(
    structure: Structure,
    level: str,
    directory: Path,
    settings: OracleSettings,
    temperature: float,
    n_steps: int,
    timestep: float,
) -> MdFrames:
    from ionflow.dft.sets.vasp import vasp_md_generator

    generator = vasp_md_generator(
        level, temperature, n_steps, timestep, settings.encut, settings.aimd_kpoint_mesh
    )
    _write_vasp(structure, generator, directory, settings)
    run_vasp_program(directory, gamma_only=tuple(settings.aimd_kpoint_mesh) == (1, 1, 1))
    frames = read_vasp_frames(directory)
    check_vasp_structure(frames[0].structure, structure, directory)
    return MdFrames(
        structures=[frame.structure for frame in frames],
        potential_energies=[frame.free_energy for frame in frames],
        timestep=timestep,
    )


# ------------------------------------------------------------------------ dispatch
def _prepare(directory: Path, settings: OracleSettings) -> str:
    """Create the engine's working directory and return the oracle that will run."""
    directory.mkdir(parents=True, exist_ok=True)
    return settings.resolved_oracle()


def run_single_point(
    structure: Structure, level: str, directory: Path, settings: OracleSettings
) -> SinglePointLabel:
    """Label one structure: energy (eV), forces (eV/Å), stress (GPa, tension > 0).

    Args:
        structure: structure to label (Å).
        level: level of theory; for CHGNet it is recorded but the model is the same.
        directory: empty working directory for the engine's files.
        settings: oracle and numerical settings.
    """
    oracle = _prepare(directory, settings)
    if oracle == "chgnet":
        return _chgnet_single_point(structure, level, settings)
    if oracle == "cp2k":
        return _cp2k_single_point(structure, level, directory, settings)
    return _vasp_single_point(structure, level, directory, settings)


def run_relax(
    structure: Structure,
    level: str,
    directory: Path,
    settings: OracleSettings,
    force_tolerance: float = 0.04,
    max_steps: int = 200,
) -> RelaxResult:
    """Relax cell and ions until every force is below ``force_tolerance`` (eV/Å)."""
    oracle = _prepare(directory, settings)
    if oracle == "chgnet":
        return _chgnet_relax(structure, settings, force_tolerance, max_steps)
    if oracle == "cp2k":
        return _cp2k_relax(structure, level, directory, settings, force_tolerance, max_steps)
    return _vasp_relax(structure, level, directory, settings, force_tolerance, max_steps)


def run_aimd(
    structure: Structure,
    level: str,
    directory: Path,
    settings: OracleSettings,
    temperature: float,
    n_steps: int,
    timestep: float = 2.0,
    seed: int = 0,
) -> MdFrames:
    """Run NVT Nosé-Hoover MD at ``temperature`` (K), ``n_steps`` of ``timestep`` (fs)."""
    oracle = _prepare(directory, settings)
    if oracle == "chgnet":
        return _chgnet_md(structure, settings, temperature, n_steps, timestep, seed)
    if oracle == "cp2k":
        return _cp2k_md(structure, level, directory, settings, temperature, n_steps, timestep, seed)
    return _vasp_md(structure, level, directory, settings, temperature, n_steps, timestep)
