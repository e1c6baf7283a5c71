"""The whole-pipeline Flow built from workflow specs (nothing runs).

The Flow is built before anything runs; the per-configuration jobs are made by jobs that
replace themselves once the configurations exist. Those jobs' bodies are called here on
known structures (``.original``), so the fan-out is checked without running engines.
"""

from pathlib import Path

import pytest
from jobflow import Flow, Response

import ionflow.settings as settings_module
from ionflow.errors import IonflowInputError
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.pipeline.flow import PipelineMaker, species_of_material
from ionflow.pipeline.spec import WorkflowSpec, load_spec
from ionflow.structures.argyrodite import characteristic_configurations
from ionflow.structures.parents import get_parent_structure

WORKFLOWS = Path(__file__).parents[2] / "workflows"


def _names(flow: Flow) -> list[str]:
    return [job.name for job in flow.jobs]


def _depends_on(job, *upstream) -> bool:
    return {ref.uuid for ref in job.input_references} == {j.uuid for j in upstream}


def _argyrodite(n_configurations: int = 6) -> tuple[PipelineMaker, Flow]:
    spec = load_spec(WORKFLOWS / "li6ps5cl_optb88.yaml")
    spec.structures.n_configurations = n_configurations
    maker = PipelineMaker.from_spec(spec)
    return maker, maker.make(spec.material)


def test_static_flow_wires_each_stage_to_the_outputs_it_uses():
    _, flow = _argyrodite()
    configurations, training, fit, conductivity, report = flow.jobs
    assert _names(flow) == ["configurations", "training sets", "mtp fit", "conductivity", "report"]
    assert configurations.function_args == ("Li6PS5Cl",)
    assert _depends_on(training, configurations)
    assert _depends_on(fit, training)
    assert _depends_on(conductivity, training, fit)
    assert _depends_on(report, training, conductivity, fit)
    assert flow.output.uuid == report.uuid


def test_training_sets_fan_out_over_the_configurations_produced():
    maker, _ = _argyrodite(n_configurations=6)
    made = [s for s, _ in characteristic_configurations(get_parent_structure("Li6PS5Cl"))]
    response = PipelineMaker.make_training_sets.original(maker, made[:2])  # two came back
    assert isinstance(response, Response)
    names = _names(response.replace)
    per_configuration = ["relax c0", "training set c0", "relax c1", "training set c1"]
    assert names == [*per_configuration, "labelled set optB88-vdW"]
    relax, training = response.replace.jobs[:2]
    assert relax.function_args[0] is made[0] and _depends_on(training.jobs[0], relax)
    assert set(training.output) == {"PBE", "PBE-D3(BJ)", "optB88-vdW"}
    # n_configurations keeps the first ones of what the method returned
    maker, _ = _argyrodite(n_configurations=1)
    response = PipelineMaker.make_training_sets.original(maker, made)
    assert [n for n in _names(response.replace) if n.startswith("relax")] == ["relax c0"]


def test_conductivity_fans_out_one_md_grid_per_configuration():
    maker, _ = _argyrodite()
    made = [s for s, _ in characteristic_configurations(get_parent_structure("Li6PS5Cl"))]
    response = PipelineMaker.make_conductivity.original(maker, made[:3], "fitted mtp text")
    names = _names(response.replace)
    assert names == [
        f"{stage} c{i}" for i in range(3) for stage in ("supercell", "conductivity md")
    ]
    md_flow = response.replace.jobs[1]
    md_jobs = [job for job in md_flow.jobs if job.name.startswith("lammps md")]
    assert len(md_jobs) == 7 * 2  # 350-500 K every 25 K, two seeds
    assert all(job.function_args[1] == "fitted mtp text" for job in md_jobs)
    assert len(response.replace.output) == 3  # one Arrhenius document per configuration


def test_core_repulsion_reaches_md_with_the_learned_potentials_closest_pairs():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    spec.md.core_repulsion = 0.9
    maker = PipelineMaker.from_spec(spec)
    assert maker.conductivity_maker.md_maker.core_repulsion == 0.9
    flow = maker.make(spec.material)
    jobs = {job.name: job for job in flow.jobs}
    closest = jobs["conductivity"].function_args[2]  # make_conductivity(structures, mtp, ..)
    assert (closest.uuid, closest.attributes) == (
        jobs["active learning"].uuid,
        (("a", "closest_pairs_A"),),
    )
    response = PipelineMaker.make_conductivity.original(
        maker, [get_parent_structure("LLZO")], "mtp text", {"Li-Li": 2.4}
    )
    md_jobs = [
        job
        for flow in response.replace.jobs[1::2]
        for job in flow.jobs
        if job.name.startswith("lammps md")
    ]
    assert md_jobs and all(
        job.function_kwargs["closest_pairs_A"] == {"Li-Li": 2.4} for job in md_jobs
    )
    assert all(job.maker.core_repulsion == 0.9 for job in md_jobs)


