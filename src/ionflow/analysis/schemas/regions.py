"""Output documents of the region (GB slab) and site analyses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from ionflow.analysis.displacements import SpeciesTrajectory
from ionflow.analysis.regions import (
    REGION_NAMES,
    assign_slab_regions,
    density_profile,
    region_counts,
    region_diffusion,
)
from ionflow.analysis.sites import (
    assign_sites,
    density_sites,
    graph_connectivity,
    site_statistics,
)

MAX_COUNT_POINTS = 1000


class RegionResult(BaseModel):
    """D of one region."""

    region: str
    D_cm2_s: float = Field(description="diffusion coefficient in the region, cm^2/s")
    D_err_cm2_s: float = Field(
        description="standard error, cm^2/s (random-walk error x the whole run's observed "
        "excess, see ionflow.analysis.regions)"
    )
    mean_count: float = Field(description="mean number of diffusing atoms in the region")
    fit_window_ps: tuple[float, float] = Field(description="fit window, ps")


class RegionDocument(BaseModel):
    """D per slab around GB planes and the number of atoms per slab over time."""

    gb_planes_frac: list[float] = Field(description="GB plane positions (fractional)")
    axis: int = Field(description="lattice direction normal to the planes (0, 1, 2)")
    width_A: float = Field(description="slab width, Å")
    regions: list[RegionResult]
    count_time_ps: list[float] = Field(description="times of the stored counts, ps")
    counts: dict[str, list[int]] = Field(description="atoms per region at those times")
    profile_distance_A: list[float] = Field(
        [], description="distance from the nearest plane of the density bins, Å"
    )
    profile_density_A3: list[float] = Field(
        [], description="time-averaged number density in those bins, atoms/Å^3"
    )

    @classmethod
    def from_species_trajectory(
        cls,
        trajectory: SpeciesTrajectory,
        gb_planes_frac: Sequence[float],
        axis: int = 2,
        width_A: float = 10.0,
        profile_bin_A: float = 1.0,
        excess: float | None = None,
    ) -> RegionDocument:
        """Label atoms per frame by slab, fit D per region, density against distance.

        ``excess``: the whole species' error excess over the random walk, if the caller
        has it (see :func:`ionflow.analysis.regions.region_diffusion`).
        """
        labels = assign_slab_regions(trajectory, gb_planes_frac, axis, width_A)
        distance, density = density_profile(trajectory, gb_planes_frac, axis, profile_bin_A)
        counts = region_counts(labels)
        stride = max(1, len(counts) // MAX_COUNT_POINTS)
        results = [
            RegionResult(
                region=r.region,
                D_cm2_s=r.D_cm2_s,
                D_err_cm2_s=r.D_err_cm2_s,
                mean_count=r.mean_count,
                fit_window_ps=(r.fit_window_fs[0] / 1e3, r.fit_window_fs[1] / 1e3),
            )
            for r in region_diffusion(trajectory, labels, excess=excess)
        ]
        return cls(
            gb_planes_frac=list(gb_planes_frac),
            axis=axis,
            width_A=width_A,
            regions=results,
            count_time_ps=(trajectory.time_fs[::stride] / 1e3).tolist(),
            counts={name: counts[::stride, k].tolist() for k, name in enumerate(REGION_NAMES)},
            profile_distance_A=distance.tolist(),
            profile_density_A3=density.tolist(),
        )


class SiteDocument(BaseModel):
    """Jump statistics of the diffusing species between sites."""

    n_sites: int
    sites_from: Literal["first_frame", "density", "given"] = Field(
        "first_frame", description="first-frame positions, density maxima, or given sites"
    )
    n_jumps: int
    jumps_per_atom: float
    back_jump_fraction: float | None = Field(description="fraction of back jumps (i->j->i)")
    mean_residence_time_ps: float | None = Field(description="mean time between jumps, ps")
    graph_order_parameter: float | None = Field(
        None, description="GOP of the site-to-site jump graph (lower: more connected)"
    )
    n_visited_sites: int | None = Field(None, description="sites ever occupied")
    n_subgraphs: int | None = Field(None, description="connected subgraphs of the jump graph")
    largest_subgraph_fraction: float | None = Field(
        None, description="share of the visited sites in the largest subgraph"
    )

    @classmethod
    def from_species_trajectory(
        cls,
        trajectory: SpeciesTrajectory,
        sites_A: np.ndarray | None = None,
        sites_from: Literal["first_frame", "density"] = "first_frame",
    ) -> SiteDocument:
        """Assign sites (given, first-frame positions or density maxima), count jumps.

        Also the connectivity of the site-to-site jump graph (GOP, subgraphs).
        """
        source = "given" if sites_A is not None else sites_from
        if sites_A is None and sites_from == "density":
            sites_A = density_sites(trajectory)
        assigned = assign_sites(trajectory, sites_A)
        stats = site_statistics(assigned, trajectory.time_fs)
        graph = graph_connectivity(assigned)

        def finite(value: float, scale: float = 1.0) -> float | None:
            return None if np.isnan(value) else value * scale

        return cls(
            n_sites=trajectory.n_atoms if sites_A is None else len(sites_A),
            sites_from=source,
            n_jumps=stats.n_jumps,
            jumps_per_atom=stats.jumps_per_atom,
            back_jump_fraction=finite(stats.back_jump_fraction),
            mean_residence_time_ps=finite(stats.mean_residence_time_fs, 1e-3),
            graph_order_parameter=graph.graph_order_parameter,
            n_visited_sites=graph.n_sites,
            n_subgraphs=graph.n_subgraphs,
            largest_subgraph_fraction=graph.largest_subgraph_fraction,
        )
