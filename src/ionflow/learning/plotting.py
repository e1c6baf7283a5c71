"""Plot of an active-learning history: grades, selections and errors per iteration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ionflow.learning.schemas.active_learning import ActiveLearningIteration


def plot_active_learning_history(
    iterations: list[ActiveLearningIteration], path: str | Path, title: str = ""
) -> Path:
    """Save grade distribution (p50/p90/p99/max), selected counts and refit errors per iteration.

    Args:
        iterations: ``ActiveLearningDocument.iterations``.
        path: output ``.png``.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = np.array([it.iteration for it in iterations])
    fig, (ax_g, ax_n, ax_e) = plt.subplots(1, 3, figsize=(12, 3.6))
    for key, style in (("p50", "o-"), ("p90", "s-"), ("p99", "^-")):
        values = [it.grade_percentiles.get(key, np.nan) for it in iterations]
        ax_g.plot(index, values, style, label=key)
    ax_g.plot(index, [it.grade_max for it in iterations], "kx--", label="max")
    ax_g.set_yscale("log")
    ax_g.set_ylabel("extrapolation grade γ")
    ax_g.legend(fontsize=8)
    width = 0.4
    ax_n.bar(index - width / 2, [it.n_candidates for it in iterations], width, label="candidates")
    ax_n.bar(index + width / 2, [it.n_selected for it in iterations], width, label="selected")
    ax_n.set_ylabel("configurations")
    ax_n.legend(fontsize=8)
    refits = [(it.iteration, it.validation_errors) for it in iterations if it.validation_errors]
    if refits:
        ax_e.plot([i for i, _ in refits], [e.forces.rmse for _, e in refits], "o-", label="forces")
        ax_e.set_ylabel("held-out force RMSE (eV/Å)")
        ax_energy = ax_e.twinx()
        ax_energy.plot(
            [i for i, _ in refits],
            [1000 * e.energy_per_atom.rmse for _, e in refits],
            "s--",
            color="C1",
        )
        ax_energy.set_ylabel("held-out energy RMSE (meV/atom)", color="C1")
    else:
        ax_e.text(0.5, 0.5, "no refit errors stored", ha="center", transform=ax_e.transAxes)
    for ax in (ax_g, ax_n, ax_e):
        ax.set_xlabel("iteration")
        ax.set_xticks(index)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
