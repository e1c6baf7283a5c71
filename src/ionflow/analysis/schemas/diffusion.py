"""Output documents of the analysis stage (pydantic, MSON-friendly, small).

``DiffusionDocument``: one trajectory at one temperature -> D, sigma with errors.
``ArrheniusDocument``: several temperatures (repeated runs combined) -> E_a, D(300 K),
sigma(300 K) with a confidence interval, and the break temperature if significant.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, model_validator

from ionflow.analysis.arrhenius import fit_arrhenius, fit_piecewise_arrhenius
from ionflow.analysis.conductivity import haven_ratio, nernst_einstein_mS_cm
from ionflow.analysis.diffusion import Z_95, combine_estimates, fit_diffusion
from ionflow.analysis.displacements import SpeciesTrajectory, collect_species_trajectory
from ionflow.analysis.msd import MSDResult, species_msd
from ionflow.analysis.readers import open_trajectory
from ionflow.analysis.schemas.regions import RegionDocument, SiteDocument
from ionflow.errors import IonflowInputError, MissingResultsError

MSD_CURVE_POINTS = 200


def run_label(temperature_K: float, run: int) -> str:
    """How reports name one MD run of a temperature grid: ``1325 K #1`` (run from 1)."""
    if math.isnan(temperature_K):  # a failed run of a grid given without its plan
        return f"run {run}"
    return f"{temperature_K:g} K #{run}"


