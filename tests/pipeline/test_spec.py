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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("material: Li6PS5Xx\n", "unknown material 'Li6PS5Xx'"),
        ("material: missing.cif\n", "unknown material 'missing.cif'"),
        ("material: Li6PS5Cl\nmd:\n  temperatures_K: [400, -300]\n", "md.temperatures_K.1"),
        ("material: Li6PS5Cl\nmd:\n  temperatures_K: []\n", "md.temperatures_K"),
        ("material: Li6PS5Cl\ndft:\n  aimd:\n    duration_ps: 0\n", "dft.aimd.duration_ps"),
        ("material: Li6PS5Cl\nmd:\n  supercell: [3, 0, 3]\n", "md.supercell.1"),
        ("material: Li6PS5Cl\ndft:\n  kpoint_mesh: [2, -2, 2]\n", "dft.kpoint_mesh.1"),
        (
            "material: Li6PS5Cl\ndft:\n  oracle: chgnet\n  levels_of_theory: [PBE, optB88-vdW]\n",
            "oracle 'chgnet' cannot compute optB88-vdW",
        ),
        ("material: Li6PS5Cl\nspecies_order: [Li, P, S]\n", "species_order"),
        ("material: Li6PS5Cl\nanalysis:\n  mixing_rule: series\n", "sigma_amorphous_mS_cm > 0"),
        ("material: Li6PS5Cl\nanalysis:\n  mixing_rule: harmonic\n", "analysis.mixing_rule"),
    ],
    ids=["material", "material-file", "negative-T", "no-T", "zero-time", "supercell", "kpoints",
         "oracle-level", "species-order", "series-no-amorphous", "mixing-rule"],
)  # fmt: skip
def test_spec_is_checked_at_load(tmp_path, body, message):
    """A bad material, non-positive temperature/time/size or a level the oracle lacks is
    refused by ``load_spec``, before any job is built."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\n" + body)
    with pytest.raises(IonflowInputError) as info:
        load_spec(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_spec_material_file_is_read_at_load(tmp_path):
    """A structure file named by the spec is parsed at load (a garbage file is refused)."""
    (tmp_path / "cell.cif").write_text("data_x\n_cell_length_a banana\n")
    path = tmp_path / "spec.yaml"
    path.write_text("name: x\nmaterial: cell.cif\n")
    with pytest.raises(IonflowInputError, match=r"'material':.*cell\.cif"):
        load_spec(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("material: LLZO\nstructures:\n  configurations: argyrodite\n", "needs material"),
        ("material: Li6PS5Cl\nstructures:\n  n_configurations: 7\n", "gives 6"),
        ("material: LLZO\nstructures:\n  configurations: parent\n  n_configurations: 2\n",
         "gives 1"),
    ],
)  # fmt: skip
def test_configurations_must_fit_the_material(tmp_path, body, message):
    """Argyrodite orderings of a garnet, or more configurations than the kind gives, are
    refused at load (they failed inside a running job: IndexError on the structures)."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\n" + body)
    with pytest.raises(IonflowInputError, match=message):
        load_spec(path)
