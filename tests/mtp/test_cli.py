"""``ionflow mtp fit`` and ``ionflow mtp grade`` with real motep."""

import json

import pytest
from tests.fixtures.mtp import LI2S_SPECIES
from typer.testing import CliRunner

from ionflow.cli.main import app
from ionflow.io.mlip_cfg import read_labelled_cfg, write_labelled_cfg

runner = CliRunner()


@pytest.mark.slow
def test_fit_then_grade(li2s_labelled, li2s_labelled_cfg, tmp_path):
    cfg = tmp_path / "set.cfg"
    cfg.write_text(li2s_labelled_cfg)
    pot = tmp_path / "out" / "pot.mtp"
    args = ["mtp", "fit", str(cfg), "--species", "Li,S", "--level", "8", "--r-cut", "5"]
    result = runner.invoke(app, [*args, "--max-iter", "40", "--out", str(pot)])
    assert result.exit_code == 0, result.output
    for row in ("train", "validation", "energy (meV/atom)", "forces (eV/Å)", "stress (GPa)"):
        assert row in result.stdout
    assert "27 train / 3 validation" in result.stdout
    assert "radial_coeffs" in pot.read_text()
    assert len(read_labelled_cfg(pot.with_suffix(".train.cfg"), LI2S_SPECIES)) == 27
    assert pot.with_suffix(".parity.png").stat().st_size > 10_000

    near = [a.copy() for a in li2s_labelled[:2]]  # positions only: unlabelled
    far = []
    for atoms in li2s_labelled[:2]:
        atoms = atoms.copy()
        atoms.set_cell(atoms.cell * 0.85, scale_atoms=True)
        far.append(atoms)
    graded = write_labelled_cfg(near + far, tmp_path / "graded.cfg", LI2S_SPECIES)
    out = tmp_path / "json" / "grades.json"
    args = ["mtp", "grade", str(pot), str(graded), "--species", "Li,S", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.count("│") == 5]
    grades = [float(r.split("│")[3]) for r in rows]
    assert len(grades) == 4
    written = json.loads(out.read_text())
    assert [(r["index"], r["n_atoms"]) for r in written] == [(i, 12) for i in range(4)]
    assert [round(r["grade"], 3) for r in written] == grades
    assert min(grades[2:]) > max(grades[:2])  # compressed 15 % grades higher
    assert [r.split("│")[4].strip() for r in rows[2:]] != ["ok", "ok"]
    assert "errors of pot.mtp" not in result.stdout  # unlabelled: no error table

    labelled = write_labelled_cfg(li2s_labelled[:2], tmp_path / "labelled.cfg", LI2S_SPECIES)
    result = runner.invoke(app, ["mtp", "grade", str(pot), str(labelled), "--species", "Li,S"])
    assert result.exit_code == 0, result.output
    assert "errors of pot.mtp on labelled.cfg" in result.stdout
    assert "forces (eV/Å)" in result.stdout


def test_bad_species_and_missing_files_exit_2(run_ionflow, tmp_path):
    cfg = tmp_path / "set.cfg"
    cfg.write_text("")
    code, err = run_ionflow("mtp", "fit", str(cfg), "--species", "Li,Xx")
    assert code == 2 and "--species" in err and err.count("\n") == 1
    code, err = run_ionflow("mtp", "fit", "nope.cfg", "--species", "Li,S")
    assert code == 2 and "nope.cfg: MLIP .cfg file not found" in err
    code, err = run_ionflow("mtp", "grade", str(tmp_path / "p.mtp"), str(cfg), "--species", "Li,S")
    assert code == 2 and "p.train.cfg does not exist" in err
