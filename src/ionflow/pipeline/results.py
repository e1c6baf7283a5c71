"""The answers of each workflow, read back from the database (``ionflow results``).

Where they are: a workflow's fireworks (``fireworks`` collection, ``spec._tasks.job.uuid``)
name its jobs; each job's output is a task document in ``outputs`` (``uuid``, ``index``:
the newest index is the job's final output, ``output``: the pydantic document with its
``@class``); large fields (``.mtp`` and ``.cfg`` text, trajectories) are in the GridFS
bucket ``outputs_blobs``, referenced by ``blob_uuid``. The results are taken from:

- ``PipelineReportDocument`` (``ionflow.pipeline.report``): per configuration E_a ± err,
  σ(300 K) with its 95 % interval, weights, σ_bulk and σ_bulk^c with their intervals; per
  temperature D ± err in its ``arrhenius`` list. Before the report exists, from the
  ``ArrheniusDocument`` outputs.
- ``MtpFitDocument`` (``ionflow.mtp``): level, cutoff, engine, train/validation errors.
- ``ActiveLearningDocument`` (``ionflow.learning``): the iterations and why they stopped;
  its ``mtp`` and ``labelled_set`` are the final potential and training set.
- ``LabelledSetDocument`` (``ionflow.dft``): oracle, level of theory, the training set when
  no active learning ran.

The potential and training-set hashes are the sha256 of the stored ``.mtp`` text and of the
training set's ``.cfg`` text (``labelled_set.cfg_text``), so a user can check that the
files they hold are the ones behind the numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ionflow.pipeline.grain_boundary_report import grain_boundary_answer
from ionflow.pipeline.status import resolve_workflows

if TYPE_CHECKING:
    from fireworks import LaunchPad
    from jobflow import JobStore

JOB_UUID_PATH = "spec._tasks.job.uuid"


class TemperaturePoint(BaseModel):
    """D at one temperature (repeated runs combined)."""

    temperature_K: float
    D_cm2_s: float
    D_err_cm2_s: float
    n_runs: int


class ConfigurationAnswer(BaseModel):
    """One configuration: D(T), E_a, σ at the extrapolation temperature."""

    index: int
    weight: float | None = Field(None, description="Weight in sigma_bulk (report only).")
    Ea_eV: float
    Ea_err_eV: float
    sigma300_mS_cm: float
    sigma300_ci_mS_cm: tuple[float, float] = Field(description="95 % interval, mS/cm.")
    D300_cm2_s: float
    D300_ci_cm2_s: tuple[float, float]
    break_K: float | None = None
    temperatures: list[TemperaturePoint]


class MtpAnswer(BaseModel):
    """The fitted potential and how well it reproduces its oracle."""

    level: int
    r_cut_A: float
    engine: str
    n_train: int
    n_validation: int
    validation_energy_mae_meV_atom: float | None = None
    validation_energy_rmse_meV_atom: float | None = None
    validation_force_mae_eV_A: float | None = None
    validation_force_rmse_eV_A: float | None = None
    errors_of: str = Field(
        description="'held-out' (the active-learning loop's fixed set, never trained on), "
        "'validation' (the fit's split; the last refit's after active learning), or 'train'."
    )


class WorkflowResults(BaseModel):
    """The answers of one workflow (whatever of them exists yet)."""

    workflow_id: int
    name: str
    state: str
    material: str | None = None
    oracle: str | None = None
    level_of_theory: str | None = None
    extrapolation_K: float | None = None
    configurations: list[ConfigurationAnswer] = Field(default_factory=list)
    sigma_bulk_mS_cm: float | None = Field(None, description="Configuration-weighted.")
    sigma_bulk_interval_mS_cm: tuple[float, float] | None = Field(None, description="95 %.")
    crystallinity: float | None = None
    mixing_rule: str | None = None
    sigma_bulk_crystallinity_mS_cm: float | None = None
    sigma_bulk_crystallinity_interval_mS_cm: tuple[float, float] | None = None
    mtp: MtpAnswer | None = None
    active_learning: list[dict[str, Any]] = Field(default_factory=list)
    active_learning_stop: str | None = None
    n_training: int | None = None
    potential_sha256: str | None = None
    training_set_sha256: str | None = None
    notes: list[str] = Field(default_factory=list)
    site_comparison: dict[str, Any] | None = Field(
        None, description="Site variants side by side (SiteComparisonDocument), if any."
    )
    grain_boundary: dict[str, Any] | None = Field(
        None, description="D per GB region, D_GB/D_bulk (pipeline.grain_boundary_report)."
    )


def sha256_text(text: str | None) -> str | None:
    """sha256 (hex) of a stored text, None if there is none."""
    return None if not text else hashlib.sha256(text.encode()).hexdigest()


def _configuration(index: int, arrhenius: dict, weight: float | None) -> ConfigurationAnswer:
    return ConfigurationAnswer(
        index=index,
        weight=weight,
        Ea_eV=arrhenius["Ea_eV"],
        Ea_err_eV=arrhenius["Ea_err_eV"],
        sigma300_mS_cm=arrhenius["sigma300_mS_cm"],
        sigma300_ci_mS_cm=tuple(arrhenius["sigma300_ci_mS_cm"]),
        D300_cm2_s=arrhenius["D300_cm2_s"],
        D300_ci_cm2_s=tuple(arrhenius["D300_ci_cm2_s"]),
        break_K=arrhenius.get("break_K"),
        temperatures=[
            TemperaturePoint(
                temperature_K=t["temperature_K"],
                D_cm2_s=t["D_cm2_s"],
                D_err_cm2_s=t["D_err_cm2_s"],
                n_runs=t["n_runs"],
            )
            for t in arrhenius["temperatures"]
        ],
    )


def _errors(split: dict | None) -> dict[str, float]:
    if not split:
        return {}
    energy, forces = split["energy_per_atom"], split["forces"]
    return {
        "validation_energy_mae_meV_atom": 1000 * energy["mae"],
        "validation_energy_rmse_meV_atom": 1000 * energy["rmse"],
        "validation_force_mae_eV_A": forces["mae"],
        "validation_force_rmse_eV_A": forces["rmse"],
    }


def _mtp(fit: dict, learning: dict | None) -> MtpAnswer:
    """The final potential's errors: held-out set, else validation split, else train."""
    iterations = (learning or {}).get("iterations") or []
    refits = [it["validation_errors"] for it in iterations if it.get("validation_errors")]
    candidates = (
        ("held-out", (learning or {}).get("heldout_errors")),
        ("validation", refits[-1] if refits else fit.get("validation_errors")),
        ("train", fit["train_errors"]),
    )
    errors_of, split = next((name, split) for name, split in candidates if split)
    return MtpAnswer(
        level=fit["level"],
        r_cut_A=fit["r_cut"],
        engine=fit["engine"],
        n_train=fit["n_train"],
        n_validation=fit["n_validation"],
        errors_of=errors_of,
        **_errors(split),
    )


