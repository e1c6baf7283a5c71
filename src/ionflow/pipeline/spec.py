"""Workflow specifications: the YAML files in ``workflows/`` that users edit and submit.

A spec names the material and the settings of every stage; defaults are the numbers of
the published studies (shared SPEC.md). Unknown keys are errors, so a typo in a spec is
reported instead of silently ignored, and every field changes the built workflow
(:meth:`ionflow.pipeline.flow.PipelineMaker.from_spec` is the one place they are mapped to
Maker settings; tests/pipeline/test_spec_fields.py checks each one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ionflow.cluster.slurm_jobs import WALLTIME
from ionflow.errors import IonflowInputError, describe_validation_error
from ionflow.pipeline.grain_boundary_spec import GrainBoundarySpec

LevelOfTheory = Literal["PBE", "PBE-D3(BJ)", "optB88-vdW"]
# a temperature list: at least one entry, every one above 0 K
Temperatures_K = Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)]
PositiveInt = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StructuresSpec(_Section):
    """Stage 1 and 3: characteristic configurations and strain perturbations."""

    configurations: Literal["argyrodite", "esgs", "sqs", "llzo-vacancies", "parent"] = "argyrodite"
    n_configurations: int = Field(6, ge=1, description="Number of orderings kept.")
    strain_magnitudes: list[Annotated[float, Field(gt=-1, lt=1)]] = Field(
        [-0.05, 0.05], description="Fractional strains applied along each direction."
    )
    strain_directions: list[str] = Field(["a", "b", "c", "abc"])


class AimdSpec(_Section):
    """Stage 4: AIMD snapshots (NVT Nosé-Hoover)."""

    temperatures_K: Temperatures_K = Field([300.0, 600.0, 900.0, 1200.0])
    duration_ps: float = Field(10.0, gt=0)
    timestep_fs: float = Field(2.0, gt=0)
    n_snapshots: int = Field(100, ge=1, description="Evenly spaced snapshots per run.")
    equilibration_fraction: float = Field(0.1, ge=0, lt=1)


class DftSpec(_Section):
    """Stages 2, 4, 5: relaxation, AIMD and single-point labelling."""

    oracle: Literal["vasp", "cp2k", "chgnet"] = "vasp"
    levels_of_theory: list[LevelOfTheory] = Field(["PBE", "PBE-D3(BJ)", "optB88-vdW"], min_length=1)
    fit_level: LevelOfTheory = Field(
        "optB88-vdW", description="Level whose MTP drives MD (the paper's best match)."
    )
    relax: bool = True
    encut_eV: float = Field(500.0, gt=0)
    kpoint_mesh: tuple[PositiveInt, PositiveInt, PositiveInt] = (2, 2, 2)
    force_tolerance_eV_A: float = Field(0.04, gt=0)
    aimd: AimdSpec = AimdSpec()
    max_failed_fraction: float = Field(0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _fit_level_is_labelled(self) -> DftSpec:
        if self.fit_level not in self.levels_of_theory:
            raise ValueError(
                f"fit_level {self.fit_level!r} is not among levels_of_theory "
                f"{self.levels_of_theory}"
            )
        return self


class ActiveLearningSpec(_Section):
    """Stage 7: active learning."""

    enabled: bool = False
    gamma_select: float = Field(2.0, gt=0)
    gamma_break: float = Field(10.0, gt=0)
    max_iterations: int = Field(10, ge=1)
    max_selected_per_iteration: int = Field(50, ge=1)
    temperatures_K: Temperatures_K = Field([300.0, 600.0, 900.0])
    runs_per_temperature: int = Field(
        3,
        ge=1,
        description="Exploration MD runs per cell and temperature, each from its own "
        "velocities: MaxVol needs a pool ~3x the batch to choose from.",
    )
    md_steps: int = Field(10000, ge=1)
    grade_every_steps: int = Field(
        10,
        ge=1,
        description="Grade every this many exploration MD steps (locally each grade is a "
        "full evaluation of the basis, several times an MD step; LAMMPS+MLIP on a cluster "
        "grades every step).",
    )
    warm_start: bool = True
    min_distance_fraction: float = Field(
        1.0, gt=0, description="Trust level: closest approach as a fraction of min_dist."
    )
    energy_window_eV_atom: float = Field(
        0.5, gt=0, description="Trust level: energy per atom beyond the training range."
    )
    pair_distance_fraction: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Per-pair trust level: a run stops where an element pair comes closer "
        "than this fraction of that pair's closest training distance, and that configuration "
        "is labelled (None: only the min_dist level).",
    )


class MtpSpec(_Section):
    """Stage 6: MTP fit."""

    level: int = Field(8, ge=2, le=28)
    r_cut_A: float = Field(5.0, gt=0)
    radial_basis_size: int = Field(8, ge=2)
    energy_weight: float = 100.0
    force_weight: float = 1.0
    stress_weight: float = 0.0
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    max_iterations: int = Field(1000, ge=1)
    seed: int = 42
    target_energy_rmse_meV_atom: float = Field(
        10.0, gt=0, description="The report warns above this held-out energy RMSE."
    )
    target_force_rmse_eV_A: float = Field(
        0.2, gt=0, description="The report warns above this held-out force RMSE."
    )
    active_learning: ActiveLearningSpec = ActiveLearningSpec()


class ProductionBand(_Section):
    """Production MD length of the temperatures from ``from_K`` up to the next band's."""

    from_K: float = Field(gt=0, description="Lowest temperature of the band, K.")
    ps: float = Field(gt=0, description="Production time at these temperatures, ps.")


