"""The ``grain_boundary:`` section of a workflow spec (the argyrodite GB study).

Defaults are the study's (``papers/argyrodite-mtp.txt`` section 3.3, Fig. 4 and 5): (021)
surfaces of the 0 % and 50 % X@4c configurations, +-5 % strain and 10 ps AIMD (2
configurations x 3 cells x 2 temperatures x 100 snapshots = the paper's 1200 structures),
active learning on the ~500-atom Σ5[100](021) models, production MD of a 3x3 supercell of
the three-times-expanded model (14,040 atoms, 30 x 66 x 132 Å) at 350 K for 10 ns, regions
of 10 Å. Kept apart from :mod:`ionflow.pipeline.spec`, which holds one field of this type.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class _GbSection(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GbSurfaceSpec(_GbSection):
    """Surface models added to the bulk training set before any GB is explored."""

    miller_index: tuple[int, int, int] = (0, 2, 1)
    min_slab_A: float = Field(8.0, gt=0, description="Slab thickness (at least), Å.")
    vacuum_A: float = Field(12.0, gt=0, description="Vacuum thickness (at least), Å.")
    strain_magnitudes: list[Annotated[float, Field(gt=-1, lt=1)]] = [-0.05, 0.05]
    strain_directions: list[Literal["a", "b", "c", "abc"]] = ["abc"]
    aimd_temperatures_K: list[PositiveFloat] = Field([300.0, 600.0], min_length=1)
    aimd_duration_ps: float = Field(10.0, gt=0)
    aimd_snapshots: int = Field(100, ge=1, description="Snapshots per AIMD run.")


class GbLearningSpec(_GbSection):
    """Both active-learning loops: on the surface slabs, then on the GB models."""

    gamma_select: float = Field(2.0, gt=0)
    gamma_break: float = Field(10.0, gt=0)
    max_iterations: int = Field(10, ge=1)
    gb_max_iterations: int | None = Field(
        None,
        ge=1,
        description="Iterations of the GB loop (None: max_iterations): the GB model is where "
        "production finds what the slabs never showed.",
    )
    max_selected_per_iteration: int = Field(50, ge=1)
    temperatures_K: list[PositiveFloat] = Field([350.0, 600.0], min_length=1)
    runs_per_temperature: int = Field(
        1,
        ge=1,
        description="Exploration MD runs per cell and T, each its own velocities (one: "
        "every GB snapshot already gives several neighbourhood cuts to choose from).",
    )
    md_steps: int = Field(10000, ge=1, description="Exploration MD steps per cell and T.")


class GbNeighbourhoodSpec(_GbSection):
    """Neighbourhood mode: a small periodic cell cut around each extrapolative atom."""

    radius_A: float = Field(6.0, gt=0, description="Kept around the atom, Å (>= mtp.r_cut_A).")
    gap_A: float = Field(5.0, gt=0, description="Vacuum between periodic images, Å.")
    max_atoms: int = Field(200, ge=1, description="Largest cell ever labelled.")
    max_cuts_per_configuration: int = Field(4, ge=1)
    shape: Literal["sphere", "slab"] = Field(
        "slab",
        description="sphere: a cluster of radius_A in vacuum; slab: the GB model's plane kept "
        "periodic, radius_A either side of the atom along the normal (sphere cuts are mostly "
        "surface atoms: refits with them lost atoms in the tiny study's GB MD within 0.13 ps).",
    )
    units: dict[str, PositiveFloat] = Field(
        {"P": 2.5},
        description="Species -> bond length (Å) of covalent units every cut keeps whole "
        "(PS4 tetrahedra: no cut leaves a broken polyanion at its faces); {} for none.",
    )


class GbModelSpec(_GbSection):
    """The Σ5[100](021) models: small ones for learning, a large one for production."""

    sigma: int = Field(5, ge=1)
    rotation_axis: tuple[int, int, int] = (1, 0, 0)
    plane: tuple[int, int, int] = (0, 2, 1)
    ab_shift: tuple[float, float] = Field(
        (0.5, 0.0),
        description="In-plane shift of the upper grain (0, 0 stacks atoms); the origin of "
        "the rigid-body search.",
    )
    ab_grid: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = Field(
        (16, 32),
        description="In-plane grid (along a, b) of the upper grain's rigid-body search "
        "for the translation whose closest contacts are most bulk-like; (1, 1) with "
        "openings_A [0] keeps ab_shift as it is.",
    )
    openings_A: list[Annotated[float, Field(ge=0)]] = Field(
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
        min_length=1,
        description="Openings of each boundary along its normal tried, smallest first (Å).",
    )
    min_contact_ratio: float = Field(
        0.8,
        gt=0,
        le=1,
        description="The search stops at the first opening whose closest contact is this "
        "fraction of the bulk's for the same element pair (the bare Σ5(021) Li6PS5Cl "
        "boundary: 0.5, S-Cl 2.05 Å).",
    )
    learning_expand_times: int = Field(1, ge=1, description="Grain repeats of learning models.")
    relax_steps: NonNegativeInt = Field(
        0,
        description="Optimiser steps of an oracle relaxation (cell and ions, FIRE) of every GB "
        "model before it is explored or run; 0: the models as built.",
    )
    production_configuration: NonNegativeInt = Field(
        0, description="Configuration index of the production model."
    )
    expand_times: int = Field(3, ge=1, description="Grain repeats of the production model.")
    supercell_ab: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (3, 3)
    region_width_A: float = Field(10.0, gt=0)


class GbMdSpec(_GbSection):
    """Production MD of the GB model (time step and species from ``md``)."""

    temperature_K: float = Field(350.0, gt=0)
    production_ps: float = Field(10000.0, gt=0)
    heating_ps: float = Field(100.0, ge=0)
    ensemble: Literal["npt", "nvt"] = "npt"
    dump_interval_fs: float = Field(1000.0, gt=0)
    profile_bin_A: float = Field(1.0, gt=0, description="Bins of the Li density profile, Å.")


class GrainBoundarySpec(_GbSection):
    """The argyrodite grain-boundary study on top of the bulk pipeline (off by default)."""

    enabled: bool = False
    configurations: list[NonNegativeInt] = Field(
        [0, 2], min_length=1, description="Configurations (indices) for surfaces and GB learning."
    )
    surface: GbSurfaceSpec = GbSurfaceSpec()
    learning: GbLearningSpec = GbLearningSpec()
    neighbourhood: GbNeighbourhoodSpec = GbNeighbourhoodSpec()
    model: GbModelSpec = GbModelSpec()
    md: GbMdSpec = GbMdSpec()