@dataclass(frozen=True)
class OutputProjection:
    """What a consumer reads of one class of output.

    Attributes:
        fields: fields of ``output`` read from the task document (empty: all of them).
        data: of those, the large-data fields loaded from the JobStore's ``data`` store
            (by the field name they were saved under); every other blob stays a reference.
    """

    fields: tuple[str, ...] = ()
    data: tuple[str, ...] = ()


@dataclass
class StoredOutputs:
    """The final outputs of a set of jobs, read through projections.

    Attributes:
        jobs: every task document found (``uuid``, ``index``, ``name``, ``class``;
            a replaced job has several indices), in order.
        by_class: the projected final output (newest index) documents (``name``,
            ``output``) of each class asked for, in order.
    """

    jobs: list[dict[str, Any]] = field(default_factory=list)
    by_class: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def outputs(self, cls: str) -> list[dict[str, Any]]:
        """The ``output`` dicts of one class."""
        return [doc["output"] for doc in self.by_class.get(cls, [])]


def stored_outputs(
    store: JobStore,
    criteria: dict,
    projections: dict[str, OutputProjection],
    uuid_order: list[str] | None = None,
) -> StoredOutputs:
    """The final output (newest index) of each job matching ``criteria``, projected.

    The one reader of stored outputs for ``ionflow results`` and ``report.html``: one
    light query lists the jobs (uuid, index, name, output class); then, per job whose
    class is in ``projections``, one query reads only the projection's fields and loads
    only its large-data fields.

    Args:
        store: the JobStore.
        criteria: query on task documents (``{"uuid": {"$in": ...}}``, ``{"hosts": ...}``).
        projections: output class (``@class``) -> what to read of it.
        uuid_order: order of the jobs (default: by ``completed_at``).
    """
    listed: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}
    properties = ["uuid", "index", "name", "completed_at", "output.@class"]
    for doc in store.docs_store.query(criteria, properties=properties):
        output = doc.get("output")
        cls = output.get("@class", "") if isinstance(output, dict) else ""
        job = {
            "uuid": doc["uuid"], "index": doc["index"], "name": doc.get("name", ""),
            "class": cls or "", "completed_at": str(doc.get("completed_at") or ""),
        }  # fmt: skip
        listed.append(job)
        if doc["uuid"] not in latest or doc["index"] > latest[doc["uuid"]]["index"]:
            latest[doc["uuid"]] = job
    if uuid_order is None:
        jobs = sorted(listed, key=lambda job: job["completed_at"])
        finals = [job for job in jobs if latest[job["uuid"]] is job]
    else:
        rank = {uuid: k for k, uuid in enumerate(uuid_order)}
        jobs = sorted(
            (job for job in listed if job["uuid"] in rank),
            key=lambda job: (rank[job["uuid"]], job["index"]),
        )
        finals = [latest[uuid] for uuid in uuid_order if uuid in latest]
    found = StoredOutputs(jobs=jobs, by_class={cls: [] for cls in projections})
    for job in finals:
        projection = projections.get(job["class"])
        if projection is None:
            continue
        fields = [f"output.{name}" for name in projection.fields] or ["output"]
        doc = store.query_one(
            {"uuid": job["uuid"], "index": job["index"]},
            properties=["name", *fields],
            load={"data": list(projection.data)} if projection.data else False,
        )
        found.by_class[job["class"]].append(doc)
    return found