class DiffusionDocument(BaseModel):
    """Diffusion and conductivity of one species in one trajectory."""

    trajectory: str | None = Field(None, description="trajectory file")
    species: str = Field(description="diffusing species")
    temperature_K: float = Field(description="temperature in K")
    D_cm2_s: float = Field(description="tracer diffusion coefficient, cm^2/s")
    D_err_cm2_s: float = Field(
        description="standard error of D, cm^2/s, from the scatter of squared displacements "
        "the run shows (hops, concerted atoms; see ionflow.analysis.diffusion); fit-window "
        "spread included when linear_regime_found is false"
    )
    D_interval_cm2_s: tuple[float, float] = Field(
        description="95% interval of D, cm^2/s (over all plausible fit windows when "
        "linear_regime_found is false)"
    )
    D_statistical_err_cm2_s: float = Field(
        description="standard error of D in its fit window alone, cm^2/s"
    )
    D_random_walk_err_cm2_s: float | None = Field(
        None,
        description="cross-check: the error N independent Gaussian walkers would give, "
        "cm^2/s (too small for hopping ions; None in documents stored before it existed)",
    )
    n_fit_windows: int = Field(1, description="fit windows behind the interval")
    D_xyz_cm2_s: list[float] = Field(description="D along x, y, z, cm^2/s")
    D_xyz_err_cm2_s: list[float] = Field(description="standard errors of D_xyz, cm^2/s")
    D_sigma_cm2_s: float | None = Field(None, description="collective (charge) D, cm^2/s")
    D_sigma_err_cm2_s: float | None = Field(None, description="its standard error, cm^2/s")
    haven_ratio: float | None = Field(
        None, description="D_tracer / D_sigma (None without a positive D_sigma)"
    )
    sigma_mS_cm: float = Field(description="Nernst-Einstein conductivity from D, mS/cm")
    sigma_err_mS_cm: float = Field(description="standard error of sigma, mS/cm")
    sigma_interval_mS_cm: tuple[float, float] = Field(description="95% interval, mS/cm")
    n_species_atoms: int = Field(description="number of diffusing atoms")
    n_atoms: int = Field(description="atoms in the cell")
    volume_A3: float = Field(description="mean cell volume, Å^3")
    n_frames: int = Field(description="frames analysed")
    total_time_ps: float = Field(description="trajectory length, ps")
    fit_window_ps: tuple[float, float] = Field(description="fit window (start, end), ps")
    linear_regime_found: bool = Field(
        description="the log-log slope of the MSD reached 1 (diffusive regime); if false, "
        "D is the median over plausible fit windows and its interval spans them"
    )
    n_eff_jumps: float = Field(description="effective number of jumps (He et al. 2018)")
    rsd_he: float | None = Field(
        description="He et al. relative standard deviation estimate of D (None without a "
        "jump: infinite, which a JSON database refuses)"
    )
    msd_time_ps: list[float] = Field(description="lag times of the stored MSD curve, ps")
    msd_A2: list[float] = Field(description="total MSD at those lags, Å^2")
    msd_xyz_A2: list[list[float]] = Field(description="per-axis MSD at those lags, Å^2")
    regions: RegionDocument | None = Field(None, description="D per GB slab, if requested")
    sites: SiteDocument | None = Field(None, description="site jump statistics, if requested")
    md_warnings: list[str] = Field(
        default_factory=list,
        description="warnings of the MD run behind the trajectory (e.g. its core-repulsion "
        "wall acted): the D stands on configurations the potential was not trained on",
    )

    @model_validator(mode="before")
    @classmethod
    def _intervals_of_older_documents(cls, data: object) -> object:
        """Documents stored before the intervals existed: D +- 1.96 err (95 %)."""
        if isinstance(data, dict) and "D_interval_cm2_s" not in data and "D_cm2_s" in data:
            D, err = data["D_cm2_s"], data.get("D_err_cm2_s", 0.0)
            sigma, sigma_err = data.get("sigma_mS_cm", 0.0), data.get("sigma_err_mS_cm", 0.0)
            data = {
                **data,
                "D_interval_cm2_s": (D - Z_95 * err, D + Z_95 * err),
                "D_statistical_err_cm2_s": err,
                "sigma_interval_mS_cm": (sigma - Z_95 * sigma_err, sigma + Z_95 * sigma_err),
            }
        return data

    @classmethod
    def from_msd(
        cls,
        msd: MSDResult,
        temperature_K: float,
        species: str,
        volume_A3: float,
        n_atoms: int,
        window_fs: tuple[float, float] | None = None,
        trajectory: str | None = None,
    ) -> DiffusionDocument:
        """Fit D from an MSD and convert to sigma (units: K, Å^3, fs)."""
        fit = fit_diffusion(msd, window_fs=window_fs)
        sigma = nernst_einstein_mS_cm(fit.D_cm2_s, msd.n_atoms, volume_A3, temperature_K)
        per_D = sigma / fit.D_cm2_s if fit.D_cm2_s else 0.0
        n = len(msd.time_fs)
        idx = np.unique(np.geomspace(1, n - 1, MSD_CURVE_POINTS).astype(int))
        return cls(
            trajectory=trajectory,
            species=species,
            temperature_K=temperature_K,
            D_cm2_s=fit.D_cm2_s,
            D_err_cm2_s=fit.D_err_cm2_s,
            D_interval_cm2_s=fit.D_interval_cm2_s,
            D_statistical_err_cm2_s=fit.D_statistical_err_cm2_s,
            D_random_walk_err_cm2_s=fit.D_random_walk_err_cm2_s,
            n_fit_windows=fit.n_windows,
            D_xyz_cm2_s=fit.D_xyz_cm2_s,
            D_xyz_err_cm2_s=fit.D_xyz_err_cm2_s,
            D_sigma_cm2_s=fit.D_sigma_cm2_s,
            D_sigma_err_cm2_s=fit.D_sigma_err_cm2_s,
            # None (never NaN: a JSON database refuses NaN) where undefined: no collective
            # MSD, or no diffusion seen in either coefficient (short runs)
            haven_ratio=haven_ratio(fit.D_cm2_s, fit.D_sigma_cm2_s)
            if fit.D_sigma_cm2_s is not None
            else None,
            sigma_mS_cm=sigma,
            sigma_err_mS_cm=abs(per_D) * fit.D_err_cm2_s,
            sigma_interval_mS_cm=(per_D * fit.D_interval_cm2_s[0], per_D * fit.D_interval_cm2_s[1]),
            n_species_atoms=msd.n_atoms,
            n_atoms=n_atoms,
            volume_A3=volume_A3,
            n_frames=n,
            total_time_ps=msd.total_time_fs / 1e3,
            fit_window_ps=(fit.fit_window_fs[0] / 1e3, fit.fit_window_fs[1] / 1e3),
            linear_regime_found=fit.linear_regime_found,
            n_eff_jumps=fit.n_eff_jumps,
            rsd_he=fit.rsd_he if np.isfinite(fit.rsd_he) else None,
            msd_time_ps=(msd.time_fs[idx] / 1e3).tolist(),
            msd_A2=msd.msd[idx].tolist(),
            msd_xyz_A2=msd.msd_xyz[idx].tolist(),
        )

    @classmethod
    def from_species_trajectory(
        cls,
        trajectory: SpeciesTrajectory,
        temperature_K: float,
        window_fs: tuple[float, float] | None = None,
        path: str | None = None,
    ) -> DiffusionDocument:
        """Analyse unwrapped positions already in memory."""
        msd = species_msd(trajectory)
        return cls.from_msd(
            msd,
            temperature_K,
            trajectory.species,
            trajectory.mean_volume_A3,
            trajectory.n_atoms_total,
            window_fs,
            path,
        )

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        species: str,
        temperature_K: float,
        type_map: Mapping[str, str] | None = None,
        timestep_fs: float | None = None,
        window_fs: tuple[float, float] | None = None,
        fmt: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> DiffusionDocument:
        """Read a trajectory file and analyse it (see ``collect_species_trajectory``)."""
        if temperature_K <= 0:
            raise IonflowInputError(f"temperature must be positive (K), got {temperature_K}")
        reader = open_trajectory(path, type_map, fmt)
        trajectory = collect_species_trajectory(reader, species, timestep_fs, progress=progress)
        return cls.from_species_trajectory(trajectory, temperature_K, window_fs, str(path))


