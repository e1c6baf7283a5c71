"""Shared pytest configuration.

Fixtures live in ``tests/fixtures/<topic>.py`` (one module per stage: db, slurm,
structures, dft, mtp, md, analysis) and are all loaded as plugins here, so each stage's
fixtures stay together and out of this file.
"""

from __future__ import annotations

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)
