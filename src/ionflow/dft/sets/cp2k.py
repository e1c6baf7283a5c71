"""CP2K inputs for the three levels of theory, through atomate2's input generators.

atomate2 0.1.x writes a CP2K input from pymatgen's ``DftSet`` once pymatgen knows where
the processed basis/potential data live (``pmg config --cp2k``). :func:`ensure_cp2k_data`
does that step from ionflow (no manual ``pmg config`` on a fresh machine), and
:func:`cp2k_input` adds what atomate2 lacks: the level of theory (D3(BJ) pair potential,
optB88-vdW via libxc + DRSLL non-local kernel), explicit Monkhorst-Pack k-points, and
MD / cell-optimisation MOTION sections written as proper sections (atomate2's MD set
writes the thermostat as a plain string, which pymatgen cannot serialise).
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen.core import SETTINGS as PMG_SETTINGS
from pymatgen.core import Structure
from pymatgen.io.cp2k.inputs import Cp2kInput

if TYPE_CHECKING:
    from atomate2.cp2k.sets.base import Cp2kInputSet
from pymatgen.io.vasp.inputs import Kpoints

from ionflow.dft.sets import check_level, load_set_yaml
from ionflow.dft.sets.oracle import check_cp2k_quality
from ionflow.errors import IonflowInputError
from ionflow.settings import get_settings

#: Debian's cp2k-data location (basis sets, potentials, dftd3.dat, vdW kernel table).
CP2K_SHARE_DIR = Path("/usr/share/cp2k")
#: CP2K data files processed for pymatgen (basis/potential lookup by name).
CP2K_DATA_FILES = ("BASIS_MOLOPT", "BASIS_MOLOPT_UCL", "GTH_POTENTIALS")

HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM = 51.42208619083232


def cp2k_share_dir() -> Path:
    """Return CP2K's data directory (``$CP2K_DATA_DIR`` or Debian's ``/usr/share/cp2k``)."""
    return Path(os.environ.get("CP2K_DATA_DIR", CP2K_SHARE_DIR))


def ensure_cp2k_data() -> Path:
    """Make pymatgen's processed CP2K data directory once and point pymatgen at it.

    Sets pymatgen's ``PMG_CP2K_DATA_DIR`` and ``PMG_DEFAULT_CP2K_FUNCTIONAL=PBE`` for this
    process (not the environment: CP2K itself reads ``CP2K_DATA_DIR``).

    Returns:
        The processed data directory (under the ionflow data directory).

    Raises:
        IonflowInputError: CP2K's data files are not installed.
    """
    share = cp2k_share_dir()
    missing = [name for name in CP2K_DATA_FILES if not (share / name).exists()]
    if missing:
        raise IonflowInputError(
            f"CP2K data files {missing} not found in {share}; install Debian's cp2k-data "
            "or set CP2K_DATA_DIR"
        )
    target = get_settings().data_dir / "cp2k-pymatgen-data"
    if not (target / "Li").exists():
        from pymatgen.cli.pmg_config import setup_cp2k_data

        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as src:
            for name in CP2K_DATA_FILES:
                os.symlink(share / name, Path(src) / name)
            partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=".cp2k-data-"))
            shutil.rmtree(partial)  # setup_cp2k_data creates it and asks if it exists
            with redirect_stdout(StringIO()):
                setup_cp2k_data([src, str(partial)])
            if not (target / "Li").exists():
                shutil.rmtree(target, ignore_errors=True)
                partial.replace(target)
            else:  # another process won the race
                shutil.rmtree(partial, ignore_errors=True)
    PMG_SETTINGS["PMG_CP2K_DATA_DIR"] = str(target)
    PMG_SETTINGS["PMG_DEFAULT_CP2K_FUNCTIONAL"] = "PBE"
    return target


def cp2k_user_settings(structure: Structure, quality: str = "production") -> dict[str, Any]:
    """Return atomate2 ``user_input_settings`` for ``structure`` at ``quality``.

    Args:
        structure: the structure (its elements pick the basis/potential entries).
        quality: ``"production"``, ``"cheap"`` (tests, demos) or ``"minimal"`` (AIMD
            smoke tests only), see ``sets/cp2k.yaml``.
    """
    defaults = load_set_yaml("cp2k.yaml")
    check_cp2k_quality(quality)
    table = defaults["basis_and_potential"]
    basis_and_potential: dict[str, Any] = {
        "basis_filenames": list(table["basis_filenames"]),
        "potential_filename": table["potential_filename"],
    }
    for element in sorted({site.specie.symbol for site in structure}):
        entry = table.get(element, {"basis": "DZVP-MOLOPT-SR-GTH", "potential": None})
        basis_and_potential[element] = {**entry, "aux_basis": None}
        if entry["potential"] is None:
            del basis_and_potential[element]["potential"]
    return {**copy.deepcopy(defaults[quality]), "basis_and_potential": basis_and_potential}


def _remove_xc_functional(cp2k_in: Cp2kInput, name: str) -> None:
    functionals = cp2k_in["FORCE_EVAL"]["DFT"]["XC"]["XC_FUNCTIONAL"]
    for key in list(functionals.subsections):
        if key.upper() == name.upper():
            del functionals.subsections[key]


def md_motion(
    temperature: float, n_steps: int, timestep: float, thermostat_timecon: float = 100.0
) -> dict[str, Any]:
    """Return the MOTION section of an NVT Nosé-Hoover MD run.

    Args:
        temperature: K.
        n_steps: number of MD steps.
        timestep: fs.
        thermostat_timecon: Nosé-Hoover time constant, fs.
    """
    every_step = {"EACH": {"MD": 1}}
    return {
        "MD": {
            "ENSEMBLE": "NVT",
            "STEPS": int(n_steps),
            "TIMESTEP": float(timestep),
            "TEMPERATURE": float(temperature),
            "THERMOSTAT": {"TYPE": "NOSE", "NOSE": {"TIMECON": float(thermostat_timecon)}},
        },
        "PRINT": {
            "TRAJECTORY": {"FORMAT": "XYZ", **every_step},
            "FORCES": {"FORMAT": "XYZ", **every_step},
            "CELL": every_step,
            "STRESS": every_step,
            "RESTART_HISTORY": {"EACH": {"MD": 0}},
        },
    }


def cell_opt_motion(force_tolerance: float, max_steps: int = 200) -> dict[str, Any]:
    """Return the MOTION section of a cell + ions relaxation.

    Args:
        force_tolerance: largest force at convergence, eV/Å.
        max_steps: maximum optimiser steps.
    """
    max_force = force_tolerance / HARTREE_PER_BOHR_IN_EV_PER_ANGSTROM  # CP2K: Ha/bohr
    every_step = {"EACH": {"CELL_OPT": 1}}
    return {
        "CELL_OPT": {
            "TYPE": "DIRECT_CELL_OPT",
            "OPTIMIZER": "BFGS",
            "MAX_ITER": int(max_steps),
            "MAX_FORCE": max_force,
            "RMS_FORCE": max_force / 1.5,
            "MAX_DR": 3.0e-3,
            "RMS_DR": 1.5e-3,
            "PRESSURE_TOLERANCE": 1000.0,  # bar
            "KEEP_SYMMETRY": False,
        },
        "PRINT": {
            "TRAJECTORY": {"FORMAT": "XYZ", **every_step},
            "CELL": every_step,
            "STRESS": every_step,
            "FORCES": {"FORMAT": "XYZ", **every_step},
        },
    }


def cp2k_input_set(
    structure: Structure,
    level: str,
    kpoint_mesh: tuple[int, int, int] = (1, 1, 1),
    run_type: str = "ENERGY_FORCE",
    motion: dict[str, Any] | None = None,
    quality: str = "production",
) -> Cp2kInputSet:
    """Build the CP2K input set (``cp2k.inp`` + BASIS + POTENTIAL) of one calculation.

    Args:
        structure: structure (Å).
        level: level of theory (``PBE``, ``PBE-D3(BJ)``, ``optB88-vdW``).
        kpoint_mesh: Monkhorst-Pack mesh, written explicitly (the reduced k-point list
            atomate2 writes by default breaks cubic symmetry in the stress);
            ``(1, 1, 1)`` is Γ only.
        run_type: CP2K ``RUN_TYPE`` (``ENERGY_FORCE``, ``MD``, ``CELL_OPT``).
        motion: MOTION section (:func:`md_motion`, :func:`cell_opt_motion`).
        quality: ``production`` or ``cheap`` (``sets/cp2k.yaml``).

    Returns:
        atomate2's input set; ``.cp2k_input`` asks for analytic stress and forces.
    """
    from atomate2.cp2k.sets.core import StaticSetGenerator

    check_level(level)
    ensure_cp2k_data()
    generator = StaticSetGenerator(
        user_input_settings=cp2k_user_settings(structure, quality),
        user_kpoints_settings=Kpoints.gamma_automatic((1, 1, 1)),
    )
    input_set = generator.get_input_set(structure)
    cp2k_in = input_set.cp2k_input
    level_settings = load_set_yaml("levels.yaml")["cp2k"][level]
    for name in level_settings["remove_xc"]:
        _remove_xc_functional(cp2k_in, name)
    cp2k_in.update(copy.deepcopy(level_settings["update"]))
    xc = cp2k_in["FORCE_EVAL"]["DFT"]["XC"]
    if xc.check("VDW_POTENTIAL/NON_LOCAL"):
        # the vdW kernel grid needs the full cutoff: a coarse one puts spurious forces
        # (0.36 eV/Å on symmetric Li2S at 40 Ry) on every atom
        cutoff = cp2k_in["FORCE_EVAL"]["DFT"]["MGRID"]["CUTOFF"].values[0]
        xc["VDW_POTENTIAL"]["NON_LOCAL"].update({"CUTOFF": float(cutoff)})
    cp2k_in.update({"FORCE_EVAL": {"DFT": {"SCF": {"SCF_GUESS": "ATOMIC"}}}})
    if tuple(kpoint_mesh) != (1, 1, 1):
        cp2k_in.update(
            {
                "FORCE_EVAL": {
                    "DFT": {
                        "KPOINTS": {
                            "SCHEME": "MONKHORST-PACK " + " ".join(map(str, kpoint_mesh)),
                            "SYMMETRY": False,
                            "FULL_GRID": True,
                        }
                    }
                }
            }
        )
    cp2k_in.update({"GLOBAL": {"RUN_TYPE": run_type, "PROJECT_NAME": "ionflow"}})
    if motion is not None:
        cp2k_in.update({"MOTION": motion})
    return input_set


def write_cp2k_input_set(input_set: Cp2kInputSet, directory: Path) -> Path:
    """Write ``cp2k.inp``, BASIS, POTENTIAL and link the data files the input names.

    Returns:
        The path of ``cp2k.inp``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    share = cp2k_share_dir()
    text = input_set.cp2k_input.get_str()
    for name in ("dftd3.dat", "vdW_kernel_table.dat"):
        if name in text and not (directory / name).exists():
            os.symlink(share / name, directory / name)
    input_set.write_input(directory, overwrite=True)
    return directory / "cp2k.inp"
