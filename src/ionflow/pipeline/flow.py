"""The whole pipeline as one jobflow Flow, composed from the Makers of every stage.

configurations -> (per configuration produced) relax -> training set: strain, AIMD,
labelling at every level of theory -> merge of the fit level's labelled sets -> MTP fit ->
active learning (optional) -> (per configuration) supercell -> conductivity MD ->
diffusion -> Arrhenius -> report (configuration-weighted sigma_bulk and sigma_bulk^80%).

:class:`PipelineMaker` holds one Maker per stage as a field (atomate2's flow-Maker shape),
so ``Maker.update_kwargs(..., class_filter=...)`` reaches every stage;
:meth:`PipelineMaker.from_spec` is the one place workflow-spec fields become Maker
settings. Per-configuration work is created at run time over the structures the
configuration job actually returned (jobs replacing themselves, ``Response(replace=...)``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Job, Maker, OnMissing, Response, job
from pymatgen.core import Element, Structure

from ionflow.analysis.jobs.diffusion import ArrheniusMaker, DiffusionAnalysisMaker
from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.dft.flows.training_set import TrainingSetFlowMaker
from ionflow.dft.jobs.aimd import AimdSnapshotMaker
from ionflow.dft.jobs.label import LabelMaker, merge_labelled_sets
from ionflow.dft.jobs.relax import RelaxMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.io.labelled_set import LabelledSet
from ionflow.learning.explore import TrustLevels
from ionflow.learning.flows.active_learning import ActiveLearningMaker
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.mtp.fitting import ACTIVE_LEARNING_WEIGHTS
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.pipeline.configurations import check_configuration_count, configurations_maker
from ionflow.pipeline.grain_boundary import GrainBoundaryStudyMaker, grain_boundary_maker_from_spec
from ionflow.pipeline.llzo_volumes import VolumeStudyMaker, volume_study_maker
from ionflow.pipeline.report import PipelineReportMaker
from ionflow.pipeline.resources import (
    apply_stage_configs,
    stage_manager_configs,
    worker_pre_rocket,
)
from ionflow.pipeline.site_comparison import SiteComparisonMaker
from ionflow.pipeline.site_variants import SiteReportsMaker, site_variants_maker
from ionflow.pipeline.spec import WorkflowSpec
from ionflow.structures.jobs.core import (
    ArgyroditeConfigurationsMaker,
    StructureSetMaker,
    SupercellMaker,
)


def species_of_material(material: str) -> list[str]:
    """Element symbols of a built-in material or structure file, by atomic number."""
    from ionflow.structures.parents import get_parent_structure

    structure = get_parent_structure(material)
    return sorted({el.symbol for el in structure.composition.elements}, key=lambda s: Element(s).Z)


def _training_set_maker(
    spec: WorkflowSpec, oracle: OracleSettings, species: list[str]
) -> TrainingSetFlowMaker:
    for level in spec.dft.levels_of_theory:  # at submission, not in a running job
        oracle.check_level(level)
    aimd = spec.dft.aimd
    return TrainingSetFlowMaker(
        levels_of_theory=tuple(spec.dft.levels_of_theory),
        oracle_settings=oracle,
        relax=False,  # the pipeline relaxes first: the relaxed energies weight the configurations
        strain_magnitudes=tuple(spec.structures.strain_magnitudes),
        strain_directions=tuple(spec.structures.strain_directions),
        temperatures=tuple(aimd.temperatures_K),
        label_maker=LabelMaker(species=species, max_failed_fraction=spec.dft.max_failed_fraction),
        aimd_maker=AimdSnapshotMaker(
            duration=aimd.duration_ps,
            timestep=aimd.timestep_fs,
            n_snapshots=aimd.n_snapshots,
            equilibration_fraction=aimd.equilibration_fraction,
        ),
    )


def _fit_maker(spec: WorkflowSpec, weights: tuple[float, float, float]) -> MtpFitMaker:
    mtp = spec.mtp
    return MtpFitMaker(
        level=mtp.level,
        r_cut=mtp.r_cut_A,
        radial_basis_size=mtp.radial_basis_size,
        weights=weights,
        max_iter=mtp.max_iterations,
        validation_fraction=mtp.validation_fraction,
        seed=mtp.seed,
    )


def _active_learning_maker(
    spec: WorkflowSpec, oracle: OracleSettings, species: list[str]
) -> ActiveLearningMaker | None:
    if not spec.mtp.active_learning.enabled:
        return None
    return _learning_maker(spec, oracle, species)


def _learning_maker(
    spec: WorkflowSpec, oracle: OracleSettings, species: list[str]
) -> ActiveLearningMaker:
    learning = spec.mtp.active_learning
    return ActiveLearningMaker(
        label_maker=LabelMaker(
            level_of_theory=spec.dft.fit_level,
            oracle_settings=oracle,
            species=species,
            max_failed_fraction=spec.dft.max_failed_fraction,
        ),
        # the paper adds stress in active learning: 100:1:0.01; refits are scored on the
        # first fit's fixed held-out set instead of a split of their own
        fit_maker=dataclasses.replace(
            _fit_maker(spec, ACTIVE_LEARNING_WEIGHTS), validation_fraction=0.0
        ),
        warm_start=learning.warm_start,
        trust=TrustLevels(
            min_distance_fraction=learning.min_distance_fraction,
            energy_window_eV_atom=learning.energy_window_eV_atom,
            pair_distance_fraction=learning.pair_distance_fraction,
        ),
        md_timestep_fs=spec.md.timestep_fs,  # exploration visits what production MD will
        grade_every=learning.grade_every_steps,
        temperatures=tuple(learning.temperatures_K),
        runs_per_temperature=learning.runs_per_temperature,
        md_steps=learning.md_steps,
        gamma_select=learning.gamma_select,
        gamma_break=learning.gamma_break,
        max_selected=learning.max_selected_per_iteration,
        max_iterations=learning.max_iterations,
    )


def _conductivity_maker(spec: WorkflowSpec, species: list[str]) -> ConductivityMdFlowMaker:
    md = spec.md
    dump_every = max(1, round(md.dump_interval_fs / md.timestep_fs))
    banded = isinstance(md.production_ps, list)  # a length per temperature band
    return ConductivityMdFlowMaker(
        md_maker=LammpsMdMaker(
            production_ps=md.production_ps_at(min(md.temperatures_K)),
            heating_ps=md.heating_ps,
            heating_step_K=md.heating_step_K,
            timestep_fs=md.timestep_fs,
            dump_every=dump_every,
            restart_every=dump_every * 50,
            dump_species=list(md.species),
            ensemble=md.ensemble,
            species=species,
            core_repulsion=md.core_repulsion,
        ),
        temperatures=list(md.temperatures_K),
        repeats=md.repeats,
        diffusion_maker=DiffusionAnalysisMaker(
            species=spec.analysis.species, timestep_fs=md.timestep_fs
        ),
        arrhenius_maker=ArrheniusMaker(extrapolation_K=spec.analysis.extrapolate_to_K),
        production_ps_by_temperature=[md.production_ps_at(t) for t in md.temperatures_K]
        if banded
        else None,
    )


@dataclass
class PipelineMaker(Maker):
    """The full ionflow Flow: one Maker per stage, composed (shared SPEC.md stages 1-9).

    Build it from a workflow spec with :meth:`from_spec`, or set the stage Makers directly.

    Attributes:
        name: flow name.
        configurations_maker: the characteristic configurations of the parent.
        n_configurations: keep the first n configurations returned (None: all).
        relax_maker: relaxation of each configuration; None: no relaxation (equal
            weights in the report).
        training_set_maker: strain, AIMD and labelling of each (relaxed) configuration.
        fit_level: level of theory whose labelled sets are merged and fitted.
        fit_maker: the passive MTP fit.
        active_learning_maker: active learning after the fit; None: none.
        supercell_maker: production MD cell of each configuration.
        conductivity_maker: MD on the temperature grid, diffusion, Arrhenius.
        report_maker: the closing report.
        site_reports_maker: with site variants among the configurations, one report per
            site and their side-by-side comparison instead of ``report_maker``'s single
            report (:mod:`ionflow.pipeline.site_variants`); None: one report.
        grain_boundary_maker: the grain-boundary study on the final potential; None: none.
        volume_study_maker: D and E_a against volume, crystalline and amorphous cells, MTP
            and classical potential (the LLZO study, spec ``volumes:``); None: none.
        stage_configs: stage -> jobflow manager config (cluster resources, FireWorks
            category and worker; :mod:`ionflow.pipeline.resources`), applied to every
            job, those made at run time included; {}: none.
    """

    name: str = "ionflow pipeline"
    configurations_maker: StructureSetMaker = field(default_factory=ArgyroditeConfigurationsMaker)
    n_configurations: int | None = None
    relax_maker: RelaxMaker | None = field(default_factory=RelaxMaker)
    training_set_maker: TrainingSetFlowMaker = field(
        default_factory=lambda: TrainingSetFlowMaker(relax=False)
    )
    fit_level: str = "optB88-vdW"
    fit_maker: MtpFitMaker = field(default_factory=MtpFitMaker)
    active_learning_maker: ActiveLearningMaker | None = None
    supercell_maker: SupercellMaker = field(
        default_factory=lambda: SupercellMaker(scaling=(3, 3, 3))
    )
    conductivity_maker: ConductivityMdFlowMaker = field(default_factory=ConductivityMdFlowMaker)
    report_maker: PipelineReportMaker = field(default_factory=PipelineReportMaker)
    site_reports_maker: SiteReportsMaker | None = None
    grain_boundary_maker: GrainBoundaryStudyMaker | None = None
    volume_study_maker: VolumeStudyMaker | None = None
    stage_configs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: WorkflowSpec) -> PipelineMaker:
        """Map every field of ``spec`` to the setting of the Maker that uses it.

        Cheap checks of what the spec asks for run here, before anything is stored or
        computed: the configuration count of the method and the oracle's levels.

        Raises:
            IonflowInputError: one line naming the setting to fix.
        """
        kind, n = spec.structures.configurations, spec.structures.n_configurations
        configurations = configurations_maker(kind, n)
        check_configuration_count(configurations, spec.material, n, kind)
        oracle = OracleSettings(
            oracle=spec.dft.oracle, encut=spec.dft.encut_eV, kpoint_mesh=tuple(spec.dft.kpoint_mesh)
        )
        species = spec.species_order or species_of_material(spec.material)
        report_maker = PipelineReportMaker(
            workflow_name=spec.name,
            material=spec.material,
            crystallinity=spec.analysis.crystallinity,
            mixing_rule=spec.analysis.mixing_rule,
            sigma_amorphous_mS_cm=spec.analysis.sigma_amorphous_mS_cm,
            weight_temperature_K=spec.analysis.weight_temperature_K,
            target_energy_rmse_meV_atom=spec.mtp.target_energy_rmse_meV_atom,
            target_force_rmse_eV_A=spec.mtp.target_force_rmse_eV_A,
        )
        training_set_maker = _training_set_maker(spec, oracle, species)
        conductivity = _conductivity_maker(spec, species)
        stage_configs = stage_manager_configs(spec.resources, worker_pre_rocket())
        site_reports = None
        if spec.site_variants is not None:  # configuration groups, one per site
            configurations, n = site_variants_maker(spec), None
            site_reports = SiteReportsMaker(
                labels=[v.label for v in spec.site_variants],
                materials=[v.material for v in spec.site_variants],
                report_maker=report_maker,
                comparison_maker=SiteComparisonMaker(workflow_name=spec.name),
                stage_configs=stage_configs,
            )
        return cls(
            name=spec.name,
            configurations_maker=configurations,
            n_configurations=n,
            relax_maker=RelaxMaker(
                level_of_theory="PBE",
                oracle_settings=oracle,
                force_tolerance=spec.dft.force_tolerance_eV_A,
            )
            if spec.dft.relax
            else None,
            training_set_maker=training_set_maker,
            fit_level=spec.dft.fit_level,
            fit_maker=_fit_maker(
                spec, (spec.mtp.energy_weight, spec.mtp.force_weight, spec.mtp.stress_weight)
            ),
            active_learning_maker=_active_learning_maker(spec, oracle, species),
            supercell_maker=SupercellMaker(scaling=tuple(spec.md.supercell)),
            conductivity_maker=conductivity,
            report_maker=report_maker,
            site_reports_maker=site_reports,
            grain_boundary_maker=grain_boundary_maker_from_spec(
                spec, training_set_maker, _learning_maker(spec, oracle, species), stage_configs
            ),
            volume_study_maker=volume_study_maker(spec, conductivity, stage_configs),
            stage_configs=stage_configs,
        )

    def make(self, parent: Structure | str) -> Flow:
        """Return the Flow for ``parent`` (shipped name, structure file or Structure)."""
        configurations = self.configurations_maker.make(parent)
        configurations.name = "configurations"
        training = self.make_training_sets(configurations.output.structures)
        training.name = "training sets"
        labelled = training.output["labelled"]
        fit = self.fit_maker.make(labelled.labelled_set)
        jobs, mtp, active = [configurations, training, fit], fit.output.mtp, None
        closest = fit.output.closest_pairs_A  # of the potential the MD runs with
        if self.active_learning_maker is not None:
            active = self.make_active_learning(
                training.output["structures"], labelled.labelled_set, mtp, fit.output.validation_cfg
            )
            active.name = "active learning"
            jobs.append(active)
            mtp = active.output.mtp
            closest = active.output.closest_pairs_A
        if self.grain_boundary_maker is not None:
            study = self.grain_boundary_maker.make(
                training.output["structures"],
                active.output.labelled_set if active is not None else labelled.labelled_set,
                mtp,
                fit.output.validation_cfg,
            )
            study.name = "grain boundary"
            jobs.append(study)
        conductivity = self.make_conductivity(training.output["structures"], mtp, closest)
        conductivity.name = "conductivity"
        report = self.make_report(
            configurations.output.records,
            training.output["relaxed"],
            conductivity.output,
            fit.output,
            labelled,
            active.output if active is not None else None,
            structures=training.output["structures"],
        )
        jobs.append(conductivity)
        if self.volume_study_maker is not None:
            study = self.volume_study_maker.make(configurations.output.structures, mtp, closest)
            study.name = "volume study"
            jobs.append(study)
        jobs.append(report)
        flow = Flow(jobs, output=report.output, name=self.name)
        apply_stage_configs(flow, self.stage_configs)
        return flow

    def make_report(
        self,
        records: Any,
        relaxed: Any,
        arrhenius: Any,
        fit: Any,
        labelled: Any,
        active: Any = None,
        structures: Any = None,
    ) -> Job:
        """The closing job: the report, or with site variants the per-site reports.

        Arguments are output references (``records``: the configurations' records, read
        only with site variants). The job gathers with ``OnMissing.NONE`` (FireWorks:
        ``_allow_fizzled_parents``): it covers the configurations whose analysis finished
        and names the runs that failed, instead of failing with them.
        """
        closing = self.report_maker.make
        if self.site_reports_maker is not None:  # one report per site, then side by side
            closing = self.site_reports_maker.closing(records)
        report = closing(relaxed, arrhenius, fit, labelled, active, structures=structures)
        report.config.on_missing_references = OnMissing.NONE
        return report

    @job(data=True)
    def make_training_sets(self, structures: list[Structure]) -> Response:
        """Relax and build the training set of every configuration, merge the fit level's.

        Replaced by the per-configuration jobs; its output (data store) is
        ``{"structures": MD start structures, "relaxed": RelaxDocuments, "labelled":
        merged LabelledSetDocument}``.
        """
        jobs, relaxed, starts, labelled = [], [], [], []
        for index, structure in enumerate(structures[: self.n_configurations]):
            start = structure
            if self.relax_maker is not None:
                relax = dataclasses.replace(self.relax_maker, name=f"relax c{index}").make(start)
                jobs.append(relax)
                relaxed.append(relax.output)
                start = relax.output.structure
            training = dataclasses.replace(
                self.training_set_maker, name=f"training set c{index}"
            ).make(start)
            jobs.append(training)
            starts.append(start)
            labelled.append(training.output[self.fit_level])
        merged = merge_labelled_sets(labelled)
        merged.name = f"labelled set {self.fit_level}"
        output = {"structures": starts, "relaxed": relaxed, "labelled": merged.output}
        replacement = Flow([*jobs, merged], output=output)
        apply_stage_configs(replacement, self.stage_configs)
        return Response(replace=replacement)

    @job
    def make_active_learning(
        self,
        structures: list[Structure],
        labelled_set: LabelledSet,
        mtp: str,
        heldout_cfg: str | None = None,
    ) -> Response:
        """Replaced by the active-learning loop exploring ``structures``.

        ``heldout_cfg`` (the first fit's validation split) scores every refit.
        """
        loop = self.active_learning_maker.make(
            structures, labelled_set, mtp=mtp, heldout_cfg=heldout_cfg
        )
        apply_stage_configs(loop, self.stage_configs)
        return Response(replace=loop)

    @job
    def make_conductivity(
        self,
        structures: list[Structure],
        mtp: str,
        closest_pairs_A: dict[str, float] | None = None,
    ) -> Response:
        """Replaced by supercell and conductivity MD of every configuration.

        Its output is the list of per-configuration Arrhenius documents;
        ``closest_pairs_A`` (of the MTP's training set) places the MD's core repulsion.
        """
        jobs, outputs = [], []
        for index, structure in enumerate(structures):
            supercell = dataclasses.replace(self.supercell_maker, name=f"supercell c{index}")
            cell = supercell.make(structure)
            md = dataclasses.replace(self.conductivity_maker, name=f"conductivity md c{index}")
            conductivity = md.make(cell.output.structures[0], mtp, closest_pairs_A=closest_pairs_A)
            jobs += [cell, conductivity]
            outputs.append(conductivity.output)
        replacement = Flow(jobs, output=outputs)
        apply_stage_configs(replacement, self.stage_configs)
        return Response(replace=replacement)
