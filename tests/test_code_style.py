"""The tree stays ruff-clean (lint and format), as CONTRIBUTING asks."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
RUFF = Path(sys.executable).parent / "ruff"


def test_ruff_lint_clean():
    result = subprocess.run(
        [RUFF, "check", "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_format_clean():
    result = subprocess.run(
        [RUFF, "format", "--check", "src", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