class MdSpec(_Section):
    """Stage 8: production MD with the MTP."""

    supercell: tuple[PositiveInt, PositiveInt, PositiveInt] = (3, 3, 3)
    temperatures_K: Temperatures_K = Field([350.0, 375.0, 400.0, 425.0, 450.0, 475.0, 500.0])
    repeats: int = Field(2, ge=1)
    timestep_fs: float = Field(1.0, gt=0)
    heating_ps: float = Field(100.0, ge=0)
    heating_step_K: float = Field(10.0, gt=0)
    production_ps: (
        Annotated[float, Field(gt=0)] | Annotated[list[ProductionBand], Field(min_length=1)]
    ) = Field(
        10000.0,
        description="Production time in ps, one for every temperature, or a band table "
        "[{from_K, ps}, ...]: each band's time from its from_K up to the next band's (LSTH: "
        "10 ns from 298 K, 1 ns from 400 K, 200 ps from 600 K).",
    )
    ensemble: Literal["npt", "nvt"] = "npt"
    dump_interval_fs: float = Field(1000.0, gt=0)
    species: list[str] = Field(["Li"], min_length=1)
    core_repulsion: float | None = Field(
        None,
        gt=0,
        le=1,
        description="A ZBL wall below this fraction of each element pair's closest distance "
        "in the MTP's training set (e.g. 0.9), zero at every trained distance; below it the "
        "wheel engine also holds the MTP at that distance (pair_style mlip cannot). The MD "
        "documents count the rows where it acted and warn. None: no wall.",
    )

    @model_validator(mode="after")
    def _bands_cover_the_temperatures(self) -> MdSpec:
        if isinstance(self.production_ps, list):
            starts = [band.from_K for band in self.production_ps]
            if starts != sorted(set(starts)):
                raise ValueError(f"production_ps bands must have increasing from_K, got {starts}")
            below = [t for t in self.temperatures_K if t < starts[0]]
            if below:
                raise ValueError(
                    f"temperatures_K {below} lie below the first production_ps band "
                    f"(from_K {starts[0]:g}); add a band for them"
                )
        return self

    def production_ps_at(self, temperature_K: float) -> float:
        """Production time (ps) of the run at ``temperature_K``."""
        if not isinstance(self.production_ps, list):
            return self.production_ps
        return [band.ps for band in self.production_ps if band.from_K <= temperature_K][-1]


