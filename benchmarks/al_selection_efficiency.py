"""Selection efficiency: validation error with N actively chosen labels vs N random ones.

Usage:
    .venv/bin/python benchmarks/al_selection_efficiency.py            # ~5-8 min, 2 cores
    .venv/bin/python benchmarks/al_selection_efficiency.py --seeds 1 --budgets 10,20

One candidate pool of CHGNet-labelled 12-atom Li2S cells (``ionflow.dft``'s CHGNet
engine): thermal-like rattles at four "temperatures" (Gaussian displacements growing
with T), isotropically strained (+-4 %, +-8 %) and sheared cells. A validation set is
drawn from the same generators with other seeds. Per random seed, both arms start from
the same random ``N0`` labels; then, until ``N`` labels:

- active: fit a level-8 MTP (motep) to the current labels, choose the next batch from
  the rest of the pool with MaxVol ``select-add`` (:func:`ionflow.mtp.selection.select_add`,
  highest grade first; topped up by grade if MaxVol picks fewer than the batch);
- random: add a random batch.

At every budget N both arms are fitted from scratch with the same settings and scored on
the validation set (force RMSE eV/Å, energy RMSE meV/atom; force RMSE on its extreme
cells: 1200 K and +-8 % strain). Prints a table and writes
``bench-results/al_selection_efficiency.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk

SPECIES = ["Li", "S"]
EXTREME_GROUPS = ("1200 K", "strain -8%", "strain +8%")  # the tails active learning targets
RATTLE_BY_T = {300: 0.05, 600: 0.08, 900: 0.11, 1200: 0.14}  # Å, thermal-like amplitudes


def make_pool(n_per_group: int, seed: int) -> tuple[list[Atoms], list[str]]:
    """Return unlabelled cells and their group names (temperature / strain / shear)."""
    rng = np.random.default_rng(seed)
    base = bulk("SLi2", "fluorite", a=5.70, cubic=True)
    cells, groups = [], []

    def add(atoms: Atoms, sigma: float, group: str) -> None:
        atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
        cells.append(atoms)
        groups.append(group)

    for temperature, sigma in RATTLE_BY_T.items():
        for _ in range(n_per_group):
            add(base.copy(), sigma, f"{temperature} K")
    for strain in (-0.08, -0.04, 0.04, 0.08):
        for _ in range(max(n_per_group // 3, 1)):
            atoms = base.copy()
            atoms.set_cell(atoms.cell * (1 + strain), scale_atoms=True)
            add(atoms, 0.08, f"strain {strain:+.0%}")
    for _ in range(n_per_group // 2):
        atoms = base.copy()
        deformation = np.eye(3) + rng.normal(0, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
        add(atoms, 0.08, "shear")
    return cells, groups


def fit_and_score(train, validation, extreme, max_iter: int, work: Path):
    """Fit a level-8 MTP from scratch.

    Returns:
        (motep data, force RMSE eV/Å, energy RMSE meV/atom, force RMSE on the ``extreme``
        validation cells eV/Å).
    """
    from ionflow.io.labelled_set import LabelledSet
    from ionflow.mtp import motep_api
    from ionflow.mtp.fitting import evaluate_errors, fit_mtp

    labelled = LabelledSet(train, "chgnet", "PBE", SPECIES)
    doc = fit_mtp(labelled, level=8, r_cut=5.0, max_iter=max_iter, validation_fraction=0.0)
    (work / "pot.mtp").write_text(doc.mtp)
    data = motep_api.read_potential(work / "pot.mtp", SPECIES)
    predicted = motep_api.predicted_images(data, validation)
    errors, _ = evaluate_errors(validation, predicted)
    pairs = [(v, p) for v, p, e in zip(validation, predicted, extreme, strict=True) if e]
    tail, _ = evaluate_errors([v for v, _ in pairs], [p for _, p in pairs])
    return data, errors.forces.rmse, errors.energy_per_atom.rmse * 1000, tail.forces.rmse


def run_arm(pool, validation, extreme, start, budgets, batch, active, rng, max_iter, work, bar):
    """Grow a label set from ``start`` to each budget; return ({N: scores}, chosen)."""
    from ionflow.mtp.selection import select_add

    chosen = list(start)
    scores = {}
    for budget in budgets:
        while len(chosen) < budget:
            rest = [i for i in range(len(pool)) if i not in set(chosen)]
            take = min(batch, budget - len(chosen))
            if active:
                data, *_ = fit_and_score(
                    [pool[i] for i in chosen], validation, extreme, max_iter, work
                )
                sel = select_add(data, [pool[i] for i in chosen], [pool[i] for i in rest])
                picked = [rest[k] for k in sel.indices[:take]]
                by_grade = [rest[k] for k in np.argsort(sel.grades)[::-1] if rest[k] not in picked]
                picked += by_grade[: take - len(picked)]
            else:
                picked = rng.choice(rest, size=take, replace=False).tolist()
            chosen += picked
        _, *scores[budget] = fit_and_score(
            [pool[i] for i in chosen], validation, extreme, max_iter, work
        )
        bar()
    return scores, chosen


def main() -> None:
    """Run the benchmark and print the table."""
    import tempfile

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ionflow.dft.run import chgnet_single_points

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-group", type=int, default=24, help="cells per pool group")
    parser.add_argument("--n-validation-per-group", type=int, default=8)
    parser.add_argument("--start", type=int, default=8, help="random labels to start from")
    parser.add_argument("--budgets", default="12,16,24,32", help="label counts N")
    parser.add_argument("--batch", type=int, default=4, help="labels chosen per AL step")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=100, help="L-BFGS-B iterations per fit")
    parser.add_argument("--out", default="bench-results/al_selection_efficiency.png")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    console = Console()

    t0 = time.perf_counter()
    cells, groups = make_pool(args.per_group, seed=100)
    val_cells, val_groups = make_pool(args.n_validation_per_group, seed=200)
    extreme = [g in EXTREME_GROUPS for g in val_groups]
    pool, validation = chgnet_single_points(cells), chgnet_single_points(val_cells)
    label_time = time.perf_counter() - t0
    console.print(
        f"pool {len(pool)} cells ({', '.join(sorted(set(groups)))}), validation "
        f"{len(validation)}; CHGNet labelling {label_time:.0f} s"
    )

    results = {"active": [], "random": []}
    picked_groups = {"active": [], "random": []}
    n_steps = 2 * args.seeds * len(budgets)
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as bar:
        task = bar.add_task("fits", total=n_steps)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            start = rng.choice(len(pool), size=args.start, replace=False).tolist()
            for arm in ("active", "random"):
                scores, chosen = run_arm(
                    pool, validation, extreme, start, budgets, args.batch, arm == "active",
                    np.random.default_rng(1000 + seed), args.max_iter, Path(tmp),
                    lambda: bar.advance(task),
                )  # fmt: skip
                results[arm].append(scores)
                picked_groups[arm] += [groups[i] for i in chosen[args.start :]]
    elapsed = time.perf_counter() - t0

    table = Table(title=f"validation RMSE vs labels N (mean ± std over {args.seeds} seeds)")
    columns = ["N", "active F", "random F", "active E", "random E", "active F x", "random F x"]
    for col in columns:
        table.add_column(col, justify="right")
    summary = {}
    for budget in budgets:
        row = [str(budget)]
        for quantity in (0, 1, 2):
            for arm in ("active", "random"):
                values = np.array([s[budget][quantity] for s in results[arm]])
                summary[(arm, budget, quantity)] = (values.mean(), values.std())
                row.append(f"{values.mean():.4f} ± {values.std():.4f}")
        table.add_row(*row)
    console.print(table)
    console.print(
        "F: force RMSE eV/Å, E: energy RMSE meV/atom (all validation cells); F x: force "
        f"RMSE eV/Å on the extreme validation cells ({', '.join(EXTREME_GROUPS)})"
    )
    for arm in ("active", "random"):
        counts = {g: picked_groups[arm].count(g) for g in sorted(set(groups))}
        console.print(f"{arm} picks by group: {counts}")
    console.print(f"total wall time {elapsed:.0f} s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    panels = (
        (0, axes[0], "force RMSE (eV/Å)"),
        (1, axes[1], "energy RMSE (meV/atom)"),
        (2, axes[2], "force RMSE, extreme cells (eV/Å)"),
    )
    for quantity, ax, label in panels:
        for arm, style in (("active", "o-"), ("random", "s--")):
            mean = [summary[(arm, b, quantity)][0] for b in budgets]
            std = [summary[(arm, b, quantity)][1] for b in budgets]
            ax.errorbar(budgets, mean, yerr=std, fmt=style, capsize=3, label=arm)
        ax.set_xlabel("labelled configurations N")
        ax.set_ylabel(f"validation {label}")
        ax.legend()
    fig.suptitle("Li2S level-8 MTP: MaxVol active selection vs random (CHGNet labels)")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    console.print(f"plot: {out}")


if __name__ == "__main__":
    main()
