"""Which pipeline stage a job belongs to, read from the module of its function.

A firework made by jobflow stores its job's function as ``spec._tasks[0].job.function``
with ``@module`` (``ionflow.dft.jobs.label``, ``ionflow.md.jobs.lammps``, ...). The stage
is the longest entry of :data:`STAGE_OF_MODULE` that prefixes that module, so jobs added
at run time (active-learning iterations, per-configuration fan-out) are classified the
same way as those known at submission, and no stage label has to be written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

# module prefix -> stage; the longest matching prefix wins
STAGE_OF_MODULE = {
    "ionflow.structures": "structures",
    # jobs that replace themselves with the per-configuration jobs once the
    # configurations exist (PipelineMaker.make_training_sets, make_conductivity)
    "ionflow.pipeline.flow": "fan-out",
    "ionflow.pipeline.grain_boundary": "fan-out",  # GrainBoundaryStudyMaker.expand
    "ionflow.pipeline.llzo_volumes": "fan-out",  # VolumeStudyMaker.make and its summary
    "ionflow.dft.jobs.relax": "relax",
    "ionflow.dft.jobs.aimd": "aimd",
    "ionflow.dft.flows": "aimd",  # strained copies and snapshot collection around AIMD
    "ionflow.dft": "label",
    "ionflow.mtp": "fit",
    "ionflow.learning": "active learning",
    "ionflow.amorphous": "md",
    "ionflow.md": "md",
    "ionflow.conductivity": "analysis",
    "ionflow.analysis": "analysis",
    "ionflow.pipeline": "report",
}
STAGES = tuple(dict.fromkeys([*STAGE_OF_MODULE.values(), "other"]))
"""Stages in pipeline order (``other``: a job of no ionflow stage)."""

# where jobflow keeps a firework's job function (a MongoDB projection path)
FUNCTION_MODULE_PATH = "spec._tasks.job.function.@module"


def stage_of_module(module: str | None) -> str:
    """Return the stage of a job whose function lives in ``module``."""
    best = ""
    for prefix in STAGE_OF_MODULE:
        if (module == prefix or (module or "").startswith(prefix + ".")) and len(prefix) > len(
            best
        ):
            best = prefix
    return STAGE_OF_MODULE.get(best, "other")


def stage_of_firework(fw_doc: dict) -> str:
    """Return the stage of a firework document (full or projected on its job function)."""
    tasks = (fw_doc.get("spec") or {}).get("_tasks") or [{}]
    for task in tasks if isinstance(tasks, list) else [tasks]:
        function = ((task or {}).get("job") or {}).get("function") or {}
        if isinstance(function, dict) and function.get("@module"):
            return stage_of_module(function["@module"])
    return "other"


def stage_of_job(job) -> str:
    """Return the stage of a jobflow ``Job`` (before it is submitted)."""
    return stage_of_module(getattr(job.function, "__module__", None))


def count_by_stage(stages: Iterable[str]) -> dict[str, int]:
    """Count stage names, in pipeline order (stages with no job left out)."""
    counts = dict.fromkeys(STAGES, 0)
    for stage in stages:
        counts[stage] = counts.get(stage, 0) + 1
    return {stage: n for stage, n in counts.items() if n}
