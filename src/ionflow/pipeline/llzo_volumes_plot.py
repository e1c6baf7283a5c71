"""The LLZO strain/amorphous study's figure: D(T) and E_a against volume, per potential."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ionflow.pipeline.llzo_volumes import VolumeRun, VolumeStudyDocument

COLOURS = {"mtp": "C0", "classical": "C3"}


def _series_label(run: VolumeRun) -> str:
    if run.cell == "crystalline":
        return f"crystalline, MD {run.md_potential}"
    return f"amorphous by {run.structure_potential}, MD {run.md_potential}"


def plot_volume_study(doc: VolumeStudyDocument, path: str | Path) -> Path:
    """D at the report temperature (95 % interval of the fit) and E_a against V/V_exp.

    One series per (cell kind, structure potential, MD potential); crystalline cells
    joined by lines, amorphous cells as open markers.
    """
    fig, (ax_d, ax_e) = plt.subplots(1, 2, figsize=(9, 4))
    series: dict[str, list[VolumeRun]] = {}
    for run in doc.runs:
        series.setdefault(_series_label(run), []).append(run)
    for label, runs in series.items():
        runs = sorted(runs, key=lambda r: r.volume_fraction)
        v = 100 * np.array([r.volume_fraction for r in runs])
        d = np.array([r.D_run_cm2_s or r.D_fit_cm2_s for r in runs])
        low = np.array([r.D_fit_ci_cm2_s[0] for r in runs])
        high = np.array([r.D_fit_ci_cm2_s[1] for r in runs])
        yerr = [np.clip(d - low, 0, None), np.clip(high - d, 0, None)]
        crystalline = runs[0].cell == "crystalline"
        style = {
            "color": COLOURS[runs[0].md_potential],
            "marker": "o" if crystalline else "s",
            "ls": "-" if crystalline else "none",
            "mfc": None if crystalline else "none",
            "capsize": 3,
            "label": label,
        }
        ax_d.errorbar(v, d, yerr=yerr, **style)
        ax_e.errorbar(v, [r.Ea_eV for r in runs], yerr=[r.Ea_err_eV for r in runs], **style)
    ax_d.set_yscale("log")
    ax_d.set_ylabel(f"D({doc.temperature_K:g} K) (cm$^2$/s)")
    ax_e.set_ylabel("E$_a$ (eV)")
    for ax in (ax_d, ax_e):
        ax.set_xlabel("volume (% of experimental)")
    ax_d.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