class AnalysisSpec(_Section):
    """Stage 9: conductivity analysis."""

    species: str = "Li"
    crystallinity: float = Field(
        0.8, gt=0, le=1, description="Crystalline fraction c of sigma_bulk^80%."
    )
    mixing_rule: Literal["parallel", "series"] = Field(
        "parallel",
        description="sigma_bulk -> sigma_bulk^c: parallel c*s_cryst + (1-c)*s_amorph, or "
        "series 1/s = c/s_cryst + (1-c)/s_amorph (the paper's rule is in its supplement).",
    )
    sigma_amorphous_mS_cm: float = Field(
        0.0, ge=0, description="Conductivity of the amorphous fraction, mS/cm."
    )
    weight_temperature_K: float = Field(
        300.0, gt=0, description="Temperature of the Boltzmann weights of configurations."
    )
    extrapolate_to_K: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _series_needs_amorphous_sigma(self) -> AnalysisSpec:
        if (
            self.mixing_rule == "series"
            and self.crystallinity < 1
            and not (self.sigma_amorphous_mS_cm > 0)
        ):
            raise ValueError(
                "mixing_rule series needs sigma_amorphous_mS_cm > 0 (with 0 the partly "
                "amorphous sample would not conduct)"
            )
        return self


class AmorphousCellsSpec(_Section):
    """Amorphous cells by melt-quench with each potential (the LLZO study's recipe)."""

    configuration: int = Field(
        0, ge=0, description="Index of the configuration melted (0: x = 6.25, as the study)."
    )
    supercell: tuple[PositiveInt, PositiveInt, PositiveInt] = (2, 2, 2)
    potentials: list[Literal["mtp", "classical"]] | None = Field(
        None, min_length=1, description="Potentials that make amorphous cells; None: all."
    )
    melt_temperature_K: float = Field(3000.0, gt=0)
    melt_ps: float = Field(1000.0, gt=0, description="Hold at the melt temperature (NVT).")
    quench_rate_K_per_ps: float = Field(5.0, gt=0)
    final_temperature_K: float = Field(500.0, gt=0)
    timestep_fs: float = Field(1.0, gt=0)
    volume_fractions: list[Annotated[float, Field(gt=0)]] = Field(
        [1.05, 1.10, 1.15],
        min_length=1,
        description="Quenched cell expanded to these fractions of its (experimental) volume.",
    )

    @model_validator(mode="after")
    def _quench_goes_down(self) -> AmorphousCellsSpec:
        if self.final_temperature_K >= self.melt_temperature_K:
            raise ValueError("final_temperature_K must be below melt_temperature_K")
        return self


class VolumesSpec(_Section):
    """Strained and amorphous cells, MD with the MTP and a classical potential (LLZO study).

    Crystalline cells: every configuration scaled to ``volume_fractions`` of its volume
    (the experimental one for built-in parents), fractional positions fixed. MD on
    ``md``'s temperature grid and lengths; D at ``report_temperature_K`` and E_a per cell
    and potential, with site analysis (sites from the Li density, the jump graph's GOP).
    """

    volume_fractions: list[Annotated[float, Field(gt=0)]] = Field(
        [0.85, 0.90, 0.95, 1.00, 1.05, 1.10, 1.15, 1.20, 1.25, 1.30], min_length=1
    )
    potentials: list[Literal["mtp", "classical"]] = Field(["mtp", "classical"], min_length=1)
    classical_potential: str = Field(
        "llzo-buckingham", description="Shipped Buckingham + Coulomb model (md/sets/potentials)."
    )
    cross: bool = Field(
        False,
        description="Also run MD of each amorphous cell with the potential(s) that did not "
        "make it (the study's cross experiments).",
    )
    report_temperature_K: float = Field(
        1100.0, gt=0, description="D is reported at this temperature (the study: 1100 K)."
    )
    amorphous: AmorphousCellsSpec | None = AmorphousCellsSpec()

    @model_validator(mode="after")
    def _distinct_potentials(self) -> VolumesSpec:
        if len(set(self.potentials)) != len(self.potentials):
            raise ValueError(f"potentials {self.potentials} name one twice")
        makers = self.amorphous.potentials if self.amorphous is not None else None
        if makers and not set(makers) <= set(self.potentials):
            raise ValueError(f"amorphous.potentials {makers} must be among potentials")
        return self


