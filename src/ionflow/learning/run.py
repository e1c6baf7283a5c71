"""The only place the active-learning loop starts an engine of its own: ASE MD.

Exploration with the LAMMPS engine goes through :func:`ionflow.md.run.run_engine`;
labelling and fitting through the ``run.py`` of :mod:`ionflow.dft` and :mod:`ionflow.mtp`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms, units


def run_langevin(
    atoms: Atoms,
    temperature_K: float,
    timestep_fs: float,
    friction_per_fs: float,
    rng: np.random.Generator,
    n_chunks: int,
    chunk_steps: int,
    after_chunk: Callable[[], bool],
) -> None:
    """Run ASE Langevin NVT MD on ``atoms`` (its calculator set) in chunks.

    Velocities are drawn from the Maxwell-Boltzmann distribution at ``temperature_K``;
    the centre of mass is held by a ``FixCom`` constraint (ASE's ``fixcm`` option of
    ``Langevin`` is deprecated and does not sample the ensemble exactly).
    After every chunk of ``chunk_steps`` steps ``after_chunk()`` is called; the run stops
    when it returns True.

    Args:
        atoms: the cell, with a calculator (eV, eV/Å).
        temperature_K: thermostat temperature, K.
        timestep_fs: MD time step, fs.
        friction_per_fs: Langevin friction, 1/fs.
        rng: random generator of the velocities and the thermostat.
        n_chunks: at most this many chunks.
        chunk_steps: MD steps per chunk.
        after_chunk: called after each chunk; True ends the run.
    """
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    dyn = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    for _ in range(n_chunks):
        dyn.run(chunk_steps)
        if after_chunk():
            return