class TemperatureResult(BaseModel):
    """Repeated runs at one temperature, combined."""

    temperature_K: float
    D_cm2_s: float
    D_err_cm2_s: float
    sigma_mS_cm: float
    sigma_err_mS_cm: float
    n_runs: int
    runs: list[DiffusionDocument]


class ArrheniusDocument(BaseModel):
    """Arrhenius analysis over temperatures: E_a, extrapolated D and sigma at 300 K."""

    species: str
    Ea_eV: float = Field(description="activation energy, eV")
    Ea_err_eV: float = Field(description="standard error of E_a, eV")
    D0_cm2_s: float = Field(description="pre-exponential factor, cm^2/s")
    extrapolation_K: float = Field(300.0, description="temperature of the extrapolation, K")
    D300_cm2_s: float = Field(description="D extrapolated to extrapolation_K, cm^2/s")
    D300_ci_cm2_s: tuple[float, float] = Field(description="95% interval of D300, cm^2/s")
    sigma300_mS_cm: float = Field(description="sigma at extrapolation_K, mS/cm")
    sigma300_ci_mS_cm: tuple[float, float] = Field(description="95% interval, mS/cm")
    break_K: float | None = Field(None, description="significant Arrhenius break, K")
    break_candidate_K: float | None = Field(None, description="best break even if not kept")
    break_p_value: float | None = Field(None, description="F-test p-value of the break")
    Ea_low_eV: float | None = Field(None, description="E_a below the break, eV")
    Ea_high_eV: float | None = Field(None, description="E_a above the break, eV")
    delta_bic: float | None = Field(None, description="BIC(two segments) - BIC(one line)")
    temperatures: list[TemperatureResult]
    excluded_K: list[float] = Field(
        default_factory=list,
        description="temperatures left out of the fit: no diffusion seen (D <= 0), K",
    )
    n_temperatures_planned: int | None = Field(
        None,
        description="temperatures of the MD grid (None: those of ``temperatures``); more "
        "than ``temperatures`` holds when every run of a temperature failed",
    )
    missing_runs: list[str] = Field(
        default_factory=list,
        description="runs left out because their MD or analysis job failed ('1325 K #1')",
    )
    md_warnings: list[str] = Field(
        default_factory=list,
        description="warnings of the MD runs used, one line per run ('1200 K #2: ...')",
    )

    @property
    def n_temperatures_fitted(self) -> int:
        """Temperatures in the Arrhenius fit (those with diffusion seen)."""
        return len(self.temperatures) - len(self.excluded_K)

    def missing_runs_warning(self) -> str | None:
        """One sentence naming the failed runs and how much of the grid the fit used."""
        if not self.missing_runs:
            return None
        planned = self.n_temperatures_planned or len(self.temperatures)
        return (
            f"WARNING: run(s) {', '.join(self.missing_runs)} failed (their MD or analysis job "
            f"failed) and are left out: E_a from {self.n_temperatures_fitted} of {planned} "
            "temperatures"
        )

    @classmethod
    def from_runs(
        cls,
        documents: Sequence[DiffusionDocument | None],
        runs: Sequence[tuple[float, int]] | None = None,
        extrapolation_K: float = 300.0,
    ) -> ArrheniusDocument:
        """The Arrhenius analysis of a temperature grid whose failed runs are None.

        Args:
            documents: one per run; None where the run's MD or analysis job failed (a job
                gathering them with ``OnMissing.NONE`` receives None there).
            runs: (temperature K, run number from 1) of each entry, from the flow that
                planned the grid; None: the entries are numbered in order.
            extrapolation_K: temperature of the extrapolated D and sigma, K.

        Raises:
            MissingResultsError: failed runs left fewer than two temperatures.
        """
        if runs is None:
            runs = [(d.temperature_K if d else math.nan, k + 1) for k, d in enumerate(documents)]
        if len(runs) != len(documents):
            raise IonflowInputError(f"{len(documents)} runs given for {len(runs)} planned")
        missing = [run_label(*run) for run, doc in zip(runs, documents, strict=True) if doc is None]
        used = [
            (
                run,
                doc
                if isinstance(doc, DiffusionDocument)
                else DiffusionDocument.model_validate(doc),
            )
            for run, doc in zip(runs, documents, strict=True)
            if doc is not None
        ]
        planned = len({t for t, _ in runs})
        left = sorted({doc.temperature_K for _, doc in used})
        if missing and len(left) < 2:
            raise MissingResultsError(
                f"run(s) {', '.join(missing)} failed: {len(left)} of {planned} temperatures "
                f"left ({', '.join(f'{t:g} K' for t in left) or 'none'}); an Arrhenius fit "
                "needs two or more"
            )
        doc = cls.from_diffusion_documents([d for _, d in used], extrapolation_K)
        doc.n_temperatures_planned = planned
        doc.missing_runs = missing
        doc.md_warnings = [
            f"{run_label(*run)}: {'; '.join(dict.fromkeys(d.md_warnings))}"
            for run, d in used
            if d.md_warnings
        ]
        return doc

    @classmethod
    def from_diffusion_documents(
        cls, documents: Sequence[DiffusionDocument], extrapolation_K: float = 300.0
    ) -> ArrheniusDocument:
        """Combine runs per temperature and fit the Arrhenius law.

        sigma at ``extrapolation_K`` uses the mean number density of all runs.

        Raises:
            IonflowInputError: fewer than two temperatures or mixed species.
        """
        if not documents:
            raise IonflowInputError("no runs given for the Arrhenius fit")
        species = {doc.species for doc in documents}
        if len(species) > 1:
            raise IonflowInputError(f"runs of different species: {sorted(species)}")
        by_T: dict[float, list[DiffusionDocument]] = defaultdict(list)
        for doc in documents:
            by_T[doc.temperature_K].append(doc)
        if len(by_T) < 2:
            raise IonflowInputError(
                "an Arrhenius fit needs runs at two or more temperatures (got "
                f"{', '.join(f'{t:g} K' for t in by_T)})"
            )
        temps = []
        for T in sorted(by_T):
            runs = by_T[T]
            D, D_err = combine_estimates([r.D_cm2_s for r in runs], [r.D_err_cm2_s for r in runs])
            s, s_err = combine_estimates(
                [r.sigma_mS_cm for r in runs], [r.sigma_err_mS_cm for r in runs]
            )
            temps.append(
                TemperatureResult(
                    temperature_K=T,
                    D_cm2_s=D,
                    D_err_cm2_s=D_err,
                    sigma_mS_cm=s,
                    sigma_err_mS_cm=s_err,
                    n_runs=len(runs),
                    runs=runs,
                )
            )
        fitted = [t for t in temps if np.isfinite(t.D_cm2_s) and t.D_cm2_s > 0]
        excluded = [t.temperature_K for t in temps if t not in fitted]
        if excluded and len(fitted) >= 2:
            warnings.warn(
                f"no diffusion seen at {', '.join(f'{t:g} K' for t in excluded)} (D <= 0): "
                "left out of the Arrhenius fit; run longer or hotter there",
                stacklevel=2,
            )
            temps_fit = fitted
        else:
            temps_fit = temps  # fit_arrhenius names the problem
        T = [t.temperature_K for t in temps_fit]
        D = [t.D_cm2_s for t in temps_fit]
        D_err = [t.D_err_cm2_s for t in temps_fit]
        line = fit_arrhenius(T, D, D_err)
        piece = fit_piecewise_arrhenius(T, D, D_err)
        D300, low, high = line.D_at(extrapolation_K)
        density = np.mean([doc.n_species_atoms / doc.volume_A3 for doc in documents])

        def sigma(d: float) -> float:
            return nernst_einstein_mS_cm(d, 1, 1.0 / density, extrapolation_K)

        return cls(
            species=species.pop(),
            Ea_eV=line.Ea_eV,
            Ea_err_eV=line.Ea_err_eV,
            D0_cm2_s=float(np.exp(line.ln_D0)),
            extrapolation_K=extrapolation_K,
            D300_cm2_s=D300,
            D300_ci_cm2_s=(low, high),
            sigma300_mS_cm=sigma(D300),
            sigma300_ci_mS_cm=(sigma(low), sigma(high)),
            break_K=piece.break_K if piece and piece.significant else None,
            break_candidate_K=piece.break_K if piece else None,
            break_p_value=piece.p_value if piece else None,
            Ea_low_eV=piece.Ea_low_eV if piece else None,
            Ea_high_eV=piece.Ea_high_eV if piece else None,
            delta_bic=piece.delta_bic if piece else None,
            temperatures=temps,
            excluded_K=excluded if len(fitted) >= 2 else [],
        )


def arrhenius_run_warnings(what: str, doc: ArrheniusDocument | None) -> list[str]:
    """What a report says of the runs behind one Arrhenius analysis, ``what`` naming it.

    One line when the analysis failed (None: its job found too few temperatures left);
    else one line naming its failed runs, if any, and one per run whose MD warned.
    """
    if doc is None:
        return [
            f"WARNING: {what}: no Arrhenius fit, its analysis job failed (runs failed, too "
            "few temperatures left: see the failed jobs); left out"
        ]
    missing = doc.missing_runs_warning()
    return [f"{what}: {missing}"] * bool(missing) + [
        f"{what}, MD {line}" for line in doc.md_warnings
    ]
