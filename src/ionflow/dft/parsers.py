"""Readers of engine outputs into :class:`~ionflow.dft.schemas.labels.SinglePointLabel`.

These are ionflow's adapters around atomate2 0.1.x's CP2K parsing, which on this path
fails for spin-restricted runs (``'int' object has no attribute 'upper'``), for
optB88-vdW (``'LDA' is not a valid RunType``), for AIMD read-back (frame-count mismatch)
and mixes stress units (bar after GEO_OPT, GPa after a static run). Here units are
read from CP2K's own headers and files and converted once: Hartree -> eV, Ha/bohr ->
eV/Å, GPa/bar -> GPa with the ASE sign (positive under tension).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from ionflow.dft.schemas.labels import SinglePointLabel
from ionflow.errors import IonflowError, Retry

HARTREE_IN_EV = 27.211386245988
BOHR_IN_ANGSTROM = 0.529177210903
HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM = HARTREE_IN_EV / BOHR_IN_ANGSTROM
BAR_IN_GPA = 1.0e-4
KBAR_IN_GPA = 0.1

_ENERGY = re.compile(r"ENERGY\|\s+Total FORCE_EVAL \( \w+ \) energy \[(a\.u\.|hartree)\]:\s+(\S+)")
_DISPERSION = re.compile(r"^\s*Dispersion energy:\s+(\S+)", re.MULTILINE)
_STRESS = re.compile(r"STRESS\|\s+Analytical stress tensor \[(GPa|bar)\]")


class Cp2kOutputError(IonflowError, RuntimeError):
    """CP2K failed after custodian's handlers gave up, or its output could not be read.

    Not retried: custodian already tried its fixes; the job folder says what went wrong.
    """

    retry = Retry.NO


def parse_cp2k_single_point(output: Path, level_of_theory: str) -> SinglePointLabel:
    """Read energy, forces, stress and SCF convergence of a CP2K ``ENERGY_FORCE`` run.

    Args:
        output: CP2K's main output file (``cp2k.out``).
        level_of_theory: stored in the label.

    Returns:
        The label in eV, eV/Å and GPa (positive under tension); ``converged`` is False
        if CP2K reported an SCF that did not converge.

    Raises:
        Cp2kOutputError: energy or forces missing (CP2K did not finish).
    """
    text = Path(output).read_text(errors="replace")
    energies = _ENERGY.findall(text)
    if not energies:
        raise Cp2kOutputError(f"{output}: no total energy (CP2K did not finish)")
    energy = float(energies[-1][1]) * HARTREE_IN_EV
    forces = _cp2k_forces(text, output) * HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM
    stress = _cp2k_stress(text)
    dispersion = _DISPERSION.findall(text)
    converged = "SCF run NOT converged" not in text and "outer SCF loop FAILED" not in text
    return SinglePointLabel(
        oracle="cp2k",
        level_of_theory=level_of_theory,
        energy=energy,
        forces=forces.tolist(),
        stress=None if stress is None else stress.tolist(),
        converged=converged,
        dispersion_energy=float(dispersion[-1]) * HARTREE_IN_EV if dispersion else None,
    )


def _cp2k_forces(text: str, output: Path) -> np.ndarray:
    start = text.rfind("ATOMIC FORCES in [a.u.]")
    end = text.find("SUM OF ATOMIC FORCES", start)
    if start < 0 or end < 0:
        raise Cp2kOutputError(f"{output}: no ATOMIC FORCES block")
    rows = []
    for line in text[start:end].splitlines()[1:]:
        parts = line.split()
        if len(parts) == 6 and parts[0].isdigit():
            rows.append([float(x) for x in parts[3:6]])
    return np.array(rows)


def _cp2k_stress(text: str) -> np.ndarray | None:
    matches = list(_STRESS.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    lines = text[last.end() :].splitlines()[2:5]
    tensor = np.array([[float(x) for x in line.split()[2:5]] for line in lines])
    scale = 1.0 if last.group(1) == "GPa" else BAR_IN_GPA
    return -tensor * scale  # CP2K prints pressure-positive; ionflow: tension-positive


@dataclass
class Cp2kFrame:
    """One MD / optimisation frame read from CP2K's own trajectory files."""

    step: int
    structure: Structure
    potential_energy: float | None  # eV
    forces: np.ndarray | None  # eV/Å
    stress: np.ndarray | None  # GPa, positive under tension


