"""Site variants side by side (the LSTH study: Li on 1a, ESGS, against Li on 24k, SQS).

Each site's configurations have their own report (:class:`PipelineReportDocument`: its
Arrhenius fits, Boltzmann weights only among that site's configurations, the published
values of that site). :class:`SiteComparisonDocument` puts the sites next to each other:
per configuration the piecewise Arrhenius fit (break search with the break's profile
interval, E_a below and above the kink with intervals that include the break's
uncertainty), and sigma at the extrapolation temperature (298 K in the study) from the
low-temperature segment when the kink is significant, else from the single line. Sites
are different structures: nothing is ever averaged or weighted across them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jobflow import Maker, job
from pydantic import BaseModel, Field

from ionflow.analysis.arrhenius import fit_piecewise_arrhenius
from ionflow.analysis.conductivity import nernst_einstein_mS_cm, weighted_conductivity_interval
from ionflow.analysis.schemas.diffusion import ArrheniusDocument
from ionflow.pipeline.report import PipelineReportDocument

BREAK_ALPHA = 0.05  # F-test level of a kept kink (fit_piecewise_arrhenius's default)


class ConfigurationKink(BaseModel):
    """One configuration of a site: Arrhenius line, break search, sigma at T_x."""

    index: int = Field(description="Index among the site's configurations.")
    weight: float = Field(description="Boltzmann weight among the site's configurations.")
    temperatures_K: list[float]
    sigma_mS_cm: list[float] = Field(description="Nernst-Einstein sigma per temperature.")
    sigma_err_mS_cm: list[float]
    Ea_eV: float = Field(description="One Arrhenius line over every temperature, eV.")
    Ea_err_eV: float
    break_searched: bool = Field(description="False with fewer than 5 temperatures.")
    break_significant: bool = False
    break_K: float | None = Field(None, description="Best break (kept or not), K.")
    break_interval_K: tuple[float, float] | None = Field(
        None, description="95 % profile interval of the break, within the scanned range, K."
    )
    break_p_value: float | None = Field(
        None, description="F-test of two segments against one line (break scanned: optimistic)."
    )
    delta_bic: float | None = None
    Ea_low_eV: float | None = Field(None, description="E_a below the break, eV.")
    Ea_low_err_eV: float | None = None
    Ea_low_interval_eV: tuple[float, float] | None = Field(
        None, description="95 %, over every break in its interval, eV."
    )
    Ea_high_eV: float | None = Field(None, description="E_a above the break, eV.")
    Ea_high_err_eV: float | None = None
    Ea_high_interval_eV: tuple[float, float] | None = None
    sigma_x_mS_cm: float = Field(description="sigma at the extrapolation temperature, mS/cm.")
    sigma_x_interval_mS_cm: tuple[float, float] = Field(description="95 % interval, mS/cm.")
    sigma_x_from: str = Field(description="'low-temperature segment' or 'one line'.")


class SiteResult(BaseModel):
    """One site variant: its configurations' fits and its published values."""

    label: str
    material: str
    formula: str
    n_atoms: int
    configurations: list[ConfigurationKink]
    main: int = Field(description="Index of the configuration of largest weight (the table's).")
    sigma_x_mS_cm: float = Field(
        description="sigma at T_x weighted over the site's configurations."
    )
    sigma_x_interval_mS_cm: tuple[float, float]
    published_Ea_eV: float | None = None
    published_Ea_quantity: str | None = None
    published_sigma_mS_cm: float | None = None
    published_Ea_high_eV: float | None = Field(None, description="Above the published kink.")
    published_break_K: float | None = None


class SiteComparisonDocument(BaseModel):
    """Site variants compared side by side (one task document; never averaged)."""

    name: str
    extrapolation_K: float
    oracle: str
    sites: list[SiteResult]
    run_warnings: list[str] = Field(
        default_factory=list,
        description="Sites left out, runs that failed and MD warnings, named by site "
        "(the sites' reports' run_warnings).",
    )
    notes: list[str] = Field(default_factory=list)


