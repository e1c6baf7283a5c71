"""The argyrodite grain-boundary study as part of the pipeline (issue 13, part 1).

The bulk MTP of the pipeline is extended in two active-learning stages, as in the
paper's Fig. 4: first (021) surface slabs of the chosen configurations (strained +-5 %,
AIMD, labelled at the fit level, merged into the bulk training set, refitted, explored),
then the ~500-atom Σ5[100](021) GB models of the same configurations, where exploration
grades every atom and only small periodic cells cut around the extrapolative atoms are
labelled (:class:`~ionflow.learning.neighbourhood_selection.NeighbourhoodCutter`: the
large model is never sent to DFT). The final potential runs production MD of a large GB
model; D per 10 Å region, the Li count per region over time and the Li density against
distance from the planes go to a :class:`GrainBoundaryReportDocument`.

:class:`GrainBoundaryStudyMaker` is the sub-Maker :class:`~ionflow.pipeline.flow.PipelineMaker`
holds (None: no GB study); :func:`grain_boundary_maker_from_spec` maps the spec's
``grain_boundary:`` section to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Flow, Maker, OnMissing, Response, job
from pymatgen.core import Structure

from ionflow.analysis.jobs.diffusion import DiffusionAnalysisMaker
from ionflow.dft.flows.training_set import TrainingSetFlowMaker
from ionflow.dft.jobs.label import merge_labelled_sets
from ionflow.dft.jobs.relax import RelaxMaker
from ionflow.errors import IonflowInputError
from ionflow.io.labelled_set import LabelledSet
from ionflow.learning.flows.active_learning import ActiveLearningMaker, merge_labelled
from ionflow.learning.neighbourhood_selection import NeighbourhoodCutter
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.pipeline.grain_boundary_report import GrainBoundaryReportMaker
from ionflow.pipeline.resources import apply_stage_configs
from ionflow.structures.grain_boundary import GB_AXIS
from ionflow.structures.jobs.core import GrainBoundaryMaker, SupercellMaker, SurfaceSlabMaker

MIN_GB_DISTANCE_A = 1.0
"""A GB model with two atoms closer than this (Å) is refused (pymatgen stacks atoms at
the boundary for some in-plane shifts)."""


@dataclass
class GrainBoundaryStudyMaker(Maker):
    """Surface and GB active learning, then GB production MD and its region analysis.

    Attributes:
        name: flow name.
        configurations: indices of the pipeline's configurations whose surfaces and GB
            models extend the training set (the paper: 0 % and 50 % X@4c).
        fit_level: level of theory of the training set (surfaces are labelled at it).
        surface_maker: the surface slab of each configuration.
        surface_training_maker: strain, AIMD and labelling of each slab.
        surface_learning_maker: refit with the surface labels (its ``fit_maker``, warm
            started from the bulk MTP) and active learning on the slabs.
        gb_maker: the GB model of each configuration explored by active learning.
        relax_maker: relaxation of every GB model with the oracle before it is explored or
            run (a step cap, convergence not required; None: the models as built). The
            as-built boundary is far from the oracle's minimum: CHGNet bonds S-S across it
            (3.24 -> 2.09 Å in 60 FIRE steps of the tiny study's 1040-atom model).
        gb_learning_maker: active learning on the GB models (neighbourhood mode: its
            ``candidate_cutter`` is set).
        production_configuration: index of the configuration of the production model.
        production_gb_maker: the production GB model.
        production_supercell: in-plane repeats (a, b) of the production model.
        md_maker: production MD (its temperature is the study's).
        diffusion_maker: D, D per region, counts per region, density profile.
        report_maker: the study's closing document.
        stage_configs: stage -> jobflow manager config, applied to the jobs made at run time.
    """

    name: str = "grain boundary"
    configurations: tuple[int, ...] = (0, 2)
    fit_level: str = "optB88-vdW"
    surface_maker: SurfaceSlabMaker = field(default_factory=SurfaceSlabMaker)
    surface_training_maker: TrainingSetFlowMaker = field(
        default_factory=lambda: TrainingSetFlowMaker(
            relax=False,
            levels_of_theory=("optB88-vdW",),
            strain_directions=("abc",),
            temperatures=(300.0, 600.0),
        )
    )
    surface_learning_maker: ActiveLearningMaker = field(
        default_factory=lambda: ActiveLearningMaker(name="surface active learning")
    )
    gb_maker: GrainBoundaryMaker = field(
        default_factory=lambda: GrainBoundaryMaker(ab_shift=(0.5, 0.0), cubic=True)
    )
    gb_learning_maker: ActiveLearningMaker = field(
        default_factory=lambda: ActiveLearningMaker(
            name="grain boundary active learning", candidate_cutter=NeighbourhoodCutter()
        )
    )
    relax_maker: RelaxMaker | None = None
    production_configuration: int = 0
    production_gb_maker: GrainBoundaryMaker = field(
        default_factory=lambda: GrainBoundaryMaker(
            name="grain boundary production model",
            ab_shift=(0.5, 0.0),
            cubic=True,
            expand_times=3,
        )
    )
    production_supercell: tuple[int, int] = (3, 3)
    md_maker: LammpsMdMaker = field(
        default_factory=lambda: LammpsMdMaker(name="grain boundary md", temperature=350.0)
    )
    diffusion_maker: DiffusionAnalysisMaker = field(default_factory=DiffusionAnalysisMaker)
    report_maker: GrainBoundaryReportMaker = field(default_factory=GrainBoundaryReportMaker)
    stage_configs: dict[str, dict] = field(default_factory=dict)

    def make(
        self,
        structures: list[Structure],
        labelled_set: LabelledSet,
        mtp: str,
        heldout_cfg: str | None = None,
    ) -> Flow:
        """The study on the pipeline's configurations ``structures`` (relaxed).

        Args:
            structures: the configurations (references to a job's output are fine).
            labelled_set: the bulk training set of ``mtp``.
            mtp: the bulk ``.mtp`` text.
            heldout_cfg: ``.cfg`` text of the bulk held-out set every refit is scored on.
        """
        study = self.expand(structures, labelled_set, mtp, heldout_cfg)
        study.name = "grain boundary study"
        return Flow([study], output=study.output, name=self.name)

    @job
    def expand(
        self,
        structures: list[Structure],
        labelled_set: LabelledSet,
        mtp: str,
        heldout_cfg: str | None = None,
    ) -> Response:
        """Replaced by the study's jobs, once the configurations exist."""
        missing = [i for i in self.configurations if i >= len(structures)]
        if missing or self.production_configuration >= len(structures):
            raise IonflowInputError(
                f"grain_boundary configurations {missing or [self.production_configuration]} "
                f"do not exist: the pipeline made {len(structures)}"
            )
        jobs, slabs, surface_sets, gb_models = [], [], [], []
        for index in self.configurations:
            slab = dataclasses.replace(self.surface_maker, name=f"surface slab c{index}")
            slab_job = slab.make(structures[index])
            training = dataclasses.replace(
                self.surface_training_maker, name=f"surface training set c{index}"
            ).make(slab_job.output.structures[0])
            gb = dataclasses.replace(self.gb_maker, name=f"grain boundary c{index}")
            gb_job = gb.make(structures[index])
            jobs += [slab_job, training, gb_job]
            slabs.append(slab_job.output.structures[0])
            surface_sets.append(training.output[self.fit_level])
            gb_model = gb_job.output.structures[0]
            if self.relax_maker is not None:
                relax = dataclasses.replace(
                    self.relax_maker, name=f"grain boundary c{index} relax"
                ).make(gb_model)
                jobs.append(relax)
                gb_model = relax.output.structure
            gb_models.append(gb_model)
        surfaces = merge_labelled_sets(surface_sets)
        surfaces.name = f"surface labelled set {self.fit_level}"
        merged = merge_labelled(labelled_set, surfaces.output)
        merged.name = "bulk + surface labelled set"
        learning = self.surface_learning_maker
        refit = dataclasses.replace(learning.fit_maker, name="mtp fit with surfaces").make(
            merged.output["labelled_set"], previous_mtp=mtp if learning.warm_start else None
        )
        surface_loop = learning.make(
            slabs, merged.output["labelled_set"], mtp=refit.output.mtp, heldout_cfg=heldout_cfg
        )
        surface_loop.name = "surface active learning"
        gb_loop = self.gb_learning_maker.make(
            gb_models,
            surface_loop.output.labelled_set,
            mtp=surface_loop.output.mtp,
            heldout_cfg=heldout_cfg,
        )
        gb_loop.name = "grain boundary active learning"
        model = self.production_gb_maker.make(structures[self.production_configuration])
        na, nb = self.production_supercell
        cell = SupercellMaker(name="grain boundary production cell", scaling=(na, nb, 1)).make(
            model.output.structures[0]
        )
        start = cell.output.structures[0]
        learnt = self._learning_model_index()
        if self.relax_maker is not None and learnt is not None:
            start = gb_models[learnt]  # the production model was explored: its relaxed cell
        elif self.relax_maker is not None:
            relax = dataclasses.replace(
                self.relax_maker, name="grain boundary production relax"
            ).make(start)
            jobs.append(relax)
            start = relax.output.structure
        md = self.md_maker.make(
            start, gb_loop.output.mtp, closest_pairs_A=gb_loop.output.closest_pairs_A
        )
        diffusion = dataclasses.replace(self.diffusion_maker, name="grain boundary diffusion").make(
            md.output.trajectory_file,
            md.output.temperature_k,
            type_map=md.output.type_map,
            gb_planes_frac=model.output.records[0].provenance["gb_planes_frac"],
            md_warnings=md.output.warnings,
        )
        report = self.report_maker.make(
            diffusion.output,
            cell.output.records[0],
            surface_loop.output.iterations,
            surface_loop.output.stop_reason,
            surface_loop.output.n_training,
            gb_loop.output.iterations,
            gb_loop.output.stop_reason,
            gb_loop.output.labelled_set,
        )
        # a failed production MD leaves a report of the model and loops (see the report)
        for gathering in (diffusion, report):
            gathering.config.on_missing_references = OnMissing.NONE
        jobs += [surfaces, merged, refit, surface_loop, gb_loop, model, cell, md, diffusion]
        flow = Flow([*jobs, report], output=report.output)
        apply_stage_configs(flow, self.stage_configs)
        return Response(replace=flow)

    def _learning_model_index(self) -> int | None:
        """Position in ``configurations`` of a learning model that is the production cell."""
        if self.production_supercell != (1, 1) or not _same_model(
            self.gb_maker, self.production_gb_maker
        ):
            return None
        if self.production_configuration not in self.configurations:
            return None
        return self.configurations.index(self.production_configuration)


def _same_model(a: GrainBoundaryMaker, b: GrainBoundaryMaker) -> bool:
    return dataclasses.replace(a, name="") == dataclasses.replace(b, name="")


def gb_model_settings(model) -> dict:
    """:class:`GrainBoundaryMaker` fields from the spec's ``grain_boundary.model``."""
    return {
        "sigma": model.sigma,
        "rotation_axis": tuple(model.rotation_axis),
        "plane": tuple(model.plane),
        "ab_shift": tuple(model.ab_shift),
        "region_width": model.region_width_A,
        "cubic": True,
        "ab_grid": tuple(model.ab_grid),
        "openings_A": tuple(model.openings_A),
        "min_contact_ratio": model.min_contact_ratio,
    }


def grain_boundary_maker_from_spec(
    spec,
    base_training: TrainingSetFlowMaker,
    base_learning: ActiveLearningMaker,
    stage_configs: dict[str, dict],
) -> GrainBoundaryStudyMaker | None:
    """Map the spec's ``grain_boundary:`` section (None when it is not enabled).

    ``base_training`` and ``base_learning`` are the bulk pipeline's Makers (oracle,
    labelling, fit settings); the section's own settings replace theirs.
    """
    gb = spec.grain_boundary
    if not gb.enabled:
        return None
    surface, learning, model = gb.surface, gb.learning, gb.model
    loop_settings = {
        "gamma_select": learning.gamma_select,
        "gamma_break": learning.gamma_break,
        "max_iterations": learning.max_iterations,
        "max_selected": learning.max_selected_per_iteration,
        "temperatures": tuple(learning.temperatures_K),
        "runs_per_temperature": learning.runs_per_temperature,
        "md_steps": learning.md_steps,
    }
    surface_learning = dataclasses.replace(
        base_learning, name="surface active learning", **loop_settings
    )
    cutter = NeighbourhoodCutter(
        radius_A=gb.neighbourhood.radius_A,
        gap_A=gb.neighbourhood.gap_A,
        max_atoms=gb.neighbourhood.max_atoms,
        max_cuts_per_configuration=gb.neighbourhood.max_cuts_per_configuration,
        shape=gb.neighbourhood.shape,
        axis=GB_AXIS,
        units=dict(gb.neighbourhood.units) or None,
    )
    gb_models = gb_model_settings(model)
    md = spec.md
    dump_every = max(1, round(gb.md.dump_interval_fs / md.timestep_fs))
    return GrainBoundaryStudyMaker(
        configurations=tuple(gb.configurations),
        fit_level=spec.dft.fit_level,
        surface_maker=SurfaceSlabMaker(
            miller_index=tuple(surface.miller_index),
            min_slab_A=surface.min_slab_A,
            vacuum_A=surface.vacuum_A,
        ),
        surface_training_maker=dataclasses.replace(
            base_training,
            levels_of_theory=(spec.dft.fit_level,),
            strain_magnitudes=tuple(surface.strain_magnitudes),
            strain_directions=tuple(surface.strain_directions),
            temperatures=tuple(surface.aimd_temperatures_K),
            aimd_maker=dataclasses.replace(
                base_training.aimd_maker,
                duration=surface.aimd_duration_ps,
                n_snapshots=surface.aimd_snapshots,
            ),
        ),
        surface_learning_maker=surface_learning,
        gb_maker=GrainBoundaryMaker(expand_times=model.learning_expand_times, **gb_models),
        relax_maker=RelaxMaker(
            level_of_theory=spec.dft.fit_level,
            oracle_settings=base_learning.label_maker.oracle_settings,
            force_tolerance=spec.dft.force_tolerance_eV_A,
            max_steps=model.relax_steps,
            require_convergence=False,
        )
        if model.relax_steps
        else None,
        gb_learning_maker=dataclasses.replace(
            surface_learning,
            name="grain boundary active learning",
            candidate_cutter=cutter,
            max_iterations=learning.gb_max_iterations or learning.max_iterations,
        ),
        production_configuration=model.production_configuration,
        production_gb_maker=GrainBoundaryMaker(
            name="grain boundary production model", expand_times=model.expand_times, **gb_models
        ),
        production_supercell=tuple(model.supercell_ab),
        md_maker=LammpsMdMaker(
            name="grain boundary md",
            temperature=gb.md.temperature_K,
            production_ps=gb.md.production_ps,
            heating_ps=gb.md.heating_ps,
            heating_step_K=md.heating_step_K,
            timestep_fs=md.timestep_fs,
            dump_every=dump_every,
            restart_every=dump_every * 50,
            dump_species=list(md.species),
            ensemble=gb.md.ensemble,
            species=list(base_training.label_maker.species),
            core_repulsion=md.core_repulsion,
        ),
        diffusion_maker=DiffusionAnalysisMaker(
            species=spec.analysis.species,
            timestep_fs=md.timestep_fs,
            region_width_A=model.region_width_A,
            profile_bin_A=gb.md.profile_bin_A,
        ),
        report_maker=GrainBoundaryReportMaker(
            temperature_K=gb.md.temperature_K,
            oracle=spec.dft.oracle,
            level_of_theory=spec.dft.fit_level,
        ),
        stage_configs=stage_configs,
    )


def check_grain_boundary(spec, path: Path) -> None:
    """The ``grain_boundary:`` section must fit the pipeline it extends (at load).

    Configuration indices within ``structures.n_configurations``, the neighbourhood
    radius at least the MTP cutoff, and GB models (built here from the unrelaxed
    configurations, in well under a second each) without overlapping atoms.

    Raises:
        IonflowInputError: naming the spec file and the setting to change.
    """
    from ionflow.pipeline.configurations import configurations_maker
    from ionflow.structures.parents import get_parent_structure

    gb = spec.grain_boundary
    n = spec.structures.n_configurations
    wanted = sorted({*gb.configurations, gb.model.production_configuration})
    if wanted[-1] >= n:
        raise IonflowInputError(
            f"{path}: 'grain_boundary' uses configuration {wanted[-1]}, but "
            f"structures.n_configurations is {n} (indices 0-{n - 1})"
        )
    if gb.neighbourhood.radius_A < spec.mtp.r_cut_A:
        raise IonflowInputError(
            f"{path}: 'grain_boundary.neighbourhood.radius_A' {gb.neighbourhood.radius_A:g} "
            f"is below mtp.r_cut_A {spec.mtp.r_cut_A:g}: the labelled cell would not hold "
            "the atom's whole neighbourhood"
        )
    maker = configurations_maker(spec.structures.configurations, n)
    structures = maker.build(get_parent_structure(spec.material))
    model = gb.model
    for index in wanted:
        try:
            gb_model = GrainBoundaryMaker(**gb_model_settings(model)).build(structures[index][0])
        except IonflowInputError as exc:
            raise IonflowInputError(
                f"{path}: 'grain_boundary' configuration {index}: {exc}"
            ) from exc
        closest = gb_model[0][1]["min_distance_A"]
        if closest < MIN_GB_DISTANCE_A:
            raise IonflowInputError(
                f"{path}: the GB model of configuration {index} has atoms {closest:.2f} Å "
                f"apart; change grain_boundary.model.ab_shift, ab_grid or openings_A"
            )
