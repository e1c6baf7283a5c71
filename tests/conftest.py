"""Shared pytest configuration.

Fixtures live in ``tests/fixtures/<topic>.py`` (one module per stage) and are loaded as
plugins below, so each stage's fixtures stay next to each other and out of this file.
"""

from __future__ import annotations

import importlib.util

_FIXTURE_MODULES = ["db", "slurm", "data", "engines"]

pytest_plugins = [
    f"tests.fixtures.{name}"
    for name in _FIXTURE_MODULES
    if importlib.util.find_spec(f"tests.fixtures.{name}") is not None
]
