"""Does MD with the fitted MTP give the diffusivity MD with its own oracle gives?

Usage:
    .venv/bin/python benchmarks/mtp_fidelity.py --quick     # minutes: short runs, 52 atoms
    .venv/bin/python benchmarks/mtp_fidelity.py             # hours: long runs, + 2x1x1 cell

Oracle: CHGNet. Cell: the 52-atom Li6PS5Cl configuration with 25 % Cl on 4c
(``X4c-025-R3m``, :func:`ionflow.structures.argyrodite.characteristic_configurations`), and
(full run) its 2x1x1 supercell. Protocol, identical for every potential: NVT Nosé-Hoover
chain (ASE, 100 fs damping), velocities at T, the first fifth of the run discarded,
Li MSD -> D ± error (:func:`ionflow.analysis.diffusion.fit_diffusion`) at every
temperature, Arrhenius E_a (:func:`ionflow.analysis.arrhenius.fit_arrhenius`).

Potentials: the passive level-8 MTP (motep, ionflow's defaults) fitted to the demo's
CHGNet-labelled set (``workflows/demo_li6ps5cl_chgnet.yaml``, cached by
``benchmarks/mtp_fit_quality.py``), and the same MTP after active learning
(:class:`ionflow.learning.flows.active_learning.ActiveLearningMaker`, CHGNet labels,
exploration on the benchmark cell). Held-out force RMSE: the passive fit's validation
split, never trained on by either. Writes ``benchmarks/results/mtp_fidelity.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/results/mtp_fidelity.json"
CONFIGURATION = "X4c-025-R3m"


def benchmark_cell(repeat: tuple[int, int, int]):
    """The 25 % Cl@4c argyrodite cell (ASE atoms), repeated ``repeat``."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from ionflow.structures.argyrodite import characteristic_configurations
    from ionflow.structures.parents import get_parent_structure

    for structure, meta in characteristic_configurations(get_parent_structure("Li6PS5Cl")):
        if meta["label"] == CONFIGURATION:
            return AseAtomsAdaptor.get_atoms(structure).repeat(repeat)
    raise RuntimeError(f"no configuration {CONFIGURATION}")


def li_diffusion(atoms, calculator, temperature_K, steps, timestep_fs, every, seed):
    """NVT MD with ``calculator``; return (D, D_err) of Li in cm^2/s and a failure note.

    A run whose positions stop being finite (the potential blew the cell apart) gives
    (None, None, "unstable after ... ps").
    """
    from ase import units
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    from ionflow.analysis.diffusion import fit_diffusion
    from ionflow.analysis.displacements import from_positions
    from ionflow.analysis.msd import species_msd

    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(
        atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed)
    )
    Stationary(atoms)
    dynamics = NoseHooverChainNVT(
        atoms, timestep=timestep_fs * units.fs, temperature_K=temperature_K, tdamp=100 * units.fs
    )
    li = np.array(atoms.get_chemical_symbols()) == "Li"
    frames = []
    with np.errstate(all="ignore"):
        for step in range(steps):
            dynamics.run(1)
            if not np.isfinite(atoms.positions).all():
                return None, None, f"unstable after {step * timestep_fs / 1000:.2f} ps"
            if step >= steps // 5 and step % every == 0:
                frames.append(atoms.positions[li].copy())  # ASE MD does not wrap: unwrapped
    time_fs = np.arange(len(frames)) * every * timestep_fs
    trajectory = from_positions(np.array(frames), time_fs, atoms.cell.array, "Li", len(atoms))
    result = fit_diffusion(species_msd(trajectory, collective=False))
    return float(result.D_cm2_s), float(result.D_err_cm2_s), None


def arrhenius(temperatures, values, errors):
    """E_a (eV) and its error, or (None, None) when a D is not positive."""
    from ionflow.analysis.arrhenius import fit_arrhenius

    if any(v is None or v <= 0 for v in values):
        return None, None
    fit = fit_arrhenius(temperatures, values, errors)
    return fit.Ea_eV, fit.Ea_err_eV


