"""Per-stage cluster resources: spec -> jobflow manager config -> FireWorks spec of each job."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from jobflow import Flow, JobStore
from jobflow.managers.fireworks import flow_to_workflow
from maggma.stores import MemoryStore
from tests.fixtures.dft import make_li2s

from ionflow.dft.jobs.label import LabelMaker
from ionflow.errors import IonflowInputError
from ionflow.learning.flows.active_learning import merge_labelled
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.resources import GROUP_OF_STAGE, apply_stage_configs, stage_manager_configs
from ionflow.pipeline.spec import ResourcesSpec, load_spec
from ionflow.pipeline.stages import stage_of_firework, stage_of_job

WORKFLOWS = Path(__file__).parents[2] / "workflows"
RESOURCES = {
    "dft": {"nodes": 4, "ntasks": 256, "walltime": "1-00:00:00", "partition": "big",
            "account": "chem", "qos": "long", "mem": "200G", "modules": ["vasp/6.4"],
            "pre_run": ["ulimit -s unlimited"], "category": "dft"},
    "fit": {"nodes": 1, "ntasks": 32, "walltime": "12:00:00", "category": "fit"},
    "md": {"nodes": 1, "ntasks": 64, "walltime": "3-00:00:00", "category": "md",
           "fworker": "gpu-node"},
    "analysis": {"ntasks": 1, "walltime": "00:30:00", "category": "analysis"},
}  # fmt: skip
# what each group must put in a firework's spec
EXPECTED = {
    "dft": {
        "_category": "dft",
        "_queueadapter": {
            "nodes": 4, "ntasks": 256, "walltime": "1-00:00:00", "queue": "big",
            "account": "chem", "qos": "long", "mem": "200G",
            "pre_rocket": "module load vasp/6.4\nulimit -s unlimited\nexport PATH=/venv/bin:$PATH",
        },
    },
    "fit": {"_category": "fit",
            "_queueadapter": {"nodes": 1, "ntasks": 32, "walltime": "12:00:00"}},
    "md": {"_category": "md", "_fworker": "gpu-node",
           "_queueadapter": {"nodes": 1, "ntasks": 64, "walltime": "3-00:00:00"}},
    "analysis": {"_category": "analysis", "_queueadapter": {"ntasks": 1, "walltime": "00:30:00"}},
}  # fmt: skip
# keys of FireWorks' SLURM template (fireworks/user_objects/queue_adapters/SLURM_template.txt)
SLURM_TEMPLATE_KEYS = {
    "nodes",
    "ntasks",
    "walltime",
    "queue",
    "account",
    "qos",
    "mem",
    "pre_rocket",
}


def _configs() -> dict[str, dict]:
    return stage_manager_configs(ResourcesSpec(**RESOURCES), ["export PATH=/venv/bin:$PATH"])


def _expected(stage: str) -> dict:
    return EXPECTED[GROUP_OF_STAGE.get(stage, "analysis")]


def _check_fireworks(flow: Flow) -> list[str]:
    """Each firework of ``flow`` carries its stage's keys; returns the stages seen."""
    stages = []
    for firework in flow_to_workflow(flow).fws:
        stage = stage_of_firework(firework.as_dict())
        expected = _expected(stage)
        assert {k: firework.spec.get(k) for k in expected} == expected, (firework.name, stage)
        assert set(firework.spec["_queueadapter"]) <= SLURM_TEMPLATE_KEYS
        stages.append(stage)
    return stages


def test_slurm_template_uses_every_queueadapter_key():
    import fireworks

    template = (
        Path(fireworks.__file__).parent / "user_objects/queue_adapters/SLURM_template.txt"
    ).read_text()
    assert all(f"$${{{key}}}" in template for key in SLURM_TEMPLATE_KEYS)


def test_built_flow_puts_each_stage_in_its_queue():
    maker = PipelineMaker(stage_configs=_configs())
    stages = _check_fireworks(maker.make(make_li2s()))
    assert {"structures", "fan-out", "fit", "report"} <= set(stages)


def _run(job, store: JobStore):
    # jobflow's own Job.run: applies dynamic config updates and passes the manager config
    return job.run(store)


