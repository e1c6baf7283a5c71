"""What ``ionflow config show`` prints: the settings in effect, credentials masked.

Each ionflow setting is listed with where its value came from (an ``IONFLOW_*``
environment variable, the settings file, or the default), and the database URIs of the
FireWorks and jobflow files of the config directory beside it. Passwords never appear:
URIs go through :func:`ionflow.db.stores.redacted_uri` and any key named ``password``
shows ``***``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ionflow.db.stores import redacted_uri
from ionflow.settings import IonflowSettings, load_settings, settings_file

MASK = "***"


@dataclass(frozen=True)
class ShownSetting:
    """One line of ``ionflow config show``: a name, its masked value and its source."""

    name: str
    value: str
    source: str


def mask_secrets(value: Any, key: str = "") -> Any:
    """Return ``value`` with passwords replaced by ``***`` (URIs keep user and host).

    Args:
        value: a setting or parsed YAML (dicts and lists are masked recursively).
        key: the key ``value`` was found under (a ``password`` key is masked whole).
    """
    if key.lower() == "password" and value not in (None, ""):
        return MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str) and "://" in value:
        try:
            return redacted_uri(value)
        except ValueError:
            return MASK  # not even a URI we can split: show nothing of it
    return value


def _uris_in(values: Any, prefix: str) -> list[tuple[str, Any]]:
    """(dotted key, value) of every ``host``/``uri``/``password`` entry in ``values``."""
    found: list[tuple[str, Any]] = []
    if isinstance(values, dict):
        for key, value in values.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if str(key).lower() in ("host", "uri", "password") and not isinstance(value, dict):
                found.append((dotted, value))
            else:
                found += _uris_in(value, dotted)
    return found


def shown_settings(config_dir: Path | None = None) -> list[ShownSetting]:
    """Every setting in effect, masked, with its source.

    Args:
        config_dir: a directory written by ``ionflow config init``; its FireWorks and
            jobflow files' database entries are listed too (skipped when None).

    Raises:
        ConfigError: the settings file is invalid or readable by others with a password.
    """
    path = settings_file()
    settings = load_settings()
    from_file: dict = yaml.safe_load(path.read_text()) or {} if path.is_file() else {}
    shown = [ShownSetting("settings file", str(path) if path.is_file() else "(none)", "")]
    for name in IonflowSettings.model_fields:
        if f"IONFLOW_{name.upper()}" in os.environ:
            source = f"env IONFLOW_{name.upper()}"
        elif name in from_file:
            source = "file"
        else:
            source = "default"
        value = mask_secrets(getattr(settings, name), name)
        shown.append(ShownSetting(name, str(value), source))
    if config_dir is not None:
        for name in ("my_launchpad.yaml", "jobflow.yaml"):
            file = Path(config_dir) / name
            if not file.is_file():
                continue
            values = yaml.safe_load(file.read_text())
            for key, value in _uris_in(values, ""):
                masked = mask_secrets(value, key.rsplit(".", 1)[-1])
                shown.append(ShownSetting(f"{name}: {key}", str(masked), "file"))
    return shown
