"""MTP fit quality against optimiser iterations and wall time (motep engine, level 8).

Usage:
    .venv/bin/python benchmarks/mtp_fit_quality.py                    # tiny set, ~6 min
    .venv/bin/python benchmarks/mtp_fit_quality.py --sets tiny,demo --max-iter 200

Data: the labelled sets of ``tests/data/pipeline/tiny_chgnet.yaml`` (48 CHGNet-labelled
52-atom Li6PS5Cl cells) and ``workflows/demo_li6ps5cl_chgnet.yaml`` (120 cells), produced
once by the pipeline's own configuration and training-set stages
(``PipelineMaker.make_training_sets``) and cached in ``bench-results/cache/``.
ionflow's fixed-seed 90/10 split, R_cut 5 Å, weights 100:1:0.

Per set it prints, for each optimiser (linear least squares, then scipy ``BFGS`` — ionflow's
default — or ``L-BFGS-B`` — ionflow's optimiser before this benchmark), force and energy
RMSE on the training and validation splits after 0, 25, 50, 100, ... iterations with the
wall time spent, the iteration at which the default loss-plateau rule would stop, and
(``--warm``) a warm-started refit: a fit to 80 % of the training split continued on all of
it, against a fresh fit of the same length. MLIP-2's ``mlp train`` on the tiny set
(issue 14): validation forces 0.067 eV/Å, 1.8 meV/atom in 41 s at 100 iterations.

Measured (2 shared cores, seed 0; force RMSE eV/Å / energy RMSE meV/atom):

| set, 100 iterations | train | validation |
|---|---|---|
| tiny, L-BFGS-B (before) | 0.243 / 6.56 | 0.275 / 2.03 |
| tiny, BFGS (now)        | 0.060 / 1.19 | 0.062 / 0.94 (seeds 1, 2: 0.071, 0.069) |
| demo, L-BFGS-B          | 0.274 / 13.1 | 0.262 / 13.4 |
| demo, BFGS              | 0.090 / 3.10 | 0.083 / 2.08 |

At 200 iterations: tiny BFGS 0.053 validation, L-BFGS-B 0.273. Same cost per iteration
(one loss and gradient; BFGS's dense update of 269 parameters is negligible). Warm start
(fit to 80 % of the training split, continued on all of it, 100 iterations): tiny 0.057,
demo 0.069 validation — better than the fresh fits at equal iterations (0.062, 0.083);
L-BFGS-B's warm start stops after 38 iterations at 0.079 (demo).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SPECS = {
    "tiny": ROOT / "tests/data/pipeline/tiny_chgnet.yaml",
    "demo": ROOT / "workflows/demo_li6ps5cl_chgnet.yaml",
}
CACHE = ROOT / "bench-results/cache"
WEIGHTS = (100.0, 1.0, 0.0)
LEVEL, R_CUT_A, RADIAL_BASIS_SIZE = 8, 5.0, 8


def labelled_cfg(name: str) -> tuple[str, list[str]]:
    """Return the ``.cfg`` text and species of set ``name`` (built once, then cached)."""
    from jobflow import Flow, JobStore, run_locally
    from maggma.stores import MemoryStore
    from monty.json import MontyDecoder

    from ionflow.pipeline.flow import PipelineMaker, species_of_material
    from ionflow.pipeline.spec import load_spec

    spec = load_spec(SPECS[name])
    species = spec.species_order or species_of_material(spec.material)
    path = CACHE / f"{SPECS[name].stem}.cfg"
    if not path.exists():
        start = time.perf_counter()
        maker = PipelineMaker.from_spec(spec)  # the pipeline's own stages 1-5
        configurations = maker.configurations_maker.make(spec.material)
        training = maker.make_training_sets(configurations.output.structures)
        store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
        with tempfile.TemporaryDirectory() as tmp:
            run_locally(
                Flow([configurations, training]),
                store=store,
                root_dir=tmp,
                ensure_success=True,
                log=False,
            )
        output = MontyDecoder().process_decoded(store.get_output(training.uuid, load=True))
        labelled = output["labelled"].labelled_set
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(labelled.cfg_text())
        print(f"{name}: labelled set built in {time.perf_counter() - start:.0f} s -> {path}")
    return path.read_text(), species


def labelled_split(name: str) -> tuple[list, list, list[str]]:
    """Return the training and validation cells (ionflow's fixed-seed 90/10 split) and
    the species of set ``name``."""
    from ionflow.io.mlip_cfg import read_labelled_cfg
    from ionflow.mtp.fitting import split_train_validation

    text, species = labelled_cfg(name)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "set.cfg").write_text(text)
        images = read_labelled_cfg(Path(tmp) / "set.cfg", species)
    train_idx, val_idx = split_train_validation(len(images), 0.1, 0)
    return [images[i] for i in train_idx], [images[i] for i in val_idx], species


class Scorer:
    """Errors of a parameter vector on the training and validation splits."""

    def __init__(self, data, train, validation) -> None:
        self.data, self.train, self.validation = data, train, validation

    def __call__(self, parameters: np.ndarray) -> dict[str, float]:
        """Force RMSE (eV/Å) and energy RMSE (meV/atom) per split."""
        from ionflow.mtp import motep_api
        from ionflow.mtp.fitting import evaluate_errors

        self.data.optimized = ["species_coeffs", "moment_coeffs", "radial_coeffs"]
        self.data.parameters = parameters
        out = {}
        for split, images in (("train", self.train), ("val", self.validation)):
            errors, _ = evaluate_errors(images, motep_api.predicted_images(self.data, images))
            out[f"{split} F"] = errors.forces.rmse
            out[f"{split} E"] = errors.energy_per_atom.rmse * 1000
        return out


def untrained(species: list[str], images) -> object:
    """An untrained level-8 potential with ionflow's min_dist rule."""
    from ionflow.mtp import motep_api
    from ionflow.mtp.fitting import min_interatomic_distance
    from ionflow.mtp.templates import untrained_mtp_text

    min_dist = round(min(min_interatomic_distance(images) * 0.95, R_CUT_A - 0.5), 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "initial.mtp"
        path.write_text(
            untrained_mtp_text(LEVEL, len(species), min_dist, R_CUT_A, RADIAL_BASIS_SIZE)
        )
        return motep_api.read_potential(path, species)


def traced_fit(data, train, max_iter: int, method: str, seed: int = 0, warm: bool = False):
    """Fit without the plateau rule; return the FitLog and the parameters per iteration."""
    from ionflow.mtp import motep_api

    snapshots: dict[int, np.ndarray] = {}
    log = motep_api.train(
        data, train, WEIGHTS, max_iter, seed, warm=warm, plateau_rel_tol=0.0, method=method,
        on_iteration=lambda i, x: snapshots.__setitem__(i, x),
    )  # fmt: skip
    return log, snapshots


def plateau_stop(log) -> int | None:
    """The iteration at which the default loss-plateau rule stops ``log``'s loss curve."""
    from ionflow.mtp import motep_api

    window, tol = motep_api.LOSS_PLATEAU_WINDOW, motep_api.LOSS_PLATEAU_REL_TOL
    for i in range(window, len(log.loss)):
        if log.loss[i - window] - log.loss[i] < tol * abs(log.loss[i - window]):
            return i
    return None


def print_trace(label: str, log, snapshots, score: Scorer, checkpoints: list[int]) -> dict:
    """Print errors at the checkpoints of one traced fit; return the last row."""
    row = {}
    for it in sorted({c for c in checkpoints if c in snapshots}):
        row = score(snapshots[it])
        print(
            f"  {label:10s} {it:5d} {log.seconds[it]:7.1f} s   "
            + "  ".join(f"{k} {v:7.4f}" if "F" in k else f"{k} {v:6.2f}" for k, v in row.items())
        )
    return row


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="tiny", help="tiny,demo")
    parser.add_argument("--methods", default="BFGS,L-BFGS-B")
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=1, help="initial-coefficient seeds (BFGS)")
    parser.add_argument("--warm", action="store_true", help="also measure warm-started refits")
    args = parser.parse_args()
    checkpoints = sorted({0, 25, 50, 100, 200, 400, args.max_iter})
    checkpoints = [c for c in checkpoints if c <= args.max_iter]

    for name in args.sets.split(","):
        train, validation, species = labelled_split(name)
        images = train + validation
        print(
            f"\n== {name}: {len(train)} train / {len(validation)} validation cells of "
            f"{len(images[0])} atoms; level {LEVEL}, R_cut {R_CUT_A} Å; columns: iteration, "
            "wall time, force RMSE eV/Å, energy RMSE meV/atom"
        )
        for method in args.methods.split(","):
            seeds = range(args.seeds) if method == "BFGS" else range(1)
            for seed in seeds:
                data = untrained(species, images)
                log, snapshots = traced_fit(data, train, args.max_iter, method, seed)
                print_trace(f"{method} s{seed}", log, snapshots, Scorer(data, train, validation),
                            checkpoints)  # fmt: skip
                stop = plateau_stop(log)
                print(
                    f"  {method} s{seed}: loss {log.loss[0]:.4g} -> {log.loss[-1]:.4g}; "
                    f"plateau rule stops at iteration {stop}; scipy: {log.stopped_by}"
                )
        if args.warm:
            warm_refit(train, validation, species, images, args.max_iter, checkpoints)


def warm_refit(train, validation, species, images, max_iter: int, checkpoints) -> None:
    """A fit on 80 % of ``train`` continued on all of it, against a fresh fit."""
    from ionflow.mtp import motep_api

    first = train[: int(0.8 * len(train))]
    data = untrained(species, images)
    motep_api.train(data, first, WEIGHTS, max_iter, 0, warm=False)
    print(f"  warm start: fit to {len(first)} cells, then continued on {len(train)}")
    for method in ("BFGS", "L-BFGS-B"):
        copy = untrained(species, images)
        copy.species_coeffs = data.species_coeffs.copy()
        copy.moment_coeffs = data.moment_coeffs.copy()
        copy.radial_coeffs = data.radial_coeffs.copy()
        log, snapshots = traced_fit(copy, train, max_iter, method, warm=True)
        print_trace(f"warm {method}", log, snapshots, Scorer(copy, train, validation),
                    [*checkpoints, log.n_iterations])  # fmt: skip
        print(f"  warm {method}: {log.n_iterations} iterations, plateau rule stops at "
              f"{plateau_stop(log)}; scipy: {log.stopped_by}")  # fmt: skip


if __name__ == "__main__":
    main()
