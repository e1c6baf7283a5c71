"""Submitting a workflow spec to the LaunchPad (``ionflow submit``).

Order of work, so that a bad input never leaves anything behind: the spec is loaded and
checked, the database is reached, the whole Flow is built and converted to a FireWorks
workflow, and only then is anything written. A brand-new database gets its LaunchPad
initialised (FireWorks' id counters); a database that already holds fireworks is never
reset. The workflow id is the smallest firework id of the workflow (any of its ids is
accepted by FireWorks' ``lpad`` and by ``ionflow status``).

The workflow's metadata holds the sha256 of the spec (``ionflow_spec_sha256``), so the
same spec submitted again is recognised and the user is told which finished DFT labels
the label cache (:mod:`ionflow.dft.label_cache`) holds for the spec's oracle and levels:
every labelling job reuses the label of a structure that comes out the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ionflow.dft.label_cache import CACHE_COLLECTION
from ionflow.errors import IonflowInputError
from ionflow.pipeline.cost import StageCost, estimate_core_hours
from ionflow.pipeline.spec import WorkflowSpec
from ionflow.pipeline.stages import count_by_stage, stage_of_job

if TYPE_CHECKING:
    from fireworks import LaunchPad, Workflow
    from jobflow import Flow

SPEC_HASH_KEY = "ionflow_spec_sha256"


@dataclass
class SubmissionPlan:
    """What ``ionflow submit`` stores (or, with ``--dry-run``, would store).

    Attributes:
        name: workflow name.
        n_jobs: jobs known at submission (active learning and fan-out add more).
        jobs_per_stage: those jobs per stage, in pipeline order.
        core_hours: estimated core-hours per stage (:mod:`ionflow.pipeline.cost`).
        spec_sha256: hash of the spec (workflow metadata).
        workflow_id: smallest firework id once submitted, else None.
        same_spec_workflows: ids of earlier workflows of the same spec.
        cached_labels: finished labels in the label cache per level of theory, for the
            spec's oracle.
    """

    name: str
    n_jobs: int
    jobs_per_stage: dict[str, int]
    core_hours: list[StageCost]
    spec_sha256: str
    workflow_id: int | None = None
    same_spec_workflows: list[int] = field(default_factory=list)
    cached_labels: dict[str, int] = field(default_factory=dict)

    def label_reuse_line(self, oracle: str) -> str | None:
        """One line on the finished labels this workflow will reuse, or None."""
        n_cached = sum(self.cached_labels.values())
        if not n_cached:
            return None
        levels = ", ".join(f"{n} {level}" for level, n in self.cached_labels.items() if n)
        same = (
            f"same spec as workflow {', '.join(map(str, self.same_spec_workflows))}; "
            if self.same_spec_workflows
            else ""
        )
        return (
            f"{same}the label cache holds {levels} label(s) by {oracle}: every structure "
            "that comes out the same (to 1e-3 Å) is not labelled again"
        )

    def to_json(self) -> dict:
        """JSON-ready summary (``ionflow submit --json``)."""
        return {
            "name": self.name,
            "workflow_id": self.workflow_id,
            "n_jobs": self.n_jobs,
            "stages": [
                {
                    "stage": stage,
                    "jobs": n,
                    "core_hours": next(
                        (c.core_hours for c in self.core_hours if c.stage == stage), None
                    ),
                }
                for stage, n in self.jobs_per_stage.items()
            ],
            "core_hours_total": sum(c.core_hours for c in self.core_hours),
            "spec_sha256": self.spec_sha256,
            "same_spec_workflows": self.same_spec_workflows,
            "cached_labels": self.cached_labels,
        }


def spec_sha256(spec: WorkflowSpec) -> str:
    """Hash of everything a spec sets except its name (same science, same hash)."""
    data = spec.model_dump(mode="json", exclude={"name"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def plan_submission(spec: WorkflowSpec, flow: Flow, name: str, n_atoms: int) -> SubmissionPlan:
    """Stages, job counts and core-hour estimate of ``flow`` (nothing is stored)."""
    stages = [stage_of_job(job) for job, _ in flow.iterflow()]
    return SubmissionPlan(
        name=name,
        n_jobs=len(stages),
        jobs_per_stage=count_by_stage(stages),
        core_hours=estimate_core_hours(spec, n_atoms),
        spec_sha256=spec_sha256(spec),
    )


def find_label_reuse(lpad: LaunchPad, spec: WorkflowSpec, plan: SubmissionPlan) -> None:
    """Fill ``plan`` with earlier workflows of the same spec and the cached labels."""
    plan.same_spec_workflows = sorted(
        min(wf["nodes"])
        for wf in lpad.workflows.find({f"metadata.{SPEC_HASH_KEY}": plan.spec_sha256}, {"nodes": 1})
        if wf.get("nodes")
    )
    cache = lpad.db[CACHE_COLLECTION]
    plan.cached_labels = {
        level: cache.count_documents(
            {"label.oracle": spec.dft.oracle, "label.level_of_theory": level}
        )
        for level in spec.dft.levels_of_theory
    }


def ensure_launchpad(lpad: LaunchPad) -> bool:
    """Initialise the LaunchPad of a brand-new database; never reset a populated one.

    Returns:
        True if it was initialised now, False if it already was.

    Raises:
        IonflowInputError: the database holds fireworks but no LaunchPad id counter.
    """
    if lpad.fw_id_assigner.find_one() is not None:
        return False
    held = {
        name: lpad.db[name].count_documents({}) for name in ("fireworks", "workflows", "launches")
    }
    if any(held.values()):
        counts = ", ".join(f"{n} {name}" for name, n in held.items() if n)
        raise IonflowInputError(
            f"database '{lpad.db.name}' holds {counts} but no FireWorks id counter "
            "(fw_id_assigner); ionflow never resets a populated LaunchPad: restore the "
            "counter or use a new database name in db_uri"
        )
    # empty: FireWorks' own reset only creates the counters and indexes here; it refuses
    # by itself if a workflow appeared meanwhile (max_reset_wo_password=0)
    lpad.reset("", require_password=False, max_reset_wo_password=0)
    return True


def add_workflow(lpad: LaunchPad, workflow: Workflow) -> int:
    """Store ``workflow`` (initialising a new LaunchPad); return its workflow id."""
    ensure_launchpad(lpad)
    mapping = lpad.add_wf(workflow)
    return min(mapping.values())


def submit_spec(
    spec: WorkflowSpec, lpad: LaunchPad | None, name: str | None = None, dry_run: bool = False
) -> SubmissionPlan:
    """Build the Flow of ``spec``, plan it and (unless ``dry_run``) add it to ``lpad``.

    Everything is built and checked before anything is stored; with ``lpad`` None (a dry
    run without a database) the label cache is not looked at.

    Args:
        spec: the loaded workflow spec.
        lpad: the LaunchPad (initialised here if the database is brand new).
        name: workflow name (default: the spec's).
        dry_run: plan only, store nothing.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from ionflow.pipeline.cost import configuration_atoms
    from ionflow.pipeline.flow import PipelineMaker

    flow = PipelineMaker.from_spec(spec).make(spec.material)
    flow.name = name or spec.name
    plan = plan_submission(spec, flow, flow.name, configuration_atoms(spec))
    if lpad is not None:
        find_label_reuse(lpad, spec, plan)
    if not dry_run:
        fw_workflow = flow_to_workflow(flow, metadata={SPEC_HASH_KEY: plan.spec_sha256})
        plan.workflow_id = add_workflow(lpad, fw_workflow)
    return plan
