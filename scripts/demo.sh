#!/usr/bin/env bash
# Install what ionflow needs (idempotent), start the embedded database, run the demo
# pipeline on the embedded defaults. Extra arguments go to `ionflow demo`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
cd "$here"
"$here/.venv/bin/ionflow" db start
exec "$here/.venv/bin/ionflow" demo --force "$@"  # --force: a rerun runs into ionflow-demo/ again