def test_update_kwargs_reaches_every_stage_maker():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    maker = PipelineMaker.from_spec(spec)
    maker = maker.update_kwargs({"max_iter": 7}, class_filter=MtpFitMaker)
    maker = maker.update_kwargs({"walltime_s": 3600.0}, class_filter=LammpsMdMaker)
    assert maker.fit_maker.max_iter == 7
    assert maker.active_learning_maker.fit_maker.max_iter == 7
    assert maker.conductivity_maker.md_maker.walltime_s == 3600.0


def test_active_learning_sits_between_fit_and_md():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    assert spec.mtp.active_learning.enabled
    flow = PipelineMaker.from_spec(spec).make(spec.material)
    jobs = {job.name: job for job in flow.jobs}
    assert _depends_on(jobs["active learning"], jobs["training sets"], jobs["mtp fit"])
    # MD runs with the actively learned potential, not with the first fit
    assert _depends_on(jobs["conductivity"], jobs["training sets"], jobs["active learning"])
    _, flow = _argyrodite()
    assert "active learning" not in _names(flow)


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
        PipelineMaker.from_spec(spec)


@pytest.mark.parametrize(
    ("kind", "limit"), [("parent", 1), ("argyrodite", 6), ("llzo-vacancies", 4)]
)
def test_more_configurations_than_the_method_gives_is_an_input_error(kind, limit):
    material = "LLZO" if kind == "llzo-vacancies" else "Li6PS5Cl"
    ok = WorkflowSpec(
        name="x", material=material, structures={"configurations": kind, "n_configurations": limit}
    )
    PipelineMaker.from_spec(ok)
    too_many = ok.model_copy(update={"structures": ok.structures.model_copy()})
    too_many.structures.n_configurations = limit + 1
    with pytest.raises(IonflowInputError, match=f"gives {limit} for") as info:
        PipelineMaker.from_spec(too_many)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_builds_a_flow(path):
    spec = load_spec(path)
    maker = PipelineMaker.from_spec(spec)
    flow = maker.make(spec.material)
    # site variants (LSTH 1a vs 24k): one report per site, made by the last job
    closing = "site reports" if spec.site_variants else "report"
    assert _names(flow)[-1] == closing and flow.output.uuid == flow.jobs[-1].uuid
    n_configurations = None if spec.site_variants else spec.structures.n_configurations
    assert maker.n_configurations == n_configurations
    assert maker.report_maker.material == spec.material
    assert maker.conductivity_maker.temperatures == spec.md.temperatures_K


def test_submit_rejects_a_parent_with_six_configurations_before_storing(
    launchpad, db_settings, tmp_path, monkeypatch, capsys
):
    spec = tmp_path / "parent.yaml"
    spec.write_text(
        "name: p\nmaterial: Li6PS5Cl\nstructures:\n  configurations: parent\n"
        "  n_configurations: 6\n"
    )
    monkeypatch.setenv("IONFLOW_DB_URI", db_settings.db_uri)
    monkeypatch.setattr(settings_module, "SETTINGS_CACHE", {})
    from ionflow.cli.errors import run_cli
    from ionflow.cli.main import build_app

    monkeypatch.setattr("sys.argv", ["ionflow", "submit", str(spec)])
    with pytest.raises(SystemExit) as info:
        run_cli(build_app(["workflows"]))
    assert info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0
    assert "n_configurations is 6 but configurations: parent gives 1" in message
    assert str(spec) in message  # caught when the spec is read
    assert launchpad.fireworks.count_documents({}) == 0


def test_submit_stores_the_static_stages_as_fireworks(launchpad, db_settings, monkeypatch):
    monkeypatch.setenv("IONFLOW_DB_URI", db_settings.db_uri)
    monkeypatch.setattr(settings_module, "SETTINGS_CACHE", {})
    from ionflow.cli.errors import run_cli
    from ionflow.cli.main import build_app

    spec = Path(__file__).parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"
    monkeypatch.setattr("sys.argv", ["ionflow", "submit", str(spec)])
    with pytest.raises(SystemExit) as info:
        run_cli(build_app(["workflows"]))
    assert info.value.code == 0
    names = sorted(fw["name"] for fw in launchpad.fireworks.find({}, {"name": 1}))
    assert names == sorted(["configurations", "training sets", "mtp fit", "conductivity", "report"])


def test_active_learning_keeps_the_fit_validation_split_held_out():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    maker = PipelineMaker.from_spec(spec)
    jobs = {job.name: job for job in maker.make(spec.material).jobs}
    heldout = jobs["active learning"].function_args[3]
    assert heldout.uuid == jobs["mtp fit"].uuid and heldout.attributes[-1][1] == "validation_cfg"
    loop = maker.active_learning_maker
    assert loop.fit_maker.validation_fraction == 0.0  # scored on the held-out set instead
    assert loop.warm_start == spec.mtp.active_learning.warm_start
    assert loop.trust.energy_window_eV_atom == spec.mtp.active_learning.energy_window_eV_atom
