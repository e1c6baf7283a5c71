import json

import pytest
from typer.testing import CliRunner

from ionflow.cli.main import app

runner = CliRunner()


def test_configurations_written_with_summary(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["structures", "Li6PS5Cl", "--configurations", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(result.stdout) == summary
    assert len(summary) == 6
    for entry in summary:
        assert entry["n_atoms"] == 52
        assert entry["formula"] == "Li6PS5Cl"
        assert entry["ewald_energy"] < 0
        for name in entry["files"]:
            assert (out / name).is_file()
    assert [e["halide_4c_fraction"] for e in summary] == [0, 0.25, 0.5, 0.5, 0.75, 1]


def test_strain_of_parent_and_supercell(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(
        app,
        ["structures", "Li6PS5I", "--supercell", "2x1x1", "--strain", "0.02", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    kinds = [e["kind"] for e in summary]
    assert kinds.count("supercell") == 1
    assert kinds.count("strain") == 8
    assert all(e["n_atoms"] == 104 for e in summary)


@pytest.mark.parametrize(
    "args",
    [
        ["Li6PS5F"],
        ["Li6PS5Cl", "--strain", "-1.5,0.1"],
        ["Li6PS5Cl", "--min-atoms", "100000000"],
        ["LSTH-1a", "--esgs", "2"],
        ["Li6PS5Cl", "--supercell", "3x0x3"],
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, run_ionflow, args):
    out = tmp_path / "never"
    code, stderr = run_ionflow("structures", *args, "--out", str(out))
    assert code == 2, stderr
    assert stderr.startswith("ionflow: error:")
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_unreadable_structure_file_exits_2(tmp_path, run_ionflow):
    bad = tmp_path / "bad.cif"
    bad.write_text("not a cif")
    code, stderr = run_ionflow("structures", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "bad.cif" in stderr
