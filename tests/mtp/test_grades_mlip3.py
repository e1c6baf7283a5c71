"""ionflow's extrapolation grades are MLIP-3's: the shared reference graded by ``mlp``.

``../shared/reference/mtp-grades-mlip3``: 1001 configurations, their active set built by
MLIP-3 (``mlp train --al_mode=nbh --iteration_limit=0``) and graded by
``mlp calculate_grade`` (``Feature MV_grade``, printed to 1e-6).
"""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ionflow.cli.main import app
from ionflow.io.mlip_cfg import read_labelled_cfg

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "mtp-grades-mlip3"
SPECIES = "Au,Ag,Cu"  # .cfg types 0, 1, 2 (the reference's README)


@pytest.mark.slow
def test_grades_reproduce_mlip3_reference(tmp_path):
    if not (REFERENCE / "graded_by_mlip3.cfg.gz").is_file():
        pytest.skip(f"shared MLIP-3 reference not found at {REFERENCE.resolve()}")
    cfg = tmp_path / "graded_by_mlip3.cfg"
    cfg.write_bytes(gzip.decompress((REFERENCE / "graded_by_mlip3.cfg.gz").read_bytes()))
    reference = [a.calc.results["MV_grade"] for a in read_labelled_cfg(cfg, SPECIES.split(","))]
    assert len(reference) == 1001

    out = tmp_path / "grades.json"
    args = ["mtp", "grade", str(REFERENCE / "pot.mtp"), str(cfg), "--train", str(cfg)]
    result = CliRunner().invoke(app, [*args, "--species", SPECIES, "--json", str(out)])
    assert result.exit_code == 0, result.output

    rows = json.loads(out.read_text())
    assert [r["index"] for r in rows] == list(range(1001))
    assert {r["n_atoms"] for r in rows} == {27}
    grades = np.array([r["grade"] for r in rows])
    # grades lie between 0.56 and 1.0007; the linear coefficients alone were up to 0.42 off
    np.testing.assert_allclose(grades, reference, rtol=0, atol=1e-4)
