"""Makers of the analysis stage: one trajectory -> D; several temperatures -> E_a."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from jobflow import Maker, job

from ionflow.analysis.displacements import collect_species_trajectory
from ionflow.analysis.readers import open_trajectory
from ionflow.analysis.regions import random_walk_excess
from ionflow.analysis.schemas.diffusion import ArrheniusDocument, DiffusionDocument
from ionflow.analysis.schemas.regions import RegionDocument, SiteDocument
from ionflow.errors import MissingResultsError

logger = logging.getLogger(__name__)


@dataclass
class DiffusionAnalysisMaker(Maker):
    """Analyse one MD trajectory: MSD, D with error, Nernst-Einstein sigma.

    Attributes:
        name: job name.
        species: diffusing species (element symbol).
        type_map: LAMMPS type -> element (``{"1": "Li"}``), for dumps without elements.
        timestep_fs: MD time step in fs (None: times stored in the file).
        window_fs: fit window (start, end) in fs; None chooses it from the MSD.
        gb_planes_frac: GB plane positions (fractional) for D per slab; None: no regions.
        region_axis: lattice direction normal to the GB planes (0, 1, 2).
        region_width_A: slab width in Å (GB, Near_GB, Far_GB, Bulk).
        profile_bin_A: bin width of the density profile against distance from the planes, Å.
        site_analysis: also count jumps between sites and the jump graph's connectivity.
        sites_from: the sites of that analysis: ``first_frame`` positions of the species,
            or the maxima of its ``density`` over the run.
    """

    name: str = "diffusion analysis"
    species: str = "Li"
    type_map: dict[str, str] = field(default_factory=dict)
    timestep_fs: float | None = None
    window_fs: tuple[float, float] | None = None
    gb_planes_frac: list[float] | None = None
    region_axis: int = 2
    region_width_A: float = 10.0
    profile_bin_A: float = 1.0
    site_analysis: bool = False
    sites_from: Literal["first_frame", "density"] = "first_frame"

    @job(output_schema=DiffusionDocument)
    def make(
        self,
        trajectory: str | None,
        temperature_K: float | None,
        type_map: dict[str, str] | None = None,
        gb_planes_frac: list[float] | None = None,
        md_warnings: list[str] | None = None,
    ) -> DiffusionDocument:
        """Analyse ``trajectory`` (a file path) at ``temperature_K`` (K).

        ``type_map`` (e.g. the MD job's ``output.type_map``) and ``gb_planes_frac`` (e.g. a
        GB structure job's provenance) replace the Maker's; ``md_warnings`` (the MD job's
        ``output.warnings``) go into the document.

        Raises:
            MissingResultsError: no trajectory, because the MD job failed. A flow that
                gathers runs lets this job start after a failed MD job (``OnMissing.NONE``:
                FireWorks never readies the grandchildren of a FIZZLED job) only to fail
                here, so the job gathering the analyses runs without it.
        """
        if trajectory is None or temperature_K is None:
            raise MissingResultsError(
                "no trajectory to analyse: the MD job of this run failed (see its error)"
            )
        gb_planes_frac = gb_planes_frac or self.gb_planes_frac
        reader = open_trajectory(trajectory, type_map or self.type_map)
        positions = collect_species_trajectory(reader, self.species, self.timestep_fs)
        doc = DiffusionDocument.from_species_trajectory(
            positions, temperature_K, self.window_fs, str(trajectory)
        )
        if not doc.linear_regime_found:
            low, high = doc.D_interval_cm2_s
            logger.warning(
                "%s at %g K: no linear (diffusive) MSD regime in %.3g ps; D = %.3e cm2/s, "
                "95%% over %d fit windows %.3e to %.3e; run longer for a reliable D",
                trajectory, temperature_K, doc.total_time_ps, doc.D_cm2_s,
                doc.n_fit_windows, low, high,
            )  # fmt: skip
        if gb_planes_frac:
            # the document's fit is the whole species' automatic-window fit the region
            # errors scale with, unless a window was given: then the regions measure it
            excess = None
            if self.window_fs is None and doc.D_random_walk_err_cm2_s is not None:
                excess = random_walk_excess(
                    doc.D_statistical_err_cm2_s, doc.D_random_walk_err_cm2_s
                )
            doc.regions = RegionDocument.from_species_trajectory(
                positions, gb_planes_frac, self.region_axis, self.region_width_A,
                self.profile_bin_A, excess,
            )  # fmt: skip
        if self.site_analysis:
            doc.sites = SiteDocument.from_species_trajectory(positions, sites_from=self.sites_from)
        doc.md_warnings = list(md_warnings or [])
        return doc


@dataclass
class ArrheniusMaker(Maker):
    """Combine diffusion results over temperatures into an Arrhenius analysis.

    Attributes:
        name: job name.
        extrapolation_K: temperature of the extrapolated D and sigma, in K.
    """

    name: str = "arrhenius"
    extrapolation_K: float = 300.0

    @job(output_schema=ArrheniusDocument)
    def make(
        self,
        diffusion_documents: list[DiffusionDocument | None],
        runs: list[tuple[float, int]] | None = None,
    ) -> ArrheniusDocument:
        """Fit E_a from the outputs of :class:`DiffusionAnalysisMaker` jobs.

        ``runs``: (temperature K, run number) of each document, as the flow planned them;
        a document that is None (its MD or analysis job failed; the flow gives this job
        ``OnMissing.NONE``) is left out and named (:meth:`ArrheniusDocument.from_runs`).
        """
        return ArrheniusDocument.from_runs(diffusion_documents, runs, self.extrapolation_K)
