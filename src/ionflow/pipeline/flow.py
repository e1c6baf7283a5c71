"""The whole pipeline as one jobflow Flow, built from a :class:`WorkflowSpec`.

structures -> (per configuration) relax -> strain -> AIMD -> labelling at every level
of theory -> merge the fit level's labelled sets -> MTP fit -> (per configuration)
production MD on a supercell of the relaxed cell -> diffusion -> Arrhenius ->
:func:`pipeline_report` (configuration-weighted sigma_bulk and sigma_bulk^80%).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobflow import Flow, Job, Maker
from pymatgen.core import Element

from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.dft.flows.training_set import TrainingSetFlowMaker
from ionflow.dft.jobs.aimd import AimdSnapshotMaker
from ionflow.dft.jobs.label import LabelMaker, merge_labelled_sets
from ionflow.dft.jobs.relax import RelaxMaker
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.learning.explore import TrustLevels
from ionflow.learning.flows.active_learning import ActiveLearningMaker
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.mtp.fitting import ACTIVE_LEARNING_WEIGHTS
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.pipeline.report import pipeline_report
from ionflow.pipeline.spec import WorkflowSpec
from ionflow.structures.jobs.core import (
    ArgyroditeConfigurationsMaker,
    ElectrostaticGroundStateMaker,
    LithiumContentMaker,
    SqsMaker,
    StructureSetMaker,
    SupercellMaker,
)


def species_of_material(material: str) -> list[str]:
    """Element symbols of a built-in material or structure file, by atomic number."""
    from ionflow.structures.parents import get_parent_structure

    structure = get_parent_structure(material)
    return sorted({el.symbol for el in structure.composition.elements}, key=lambda s: Element(s).Z)


@dataclass
class ParentStructureMaker(StructureSetMaker):
    """The parent structure itself, as a one-structure set (no disorder to resolve)."""

    name: str = "parent structure"
    kind: str = "parent"

    def build(self, structure):  # noqa: D102
        return [(structure, {"transformation": "none", "label": "parent"})]


def configurations_maker(spec: WorkflowSpec) -> StructureSetMaker:
    """Return the Maker of the characteristic configurations named in ``spec``."""
    kind = spec.structures.configurations
    n = spec.structures.n_configurations
    if kind == "argyrodite":
        return ArgyroditeConfigurationsMaker()
    if kind == "esgs":
        return ElectrostaticGroundStateMaker(n_structures=n)
    if kind == "llzo-vacancies":
        return LithiumContentMaker()
    if kind == "sqs":
        return SqsMaker(n_structures=n)
    return ParentStructureMaker()


def oracle_settings(spec: WorkflowSpec) -> OracleSettings:
    """Return the oracle settings of ``spec``'s DFT section."""
    return OracleSettings(
        oracle=spec.dft.oracle,
        encut=spec.dft.encut_eV,
        kpoint_mesh=tuple(spec.dft.kpoint_mesh),
    )


@dataclass
class LabelledSetFlow:
    """Stages 1-5 of a spec: configurations, relaxations, training sets, merged labels.

    Attributes:
        jobs: every job, in order (configurations, relaxations, training sets, merge).
        configurations: the job whose output holds the configurations.
        relax_jobs: one relaxation per configuration (empty when relax is off).
        merged: the job whose output holds the merged ``labelled_set``.
    """

    jobs: list
    configurations: Job
    relax_jobs: list
    merged: Job


def labelled_set_flow(spec: WorkflowSpec) -> LabelledSetFlow:
    """Return the jobs that produce ``spec``'s labelled set at its fit level."""
    oracle = oracle_settings(spec)
    species = spec.species_order or species_of_material(spec.material)
    configurations = configurations_maker(spec).make(spec.material)
    configurations.name = "configurations"
    jobs: list = [configurations]
    relax_jobs, labelled = [], []
    for index in range(spec.structures.n_configurations):
        structure = configurations.output.structures[index]
        if spec.dft.relax:
            relax = RelaxMaker(
                name=f"relax c{index}",
                level_of_theory="PBE",
                oracle_settings=oracle,
                force_tolerance=spec.dft.force_tolerance_eV_A,
            ).make(structure)
            relax_jobs.append(relax)
            jobs.append(relax)
            structure = relax.output.structure
        aimd = spec.dft.aimd
        training = TrainingSetFlowMaker(
            name=f"training set c{index}",
            levels_of_theory=tuple(spec.dft.levels_of_theory),
            oracle_settings=oracle,
            relax=False,
            strain_magnitudes=tuple(spec.structures.strain_magnitudes),
            strain_directions=tuple(spec.structures.strain_directions),
            temperatures=tuple(aimd.temperatures_K),
            label_maker=LabelMaker(species=species),
            aimd_maker=AimdSnapshotMaker(
                duration=aimd.duration_ps,
                timestep=aimd.timestep_fs,
                n_snapshots=aimd.n_snapshots,
                equilibration_fraction=aimd.equilibration_fraction,
            ),
        ).make(structure)
        jobs.append(training)
        labelled.append(training.output[spec.dft.fit_level])
    merged = merge_labelled_sets(labelled)
    merged.name = f"labelled set {spec.dft.fit_level}"
    jobs.append(merged)
    return LabelledSetFlow(jobs, configurations, relax_jobs, merged)