def _xyz_frames(path: Path) -> dict[int, tuple[list[str], np.ndarray, float | None]]:
    frames: dict[int, tuple[list[str], np.ndarray, float | None]] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n_atoms = int(lines[i])
        header = lines[i + 1]
        step_match = re.search(r"i\s*=\s*(\d+)", header)
        energy_match = re.search(r"E\s*=\s*(\S+)", header)
        body = [line.split() for line in lines[i + 2 : i + 2 + n_atoms]]
        if len(body) == n_atoms and step_match:  # a frame cut by a crash is dropped
            frames[int(step_match.group(1))] = (
                [row[0] for row in body],
                np.array([[float(x) for x in row[1:4]] for row in body]),
                float(energy_match.group(1).rstrip(",")) if energy_match else None,
            )
        i += 2 + n_atoms
    return frames


def _table_by_step(path: Path) -> dict[int, np.ndarray]:
    if not path.exists():
        return {}
    table = np.atleast_2d(np.loadtxt(path, comments="#"))
    return {int(row[0]): row for row in table}


def read_cp2k_trajectory(directory: Path, project: str = "ionflow") -> list[Cp2kFrame]:
    """Read every complete frame of a CP2K MD or cell optimisation from its own files.

    Positions (``-pos-1.xyz``, Å), forces (``-frc-1.xyz``, Ha/bohr), cell (``-1.cell``,
    Å) and stress (``-1.stress``, bar) are matched by step number, so frames written by
    only some of the files (a run stopped mid-step) are skipped, not misaligned.

    Returns:
        Frames in step order, in eV, Å, eV/Å and GPa (positive under tension).
    """
    directory = Path(directory)
    positions = _xyz_frames(directory / f"{project}-pos-1.xyz")
    forces = (
        _xyz_frames(directory / f"{project}-frc-1.xyz")
        if (directory / f"{project}-frc-1.xyz").exists()
        else {}
    )
    cells = _table_by_step(directory / f"{project}-1.cell")
    stresses = _table_by_step(directory / f"{project}-1.stress")
    frames = []
    for step in sorted(positions):
        if step not in cells:
            continue
        species, coords, energy = positions[step]
        lattice = Lattice(cells[step][2:11].reshape(3, 3))
        structure = Structure(lattice, species, coords, coords_are_cartesian=True)
        frc = forces.get(step)
        stress = stresses.get(step)
        frames.append(
            Cp2kFrame(
                step=step,
                structure=structure,
                potential_energy=None if energy is None else energy * HARTREE_IN_EV,
                forces=None if frc is None else frc[1] * HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM,
                stress=None if stress is None else -stress[2:11].reshape(3, 3) * BAR_IN_GPA,
            )
        )
    return frames


class VaspOutputError(RuntimeError):
    """VASP's outputs are missing, damaged, or not the calculation that was asked for."""


def vasp_output_file(directory: Path, name: str) -> Path | None:
    """``directory/name``, else its gzipped copy (custodian and atomate2 gzip outputs)."""
    for path in (Path(directory) / name, Path(directory) / f"{name}.gz"):
        if path.is_file():
            return path
    return None