class StageResources(_Section):
    """Cluster resources of one group of stages: FireWorks' ``_queueadapter`` and worker.

    A field left out keeps the value of the worker's ``my_qadapter.yaml``.
    """

    nodes: int | None = Field(None, ge=1)
    ntasks: int | None = Field(None, ge=1, description="MPI tasks per queue job.")
    walltime: str | None = Field(
        None, pattern=WALLTIME.pattern, description="HH:MM:SS or D-HH:MM:SS."
    )
    partition: str | None = Field(None, min_length=1, description="SLURM partition.")
    account: str | None = Field(None, min_length=1)
    qos: str | None = Field(None, min_length=1)
    mem: str | None = Field(
        None, pattern=r"^[1-9]\d*[KMGT]?$", description="Memory per node, e.g. 64G."
    )
    modules: list[str] = Field([], description="Environment modules loaded first.")
    pre_run: list[str] = Field([], description="Shell lines run before the job.")
    category: str | None = Field(
        None, min_length=1, description="FireWorks category; only workers of it run the jobs."
    )
    fworker: str | None = Field(None, min_length=1, description="Only this worker runs them.")


class ResourcesSpec(_Section):
    """Cluster resources per group of stages (jobs of no group: ``analysis``)."""

    dft: StageResources = StageResources()
    fit: StageResources = StageResources()
    md: StageResources = StageResources()
    analysis: StageResources = StageResources()


class SiteVariantSpec(_Section):
    """One Li-site variant of a site comparison (e.g. LSTH Li on 1a, ordered by ESGS)."""

    label: str = Field(
        min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Short name, e.g. 1a or 24k."
    )
    material: str = Field(description="Built-in parent or structure file of this variant.")
    configurations: Literal["esgs", "sqs", "parent"] = Field(
        description="Ordering of the variant's partial occupancies."
    )
    n_configurations: int = Field(1, ge=1, description="Orderings (ESGS) or SQS kept.")
    scaling: tuple[PositiveInt, PositiveInt, PositiveInt] | None = Field(
        None, description="Supercell ordered (LSTH paper: 4x4x2, 154 atoms); None: unit cell."
    )


class WorkflowSpec(_Section):
    """A whole ionflow workflow for one material."""

    name: str
    material: str = Field(
        description="Built-in parent (Li6PS5Cl, Li6PS5Br, Li6PS5I, LLZO, LLZO-primitive, "
        "LSTH-1a, LSTH-24k) or a path to a CIF/POSCAR, relative to the spec file."
    )
    species_order: list[str] | None = Field(
        None, description="Element order of the MTP types; default by atomic number."
    )
    structures: StructuresSpec = StructuresSpec()
    dft: DftSpec = DftSpec()
    mtp: MtpSpec = MtpSpec()
    md: MdSpec = MdSpec()
    analysis: AnalysisSpec = AnalysisSpec()
    volumes: VolumesSpec | None = Field(
        None, description="LLZO strain/amorphous study with a classical baseline; None: off."
    )
    resources: ResourcesSpec = ResourcesSpec()
    site_variants: Annotated[list[SiteVariantSpec], Field(min_length=2)] | None = Field(
        None,
        description="Li-site variants compared side by side (one MTP fitted to all; each "
        "its own MD, Arrhenius fit with break search and report; never averaged). "
        "Replaces structures.configurations and n_configurations.",
    )

    @model_validator(mode="after")
    def _site_variants_replace_configurations(self) -> WorkflowSpec:
        if self.site_variants is None:
            return self
        labels = [variant.label for variant in self.site_variants]
        if len(set(labels)) != len(labels):
            raise ValueError(f"site_variants labels must differ, got {labels}")
        defaults = StructuresSpec()
        for key in ("configurations", "n_configurations"):
            if getattr(self.structures, key) != getattr(defaults, key):
                raise ValueError(f"structures.{key} is replaced by site_variants; leave it out")
        return self

    grain_boundary: GrainBoundarySpec = GrainBoundarySpec()

    @model_validator(mode="after")
    def _analysed_species_is_dumped(self) -> WorkflowSpec:
        if self.analysis.species not in self.md.species:
            raise ValueError(
                f"analysis.species {self.analysis.species!r} is not written by MD "
                f"(md.species {self.md.species}); add it there"
            )
        return self


