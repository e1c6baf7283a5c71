"""Time and compare the DFT-stage oracles on Li2S (12 atoms, a = 5.70 Å).

    .venv/bin/python benchmarks/dft_oracles.py [--quality minimal|cheap] [--skip-cp2k]

Prints, per oracle and level of theory: wall time per single point, energy (eV),
largest force (eV/Å) and mean normal stress (GPa, tension > 0); the D3(BJ) check
(E_D3 - E_PBE vs the dispersion energy CP2K prints); the CHGNet labelling rate on
rattled cells; and the label-cache speed-up when the same structures are labelled again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ionflow.dft.jobs import LabelMaker
from ionflow.dft.run import run_single_point
from ionflow.dft.sets import LEVELS_OF_THEORY
from ionflow.dft.sets.oracle import OracleSettings


def li2s(a: float = 5.70) -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


def rattled(n: int, amplitude: float = 0.1, seed: int = 0) -> list[Structure]:
    rng = np.random.default_rng(seed)
    base = li2s()
    return [
        Structure(
            base.lattice,
            base.species,
            base.cart_coords + rng.normal(0, amplitude, (12, 3)),
            coords_are_cartesian=True,
        )
        for _ in range(n)
    ]


def row(name: str, level: str, seconds: float, label) -> None:
    stress = np.trace(np.array(label.stress)) / 3 if label.stress is not None else float("nan")
    fmax = np.linalg.norm(label.forces, axis=1).max()
    print(f"{name:8s} {level:11s} {seconds:8.1f} s  E = {label.energy:14.5f} eV  "
          f"|F|max = {fmax:7.4f} eV/Å  mean σ = {stress:8.3f} GPa")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", default="minimal", choices=["minimal", "cheap", "production"])
    parser.add_argument("--skip-cp2k", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ionflow-bench-dft-"))
    print(f"Li2S 12 atoms, a = 5.70 Å; CP2K quality {args.quality}, Γ point; work dir {work}")

    chgnet = OracleSettings(oracle="chgnet")
    run_single_point(li2s(), "PBE", work / "warm", chgnet)  # load the model once
    start = time.perf_counter()
    label = run_single_point(li2s(), "PBE", work / "chgnet", chgnet)
    row("chgnet", "PBE", time.perf_counter() - start, label)

    if not args.skip_cp2k:
        cp2k = OracleSettings(oracle="cp2k", cp2k_quality=args.quality, kpoint_mesh=(1, 1, 1))
        labels = {}
        for level in LEVELS_OF_THEORY:
            start = time.perf_counter()
            labels[level] = run_single_point(li2s(), level, work / f"cp2k{len(labels)}", cp2k)
            row("cp2k", level, time.perf_counter() - start, labels[level])
        d3 = labels["PBE-D3(BJ)"]
        print(f"D3(BJ): E_D3 - E_PBE = {d3.energy - labels['PBE'].energy:.5f} eV, "
              f"CP2K dispersion energy = {d3.dispersion_energy:.5f} eV")  # fmt: skip

    structures = rattled(20)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    times = []
    for _ in range(2):
        job = LabelMaker(oracle_settings=chgnet).make(structures)
        start = time.perf_counter()
        run_locally(job, store=store, ensure_success=True, log=False)
        times.append(time.perf_counter() - start)
    print(f"LabelMaker chgnet, 20 rattled Li2S cells: first pass {times[0]:.2f} s "
          f"({times[0] / 20 * 1000:.0f} ms/structure), second pass (label cache) "
          f"{times[1]:.2f} s")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
