"""Per-stage cluster resources: the workflow spec's ``resources`` as jobflow manager configs.

Each job gets ``config.manager_config = {"_category", "_fworker", "_queueadapter"}`` of
its stage's group (:data:`GROUP_OF_STAGE`), which ``flow_to_workflow`` copies into the
firework's spec: ``qlaunch`` (reservation mode) updates its queue adapter with
``_queueadapter`` and only workers of ``_category`` pull the job, so DFT, fitting and MD
go to different queues. Jobs created at run time get theirs too: the pipeline's fan-out
jobs apply :func:`apply_stage_configs` to their replacement, and a job whose replacement
mixes stages (an active-learning selection: label, merge, refit, the next iteration's
exploration and selection) carries
jobflow's dynamic, function-filtered config updates, with passing its own config off
(jobflow would otherwise overwrite every replacement job with the parent's).
"""

from __future__ import annotations

import copy

import yaml
from jobflow import Flow, Job
from jobflow.core.job import store_inputs

from ionflow.dft.jobs.label import LabelMaker
from ionflow.learning.flows.active_learning import ActiveLearningMaker, merge_labelled
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.pipeline.spec import ResourcesSpec, StageResources
from ionflow.pipeline.stages import STAGES, stage_of_job, stage_of_module
from ionflow.settings import settings_file

# stage -> group of the spec's resources section; stages not listed run as "analysis"
GROUP_OF_STAGE = {
    "relax": "dft",
    "aimd": "dft",
    "label": "dft",
    "fit": "fit",
    "active learning": "md",  # its own jobs run MD with the MTP and score it
    "md": "md",
}
# job functions created at run time by a job whose replacement mixes stages
MIXED_REPLACEMENT_FUNCTIONS = (
    LabelMaker.make,
    merge_labelled,
    MtpFitMaker.make,
    ActiveLearningMaker.explore,
    ActiveLearningMaker.select,
)
# jobs that run with another stage's resources than their own: active learning's selection
# grades and runs MaxVol or ``mlp select-add`` (MPI) like a fit, its exploration runs MD
RESOURCES_OF_FUNCTION = {ActiveLearningMaker.select: "fit"}


def _unwrapped(function):
    return getattr(function, "__wrapped__", function)


def resource_stage(function) -> str:
    """The stage whose resources a job of ``function`` gets (its own stage by default)."""
    for special, stage in RESOURCES_OF_FUNCTION.items():
        if _unwrapped(function) is _unwrapped(special):
            return stage
    return stage_of_module(getattr(function, "__module__", None))


def worker_pre_rocket() -> list[str]:
    """The ``pre_rocket`` lines of ``my_qadapter.yaml`` beside the settings file in use.

    A ``_queueadapter`` ``pre_rocket`` replaces the worker's, so a stage's modules and
    lines are put before these (PATH and config files of ionflow); [] when absent.
    """
    path = settings_file().parent / "my_qadapter.yaml"
    try:
        lines = (yaml.safe_load(path.read_text()) or {}).get("pre_rocket")
    except (OSError, yaml.YAMLError, AttributeError):
        return []
    return str(lines).splitlines() if lines else []


def manager_config(resources: StageResources, base_pre_rocket: list[str]) -> dict:
    """Return the jobflow ``manager_config`` of one group's resources (FireWorks keys)."""
    queueadapter = {
        key: value
        for key, value in {
            "nodes": resources.nodes,
            "ntasks": resources.ntasks,
            "walltime": resources.walltime,
            "queue": resources.partition,
            "account": resources.account,
            "qos": resources.qos,
            "mem": resources.mem,
        }.items()
        if value is not None
    }
    lines = [f"module load {' '.join(resources.modules)}"] if resources.modules else []
    lines += resources.pre_run
    if lines:
        queueadapter["pre_rocket"] = "\n".join([*lines, *base_pre_rocket])
    config = {"_queueadapter": queueadapter} if queueadapter else {}
    if resources.category is not None:
        config["_category"] = resources.category
    if resources.fworker is not None:
        config["_fworker"] = resources.fworker
    return config


def stage_manager_configs(resources: ResourcesSpec, base_pre_rocket: list[str]) -> dict[str, dict]:
    """Return stage -> manager config for every stage of :data:`STAGES`."""
    return {
        stage: manager_config(
            getattr(resources, GROUP_OF_STAGE.get(stage, "analysis")), base_pre_rocket
        )
        for stage in STAGES
    }


def _jobs(jobs: Flow | Job | list) -> list[Job]:
    if isinstance(jobs, Job):
        return [jobs]
    if isinstance(jobs, Flow):
        return _jobs(jobs.jobs)
    return [one for item in jobs for one in _jobs(item)]


def apply_stage_configs(jobs: Flow | Job | list, configs: dict[str, dict]) -> None:
    """Give every job in ``jobs`` its stage's manager config (in place; {}: none).

    Jobs whose replacement mixes stages (fan-out, active-learning selection) stop
    jobflow passing their own config on; the job jobflow adds to hold a replacing
    Flow's output (``store_inputs``) gets the ``other`` stage's through a dynamic update.
    Active learning's selection jobs get the fit's resources (:data:`RESOURCES_OF_FUNCTION`).
    """
    if not any(configs.values()):
        return
    for one in _jobs(jobs):
        stage = stage_of_job(one)
        one.config.manager_config = copy.deepcopy(configs.get(resource_stage(one.function), {}))
        selection = _unwrapped(one.function) is _unwrapped(ActiveLearningMaker.select)
        if stage != "fan-out" and not selection:
            continue
        one.config.pass_manager_config = False
        updates = [(store_inputs, {"manager_config": configs.get("other", {})})]
        if selection:
            updates += [
                (made, {"manager_config": configs.get(resource_stage(made), {})})
                for made in MIXED_REPLACEMENT_FUNCTIONS
            ]
        for made, update in updates:
            if made is ActiveLearningMaker.select:
                update["pass_manager_config"] = False
            one.update_config(update, function_filter=made, dynamic=True)
