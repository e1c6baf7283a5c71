"""`ionflow analyze` JSON fields and exit codes; the Makers run through jobflow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from jobflow import Flow, run_locally
from tests.fixtures.analysis import random_walk, write_text_dump

from ionflow.analysis.arrhenius import K_B_EV_PER_K
from ionflow.analysis.jobs.diffusion import ArrheniusMaker, DiffusionAnalysisMaker
from ionflow.cli.errors import run_cli
from ionflow.cli.main import app

DIFFUSION_FIELDS = {
    "temperature_K",
    "D_cm2_s",
    "D_err_cm2_s",
    "D_xyz_cm2_s",
    "sigma_mS_cm",
    "sigma_err_mS_cm",
    "n_species_atoms",
    "fit_window_ps",
}
ARRHENIUS_FIELDS = {
    "Ea_eV",
    "Ea_err_eV",
    "D300_cm2_s",
    "sigma300_mS_cm",
    "sigma300_ci_mS_cm",
    "break_K",
    "temperatures",
}


def cli(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ionflow", *args])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(app)
    return exit_info.value.code


@pytest.fixture(scope="module")
def walk_dumps(tmp_path_factory):
    """Text dumps of random walks at 3 temperatures (E_a = 0.2 eV), 8 Li + 4 S."""
    out = tmp_path_factory.mktemp("cli_walks")
    paths = {}
    for seed, T in enumerate((500, 700, 900)):
        D = 0.01 * np.exp(-0.2 / (K_B_EV_PER_K * T))
        walk = random_walk(12, 150, (D, D, D), 10.0, seed=seed)
        walk[:, 8:] = walk[0, 8:]
        types = np.array([1] * 8 + [2] * 4)
        steps = np.arange(150) * 5  # dumped every 5 steps of 2 fs = 10 fs per frame
        paths[T] = write_text_dump(
            out / f"{T}.dump", walk, types, (10, 10, 10), steps, "id type x y z"
        )
    return paths


def test_cli_diffusion_writes_the_documented_json_and_a_plot(monkeypatch, walk_dumps, tmp_path):
    out, plot = tmp_path / "d.json", tmp_path / "msd.png"
    args = ["analyze", "diffusion", str(walk_dumps[700]), "--species", "Li", "--temperature", "700"]
    args += [
        "--type-map",
        "1=Li,2=S",
        "--timestep-fs",
        "2",
        "--json",
        str(out),
        "--plot",
        str(plot),
    ]
    assert cli(monkeypatch, *args) == 0
    data = json.loads(out.read_text())
    assert set(data) >= DIFFUSION_FIELDS
    assert data["n_species_atoms"] == 8 and data["temperature_K"] == 700
    assert len(data["D_xyz_cm2_s"]) == 3 and data["D_err_cm2_s"] > 0
    assert data["fit_window_ps"][1] <= 1.49 / 2 + 1e-9  # 150 frames of 10 fs, window <= T/2
    D_true = 0.1 * 0.01 * np.exp(-0.2 / (K_B_EV_PER_K * 700))
    assert abs(data["D_cm2_s"] - D_true) < 3.5 * data["D_err_cm2_s"]
    assert plot.stat().st_size > 1000


def test_cli_arrhenius_json(monkeypatch, walk_dumps, tmp_path):
    out, plot = tmp_path / "a.json", tmp_path / "arrhenius.svg"
    runs = [f"--run={T}={path}" for T, path in walk_dumps.items()]
    args = ["analyze", "arrhenius", *runs, f"--run=700={walk_dumps[700]}", "--type-map", "1=Li,2=S"]
    args += ["--timestep-fs", "2", "--json", str(out), "--plot", str(plot)]
    assert cli(monkeypatch, *args) == 0
    data = json.loads(out.read_text())
    assert set(data) >= ARRHENIUS_FIELDS
    assert abs(data["Ea_eV"] - 0.2) < 3.5 * data["Ea_err_eV"]
    low, high = data["sigma300_ci_mS_cm"]
    assert low < data["sigma300_mS_cm"] < high
    assert data["break_K"] is None  # three temperatures: no piecewise fit
    assert [t["n_runs"] for t in data["temperatures"]] == [1, 2, 1]
    assert "msd_A2" not in data["temperatures"][0]["runs"][0]
    assert plot.read_text().startswith("<?xml")


def test_cli_bad_input_exits_2_with_one_line(monkeypatch, walk_dumps, capsys):
    base = ["--type-map", "1=Li,2=S", "--timestep-fs", "2"]
    cases = [
        ["analyze", "diffusion", str(walk_dumps[500]), "--species", "Na", "--temperature", "500"],
        ["analyze", "arrhenius", f"--run=500={walk_dumps[500]}", f"--run=500={walk_dumps[700]}"],
        ["analyze", "arrhenius", "--run", "hot=x.dump"],
        ["analyze", "diffusion", "missing.dump", "--temperature", "500"],
    ]
    for args in cases:
        assert cli(monkeypatch, *args, *base) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ionflow: error:"), err


def test_cli_exit_code_in_a_real_process(walk_dumps):
    cmd = [sys.executable, "-m", "ionflow.cli.main", "analyze", "diffusion", str(walk_dumps[500])]
    result = subprocess.run(
        [*cmd, "--temperature", "500"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "--timestep-fs" in result.stderr or "species 'Li' not in" in result.stderr


def test_makers_run_as_a_flow(walk_dumps):
    maker = DiffusionAnalysisMaker(type_map={"1": "Li", "2": "S"}, timestep_fs=2.0)
    jobs = [maker.make(str(path), T) for T, path in walk_dumps.items()]
    arrhenius = ArrheniusMaker().make([job.output for job in jobs])
    responses = run_locally(Flow([*jobs, arrhenius]), ensure_success=True)
    result = responses[arrhenius.uuid][1].output
    assert abs(result.Ea_eV - 0.2) < 3.5 * result.Ea_err_eV
    first = responses[jobs[0].uuid][1].output
    assert first.temperature_K == 500 and first.D_cm2_s > 0 and first.regions is None


def test_diffusion_maker_with_regions_and_sites(walk_dumps):
    maker = DiffusionAnalysisMaker(
        type_map={"1": "Li", "2": "S"}, timestep_fs=2.0, gb_planes_frac=[0.0], site_analysis=True
    )
    job = maker.make(str(walk_dumps[900]), 900.0)
    doc = run_locally(job, ensure_success=True)[job.uuid][1].output
    assert doc.sites.n_sites == 8 and doc.sites.n_jumps > 0
    counts = np.array(list(doc.regions.counts.values()))
    assert (counts.sum(axis=0) == 8).all()  # every Li is in exactly one slab