def configuration_kink(
    doc: ArrheniusDocument, index: int, weight: float, extrapolation_K: float
) -> ConfigurationKink:
    """The break search and sigma at ``extrapolation_K`` (K) of one Arrhenius analysis."""
    points = [t for t in doc.temperatures if np.isfinite(t.D_cm2_s) and t.D_cm2_s > 0]
    T = [t.temperature_K for t in points]
    D = [t.D_cm2_s for t in points]
    D_err = [t.D_err_cm2_s for t in points]
    runs = [run for t in doc.temperatures for run in t.runs]
    volume_per_ion_A3 = 1.0 / float(np.mean([r.n_species_atoms / r.volume_A3 for r in runs]))

    def sigma(d: float, temperature_K: float) -> float:
        return nernst_einstein_mS_cm(d, 1, volume_per_ion_A3, temperature_K)

    piece = fit_piecewise_arrhenius(T, D, D_err, alpha=BREAK_ALPHA)
    low_segment = piece is not None and piece.significant and extrapolation_K < piece.break_K
    if low_segment:
        D_x, D_low, D_high = piece.D_low_at(extrapolation_K)
    else:
        D_x, (D_low, D_high) = doc.D300_cm2_s, doc.D300_ci_cm2_s
    fields = {}
    if piece is not None:
        fields = {
            "break_significant": piece.significant,
            "break_K": piece.break_K,
            "break_interval_K": piece.break_interval_K,
            "break_p_value": piece.p_value,
            "delta_bic": piece.delta_bic,
            "Ea_low_eV": piece.Ea_low_eV,
            "Ea_low_err_eV": piece.Ea_low_err_eV,
            "Ea_low_interval_eV": piece.Ea_low_interval_eV,
            "Ea_high_eV": piece.Ea_high_eV,
            "Ea_high_err_eV": piece.Ea_high_err_eV,
            "Ea_high_interval_eV": piece.Ea_high_interval_eV,
        }
    return ConfigurationKink(
        index=index,
        weight=weight,
        temperatures_K=T,
        sigma_mS_cm=[sigma(d, t) for d, t in zip(D, T, strict=True)],
        sigma_err_mS_cm=[sigma(e, t) for e, t in zip(D_err, T, strict=True)],
        Ea_eV=doc.Ea_eV,
        Ea_err_eV=doc.Ea_err_eV,
        break_searched=piece is not None,
        sigma_x_mS_cm=sigma(D_x, extrapolation_K),
        sigma_x_interval_mS_cm=(sigma(D_low, extrapolation_K), sigma(D_high, extrapolation_K)),
        sigma_x_from="low-temperature segment" if low_segment else "one line",
        **fields,
    )


def _published(report: PipelineReportDocument, unit: str, nth: int = 0) -> dict | None:
    """The ``nth`` published value in ``unit`` (E_a: below, then above the kink)."""
    found = [p for p in report.published if p.get("unit") == unit]
    return found[nth] if len(found) > nth else None


def site_result(
    label: str, report: PipelineReportDocument, cell: tuple[str, int] | None = None
) -> SiteResult:
    """One site from its own report (its configurations, weights and published values).

    ``cell``: (formula, atoms) of the site's cell, for reports without relaxed structures.
    """
    weights = [c.weight for c in report.configurations] or [1.0] * len(report.arrhenius)
    weights = [w / sum(weights) for w in weights]  # < 1 in all where a configuration failed
    kinks = [
        configuration_kink(doc, index, weights[index], report.extrapolation_K)
        for index, doc in enumerate(report.arrhenius)
    ]
    main = int(np.argmax(weights))
    if len(kinks) == 1:
        value, interval = kinks[0].sigma_x_mS_cm, kinks[0].sigma_x_interval_mS_cm
    else:  # Boltzmann weights among this site's configurations only (one composition)
        combined = weighted_conductivity_interval(
            [k.sigma_x_mS_cm for k in kinks], [k.sigma_x_interval_mS_cm for k in kinks], weights
        )
        value, interval = combined.value_mS_cm, (combined.low_mS_cm, combined.high_mS_cm)
    first = report.configurations[main] if report.configurations else None
    formula, n_atoms = (first.formula, first.n_atoms) if first and first.n_atoms else ("", 0)
    if not n_atoms and cell is not None:
        formula, n_atoms = cell
    Ea, sigma = _published(report, "eV"), _published(report, "mS/cm")
    Ea_high, kink = _published(report, "eV", 1), _published(report, "K")
    return SiteResult(
        label=label,
        material=report.material,
        formula=formula,
        n_atoms=n_atoms,
        configurations=kinks,
        main=main,
        sigma_x_mS_cm=value,
        sigma_x_interval_mS_cm=interval,
        published_Ea_eV=Ea["value"] if Ea else None,
        published_Ea_quantity=Ea["quantity"] if Ea else None,
        published_sigma_mS_cm=sigma["value"] if sigma else None,
        published_Ea_high_eV=Ea_high["value"] if Ea_high else None,
        published_break_K=kink["value"] if kink else None,
    )


