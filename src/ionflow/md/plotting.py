"""Plot of an MD run's thermo output (temperature, pressure, energy, volume vs time)."""

from __future__ import annotations

from pathlib import Path

from ionflow.md.schemas.md import MdThermo


def plot_thermo(thermo: MdThermo, path: str | Path, title: str = "") -> Path:
    """Save a 4-panel figure of T (K), P (bar), total energy (eV) and volume (Å^3) vs ps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("temperature_k", "T (K)"),
        ("pressure_bar", "P (bar)"),
        ("total_energy_ev", "E total (eV)"),
        ("volume_a3", "V (Å³)"),
    ]
    fig, axes = plt.subplots(4, 1, figsize=(6, 8), sharex=True)
    for ax, (field, label) in zip(axes, panels, strict=True):
        ax.plot(thermo.time_ps, getattr(thermo, field), lw=0.8)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("time (ps)")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
