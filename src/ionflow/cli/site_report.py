"""The site comparison of a workflow with ``site_variants``, printed as a table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()


def _interval(value: float | None, err: float | None, interval: tuple | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}"
    if err is not None:
        text += f" ± {err:.3f}"
    if interval is not None:
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text


def print_site_comparison(report: dict, plot_dir: Path | None = None) -> None:
    """Print the sites side by side (never averaged); write their Arrhenius plot."""
    from ionflow.pipeline.report import interval_text
    from ionflow.pipeline.site_comparison import SiteComparisonDocument, plot_site_arrhenius

    doc = SiteComparisonDocument.model_validate(report)
    T_x = f"{doc.extrapolation_K:g} K"
    table = Table(title=f"ionflow site comparison: {doc.name} (labels: {doc.oracle})")
    for column in ("", *(f"Li@{site.label} ({site.material})" for site in doc.sites)):
        table.add_column(column)
    kinks = [site.configurations[site.main] for site in doc.sites]
    rows = {
        "cell": [f"{s.formula}, {s.n_atoms} atoms" for s in doc.sites],
        "temperatures (K)": [
            f"{min(k.temperatures_K):g}-{max(k.temperatures_K):g} ({len(k.temperatures_K)})"
            for k in kinks
        ],
        "E_a one line (eV)": [_interval(k.Ea_eV, k.Ea_err_eV, None) for k in kinks],
        "break (K) [95 %]": [
            "no search"
            if not k.break_searched
            else f"{k.break_K:.0f} [{k.break_interval_K[0]:.0f}, {k.break_interval_K[1]:.0f}]"
            + (f", p = {k.break_p_value:.2g}")
            + ("" if k.break_significant else " (not significant)")
            for k in kinks
        ],
        "E_a below kink (eV) [95 %]": [
            _interval(k.Ea_low_eV, k.Ea_low_err_eV, k.Ea_low_interval_eV) for k in kinks
        ],
        "E_a above kink (eV) [95 %]": [
            _interval(k.Ea_high_eV, k.Ea_high_err_eV, k.Ea_high_interval_eV) for k in kinks
        ],
        f"σ({T_x}) mS/cm": [
            interval_text(s.sigma_x_mS_cm, s.sigma_x_interval_mS_cm, unit="")
            + f" ({s.configurations[s.main].sigma_x_from})"
            for s in doc.sites
        ],
        "published E_a (eV)": [
            "-"
            if s.published_Ea_eV is None
            else f"{s.published_Ea_eV:g} ({s.published_Ea_quantity})"
            for s in doc.sites
        ],
        "published E_a above kink (eV)": [
            "-" if s.published_Ea_high_eV is None else f"{s.published_Ea_high_eV:g}"
            for s in doc.sites
        ],
        "published kink (K)": [
            "-" if s.published_break_K is None else f"{s.published_break_K:g}" for s in doc.sites
        ],
        "published σ(298 K) mS/cm": [
            "-" if s.published_sigma_mS_cm is None else f"{s.published_sigma_mS_cm:g}"
            for s in doc.sites
        ],
    }
    for name, values in rows.items():
        table.add_row(name, *values)
    console.print(table)
    for line in doc.run_warnings:
        console.print(f"warning: {line}")
    for note in doc.notes:
        console.print(f"note: {note}")
    if plot_dir is not None and doc.sites:
        path = plot_site_arrhenius(doc, Path(plot_dir) / "arrhenius_sites.png")
        console.print(f"Arrhenius plot of the sites: {path}")
