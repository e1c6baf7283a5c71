"""Plots of the analysis results (matplotlib, Agg backend; PNG or SVG by extension)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ionflow.analysis.schemas.diffusion import ArrheniusDocument, DiffusionDocument
from ionflow.analysis.schemas.regions import RegionDocument, RegionResult
from ionflow.constants import K_B_EV_PER_K


def plot_msd(doc: DiffusionDocument, path: str | Path) -> Path:
    """MSD (total and x/y/z) against time with the fit window and the fitted line."""
    t = np.asarray(doc.msd_time_ps)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(t, doc.msd_A2, "k-", label="total")
    for k, name in enumerate("xyz"):
        ax.plot(t, np.asarray(doc.msd_xyz_A2)[:, k], lw=0.8, label=name)
    lo, hi = doc.fit_window_ps
    ax.axvspan(lo, hi, color="0.9", label="fit window")
    slope = 6 * doc.D_cm2_s * 10.0 * 1e3  # cm^2/s -> Å^2/ps
    inside = (t >= lo) & (t <= hi)
    if inside.any():
        offset = np.mean(np.asarray(doc.msd_A2)[inside] - slope * t[inside])
        ax.plot(t[inside], slope * t[inside] + offset, "r--", label="fit")
    ax.set_xlabel("time (ps)")
    ax.set_ylabel(f"{doc.species} MSD (Å$^2$)")
    ax.set_title(
        f"{doc.temperature_K:g} K: D = {doc.D_cm2_s:.3g} ± {doc.D_err_cm2_s:.2g} cm$^2$/s",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_arrhenius(doc: ArrheniusDocument, path: str | Path) -> Path:
    """log10 D vs 1000/T with error bars, the fit and its extrapolation to 300 K."""
    fig, ax = plt.subplots(figsize=(5, 4))
    T = np.array([t.temperature_K for t in doc.temperatures])
    D = np.array([t.D_cm2_s for t in doc.temperatures])
    err = np.array([t.D_err_cm2_s for t in doc.temperatures])
    ax.errorbar(1000 / T, D, yerr=err, fmt="o", capsize=3, label="MD")
    grid = np.linspace(min(T.min(), doc.extrapolation_K), T.max(), 100)
    fit = doc.D0_cm2_s * np.exp(-doc.Ea_eV / (K_B_EV_PER_K * grid))
    ax.plot(1000 / grid, fit, "k--", label=f"E$_a$ = {doc.Ea_eV:.3f} ± {doc.Ea_err_eV:.3f} eV")
    low, high = doc.D300_ci_cm2_s
    ax.errorbar(
        [1000 / doc.extrapolation_K],
        [doc.D300_cm2_s],
        yerr=[[doc.D300_cm2_s - low], [high - doc.D300_cm2_s]],
        fmt="s",
        color="C3",
        capsize=3,
        label=f"{doc.extrapolation_K:g} K (95% CI)",
    )
    if doc.break_K:
        ax.axvline(1000 / doc.break_K, color="0.5", ls=":", label=f"break {doc.break_K:.0f} K")
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(f"D$_{{{doc.species}}}$ (cm$^2$/s)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_configuration_conductivity(
    labels: list[str],
    sigma_mS_cm: list[float],
    intervals_mS_cm: list[tuple[float, float]],
    path: str | Path,
    temperature_K: float = 300.0,
) -> Path:
    """Sigma per configuration with its (asymmetric) interval, log scale, mS/cm.

    Args:
        labels: one label per entry (configurations, then e.g. the weighted values).
        sigma_mS_cm: central values in mS/cm.
        intervals_mS_cm: (low, high) per entry in mS/cm.
        path: output file.
        temperature_K: temperature of the values (axis label).
    """
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(labels) + 2), 3.8))
    y = np.asarray(sigma_mS_cm, dtype=float)
    low = np.array([lo for lo, _ in intervals_mS_cm])
    high = np.array([hi for _, hi in intervals_mS_cm])
    x = np.arange(len(labels))
    ax.errorbar(x, y, yerr=[y - low, high - y], fmt="o", capsize=4)
    ax.set_xticks(x, labels, rotation=20, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(f"σ({temperature_K:g} K) (mS/cm), 95% interval")
    return _save(fig, path)


def plot_region_diffusion(doc: RegionDocument, path: str | Path) -> Path:
    """D per region (bars with error bars) and atoms per region over time."""
    fig, (ax_d, ax_n) = plt.subplots(1, 2, figsize=(9, 3.5))
    names = [r.region for r in doc.regions]
    ax_d.bar(
        names,
        [r.D_cm2_s for r in doc.regions],
        yerr=[r.D_err_cm2_s for r in doc.regions],
        capsize=4,
    )
    ax_d.set_ylabel("D (cm$^2$/s)")
    for name, counts in doc.counts.items():
        ax_n.plot(doc.count_time_ps, counts, label=name)
    ax_n.set_xlabel("time (ps)")
    ax_n.set_ylabel("atoms in region")
    ax_n.legend(fontsize=8)
    return _save(fig, path)


@dataclass
class ConductivitySeries:
    """sigma(T) of one system with its extrapolation, for :func:`plot_conductivity_series`.

    Attributes:
        label: legend name.
        temperatures_K, sigma_mS_cm, sigma_err_mS_cm: the MD points.
        sigma_x_mS_cm, sigma_x_interval_mS_cm: sigma at the extrapolation temperature, 95 %.
        published_mS_cm: a published sigma there (None: none).
        break_K: a kink to mark (None: none).
    """

    label: str
    temperatures_K: list[float]
    sigma_mS_cm: list[float]
    sigma_err_mS_cm: list[float]
    sigma_x_mS_cm: float
    sigma_x_interval_mS_cm: tuple[float, float]
    published_mS_cm: float | None = None
    break_K: float | None = None


def plot_conductivity_series(
    series: list[ConductivitySeries], extrapolation_K: float, path: str | Path
) -> Path:
    """Log sigma vs 1000/T of several systems side by side, sigma at T_x and published."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, one in enumerate(series):
        color = f"C{k}"
        T = np.asarray(one.temperatures_K, dtype=float)
        ax.errorbar(
            1000 / T, one.sigma_mS_cm, yerr=one.sigma_err_mS_cm, fmt="o", color=color,
            capsize=3, label=one.label,
        )  # fmt: skip
        low, high = one.sigma_x_interval_mS_cm
        ax.errorbar(
            [1000 / extrapolation_K], [one.sigma_x_mS_cm],
            yerr=[[one.sigma_x_mS_cm - low], [high - one.sigma_x_mS_cm]],
            fmt="s", color=color, capsize=3,
        )  # fmt: skip
        if one.published_mS_cm is not None:
            ax.plot(
                [1000 / extrapolation_K], [one.published_mS_cm], "*", color=color, ms=12,
                mfc="none", label=f"{one.label} published",
            )  # fmt: skip
        if one.break_K is not None:
            ax.axvline(1000 / one.break_K, color=color, ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("σ (mS/cm)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_region_profile(
    region_distance_A: Sequence[float],
    regions: Sequence[RegionResult],
    profile_distance_A: Sequence[float],
    profile_density_A3: Sequence[float],
    count_time_ps: Sequence[float],
    relative_counts: dict[str, Sequence[float]],
    path: str | Path,
    published_cm2_s: dict[str, float] | None = None,
) -> Path:
    """D per region and Li density against distance from the GB plane; Li per region in time.

    Args:
        region_distance_A: middle of each region's slab, Å (one per ``regions``).
        regions: D per region with standard errors (cm²/s).
        profile_distance_A: bin centres of the density profile, Å.
        profile_density_A3: Li atoms per Å³ in those bins.
        count_time_ps: times of the counts, ps.
        relative_counts: Li per region over its first count, per region name.
        path: PNG to write.
        published_cm2_s: published D drawn as horizontal lines, label -> cm²/s.
    """
    fig, (ax_d, ax_n, ax_t) = plt.subplots(1, 3, figsize=(13, 3.6))
    ax_d.errorbar(
        region_distance_A,
        [r.D_cm2_s for r in regions],
        yerr=[r.D_err_cm2_s for r in regions],
        fmt="o",
        capsize=4,
        label="this run (±1 s.e.)",
    )
    for label, value in (published_cm2_s or {}).items():
        ax_d.axhline(value, ls="--", lw=1, color="gray")
        ax_d.annotate(label, (0, value), fontsize=7, va="bottom")
    for x, r in zip(region_distance_A, regions, strict=True):
        ax_d.annotate(
            r.region, (x, r.D_cm2_s), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    ax_d.set_xlabel("distance from GB plane (Å)")
    ax_d.set_ylabel("D (cm$^2$/s)")
    ax_d.legend(fontsize=7)
    ax_n.plot(profile_distance_A, profile_density_A3, drawstyle="steps-mid")
    ax_n.set_xlabel("distance from GB plane (Å)")
    ax_n.set_ylabel("Li density (atoms/Å$^3$), time average")
    for name, values in relative_counts.items():
        ax_t.plot(count_time_ps, values, label=name)
    ax_t.set_xlabel("time (ps)")
    ax_t.set_ylabel("Li in region / Li at start")
    ax_t.legend(fontsize=7)
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
