"""Rendered config files: valid for the programs that read them, one template each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ionflow.config.check import find_config_problems
from ionflow.config.render import CONFIG_FILES, ConfigOptions, render_configs, write_configs
from ionflow.errors import IonflowInputError

REPO_CONFIGS = Path(__file__).parents[2] / "configs"


def test_repository_configs_are_the_rendered_examples():
    # configs/ is generated (`ionflow config init --dir configs --example --force`), never
    # edited by hand: it must equal what the templates render today
    rendered = render_configs(ConfigOptions.example())
    on_disk = {path.name: path.read_text() for path in REPO_CONFIGS.glob("*.yaml")}
    assert on_disk == rendered
    assert find_config_problems(REPO_CONFIGS) == []


def test_qadapter_fills_the_fireworks_slurm_script(tmp_path):
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    options = ConfigOptions(
        config_dir=tmp_path,
        partition="batch",
        account="chem123",
        nodes=2,
        ntasks=64,
        walltime="1-12:00:00",
        modules=["vasp/6.4.2", "lammps-mlip"],
        pre_rocket=["ulimit -s unlimited"],
    )
    write_configs(options)
    adapter = CommonAdapter.from_file(str(tmp_path / "my_qadapter.yaml"))
    script = adapter.get_script_str(str(tmp_path))
    for line in (
        "#SBATCH --partition=batch",
        "#SBATCH --account=chem123",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks=64",
        "#SBATCH --time=1-12:00:00",
        "module load vasp/6.4.2 lammps-mlip",
        "ulimit -s unlimited",
        f"export JOBFLOW_CONFIG_FILE={tmp_path}/jobflow.yaml",
        f"python -m ionflow.pipeline.rocket -c {tmp_path} singleshot",
    ):
        assert line in script
    assert script.index("module load") < script.index("ionflow.pipeline.rocket")
    assert "$${" not in script  # unset keys (mem, qos, ...) dropped their lines


def test_account_none_drops_the_account_line(tmp_path):
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    write_configs(ConfigOptions(config_dir=tmp_path))
    adapter = CommonAdapter.from_file(str(tmp_path / "my_qadapter.yaml"))
    assert "--account" not in adapter.get_script_str(str(tmp_path))


def test_jobflow_and_launchpad_files_reach_the_database(tmp_path, db_uri):
    from fireworks import LaunchPad
    from jobflow.settings import JobflowSettings

    write_configs(ConfigOptions(config_dir=tmp_path, db_uri=db_uri))
    store = JobflowSettings(CONFIG_FILE=str(tmp_path / "jobflow.yaml")).JOB_STORE
    store.connect()
    try:
        store.update({"uuid": "a", "index": 1, "output": {"x": 1.5}}, key=["uuid", "index"])
        blob = {"uuid": "b", "index": 1, "output": {"@class": "x", "data": list(range(50))}}
        store.additional_stores["data"].update(blob, key=["uuid", "index"])
        assert store.query_one({"uuid": "a"})["output"]["x"] == 1.5
        assert store.additional_stores["data"].query_one({"uuid": "b"})["output"] == blob["output"]
    finally:
        store.close()
    lpad = LaunchPad.from_file(str(tmp_path / "my_launchpad.yaml"))
    assert lpad.db.name == db_uri.rsplit("/", 1)[1]
    assert lpad.get_fw_ids() == []


def test_atomate2_settings_read_the_commands(tmp_path):
    from atomate2.settings import Atomate2Settings

    write_configs(ConfigOptions(config_dir=tmp_path, mpi_prefix="srun"))
    settings = Atomate2Settings(CONFIG_FILE=str(tmp_path / "atomate2.yaml"))
    assert settings.VASP_CMD == "srun vasp_std"
    assert settings.CP2K_CMD == "srun cp2k.psmp"


def test_ionflow_yaml_loads_as_settings(tmp_path):
    from ionflow.settings import load_settings

    uri = "mongodb://user:secret@db.example.org:27018/lab?authSource=admin&tls=true"
    write_configs(ConfigOptions(config_dir=tmp_path, db_uri=uri))
    settings = load_settings(tmp_path / "ionflow.yaml")
    assert settings.db_uri == uri
    lp = yaml.safe_load((tmp_path / "my_launchpad.yaml").read_text())
    assert lp["host"] == uri and lp["name"] == "lab"


def test_write_refuses_to_overwrite(tmp_path):
    write_configs(ConfigOptions(config_dir=tmp_path))
    with pytest.raises(IonflowInputError, match="--force"):
        write_configs(ConfigOptions(config_dir=tmp_path, partition="other"))
    write_configs(ConfigOptions(config_dir=tmp_path, partition="other"), overwrite=True)
    assert '"other"' in (tmp_path / "my_qadapter.yaml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CONFIG_FILES)


@pytest.mark.parametrize(
    ("field", "value"),
    [("walltime", "2h"), ("db_uri", "localhost:27017"), ("nodes", 0)],
)
def test_bad_options_are_rejected_before_writing(tmp_path, field, value):
    with pytest.raises(IonflowInputError, match=field):
        ConfigOptions(config_dir=tmp_path, **{field: value})


def test_init_asks_only_when_interactive(monkeypatch):
    from ionflow.cli import config as config_cli

    asked = []

    def fake_prompt(question, default="", show_default=True):
        asked.append(question)
        return "gpu"

    monkeypatch.setattr(config_cli.typer, "prompt", fake_prompt)
    monkeypatch.setattr(config_cli.sys.stdin, "isatty", lambda: False)
    assert config_cli._ask(None, "SLURM partition", "local") == "local"
    assert config_cli._ask("batch", "SLURM partition", "local") == "batch"
    assert asked == []
    monkeypatch.setattr(config_cli.sys.stdin, "isatty", lambda: True)
    assert config_cli._ask(None, "SLURM partition", "local") == "gpu"
    assert config_cli._ask("batch", "SLURM partition", "local") == "batch"  # flags win
    assert asked == ["SLURM partition"]


def test_fw_json_must_stay_on(tmp_path):
    # rerun MD jobs read their launch history from FW.json (ionflow.io.fw_json)
    write_configs(ConfigOptions.example(), directory=tmp_path)
    fw_config = tmp_path / "FW_config.yaml"
    assert yaml.safe_load(fw_config.read_text())["PRINT_FW_JSON"] is True
    fw_config.write_text(fw_config.read_text().replace("PRINT_FW_JSON: true", "PRINT_FW_JSON: no"))
    assert find_config_problems(tmp_path) == [
        f"{fw_config}: PRINT_FW_JSON: must be true (a rerun MD job finds its interrupted "
        "launch in FW.json)"
    ]