def test_jobs_made_at_run_time_get_their_stage_resources():
    """The fan-out jobs' replacements (relax, AIMD, label, supercell, MD) carry their own
    stage's resources after jobflow's Job.run, not the fan-out job's."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    spec = load_spec(WORKFLOWS / "li6ps5cl_optb88.yaml")
    maker = dataclasses.replace(PipelineMaker.from_spec(spec), stage_configs=_configs())
    structures = [make_li2s(primitive=True)] * 2
    training = maker.make_training_sets(structures)
    apply_stage_configs(training, maker.stage_configs)
    response = _run(training, store)
    stages = _check_fireworks(response.replace)
    assert {"relax", "aimd", "label"} <= set(stages)

    conductivity = maker.make_conductivity(structures, "mtp text")
    apply_stage_configs(conductivity, maker.stage_configs)
    stages = _check_fireworks(_run(conductivity, store).replace)
    assert {"md", "structures"} <= set(stages)


def test_active_learning_explores_with_md_resources_and_selects_with_the_fit_ones():
    """An iteration is exploration jobs (MD: the md group) and a selection job (MaxVol or
    ``mlp select-add``: the fit group), which replaces itself with label, merge, refit and
    the next iteration's jobs; jobflow's dynamic config updates it carries give each its
    own resources."""
    from ionflow.learning.flows.active_learning import ActiveLearningMaker

    configs = _configs()
    maker = ActiveLearningMaker(runs_per_temperature=2)
    loop = maker.make([make_li2s()], labelled_set=None, mtp="mtp text")
    apply_stage_configs(loop, configs)
    *explorations, selection = loop.jobs
    assert [stage_of_job(j) for j in loop.jobs] == ["active learning"] * 3  # status, progress
    for one in explorations:
        assert one.config.manager_config == configs["md"]
    assert configs["md"]["_category"] == "md"
    assert selection.config.manager_config["_category"] == "fit"
    assert selection.config.pass_manager_config is False
    # what select() returns, with jobflow's Job.run step for dynamic updates applied
    label = LabelMaker().make([make_li2s()])
    merge = merge_labelled(None, label.output)
    refit = maker.fit_maker.make(merge.output["labelled_set"])
    following = maker.iteration_jobs(
        [make_li2s()], merge.output["labelled_set"], refit.output.mtp, [{}], [], {}, None
    )
    replacement = Flow([label, merge, refit, *following])
    for update in selection.config_updates:
        replacement.update_config(**update, dynamic=True)
    assert label.config.manager_config["_category"] == "dft"
    assert refit.config.manager_config["_category"] == "fit"
    *explorations, selection = following
    assert len(explorations) == 2
    assert all(one.config.manager_config["_category"] == "md" for one in explorations)
    assert selection.config.manager_config["_category"] == "fit"
    assert selection.config.pass_manager_config is False
    assert len(selection.config_updates) == len(loop.jobs[-1].config_updates)  # passed on
    # and FireWorks puts them in those queues
    spec = {fw.name: fw.spec for fw in flow_to_workflow(replacement).fws}
    assert spec["select (iteration 2)"]["_category"] == "fit"
    assert spec["explore c0 run 1 (iteration 2)"]["_category"] == "md"


def test_shipped_specs_have_resources_for_every_group():
    for path in sorted(WORKFLOWS.glob("*.yaml")):
        resources = load_spec(path).resources
        for group in ("dft", "fit", "md", "analysis"):
            assert getattr(resources, group).walltime is not None, (path.name, group)


@pytest.mark.parametrize(
    ("group", "key", "value", "message"),
    [
        ("dft", "nodes", -1, "resources.dft.nodes"),
        ("md", "walltime", "3 days", "resources.md.walltime"),
        ("fit", "mem", "lots", "resources.fit.mem"),
        ("analysis", "cores", 4, "cores"),
    ],
)
def test_invalid_resources_are_one_line_errors_at_load(tmp_path, group, key, value, message):
    data = yaml.safe_load((WORKFLOWS / "li6ps5cl_optb88.yaml").read_text())
    data["resources"][group][key] = value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(IonflowInputError) as error:
        load_spec(path)
    assert message in str(error.value) and "\n" not in str(error.value)