@dataclass
class PipelineMaker(Maker):
    """Build the full ionflow Flow of one :class:`WorkflowSpec`.

    Attributes:
        spec: the workflow specification (material and settings of every stage).
        name: flow name (default: the spec's name).
    """

    spec: WorkflowSpec | None = None
    name: str = ""

    def make(self) -> Flow:
        """Return the Flow; nothing runs until it is run locally or submitted."""
        spec = self.spec
        if spec is None:
            raise ValueError("PipelineMaker needs a spec")
        species = spec.species_order or species_of_material(spec.material)
        oracle = oracle_settings(spec)
        labelled_set = labelled_set_flow(spec)
        configurations = labelled_set.configurations
        relax_jobs, merged = labelled_set.relax_jobs, labelled_set.merged
        jobs: list = list(labelled_set.jobs)

        mtp = spec.mtp
        fit = MtpFitMaker(
            level=mtp.level,
            r_cut=mtp.r_cut_A,
            radial_basis_size=mtp.radial_basis_size,
            weights=(mtp.energy_weight, mtp.force_weight, mtp.stress_weight),
            max_iter=mtp.max_iterations,
            validation_fraction=mtp.validation_fraction,
            seed=mtp.seed,
        ).make(merged.output.labelled_set)
        jobs.append(fit)
        fitted_mtp = fit.output.mtp

        learning = mtp.active_learning
        if learning.enabled:
            explored = [job.output.structure for job in relax_jobs] or [
                configurations.output.structures[i] for i in range(spec.structures.n_configurations)
            ]
            active = ActiveLearningMaker(
                label_maker=LabelMaker(
                    level_of_theory=spec.dft.fit_level, oracle_settings=oracle, species=species
                ),
                fit_maker=MtpFitMaker(
                    level=mtp.level,
                    r_cut=mtp.r_cut_A,
                    radial_basis_size=mtp.radial_basis_size,
                    weights=ACTIVE_LEARNING_WEIGHTS,
                    max_iter=mtp.max_iterations,
                    validation_fraction=0.0,  # scored on the fixed held-out set instead
                    seed=mtp.seed,
                ),
                warm_start=learning.warm_start,
                trust=TrustLevels(
                    min_distance_fraction=learning.min_distance_fraction,
                    energy_window_eV_atom=learning.energy_window_eV_atom,
                ),
                temperatures=tuple(learning.temperatures_K),
                md_steps=learning.md_steps,
                gamma_select=learning.gamma_select,
                gamma_break=learning.gamma_break,
                max_selected=learning.max_selected_per_iteration,
                max_iterations=learning.max_iterations,
            ).make(
                explored,
                merged.output.labelled_set,
                mtp=fitted_mtp,
                heldout_cfg=fit.output.validation_cfg,
            )
            jobs.append(active)
            fitted_mtp = active.output.mtp

        md = spec.md
        timestep = md.timestep_fs
        dump_every = max(1, round(md.dump_interval_fs / timestep))
        arrhenius = []
        for index in range(spec.structures.n_configurations):
            source = (
                relax_jobs[index].output.structure
                if relax_jobs
                else configurations.output.structures[index]
            )
            supercell = SupercellMaker(name=f"supercell c{index}", scaling=md.supercell).make(
                source
            )
            conductivity = ConductivityMdFlowMaker(
                name=f"conductivity md c{index}",
                md_maker=LammpsMdMaker(
                    production_ps=md.production_ps,
                    heating_ps=md.heating_ps,
                    timestep_fs=timestep,
                    dump_every=dump_every,
                    restart_every=dump_every * 50,
                    dump_species=list(md.species),
                    ensemble=md.ensemble,
                    species=species,
                ),
                temperatures=list(md.temperatures_K),
                repeats=md.repeats,
            ).make(supercell.output.structures[0], fitted_mtp)
            jobs += [supercell, conductivity]
            arrhenius.append(conductivity.output)

        report = pipeline_report(
            spec.model_dump(mode="json"),
            [job.output for job in relax_jobs],
            arrhenius,
            fit.output,
            merged.output,
            active.output if learning.enabled else None,
        )
        report.name = "report"
        jobs.append(report)
        return Flow(jobs, output=report.output, name=self.name or spec.name)
