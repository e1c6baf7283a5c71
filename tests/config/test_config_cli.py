"""`ionflow config init|check` through the real command line (subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

IONFLOW = [sys.executable, "-m", "ionflow.cli.main"]


def ionflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*IONFLOW, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "cfg"
    result = ionflow(
        "config",
        "init",
        "--dir",
        str(directory),
        "--partition",
        "batch",
        "--account",
        "chem",
        "--walltime",
        "02:00:00",
        "--module",
        "vasp/6.4",
        "--db-uri",
        "mongodb://127.0.0.1:27999/mylab",
    )
    assert result.returncode == 0, result.stderr
    return directory


def test_init_writes_files_that_check_accepts(config_dir):
    check = ionflow("config", "check", "--dir", str(config_dir))
    assert check.returncode == 0, check.stderr
    assert "all config files valid" in check.stdout
    qadapter = (config_dir / "my_qadapter.yaml").read_text()
    assert 'queue: "batch"' in qadapter and 'account: "chem"' in qadapter
    assert "mongodb://127.0.0.1:27999/mylab" in (config_dir / "jobflow.yaml").read_text()


def test_check_names_every_problem_in_one_line_and_exits_2(config_dir):
    lp = config_dir / "my_launchpad.yaml"
    lp.write_text(lp.read_text().replace("27999", "99999") + "strm_level: DEBUG\n")
    (config_dir / "my_fworker.yaml").unlink()
    qa = config_dir / "my_qadapter.yaml"
    qa.write_text(qa.read_text().replace("nodes: 1", 'nodes: "one"'))
    (config_dir / "ionflow.yaml").write_text("db_url: mongodb://x:1/y\n")

    result = ionflow("config", "check", "--dir", str(config_dir))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    expected = [
        f"{lp}: unknown key 'strm_level' (did you mean 'strm_lvl'?)",
        f"{lp}: host: bad port in MongoDB URI",
        f"{config_dir / 'my_fworker.yaml'}: missing file",
        f"{qa}: nodes: wrong type str (expected int)",
        f"{config_dir / 'ionflow.yaml'}: unknown setting 'db_url'",
    ]
    assert len(lines) == len(expected)
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"ionflow: error: {start}")
    assert "Traceback" not in result.stderr


def test_check_of_a_missing_directory_is_one_line(tmp_path):
    result = ionflow("config", "check", "--dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"ionflow: error: {tmp_path / 'nowhere'}: config directory not found "
        "(run `ionflow config init`)"
    ]


def test_init_with_a_bad_walltime_writes_nothing(tmp_path):
    result = ionflow("config", "init", "--dir", str(tmp_path / "c"), "--walltime", "90min")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ionflow: error: walltime '90min': expected HH:MM:SS or D-HH:MM:SS, e.g. 01:00:00"
    )
    assert not (tmp_path / "c").exists()
