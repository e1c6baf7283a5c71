import pytest

from ionflow.settings import ConfigError, IonflowSettings, load_settings


def test_defaults_point_at_the_embedded_server():
    settings = IonflowSettings()
    assert settings.db_uri == "mongodb://127.0.0.1:27017/ionflow"
    assert (settings.oracle, settings.mtp_engine, settings.md_engine) == (
        "chgnet",
        "motep",
        "lammps-python",
    )


def test_file_and_environment(tmp_path, monkeypatch):
    path = tmp_path / "ionflow.yaml"
    path.write_text("db_uri: mongodb://db.example.org:27018/x\noracle: vasp\n")
    monkeypatch.setenv("IONFLOW_ORACLE", "cp2k")
    settings = load_settings(path)
    assert settings.db_uri.endswith(":27018/x")
    assert settings.oracle == "cp2k"  # the environment wins over the file


def test_unknown_setting_is_named(tmp_path):
    path = tmp_path / "ionflow.yaml"
    path.write_text("db_url: mongodb://x\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'db_url' \(known: db_uri"):
        load_settings(path)


def test_bad_value_is_one_line(tmp_path):
    path = tmp_path / "ionflow.yaml"
    path.write_text("db_port: 70000\n")
    with pytest.raises(ConfigError, match="setting 'db_port'") as info:
        load_settings(path)
    assert "\n" not in str(info.value)


def test_missing_named_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")