_BLOB_FREE = OutputProjection()
RESULTS_PROJECTIONS = {
    "PipelineReportDocument": _BLOB_FREE,
    "ArrheniusDocument": _BLOB_FREE,
    "MtpFitDocument": OutputProjection(
        (
            "level",
            "r_cut",
            "engine",
            "n_train",
            "n_validation",
            "train_errors",
            "validation_errors",
            "level_of_theory",
            "mtp",
        ),
        ("mtp",),
    ),
    "ActiveLearningDocument": OutputProjection(
        ("iterations", "stop_reason", "n_training", "heldout_errors", "mtp", "labelled_set"),
        ("mtp", "cfg_text"),
    ),
    "LabelledSetDocument": OutputProjection(("labelled_set", "n_labelled"), ("cfg_text",)),
    "SiteComparisonDocument": _BLOB_FREE,  # site variants side by side (LSTH 1a vs 24k)
    "GrainBoundaryReportDocument": _BLOB_FREE,
}
"""What ``ionflow results`` reads: the hashed texts, never trajectories or other sets."""


def collect_results(lpad: LaunchPad, store: JobStore, workflow: dict) -> WorkflowResults:
    """The answers of one workflow document (``workflows`` collection)."""
    fireworks = sorted(
        lpad.fireworks.find({"fw_id": {"$in": workflow["nodes"]}}, {"fw_id": 1, JOB_UUID_PATH: 1}),
        key=lambda fw: fw["fw_id"],
    )
    uuids = list(
        dict.fromkeys(
            task["job"]["uuid"]
            for fw in fireworks
            for task in (fw.get("spec") or {}).get("_tasks") or []
            if (task.get("job") or {}).get("uuid")
        )
    )
    stored = stored_outputs(store, {"uuid": {"$in": uuids}}, RESULTS_PROJECTIONS, uuids)
    found = {cls: stored.outputs(cls) for cls in RESULTS_PROJECTIONS}
    result = WorkflowResults(
        workflow_id=min(workflow["nodes"]), name=workflow["name"], state=workflow["state"]
    )
    reports, fits = found["PipelineReportDocument"], found["MtpFitDocument"]
    learning = found["ActiveLearningDocument"][-1] if found["ActiveLearningDocument"] else None
    labelled = found["LabelledSetDocument"]
    if reports:
        report = reports[-1]
        # configurations whose analysis failed have neither (``run_warnings`` names them)
        configs = report["configurations"]
        result.configurations = [
            _configuration(configs[i]["index"], doc, configs[i]["weight"])
            if i < len(configs)
            else _configuration(i, doc, None)
            for i, doc in enumerate(report["arrhenius"])
        ]
        for key in (
            "material", "oracle", "level_of_theory", "extrapolation_K", "sigma_bulk_mS_cm",
            "sigma_bulk_interval_mS_cm", "crystallinity", "mixing_rule",
            "sigma_bulk_crystallinity_mS_cm", "sigma_bulk_crystallinity_interval_mS_cm",
        ):  # fmt: skip
            value = report.get(key)  # older reports lack the intervals
            setattr(result, key, tuple(value) if isinstance(value, list) else value)
        result.notes = [*(report.get("run_warnings") or []), *(report.get("notes") or [])]
    else:
        result.configurations = [
            _configuration(i, doc, None) for i, doc in enumerate(found["ArrheniusDocument"])
        ]
        if result.configurations:
            result.extrapolation_K = found["ArrheniusDocument"][0]["extrapolation_K"]
        if labelled:
            result.oracle = labelled[-1]["labelled_set"]["oracle"]
            result.level_of_theory = labelled[-1]["labelled_set"]["level_of_theory"]
        result.notes.append("no pipeline report yet: the answers found so far")
    if found["SiteComparisonDocument"]:  # site variants: the sites are never averaged
        result.site_comparison = found["SiteComparisonDocument"][-1]
    if learning is not None:
        result.active_learning = [
            {
                key: it.get(key)
                for key in ("iteration", "grade_max", "n_candidates", "n_selected", "n_labelled")
            }
            | _errors(it.get("validation_errors"))
            | {
                "heldout_force_rmse_eV_A": (it.get("heldout_errors") or {})
                .get("forces", {})
                .get("rmse")
            }
            for it in learning["iterations"]
        ]
        result.active_learning_stop = learning["stop_reason"]
        result.n_training = learning["n_training"]
        result.potential_sha256 = sha256_text(learning["mtp"])
        result.training_set_sha256 = sha256_text(learning["labelled_set"].get("cfg_text"))
    if fits:
        result.mtp = _mtp(fits[-1], learning)
        if learning is None:
            result.potential_sha256 = sha256_text(fits[-1].get("mtp"))
    if found["GrainBoundaryReportDocument"]:
        result.grain_boundary = grain_boundary_answer(found["GrainBoundaryReportDocument"][-1])
    if learning is None and labelled:
        fit_level = fits[-1].get("level_of_theory") if fits else None
        chosen = [d for d in labelled if d["labelled_set"]["level_of_theory"] == fit_level]
        training = (chosen or labelled)[-1]
        result.n_training = training["n_labelled"]
        result.training_set_sha256 = sha256_text(training["labelled_set"].get("cfg_text"))
    return result


def workflow_results(
    lpad: LaunchPad, store: JobStore, workflow: str | None = None
) -> list[WorkflowResults]:
    """Results of every workflow (or of one, by id or name), in workflow id order.

    Raises:
        IonflowInputError: ``workflow`` names no workflow.
    """
    query = resolve_workflows(lpad, workflow)
    workflows = lpad.workflows.find(query, {"name": 1, "state": 1, "nodes": 1})
    results = [collect_results(lpad, store, wf) for wf in workflows if wf.get("nodes")]
    return sorted(results, key=lambda r: r.workflow_id)
