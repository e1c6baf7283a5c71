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


def parse_vasp_single_point(directory: Path, level_of_theory: str) -> SinglePointLabel:
    """Read the last ionic step of ``vasprun.xml`` into a label.

    Energy is the free energy ``e_fr_energy`` (the one the forces derive from), eV;
    stress is converted from kB (pressure-positive) to GPa (tension-positive).
    """
    from pymatgen.io.vasp.outputs import Vasprun

    path = Path(directory) / "vasprun.xml"
    if not path.exists() and path.with_suffix(".xml.gz").exists():
        path = path.with_suffix(".xml.gz")
    run = Vasprun(
        path, parse_dos=False, parse_eigen=False, parse_potcar_file=False, exception_on_bad_xml=True
    )
    last = run.ionic_steps[-1]
    stress = last.get("stress")
    return SinglePointLabel(
        oracle="vasp",
        level_of_theory=level_of_theory,
        energy=float(last["e_fr_energy"]),
        forces=np.asarray(last["forces"], dtype=float).tolist(),
        stress=None if stress is None else (-np.asarray(stress) * KBAR_IN_GPA).tolist(),
        converged=bool(run.converged_electronic),
    )