def read_vasprun(directory: Path):
    """Parse ``vasprun.xml`` (or ``.gz``) of ``directory`` without DOS and eigenvalues.

    Raises:
        VaspOutputError: no vasprun.xml, or one pymatgen cannot parse (a killed run).
    """
    from pymatgen.io.vasp.outputs import Vasprun

    path = vasp_output_file(directory, "vasprun.xml")
    if path is None:
        raise VaspOutputError(f"{directory}: VASP wrote no vasprun.xml")
    try:
        return Vasprun(
            path,
            parse_dos=False,
            parse_eigen=False,
            parse_potcar_file=False,
            exception_on_bad_xml=True,
        )
    except Exception as exc:  # ElementTree and pymatgen raise many kinds on a cut file
        raise VaspOutputError(f"{path}: not a complete vasprun.xml ({exc})") from exc


def _same_setting(got: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(got) == bool(want)
    if isinstance(want, int | float) and isinstance(got, int | float):
        return abs(float(got) - float(want)) <= 1e-6 * max(1.0, abs(float(want)))
    return str(got).strip().upper() == str(want).strip().upper()


def check_vasp_level(incar: dict[str, Any], level_of_theory: str, source: str | Path) -> None:
    """Check a finished run's INCAR was computed at ``level_of_theory``.

    Every key that ``sets/levels.yaml`` sets for any level is compared: the level's own
    value, else VASP's default (``GGA = PE`` from the PBE POTCARs, no ``IVDW``, no
    ``LUSE_VDW``). So a PBE output is never stored as a PBE-D3(BJ) or optB88-vdW label.

    Raises:
        VaspOutputError: naming the first key that does not match.
    """
    from ionflow.dft.sets import load_set_yaml

    levels = load_set_yaml("levels.yaml")["vasp"]
    defaults = {"GGA": "PE", "IVDW": 0, "LUSE_VDW": False}
    others = sorted({key for settings in levels.values() for key in settings} - set(defaults))
    expected = levels[level_of_theory]
    for key in [*defaults, *others]:  # the defining keys first: the clearest message
        want = expected.get(key, defaults.get(key))
        if want is None:
            continue  # e.g. PARAM1 matters only where the level sets it
        got = incar.get(key, defaults.get(key))
        if not _same_setting(got, want):
            raise VaspOutputError(
                f"{source}: computed with {key} = {'unset' if got is None else got}, but "
                f"{level_of_theory} needs {key} = {want}; this output is not {level_of_theory}"
            )


def check_vasp_structure(run_structure: Structure, expected: Structure, source: str | Path):
    """Check an output is for ``expected``: same formula, sites, cell and positions.

    Compared with pymatgen's StructureMatcher at 0.1 % of the lattice and ~0.1 % of the
    site spacing, without supercells or scaling (site order and cell setting may differ:
    atomate2 sorts the POSCAR).

    Raises:
        VaspOutputError: a stale or foreign output, or forces computed elsewhere.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    if len(run_structure) != len(expected) or (
        run_structure.composition.reduced_formula != expected.composition.reduced_formula
    ):
        raise VaspOutputError(
            f"{source}: holds {run_structure.composition.formula} ({len(run_structure)} "
            f"sites), not the {expected.composition.formula} ({len(expected)} sites) written "
            "to POSCAR; a stale or foreign output"
        )
    matcher = StructureMatcher(
        ltol=1e-3, stol=1e-3, angle_tol=0.05, primitive_cell=False, scale=False,
        attempt_supercell=False,
    )  # fmt: skip
    if not matcher.fit(run_structure, expected):
        raise VaspOutputError(
            f"{source}: its cell or positions differ from the structure written to POSCAR "
            "(a stale output, or the ions moved: NSW > 0)"
        )


def scf_failure(run) -> str | None:
    """Why the electronic loop of a parsed ``Vasprun`` did not converge, or None.

    VASP stops an SCF loop at ``NELM`` steps whether or not it converged: a last ionic
    step that used all ``NELM`` steps (pymatgen's ``converged_electronic``) is not a
    result. The message also counts the earlier steps that hit ``NELM``.
    """
    nelm = int(run.parameters.get("NELM", 60))
    counts = [len(step.get("electronic_steps", [])) for step in run.ionic_steps]
    if run.converged_electronic and (not counts or counts[-1] < nelm):
        return None
    n_hit = sum(n >= nelm for n in counts)
    return (
        f"electronic SCF not converged: NELM = {nelm} reached in the last ionic step "
        f"({n_hit} of {len(counts)} ionic steps hit it)"
    )


def parse_vasp_single_point(
    directory: Path, level_of_theory: str, structure: Structure | None = None
) -> SinglePointLabel:
    """Read the last ionic step of ``vasprun.xml`` into a label.

    Energy is the free energy ``e_fr_energy`` (the one the forces derive from), eV;
    stress is converted from kB (pressure-positive) to GPa (tension-positive). The
    run's INCAR must be ``level_of_theory`` (:func:`check_vasp_level`) and, if
    ``structure`` is given, its sites must be those of ``structure``. An SCF that hit
    ``NELM`` gives ``converged = False`` with the reason in ``metadata["failure"]``.

    Raises:
        VaspOutputError: missing/damaged output, wrong level or wrong structure.
    """
    run = read_vasprun(directory)
    source = vasp_output_file(directory, "vasprun.xml")
    check_vasp_level(run.incar, level_of_theory, source)
    last = run.ionic_steps[-1]
    if structure is not None:  # the forces must be those of these positions
        check_vasp_structure(last["structure"], structure, source)
    stress = last.get("stress")
    failure = scf_failure(run)
    return SinglePointLabel(
        oracle="vasp",
        level_of_theory=level_of_theory,
        energy=float(last["e_fr_energy"]),
        forces=np.asarray(last["forces"], dtype=float).tolist(),
        stress=None if stress is None else (-np.asarray(stress) * KBAR_IN_GPA).tolist(),
        converged=failure is None,
        metadata={} if failure is None else {"failure": failure},
    )


@dataclass
class VaspFrame:
    """One ionic step of a VASP run: structure (Å), free energy (eV), forces (eV/Å)."""

    structure: Structure
    free_energy: float | None
    forces: np.ndarray | None


def read_vasp_frames(directory: Path) -> list[VaspFrame]:
    """Every ionic step of a VASP run, from ``vasprun.xml``, else from ``OUTCAR``.

    A run killed at its walltime (long AIMD) leaves a cut vasprun.xml but an OUTCAR
    with every finished step, so OUTCAR (read with ASE) is the fallback.

    Raises:
        VaspOutputError: neither file gives a step.
    """
    try:
        run = read_vasprun(directory)
    except VaspOutputError as vasprun_error:
        outcar = vasp_output_file(directory, "OUTCAR")
        if outcar is None:
            raise
        frames = _outcar_frames(outcar)
        if not frames:
            raise VaspOutputError(f"{vasprun_error}; OUTCAR has no ionic step") from None
        return frames
    return [
        VaspFrame(
            structure=step["structure"],
            free_energy=step.get("e_fr_energy"),
            forces=None if step.get("forces") is None else np.asarray(step["forces"]),
        )
        for step in run.ionic_steps
    ]


def _outcar_frames(outcar: Path) -> list[VaspFrame]:
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        images = ase.io.read(outcar, index=":", format="vasp-out")
    except Exception as exc:  # ASE raises many kinds on a damaged OUTCAR
        raise VaspOutputError(f"{outcar}: cannot read the ionic steps ({exc})") from exc
    frames = []
    for atoms in images:
        results = atoms.calc.results if atoms.calc is not None else {}
        structure = AseAtomsAdaptor.get_structure(atoms)
        frames.append(
            VaspFrame(
                structure=Structure(structure.lattice, structure.species, structure.frac_coords),
                free_energy=results.get("free_energy", results.get("energy")),
                forces=results.get("forces"),
            )
        )
    return frames
