"""Credentials: never printed, never in a file other users can read (issue 11, part 7).

The embedded server's binding to 127.0.0.1 only is tested with the server itself
(``tests/db/test_server.py::test_start_is_idempotent_and_binds_localhost_only``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ionflow.config.check import find_config_problems
from ionflow.config.render import ConfigOptions, write_configs
from ionflow.config.show import mask_secrets
from ionflow.settings import ConfigError, holds_password, load_settings

URI = "mongodb://ada:s3cret@db.example.org:27017/ionflow?authSource=admin"


def _settings_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "ionflow.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_settings_file_with_a_password_is_refused(tmp_path, mode):
    path = _settings_file(tmp_path, f"db_uri: {URI}\n", mode)
    with pytest.raises(ConfigError, match=r"chmod 600") as info:
        load_settings(path)
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)


def test_private_file_or_no_password_is_accepted(tmp_path):
    assert load_settings(_settings_file(tmp_path, f"db_uri: {URI}\n", 0o600)).db_uri == URI
    plain = "db_uri: mongodb://db.example.org/ionflow\n"
    assert load_settings(_settings_file(tmp_path, plain, 0o644)).db_uri.endswith("/ionflow")


def test_password_detection():
    assert holds_password({"JOB_STORE": {"docs_store": {"password": "pw"}}})
    assert holds_password({"host": URI})
    assert not holds_password({"password": None, "host": "mongodb://ada@h/db"})
    assert not holds_password({"db_uri": "mongodb://127.0.0.1:27017/ionflow"})


def test_masking_keeps_user_and_host():
    masked = mask_secrets({"host": URI, "password": "pw", "port": 1})
    assert masked == {
        "host": "mongodb://ada:***@db.example.org:27017/ionflow?authSource=admin",
        "password": "***",
        "port": 1,
    }


def test_config_show_masks_credentials(tmp_path, monkeypatch):
    from ionflow.cli.main import app

    config_dir = tmp_path / "cfg"
    write_configs(ConfigOptions(config_dir=config_dir, db_uri=URI))
    monkeypatch.setenv("IONFLOW_CONFIG_FILE", str(config_dir / "ionflow.yaml"))
    monkeypatch.setenv("IONFLOW_ORACLE", "cp2k")
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
    result = CliRunner().invoke(app, ["config", "show", "--dir", str(config_dir)])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    lines = result.output.splitlines()
    masked_uri = "mongodb://ada:***@db.example.org:27017/ionflow?authSource=admin"
    assert f"db_uri: {masked_uri}  (file)" in lines
    assert "oracle: cp2k  (env IONFLOW_ORACLE)" in lines
    assert "mtp_engine: motep  (file)" in lines  # init writes every setting
    assert any(line.startswith("data_dir: ") and line.endswith("(default)") for line in lines)
    assert any(line.startswith("my_launchpad.yaml: host: mongodb://ada:***@") for line in lines)
    assert any(line.startswith("jobflow.yaml: JOB_STORE.docs_store.uri: mongodb://ada:***@")
               for line in lines)  # fmt: skip


def test_init_writes_private_files_and_check_flags_readable_ones(tmp_path):
    config_dir = tmp_path / "cfg"
    written = write_configs(ConfigOptions(config_dir=config_dir, db_uri=URI))
    assert {path.stat().st_mode & 0o777 for path in written} == {0o600}
    assert find_config_problems(config_dir) == []
    (config_dir / "my_launchpad.yaml").chmod(0o644)
    problems = find_config_problems(config_dir)
    assert len(problems) == 1 and "my_launchpad.yaml" in problems[0]
    assert "chmod 600" in problems[0] and "s3cret" not in problems[0]
