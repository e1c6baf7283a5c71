"""One MD run as a chain of segments: write a segment's inputs, run it, join the results.

Each segment runs in its own directory with ``md_state.json`` (what it is and where the
previous segments are), so a segment killed at any moment can be continued by a new job
that only knows that directory (:func:`continue_inputs`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ase.data import atomic_masses, atomic_numbers
from pymatgen.core import Structure

from ionflow.errors import IonflowInputError
from ionflow.io.lammps_data import AtomStyle, read_structure_data, write_structure_data
from ionflow.io.lammps_dump import join_dump_segments
from ionflow.md.continuation import latest_restart, prune_restarts, segment_steps, timeout_string
from ionflow.md.run import LOG_FILE, check_volume_stable, run_engine
from ionflow.md.schemas.md import MdTaskDoc, MdThermo
from ionflow.md.schemas.protocol import MdProtocol
from ionflow.md.sets.classical import ClassicalPotential
from ionflow.md.sets.deck import (
    DATA_FILE,
    FINAL_DATA_FILE,
    MLIP_INI,
    MTP_FILE,
    dump_file_name,
    mlip_ini,
    render_deck,
)
from ionflow.md.sets.wall import TABLE_FILE, CoreRepulsion
from ionflow.settings import get_settings

logger = logging.getLogger(__name__)

STATE_FILE = "md_state.json"
JOINED_TRAJECTORY = "trajectory.bin"


@dataclass
class SegmentState:
    """What a segment directory holds (written to ``md_state.json``).

    Attributes:
        segment: index of the segment in the run (0 first).
        start_step: MD step the segment starts from.
        stop_step: MD step the segment is planned to end at.
        engine: MD engine.
        species: element symbol per LAMMPS type.
        protocol: the whole run's protocol (as a dict).
        previous_dirs: directories of the earlier segments, in order.
        previous_starts: start step of each earlier segment.
        walltime_s: allocation walltime the segment was sized for (s), if any.
        wall_time_s: wall time the engine ran (s), filled in when it ends.
        reached_step: last step with a restart file, filled in when it ends.
        potential: the classical potential (as a dict) used instead of an MTP, if any.
        wall: the core repulsion (:class:`CoreRepulsion` as a dict) overlaid on the MTP.
    """

    segment: int
    start_step: int
    stop_step: int
    engine: str
    species: list[str]
    protocol: dict
    previous_dirs: list[str] = field(default_factory=list)
    previous_starts: list[int] = field(default_factory=list)
    walltime_s: float | None = None
    wall_time_s: float | None = None
    reached_step: int | None = None
    potential: dict | None = None
    wall: dict | None = None

    def core_repulsion(self) -> CoreRepulsion | None:
        """The core-repulsion wall of this run (None: none)."""
        return None if self.wall is None else CoreRepulsion.model_validate(self.wall)

    def classical(self) -> ClassicalPotential | None:
        """The classical potential of this run (None: the run uses an MTP)."""
        if self.potential is None:
            return None
        return ClassicalPotential.model_validate(self.potential)

    @property
    def atom_style(self) -> AtomStyle:
        """LAMMPS atom style of the run's data files (charges for a classical potential)."""
        return "atomic" if self.potential is None else "charge"

    def save(self, run_dir: str | Path) -> None:
        """Write ``md_state.json`` in ``run_dir``."""
        (Path(run_dir) / STATE_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, run_dir: str | Path) -> SegmentState:
        """Read ``md_state.json`` of ``run_dir``.

        Raises:
            IonflowInputError: if the directory is not an ionflow MD segment.
        """
        path = Path(run_dir) / STATE_FILE
        if not path.exists():
            raise IonflowInputError(f"{run_dir}: no {STATE_FILE}; not an ionflow MD run directory")
        try:
            state = cls(**json.loads(path.read_text()))
            MdProtocol.model_validate(state.protocol)
        except (ValueError, TypeError) as exc:  # JSON, missing fields, bad protocol
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            raise IonflowInputError(
                f"{path}: damaged MD state ({reason}); rerun the MD job instead"
            ) from exc
        return state


def write_mtp(mtp: str | Path, run_dir: Path) -> float:
    """Put the potential into ``run_dir/pot.mtp``; return its cutoff (Å).

    ``mtp`` is a path to an ``.mtp`` file or the file's text.
    """
    from motep.io.mlip.mtp import read_mtp

    text = str(mtp)
    if not text.lstrip().startswith("MTP"):
        path = Path(text)
        if not path.exists():
            raise IonflowInputError(f"MTP file not found: {path}")
        text = path.read_text()
    (run_dir / MTP_FILE).write_text(text)
    return float(read_mtp(run_dir / MTP_FILE).radial_basis.max)


