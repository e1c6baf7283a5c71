"""VASP input generators for the three levels of theory (atomate2 generators + YAML).

Relax: 500 eV, 2x2x2 k-mesh, ions and cell (ISIF 3), forces < 0.04 eV/Å (EDIFFG < 0).
Static (labelling): same cutoff and mesh, no symmetry (snapshots have none).
AIMD: NVT Nosé-Hoover (MDALGO 2), 2 fs, Γ point allowed.
Level-of-theory INCAR keys come from ``levels.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atomate2.vasp.sets.core import MDSetGenerator, RelaxSetGenerator, StaticSetGenerator
from pymatgen.core import Structure
from pymatgen.io.vasp.inputs import Kpoints

from ionflow.dft.sets import check_level, load_set_yaml

#: Keys on top of atomate2's base set for every ionflow VASP run: closed-shell
#: electrolytes (no spin), Gaussian smearing (snapshots may be metallic), and none of
#: the charge/potential/ELF output that thousands of labels do not need. ``None``
#: removes a key atomate2 would otherwise write.
COMMON_INCAR: dict[str, Any] = {
    "ISPIN": 1,
    "MAGMOM": None,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "LAECHG": None,
    "LVTOT": None,
    "LELF": None,
    "LORBIT": None,
}


def level_incar(level: str) -> dict[str, Any]:
    """Return the INCAR keys of ``level`` (e.g. ``IVDW = 12`` for PBE-D3(BJ))."""
    return {**COMMON_INCAR, **load_set_yaml("levels.yaml")["vasp"][check_level(level)]}


def vasp_static_generator(
    level: str, encut: float = 500.0, kpoint_mesh: tuple[int, int, int] = (2, 2, 2)
) -> StaticSetGenerator:
    """Single-point labelling: energy, forces, stress at ``level``.

    Args:
        level: level of theory.
        encut: plane-wave cutoff, eV.
        kpoint_mesh: Γ-centred k-mesh.
    """
    incar = {"ENCUT": encut, "EDIFF": 1e-6, "ISYM": 0, "LWAVE": False, "LCHARG": False}
    return StaticSetGenerator(
        user_incar_settings={**incar, **level_incar(level)},
        user_kpoints_settings=Kpoints.gamma_automatic(tuple(kpoint_mesh)),
    )


def vasp_relax_generator(
    level: str,
    encut: float = 500.0,
    kpoint_mesh: tuple[int, int, int] = (2, 2, 2),
    force_tolerance: float = 0.04,
    max_steps: int = 200,
) -> RelaxSetGenerator:
    """Cell + ion relaxation until every force is below ``force_tolerance`` (eV/Å).

    At most ``max_steps`` ionic steps (NSW).
    """
    incar = {
        "ENCUT": encut,
        "ISIF": 3,
        "IBRION": 2,
        "NSW": max_steps,
        "EDIFFG": -abs(force_tolerance),
    }
    return RelaxSetGenerator(
        user_incar_settings={**incar, **level_incar(level)},
        user_kpoints_settings=Kpoints.gamma_automatic(tuple(kpoint_mesh)),
    )


def vasp_md_generator(
    level: str,
    temperature: float,
    n_steps: int,
    timestep: float = 2.0,
    encut: float = 500.0,
    kpoint_mesh: tuple[int, int, int] = (1, 1, 1),
) -> MDSetGenerator:
    """NVT Nosé-Hoover AIMD at ``temperature`` (K) for ``n_steps`` of ``timestep`` (fs)."""
    return MDSetGenerator(
        ensemble="nvt",
        start_temp=temperature,
        end_temp=temperature,
        nsteps=n_steps,
        time_step=timestep,
        user_incar_settings={"ENCUT": encut, "SMASS": 0, **level_incar(level)},
        user_kpoints_settings=Kpoints.gamma_automatic(tuple(kpoint_mesh)),
    )


def write_vasp_inputs(
    structure: Structure, generator: Any, directory: Path, potcar_spec: bool = False
) -> Path:
    """Write INCAR, KPOINTS, POSCAR and POTCAR (or ``POTCAR.spec``) into ``directory``.

    Uses atomate2's ``write_vasp_input_set`` so user ``VASP_INCAR_UPDATES`` apply.
    """
    from atomate2.vasp.files import write_vasp_input_set

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_vasp_input_set(
        structure, generator, directory=directory, potcar_spec=potcar_spec, clean_prev=False
    )
    return directory