def passive_fit(species, max_iter):
    """The passive fit on the demo's labelled set; returns the MtpFitDocument."""
    from mtp_fit_quality import labelled_cfg

    from ionflow.io.labelled_set import LabelledSet
    from ionflow.mtp.fitting import fit_mtp

    text, species_of_set = labelled_cfg("demo")
    assert list(species_of_set) == list(species)
    labelled = LabelledSet.from_cfg_text(text, species, "chgnet", "PBE")
    doc = fit_mtp(labelled, level=8, r_cut=5.0, max_iter=max_iter, engine="motep")
    return doc, labelled


def active_learning(fit_doc, labelled, cell, temperatures, args):
    """Run ionflow's active-learning loop from the passive fit; return its document."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore
    from pymatgen.io.ase import AseAtomsAdaptor

    from ionflow.dft.jobs.label import LabelMaker
    from ionflow.dft.sets.oracle import OracleSettings
    from ionflow.learning.explore import AseMdExplorer
    from ionflow.learning.flows.active_learning import ActiveLearningMaker
    from ionflow.learning.schemas.active_learning import ActiveLearningDocument
    from ionflow.mtp.fitting import ACTIVE_LEARNING_WEIGHTS
    from ionflow.mtp.jobs.fit import MtpFitMaker

    maker = ActiveLearningMaker(
        label_maker=LabelMaker(
            level_of_theory="PBE", oracle_settings=OracleSettings(oracle="chgnet"),
            species=labelled.species,
        ),
        fit_maker=MtpFitMaker(
            weights=ACTIVE_LEARNING_WEIGHTS, max_iter=args.max_iter, validation_fraction=0.0,
            engine="motep",
        ),
        explorer=AseMdExplorer(grade_every=10, seed=5),
        temperatures=tuple(temperatures),
        md_steps=args.al_md_steps,
        max_selected=args.al_max_selected,
        max_iterations=args.al_iterations,
    )  # fmt: skip
    flow = maker.make(
        [AseAtomsAdaptor.get_structure(cell)], labelled, mtp=fit_doc.mtp,
        heldout_cfg=fit_doc.validation_cfg,
    )  # fmt: skip
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    with tempfile.TemporaryDirectory() as tmp:
        run_locally(flow, store=store, root_dir=tmp, ensure_success=True, log=False)
    found = store.query_one({"output.stop_reason": {"$exists": True}}, load=True)
    return ActiveLearningDocument(**found["output"])


def main() -> None:
    """Run the oracle and the MTPs at every temperature; write the JSON."""
    from ionflow.dft.run import chgnet_calculator
    from ionflow.mtp import motep_api

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 52 atoms only")
    args = parser.parse_args()
    quick = args.quick
    temperatures = [800.0, 1000.0, 1200.0, 1400.0] if quick else [600.0, 700.0, 800.0, 900.0]
    steps = 1000 if quick else 50000  # 2 fs steps: 2 ps quick, 100 ps full
    args.max_iter = 100 if quick else 1000
    args.al_iterations, args.al_md_steps = (2, 1000) if quick else (5, 2000)
    args.al_max_selected = 10 if quick else 20
    repeats = [(1, 1, 1)] if quick else [(1, 1, 1), (2, 1, 1)]
    species = ["Li", "P", "S", "Cl"]
    timings: dict[str, float] = {}

    start = time.perf_counter()
    fit_doc, labelled = passive_fit(species, args.max_iter)
    timings["passive_fit_s"] = time.perf_counter() - start
    heldout_passive = fit_doc.validation_errors.forces.rmse
    print(f"passive fit: {fit_doc.n_train} cells, held-out forces {heldout_passive:.3f} eV/Å")
    start = time.perf_counter()
    cell = benchmark_cell((1, 1, 1))
    al_doc = active_learning(fit_doc, labelled, cell, temperatures, args)
    timings["active_learning_s"] = time.perf_counter() - start
    heldout_al = al_doc.heldout_errors.forces.rmse
    print(f"active learning: {len(al_doc.iterations)} iterations, {al_doc.n_training} cells, "
          f"held-out forces {heldout_al:.3f} eV/Å; {al_doc.stop_reason}")  # fmt: skip

    potentials = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (("passive", fit_doc.mtp), ("after_al", al_doc.mtp)):
            (Path(tmp) / f"{name}.mtp").write_text(text)
            potentials[name] = motep_api.read_potential(Path(tmp) / f"{name}.mtp", species)

    oracle = chgnet_calculator()
    cells = []
    for repeat in repeats:
        atoms = benchmark_cell(repeat)
        rows = []
        for k, temperature in enumerate(temperatures):
            row = {"T_K": temperature}
            for name, calculator in (
                ("oracle", oracle),
                ("mtp", motep_api.calculator(potentials["passive"])),
                ("mtp_after_al", motep_api.calculator(potentials["after_al"])),
            ):
                t0 = time.perf_counter()
                D, D_err, failure = li_diffusion(
                    atoms, calculator, temperature, steps, 2.0, 10, seed=k
                )
                timings[f"md_{name}_{len(atoms)}atoms_s"] = timings.get(
                    f"md_{name}_{len(atoms)}atoms_s", 0.0
                ) + (time.perf_counter() - t0)
                row[f"D_{name}_cm2_s"], row[f"D_{name}_err_cm2_s"] = D, D_err
                if failure:
                    row[f"{name}_failure"] = failure
            print(f"{len(atoms)} atoms {temperature:g} K: " + ", ".join(
                f"{k} {v}" if not isinstance(v, float) else f"{k} {v:.3g}"
                for k, v in row.items() if k != "T_K" and "err" not in k
            ), flush=True)  # fmt: skip
            rows.append(row)
        fits = {
            name: arrhenius(
                temperatures, [r[f"D_{name}_cm2_s"] for r in rows],
                [r[f"D_{name}_err_cm2_s"] for r in rows],
            )
            for name in ("oracle", "mtp", "mtp_after_al")
        }  # fmt: skip
        cells.append({
            "n_atoms": len(atoms), "supercell": list(repeat), "temperatures": rows,
            "Ea_oracle_eV": fits["oracle"][0], "Ea_oracle_err_eV": fits["oracle"][1],
            "Ea_mtp_eV": fits["mtp"][0], "Ea_mtp_err_eV": fits["mtp"][1],
            "Ea_mtp_after_al_eV": fits["mtp_after_al"][0],
            "Ea_mtp_after_al_err_eV": fits["mtp_after_al"][1],
        })  # fmt: skip

    first = cells[0]
    result = {
        "quick": quick,
        "oracle": "chgnet",
        "configuration": CONFIGURATION,
        "protocol": {
            "ensemble": "NVT Nose-Hoover chain (ASE)",
            "timestep_fs": 2.0,
            "steps": steps,
            "discarded_fraction": 0.2,
            "sample_every_steps": 10,
        },
        "temperatures": first["temperatures"],
        "Ea_oracle_eV": first["Ea_oracle_eV"],
        "Ea_mtp_eV": first["Ea_mtp_eV"],
        "Ea_mtp_after_al_eV": first["Ea_mtp_after_al_eV"],
        "cells": cells,
        "heldout_force_rmse_passive_eV_A": heldout_passive,
        "heldout_force_rmse_after_al_eV_A": heldout_al,
        "labels": {
            "passive": fit_doc.n_train + fit_doc.n_validation,
            "added_by_al": sum(it.n_labelled for it in al_doc.iterations),
            "heldout": fit_doc.n_validation,
        },
        "wall_times_s": timings,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for row in first["temperatures"]:
        oracle_D, mtp_D = row["D_oracle_cm2_s"], row["D_mtp_cm2_s"]
        ratio = mtp_D / oracle_D if oracle_D and mtp_D and oracle_D > 0 else None
        print(f"T {row['T_K']:g} K: D_mtp / D_oracle = {ratio}")
    print(f"E_a oracle {first['Ea_oracle_eV']}, MTP {first['Ea_mtp_eV']}, "
          f"after AL {first['Ea_mtp_after_al_eV']} eV -> {OUT}")  # fmt: skip


if __name__ == "__main__":
    main()