def write_segment_inputs(
    run_dir: str | Path,
    state: SegmentState,
    mtp: str | Path | None,
    structure: Structure | None = None,
    restart_file: Path | None = None,
) -> None:
    """Write ``in.lammps``, the potential, the structure or restart and ``md_state.json``.

    ``mtp`` is unused (may be None) when ``state.potential`` holds a classical potential.
    """
    run_dir = Path(run_dir)
    protocol = MdProtocol.model_validate(state.protocol)
    classical = state.classical()
    mlip_version = get_settings().mlip_version or "mlip2"
    if classical is not None:
        classical.check_species(state.species)
    elif mtp is None:
        raise IonflowInputError("an MD run needs an MTP or a classical potential")
    run_dir.mkdir(parents=True, exist_ok=True)
    if classical is not None:
        cutoff = classical.cutoff_A
    else:
        cutoff = write_mtp(mtp, run_dir)
        if state.engine == "lmp" and mlip_version == "mlip2":
            (run_dir / MLIP_INI).write_text(mlip_ini())
    wall = state.core_repulsion()  # never with a classical model (LammpsMdMaker checks)
    if wall is not None:
        wall.write_table(run_dir / TABLE_FILE)
    restart_name = None
    if state.start_step == 0:
        if structure is None:
            raise IonflowInputError("a new MD run needs a structure")
        write_structure_data(structure, state.species, run_dir / DATA_FILE, state.atom_style)
    else:
        if restart_file is None:
            raise IonflowInputError("a continued MD run needs a restart file")
        restart_name = f"start.{restart_file.name}"
        shutil.copyfile(restart_file, run_dir / restart_name)
    masses = [float(atomic_masses[atomic_numbers[s]]) for s in state.species]
    deck = render_deck(
        protocol,
        state.species,
        masses,
        state.engine,  # type: ignore[arg-type]
        cutoff,
        start_step=state.start_step,
        restart_file=restart_name,
        stop_step=state.stop_step,
        segment=state.segment,
        timeout=timeout_string(state.walltime_s) if state.walltime_s else None,
        mlip_version=mlip_version,
        classical=classical,
        wall=wall,
    )
    (run_dir / "in.lammps").write_text(deck)
    state.save(run_dir)


def run_segment(run_dir: str | Path) -> SegmentState:
    """Run the segment in ``run_dir`` and record how far it got in ``md_state.json``."""
    run_dir = Path(run_dir)
    state = SegmentState.load(run_dir)
    start = time.perf_counter()
    wall = state.core_repulsion()
    inner_A = wall.type_matrix(state.species) if wall is not None else None
    run_engine(state.engine, run_dir, inner_cutoffs_A=inner_A)  # type: ignore[arg-type]
    state.wall_time_s = time.perf_counter() - start
    restart = latest_restart(run_dir)
    state.reached_step = restart[0] if restart else state.start_step
    prune_restarts(run_dir)
    state.save(run_dir)
    return state


def next_segment_state(previous_dir: str | Path) -> tuple[SegmentState, Path]:
    """State of the segment that continues ``previous_dir`` and the restart it reads.

    Works for a segment that ended cleanly and for one that was killed: the newest
    complete restart file of the previous segment (or, if it wrote none, the one that
    segment itself started from) is the starting point.

    Raises:
        IonflowInputError: if no restart file is found.
    """
    previous_dir = Path(previous_dir).resolve()
    prev = SegmentState.load(previous_dir)
    restart = latest_restart(previous_dir)
    if restart is None or restart[0] <= prev.start_step:
        start_files = sorted(previous_dir.glob("start.restart.*"))
        if not start_files:
            raise IonflowInputError(f"{previous_dir}: no restart file to continue from")
        restart = (prev.start_step, start_files[-1])
    protocol = MdProtocol.model_validate(prev.protocol)
    length = prev.stop_step - prev.start_step
    if prev.walltime_s and prev.wall_time_s and prev.reached_step:
        steps_done = prev.reached_step - prev.start_step
        if steps_done > 0:
            length = segment_steps(
                prev.walltime_s, steps_done / prev.wall_time_s, protocol.restart_every
            )
    state = SegmentState(
        segment=prev.segment + 1,
        start_step=restart[0],
        stop_step=min(restart[0] + max(length, protocol.restart_every), protocol.total_steps),
        engine=prev.engine,
        species=prev.species,
        protocol=prev.protocol,
        previous_dirs=[*prev.previous_dirs, str(previous_dir)],
        previous_starts=[*prev.previous_starts, prev.start_step],
        walltime_s=prev.walltime_s,
        potential=prev.potential,
        wall=prev.wall,
    )
    return state, restart[1]


