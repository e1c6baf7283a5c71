from pathlib import Path

import pytest

from ionflow.errors import IonflowInputError
from ionflow.pipeline.spec import WorkflowSpec, load_spec

WORKFLOWS = sorted((Path(__file__).parents[2] / "workflows").glob("*.yaml"))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_shipped_workflow_specs_validate(path):
    spec = load_spec(path)
    assert spec.dft.fit_level in spec.dft.levels_of_theory
    assert spec.md.temperatures_K


def test_defaults_are_the_papers_numbers():
    spec = WorkflowSpec(name="x", material="Li6PS5Cl")
    assert spec.mtp.level == 8 and spec.mtp.r_cut_A == 5.0
    assert (spec.mtp.energy_weight, spec.mtp.force_weight) == (100.0, 1.0)
    assert spec.md.temperatures_K == [350.0 + 25 * i for i in range(7)]
    assert spec.dft.aimd.temperatures_K == [300.0, 600.0, 900.0, 1200.0]
    assert spec.analysis.crystallinity == 0.8


def test_unknown_key_is_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmaterial: Li6PS5Cl\nmtp:\n  levle: 8\n")
    with pytest.raises(IonflowInputError, match=r"unknown key 'mtp.levle'"):
        load_spec(path)


def test_fit_level_must_be_labelled(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmaterial: Li6PS5Cl\ndft:\n  levels_of_theory: [PBE]\n")
    with pytest.raises(IonflowInputError, match="fit_level"):
        load_spec(path)


def test_missing_spec_file(tmp_path):
    with pytest.raises(IonflowInputError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