def load_spec(path: str | Path) -> WorkflowSpec:
    """Read and validate a workflow spec YAML file.

    Raises:
        IonflowInputError: one line naming the file, the key and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise IonflowInputError(f"{path}: workflow spec not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise IonflowInputError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise IonflowInputError(f"{path}: a workflow spec is a mapping of settings")
    material = data.get("material")
    if isinstance(material, str) and (path.parent / material).is_file():
        data["material"] = str((path.parent / material).resolve())
    try:
        spec = WorkflowSpec(**data)
    except ValidationError as exc:
        raise IonflowInputError(f"{path}: {describe_validation_error(exc)}") from exc
    check_oracle_levels(spec, path)
    check_material(spec, path)
    check_configurations(spec, path)
    if spec.grain_boundary.enabled:
        from ionflow.pipeline.grain_boundary import check_grain_boundary

        check_grain_boundary(spec, path)
    return spec


# configuration kinds that fit only some materials
CONFIGURATION_MATERIALS = {
    "argyrodite": ("Li6PS5Cl", "Li6PS5Br", "Li6PS5I"),  # X@4c = 0-100 %
    "llzo-vacancies": ("LLZO", "LLZO-primitive"),  # Li_x La3Zr2O12, x = 6.25-7
}


def check_configurations(spec: WorkflowSpec, path: Path) -> None:
    """The configuration kind must fit the material and give ``n_configurations``.

    The count is the kind's Maker's (:mod:`ionflow.pipeline.configurations`), found
    without building the structures.

    Raises:
        IonflowInputError: naming the spec file, the kind and what to change.
    """
    from ionflow.pipeline.configurations import check_configuration_count, configurations_maker
    from ionflow.structures.parents import canonical_name

    if spec.site_variants is not None:
        from ionflow.pipeline.site_variants import check_site_variants

        check_site_variants(spec, path)
        return
    kind, n = spec.structures.configurations, spec.structures.n_configurations
    materials = CONFIGURATION_MATERIALS.get(kind)
    if materials is not None and canonical_name(spec.material) not in materials:
        raise IonflowInputError(
            f"{path}: 'structures.configurations' {kind!r} needs material "
            f"{' or '.join(materials)}, not {spec.material!r}; use esgs, sqs or parent"
        )
    try:
        check_configuration_count(configurations_maker(kind, n), spec.material, n, kind)
    except IonflowInputError as exc:
        raise IonflowInputError(f"{path}: {exc}") from exc


def check_oracle_levels(spec: WorkflowSpec, path: Path) -> None:
    """Every level of theory in ``spec`` must be one its DFT oracle computes.

    Raises:
        IonflowInputError: naming the spec file and the first level the oracle lacks.
    """
    from ionflow.dft.sets import check_oracle_level

    for level in spec.dft.levels_of_theory:
        try:
            check_oracle_level(spec.dft.oracle, level)
        except IonflowInputError as exc:
            raise IonflowInputError(f"{path}: 'dft.levels_of_theory': {exc}") from exc


def check_material(spec: WorkflowSpec, path: Path) -> None:
    """Check the material is a built-in parent or a valid structure file.

    ``species_order``, when given, must name exactly its elements. The structure is
    built here, at load, so a bad material never reaches a running job.

    Raises:
        IonflowInputError: naming the spec file and what to fix.
    """
    from ionflow.structures.parents import get_parent_structure

    try:
        structure = get_parent_structure(spec.material)
    except IonflowInputError as exc:
        raise IonflowInputError(f"{path}: 'material': {exc}") from exc
    if spec.species_order is not None:
        elements = {element.symbol for element in structure.composition.elements}
        if set(spec.species_order) != elements or len(spec.species_order) != len(elements):
            raise IonflowInputError(
                f"{path}: 'species_order' {spec.species_order} must list each element of "
                f"{spec.material} once: {sorted(elements)}"
            )
