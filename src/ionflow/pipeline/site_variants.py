"""Site variants in one pipeline: the spec's ``site_variants`` section made into Makers.

The variants (e.g. LSTH with Li on 1a, ESGS, and Li on 24k, SQS) are configuration groups
of one pipeline: their configurations are made together (:class:`SiteVariantsMaker`),
labelled and fitted by one MTP (so the sites differ only in structure, not in potential),
and each runs its own MD and Arrhenius analysis. :class:`SiteReportsMaker` then gives each
site its own report (Boltzmann weights only among that site's configurations) and puts
the sites side by side (:mod:`ionflow.pipeline.site_comparison`); nothing is averaged
across sites.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, Maker, OnMissing, Response, job

from ionflow.errors import IonflowInputError
from ionflow.pipeline.configurations import check_configuration_count
from ionflow.pipeline.report import PipelineReportMaker
from ionflow.pipeline.resources import apply_stage_configs
from ionflow.pipeline.site_comparison import SiteComparisonMaker
from ionflow.pipeline.spec import SiteVariantSpec, WorkflowSpec
from ionflow.structures.jobs.core import (
    ElectrostaticGroundStateMaker,
    ParentStructureMaker,
    SqsMaker,
    StructureSetMaker,
)
from ionflow.structures.jobs.site_variants import SiteVariantsMaker
from ionflow.structures.schemas.structures import StructureRecord


def variant_maker(variant: SiteVariantSpec) -> StructureSetMaker:
    """The Maker ordering one variant's parent."""
    scaling = tuple(variant.scaling) if variant.scaling is not None else None
    if variant.configurations == "esgs":
        return ElectrostaticGroundStateMaker(n_structures=variant.n_configurations, scaling=scaling)
    if variant.configurations == "sqs":
        return SqsMaker(n_structures=variant.n_configurations, scaling=scaling)
    return ParentStructureMaker()


def site_variants_maker(spec: WorkflowSpec) -> SiteVariantsMaker:
    """Every variant's configurations, as one structure set."""
    variants = spec.site_variants or []
    return SiteVariantsMaker(
        labels=[v.label for v in variants],
        materials=[v.material for v in variants],
        makers=[variant_maker(v) for v in variants],
    )


def check_site_variants(spec: WorkflowSpec, path: Path) -> None:
    """Every variant's parent exists, has the material's elements and gives its orderings.

    Raises:
        IonflowInputError: naming the spec file, the variant and what to fix.
    """
    from ionflow.structures.parents import get_parent_structure

    elements = set(get_parent_structure(spec.material).composition.elements)
    for number, variant in enumerate(spec.site_variants or []):
        where = f"{path}: 'site_variants' {number} ({variant.label})"
        material = variant.material
        if (path.parent / material).is_file():
            material = str((path.parent / material).resolve())
            variant.material = material
        try:
            parent = get_parent_structure(material)
        except IonflowInputError as exc:
            raise IonflowInputError(f"{where}: 'material': {exc}") from exc
        if set(parent.composition.elements) != elements:
            raise IonflowInputError(
                f"{where}: material {variant.material} has elements "
                f"{sorted(e.symbol for e in parent.composition.elements)}, not those of "
                f"{spec.material} ({sorted(e.symbol for e in elements)}); one MTP serves all sites"
            )
        if variant.configurations == "parent" and variant.n_configurations != 1:
            raise IonflowInputError(f"{where}: configurations parent gives one structure")
        try:
            maker = variant_maker(variant)
            check_configuration_count(
                maker, material, variant.n_configurations, variant.configurations
            )
        except IonflowInputError as exc:
            raise IonflowInputError(f"{where}: {exc}") from exc


@dataclass
class SiteReportsMaker(Maker):
    """Per-site reports and their side-by-side comparison, made when the results exist.

    The inputs of the reports stay references until each report runs (``inputs``), so the
    replacement never copies a training set or potential into a job's stored arguments.

    Attributes:
        name: job name (replaced by the reports and the comparison).
        labels: the site variants, in configuration order.
        materials: each variant's parent (its published values are shown beside it).
        report_maker: template of every site's report (its material and name are set).
        comparison_maker: the comparison job.
        inputs: references to the per-configuration ``relaxed``, ``arrhenius`` and
            ``structures`` lists and to ``fit``, ``labelled`` and ``active``, set by
            :meth:`closing`.
        stage_configs: stage -> manager config of the jobs made at run time
            (:func:`ionflow.pipeline.resources.apply_stage_configs`); {}: none.
    """

    name: str = "site reports"
    labels: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    report_maker: PipelineReportMaker = field(default_factory=PipelineReportMaker)
    comparison_maker: SiteComparisonMaker = field(default_factory=SiteComparisonMaker)
    inputs: dict[str, Any] = field(default_factory=dict)
    stage_configs: dict[str, dict] = field(default_factory=dict)

    def closing(self, records: Any) -> Callable[..., Job]:
        """The closing job of a pipeline, called like ``PipelineReportMaker.make``.

        ``records``: the configurations' ``StructureRecord`` list (its output reference).
        """

        def make(relaxed, arrhenius, fit, labelled, active=None, structures=None) -> Job:
            inputs = {
                "relaxed": relaxed,
                "arrhenius": arrhenius,
                "fit": fit,
                "labelled": labelled,
                "active": active,
                "structures": structures,
            }
            return dataclasses.replace(self, inputs=inputs).make(records, arrhenius, relaxed)

        return make

    @job
    def make(
        self, records: list[StructureRecord], arrhenius: list, relaxed: list | None = None
    ) -> Response:
        """Replaced by one report per site and the comparison of them (the output).

        Runs once every configuration's Arrhenius analysis (``arrhenius``, in
        configuration order) finished or failed (the pipeline gives it, and it gives the
        reports and the comparison, ``OnMissing.NONE``); each configuration's site is its
        record's ``provenance["site"]``; ``relaxed`` is empty when nothing was relaxed.
        """
        sites = [record.provenance["site"] for record in records]
        refs = self.inputs
        jobs, outputs, cells = [], [], []
        for label, material in zip(self.labels, self.materials, strict=True):
            indices = [i for i, site in enumerate(sites) if site == label]
            if not indices:
                raise RuntimeError(f"no configuration of site {label} was made")
            cells.append((records[indices[0]].formula, records[indices[0]].n_atoms))
            report = dataclasses.replace(
                self.report_maker,
                workflow_name=f"{self.report_maker.workflow_name} Li@{label}",
                material=material,
            ).make(
                [refs["relaxed"][i] for i in indices] if relaxed else [],
                [refs["arrhenius"][i] for i in indices],
                refs["fit"],
                refs["labelled"],
                refs["active"],
                structures=None
                if refs.get("structures") is None
                else [refs["structures"][i] for i in indices],
            )
            jobs.append(report)
            outputs.append(report.output)
        comparison = dataclasses.replace(
            self.comparison_maker, labels=list(self.labels), cells=cells
        ).make(outputs)
        for gathering in [*jobs, comparison]:  # what finished, None where a run failed
            gathering.config.on_missing_references = OnMissing.NONE
        replacement = Flow([*jobs, comparison], output=comparison.output)
        apply_stage_configs(replacement, self.stage_configs)
        return Response(replace=replacement)
