"""The grain-boundary workflow spec: validates, builds, is costed; bad settings are refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from ionflow.errors import IonflowInputError
from ionflow.pipeline.cost import estimate_core_hours
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.spec import load_spec

WORKFLOWS = Path(__file__).parents[2] / "workflows"
FULL = WORKFLOWS / "li6ps5cl_grain_boundary.yaml"
TINY = WORKFLOWS / "tiny" / "li6ps5cl_grain_boundary.yaml"


def test_full_spec_validates_builds_and_is_costed():
    spec = load_spec(FULL)
    maker = PipelineMaker.from_spec(spec)
    study = maker.grain_boundary_maker
    assert study.configurations == (0, 2) and study.fit_level == "optB88-vdW"
    assert study.production_gb_maker.expand_times == 3 and study.production_supercell == (3, 3)
    assert study.md_maker.temperature == 350 and study.md_maker.ensemble == "npt"
    assert study.md_maker.production_ps == 10000
    cutter = study.gb_learning_maker.candidate_cutter
    assert cutter.radius_A >= spec.mtp.r_cut_A and cutter.max_atoms == 200
    assert study.surface_learning_maker.candidate_cutter is None  # slabs are labelled whole
    assert study.surface_training_maker.levels_of_theory == ("optB88-vdW",)
    assert study.surface_training_maker.aimd_maker.duration == 10
    assert study.diffusion_maker.region_width_A == 10
    flow = maker.make(spec.material)
    assert "grain boundary" in [job.name for job in flow.jobs]
    costs = {c.stage: c for c in estimate_core_hours(spec, 52)}
    assert "14040 atoms" in costs["grain boundary md"].units
    assert "1200 labels" in costs["grain boundary surfaces"].units  # the paper's 1200
    assert all(c.core_hours > 0 for c in costs.values())


def test_tiny_spec_validates_and_builds():
    spec = load_spec(TINY)
    assert spec.dft.oracle == "chgnet" and spec.grain_boundary.enabled
    assert PipelineMaker.from_spec(spec).grain_boundary_maker is not None


def test_tiny_spec_learns_on_the_relaxed_production_model():
    spec = load_spec(TINY)
    study = PipelineMaker.from_spec(spec).grain_boundary_maker
    assert study.relax_maker is not None and study.relax_maker.max_steps == 60
    assert not study.relax_maker.require_convergence  # a step cap, not a convergence test
    # the GB loop has its own cap (eight: three left a potential that collapsed)
    learning = spec.grain_boundary.learning
    assert study.gb_learning_maker.max_iterations == learning.gb_max_iterations == 8
    assert study.surface_learning_maker.max_iterations == learning.max_iterations == 1
    cutter = study.gb_learning_maker.candidate_cutter
    assert cutter.shape == "slab" and cutter.axis == 2 and cutter.units == {"P": 2.5}
    # the learning model is the production cell: production starts from its relaxed cell
    assert study._learning_model_index() == 0
    bigger = dataclasses.replace(study, production_supercell=(2, 1))
    assert bigger._learning_model_index() is None  # relaxed on its own


def test_spec_without_the_section_builds_no_study():
    spec = load_spec(WORKFLOWS / "li6ps5cl_optb88.yaml")
    assert PipelineMaker.from_spec(spec).grain_boundary_maker is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"neighbourhood": {"radius_A": 4.0}}, "below mtp.r_cut_A"),
        ({"configurations": [0, 6]}, "n_configurations is 6"),
        (
            {"model": {"ab_shift": [0.0, 0.0], "ab_grid": [1, 1], "openings_A": [0.0]}},
            "apart; change grain_boundary.model.ab_shift",
        ),
        ({"model": {"plane": [0, 2, 2]}}, "configuration 0"),
    ],
)
def test_bad_grain_boundary_settings_are_one_line_errors(tmp_path, change, message):
    data = yaml.safe_load(FULL.read_text())
    for key, value in change.items():
        if isinstance(value, dict):
            data["grain_boundary"][key].update(value)
        else:
            data["grain_boundary"][key] = value
    path = tmp_path / "gb.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(IonflowInputError, match=message) as info:
        load_spec(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