def site_notes(site: SiteResult, extrapolation_K: float) -> list[str]:
    """What a reader must know about one site's break search and extrapolation."""
    kink = site.configurations[site.main]
    name = f"Li@{site.label}"
    if not kink.break_searched:
        return [
            f"{name}: fewer than 5 temperatures with diffusion, no break search; E_a and "
            f"sigma({extrapolation_K:g} K) from one line"
        ]
    low, high = kink.break_interval_K
    where = f"{kink.break_K:.0f} K (95 % {low:.0f}-{high:.0f} K)"
    if not kink.break_significant:
        return [
            f"{name}: no significant kink (best break {where}, F-test p = "
            f"{kink.break_p_value:.2g} >= {BREAK_ALPHA:g}); E_a and sigma({extrapolation_K:g} K) "
            "from one line, the two segments' E_a are shown for reference only"
        ]
    notes = [
        f"{name}: kink at {where}, F-test p = {kink.break_p_value:.2g}; sigma("
        f"{extrapolation_K:g} K) extrapolated along the low-temperature segment"
    ]
    n_low = sum(t < kink.break_K for t in kink.temperatures_K)
    if n_low < 3:
        notes.append(
            f"WARNING: {name}: the low-temperature segment rests on {n_low} temperatures; "
            f"add temperatures below {kink.break_K:.0f} K for a trustworthy E_a there"
        )
    return notes


def compare_sites(
    name: str,
    labels: list[str],
    reports: list[PipelineReportDocument | None],
    cells: list[tuple[str, int]] | None = None,
) -> SiteComparisonDocument:
    """The comparison document of the sites ``labels`` from their own reports.

    ``cells``: (formula, atoms) of each site's first cell (shown when the report has no
    relaxed structure to take them from). A site whose report failed (None) or has no
    Arrhenius fit (its runs failed) is left out with a warning; the failed runs and MD
    warnings of every site's report are kept, named by site.
    """
    cells = cells or [None] * len(labels)
    warnings, sites, kept = [], [], []
    for label, report, cell in zip(labels, reports, cells, strict=True):
        if report is None:
            warnings.append(f"WARNING: Li@{label}: its report failed (see the failed jobs)")
            continue
        if not isinstance(report, PipelineReportDocument):
            report = PipelineReportDocument.model_validate(report)
        kept.append(report)
        warnings += [f"Li@{label}: {line}" for line in report.run_warnings]
        if not report.arrhenius:
            warnings.append(
                f"WARNING: Li@{label}: no configuration has an Arrhenius fit (its runs "
                "failed): the site is not compared"
            )
            continue
        sites.append(site_result(label, report, cell))
        held = sum(c.weight for c in report.configurations)
        if held < 1.0 - 1e-9:
            warnings.append(
                f"WARNING: Li@{label}: sigma weighted over the configurations with a fit, "
                f"which hold {held:.0%} of the Boltzmann weight (the others' runs failed)"
            )
    extrapolation_K = kept[0].extrapolation_K if kept else 300.0
    notes = [
        "site variants are different structures: each has its own Arrhenius fit and its "
        "conductivities are never averaged or Boltzmann-weighted across sites",
        "the break temperature is chosen to fit best, so its F-test p-value is optimistic",
    ]
    for site in sites:
        notes += site_notes(site, extrapolation_K)
        if len(site.configurations) > 1:
            notes.append(
                f"Li@{site.label}: {len(site.configurations)} configurations, sigma weighted "
                "among them (Boltzmann, relaxed energies); E_a of the largest weight shown"
            )
    for report in kept:
        notes += [n for n in report.notes if n not in notes]
    return SiteComparisonDocument(
        name=name,
        extrapolation_K=extrapolation_K,
        oracle=kept[0].oracle if kept else "",
        sites=sites,
        run_warnings=warnings,
        notes=notes,
    )


@dataclass
class SiteComparisonMaker(Maker):
    """The side-by-side comparison job of the site variants' reports.

    Attributes:
        name: job name.
        workflow_name: shown on the comparison.
        labels: the site variants, in the order of the reports.
        cells: (formula, atoms) of each site's first cell.
    """

    name: str = "site comparison"
    workflow_name: str = ""
    labels: list[str] | None = None
    cells: list[tuple[str, int]] | None = None

    @job(output_schema=SiteComparisonDocument)
    def make(self, reports: list[PipelineReportDocument]) -> SiteComparisonDocument:
        """Compare the sites from their own reports."""
        return compare_sites(self.workflow_name, list(self.labels or []), reports, self.cells)


def plot_site_arrhenius(doc: SiteComparisonDocument, path: str | Path) -> Path:
    """Sigma against 1000/T of every site (its main configuration), sigma at T_x (95 %)."""
    from ionflow.analysis.plotting import ConductivitySeries, plot_conductivity_series

    series = []
    for site in doc.sites:
        kink = site.configurations[site.main]
        series.append(
            ConductivitySeries(
                label=f"Li@{site.label}",
                temperatures_K=kink.temperatures_K,
                sigma_mS_cm=kink.sigma_mS_cm,
                sigma_err_mS_cm=kink.sigma_err_mS_cm,
                sigma_x_mS_cm=site.sigma_x_mS_cm,
                sigma_x_interval_mS_cm=site.sigma_x_interval_mS_cm,
                published_mS_cm=site.published_sigma_mS_cm,
                break_K=kink.break_K if kink.break_significant else None,
            )
        )
    return plot_conductivity_series(series, doc.extrapolation_K, path)
