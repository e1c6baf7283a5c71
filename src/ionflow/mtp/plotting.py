"""Plots of MTP fits: parity (energy, forces) and hyper-parameter scan error vs cost."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ionflow.mtp.schemas.fit import ParityData
from ionflow.mtp.schemas.hyper_scan import HyperScanPoint


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _rmse(ref: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - ref) ** 2))) if len(ref) else float("nan")


def plot_parity(parity: ParityData | dict, path: str | Path, title: str = "") -> Path:
    """Write an energy (meV/atom) and force (eV/Å) parity plot PNG; return its path.

    Args:
        parity: an ``MtpFitDocument.parity_validation`` (document or dict).
        path: output ``.png``.
        title: figure title (e.g. the potential's name).
    """
    parity = ParityData.model_validate(parity)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    e_ref, e_mtp = np.array(parity.energy_per_atom_ref), np.array(parity.energy_per_atom_mtp)
    f_ref, f_mtp = np.array(parity.forces_ref), np.array(parity.forces_mtp)
    panels = (
        (axes[0], e_ref, e_mtp, "energy (eV/atom)", 1000.0, "meV/atom"),
        (axes[1], f_ref, f_mtp, "force component (eV/Å)", 1.0, "eV/Å"),
    )
    for ax, ref, pred, label, scale, unit in panels:
        ax.scatter(ref, pred, s=8, alpha=0.6, edgecolors="none")
        if len(ref):
            lo, hi = min(ref.min(), pred.min()), max(ref.max(), pred.max())
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"MTP {label}")
        ax.set_title(f"RMSE {_rmse(ref, pred) * scale:.3g} {unit} (n={len(ref)})")
        ax.set_aspect("equal", adjustable="datalim")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_error_vs_cost(
    points: Sequence[HyperScanPoint],
    path: str | Path,
    recommended: HyperScanPoint | None = None,
) -> Path:
    """Write validation force/energy RMSE vs evaluation cost, one line per R_cut; PNG path."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for r_cut in sorted({p.r_cut for p in points}):
        row = sorted((p for p in points if p.r_cut == r_cut), key=lambda p: p.level)
        cost = [p.cost_us_per_atom_step for p in row]
        forces = [p.validation_errors.forces.rmse for p in row]
        energy = [p.validation_errors.energy_per_atom.rmse * 1000 for p in row]
        for ax, err in ((axes[0], forces), (axes[1], energy)):
            ax.plot(cost, err, "o-", label=f"R_cut {r_cut:g} Å")
            for p, x, y in zip(row, cost, err, strict=True):
                ax.annotate(f"{p.level}", (x, y), textcoords="offset points", xytext=(4, 4))
    if recommended is not None:
        axes[0].plot(
            recommended.cost_us_per_atom_step,
            recommended.validation_errors.forces.rmse,
            "r*", ms=16, label="recommended",
        )  # fmt: skip
    axes[0].set_ylabel("validation force RMSE (eV/Å)")
    axes[1].set_ylabel("validation energy RMSE (meV/atom)")
    for ax in axes:
        ax.set_xlabel("evaluation cost (µs per atom-step)")
        ax.legend()
    fig.suptitle("MTP level (labels) x R_cut: error vs cost")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