def read_final_structure(
    run_dir: Path, species: list[str], atom_style: AtomStyle = "atomic"
) -> Structure | None:
    """Return the structure LAMMPS wrote at the end of the segment (None if absent)."""
    path = run_dir / FINAL_DATA_FILE
    return read_structure_data(path, species, atom_style) if path.exists() else None


def collect_run(
    last_dir: str | Path, temperature_k: float, n_atoms: int | None = None
) -> MdTaskDoc:
    """Join the segments' trajectories and thermo into one :class:`MdTaskDoc`.

    Args:
        last_dir: directory of the run's last segment.
        temperature_k: production temperature (K), recorded in the document.
        n_atoms: atoms in the cell (default: from the final structure).
    """
    last_dir = Path(last_dir).resolve()
    state = SegmentState.load(last_dir)
    protocol = MdProtocol.model_validate(state.protocol)
    dirs = [Path(d) for d in [*state.previous_dirs, str(last_dir)]]
    starts = [*state.previous_starts, state.start_step]
    pairs = enumerate(zip(starts, dirs, strict=True))
    segments = [(start, d / dump_file_name(k)) for k, (start, d) in pairs]
    trajectory, n_frames = None, 0
    if any(path.exists() for _, path in segments):
        trajectory = last_dir / JOINED_TRAJECTORY
        n_frames = join_dump_segments(segments, trajectory)
    thermo = MdThermo.from_logs(
        [(start, d / LOG_FILE) for start, d in zip(starts, dirs, strict=True)]
    )
    check_volume_stable(thermo.volume_a3, last_dir)
    production_start = protocol.stage_bounds()[-1][0]
    final_structure = read_final_structure(last_dir, state.species, state.atom_style)
    if n_atoms is None:
        n_atoms = len(final_structure) if final_structure is not None else 0
    wall = state.core_repulsion()
    active_rows, max_wall_ev, warnings = 0, 0.0, []
    if wall is not None:
        active_rows, max_wall_ev = wall.active_rows(thermo.wall_energy_ev)
        if active_rows:
            warnings.append(
                f"core repulsion active in {active_rows} of {len(thermo.wall_energy_ev)} "
                f"thermo rows (max {max_wall_ev:.3g} eV): an element pair came closer than "
                f"{wall.fraction:g} x its closest training distance, so the trajectory "
                "visited configurations the MTP was never trained on"
                + (
                    "; pair_style mlip cannot hold the MTP below r_in, only the ZBL acts"
                    if state.engine == "lmp"
                    else ""
                )
            )
            logger.warning("%s: %s", last_dir, warnings[-1])
    speed = None
    if state.wall_time_s and state.reached_step is not None:
        speed = (state.reached_step - state.start_step) / state.wall_time_s
    return MdTaskDoc(
        dir_name=str(last_dir),
        engine=state.engine,
        temperature_k=temperature_k,
        seed=protocol.seed,
        species=state.species,
        n_atoms=n_atoms,
        protocol=protocol,
        completed_steps=state.reached_step or 0,
        total_steps=protocol.total_steps,
        segment_dirs=[str(d) for d in dirs],
        trajectory_file=str(trajectory) if trajectory else None,
        n_frames=n_frames,
        type_map={str(k + 1): s for k, s in enumerate(state.species)},
        production_mean_temperature_k=thermo.mean("temperature_k", production_start),
        production_mean_volume_a3=thermo.mean("volume_a3", production_start),
        production_mean_pressure_bar=thermo.mean("pressure_bar", production_start),
        speed_steps_per_s=speed,
        us_per_atom_step=1e6 / (speed * n_atoms) if speed and n_atoms else None,
        thermo=thermo,
        final_structure=final_structure,
        classical_potential=state.potential["name"] if state.potential else None,
        core_repulsion=wall,
        wall_active_rows=active_rows,
        wall_rows=len(thermo.wall_energy_ev),
        wall_max_energy_ev=max_wall_ev,
        warnings=warnings,
    )
