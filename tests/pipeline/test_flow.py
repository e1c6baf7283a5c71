"""The whole-pipeline Flow built from the shipped workflow specs (nothing runs)."""

from pathlib import Path

import pytest
from jobflow import Flow

from ionflow.errors import IonflowInputError
from ionflow.pipeline.flow import PipelineMaker, species_of_material
from ionflow.pipeline.spec import WorkflowSpec, load_spec

WORKFLOWS = Path(__file__).parents[2] / "workflows"


def _names(flow: Flow) -> list[str]:
    return [job.name for job in flow.jobs]


def test_argyrodite_flow_has_every_stage_per_configuration():
    spec = load_spec(WORKFLOWS / "li6ps5cl_optb88.yaml")
    flow = PipelineMaker(spec=spec).make()
    names = _names(flow)
    assert names[0] == "configurations"
    for index in range(6):
        for stage in ("relax", "training set", "supercell", "conductivity md"):
            assert f"{stage} c{index}" in names
    assert names.index("labelled set optB88-vdW") < names.index("mtp fit") < names.index("report")
    # three levels labelled per configuration, the fit uses optB88-vdW
    training = next(job for job in flow.jobs if job.name == "training set c0")
    assert set(training.output) == {"PBE", "PBE-D3(BJ)", "optB88-vdW"}
    md_flow = next(job for job in flow.jobs if job.name == "conductivity md c0")
    md_jobs = [job for job in md_flow.jobs if job.name.startswith("lammps md")]
    assert len(md_jobs) == 7 * 2  # 350-500 K every 25 K, two seeds


def test_species_order_defaults_to_atomic_number():
    assert species_of_material("Li6PS5Cl") == ["Li", "P", "S", "Cl"]
    assert species_of_material("LLZO") == ["Li", "O", "Zr", "La"]


def test_chgnet_cannot_label_dispersion_levels():
    spec = WorkflowSpec(
        name="x",
        material="Li6PS5Cl",
        dft={"oracle": "chgnet", "levels_of_theory": ["PBE-D3(BJ)"], "fit_level": "PBE-D3(BJ)"},
    )
    with pytest.raises(IonflowInputError, match="cannot compute PBE-D3"):
        PipelineMaker(spec=spec).make()


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_builds_a_flow(path):
    spec = load_spec(path)
    flow = PipelineMaker(spec=spec).make()
    assert _names(flow)[-1] == "report"


def test_active_learning_sits_between_fit_and_md():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    assert spec.mtp.active_learning.enabled
    names = _names(PipelineMaker(spec=spec).make())
    assert names.index("mtp fit") < names.index("active learning") < names.index("supercell c0")
    spec = load_spec(WORKFLOWS / "li6ps5cl_optb88.yaml")
    assert "active learning" not in _names(PipelineMaker(spec=spec).make())


def test_active_learning_keeps_the_fit_validation_split_held_out():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    flow = PipelineMaker(spec=spec).make()
    fit = next(job for job in flow.jobs if job.name == "mtp fit")
    iteration = next(job for job in flow.jobs if job.name == "active learning").jobs[-1]
    heldout = iteration.function_args[6]
    assert heldout.uuid == fit.uuid and heldout.attributes[-1][1] == "validation_cfg"
    loop = iteration.function.__self__
    assert loop.fit_maker.validation_fraction == 0.0  # scored on the held-out set instead
    assert loop.warm_start == spec.mtp.active_learning.warm_start
    trust = loop.trust
    assert trust.energy_window_eV_atom == spec.mtp.active_learning.energy_window_eV_atom
