"""The test suite's own guards: settings isolation and required engines."""

from pathlib import Path

import pytest

import ionflow.settings as settings_module
from ionflow.settings import get_settings
from tests.fixtures.engines import REQUIRE_ENGINES, require_engine

ROOT = Path(__file__).resolve().parents[1]


def test_tests_read_an_empty_settings_file_of_their_own(isolated_settings, monkeypatch):
    assert isolated_settings.read_text().strip() == "{}"
    settings = get_settings()
    assert settings.oracle == "chgnet" and settings.db_uri.endswith(":27017/ionflow")
    monkeypatch.setenv("IONFLOW_ORACLE", "cp2k")  # what a test sets itself still counts
    settings_module.SETTINGS_CACHE.clear()
    assert get_settings().oracle == "cp2k"


def test_a_missing_engine_skips_or_with_require_engines_fails(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENGINES, raising=False)
    require_engine(True, "cp2k not installed")  # present: nothing happens
    with pytest.raises(pytest.skip.Exception, match="cp2k not installed"):
        require_engine(False, "cp2k not installed")
    monkeypatch.setenv(REQUIRE_ENGINES, "1")
    with pytest.raises(pytest.fail.Exception, match="cp2k not installed"):
        require_engine(False, "cp2k not installed")


def test_the_ci_script_requires_the_engines():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert f"export {REQUIRE_ENGINES}=1" in script
    assert script.index(REQUIRE_ENGINES) < script.index("-m pytest")
