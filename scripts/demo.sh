#!/usr/bin/env bash
# Install what ionflow needs (idempotent), then run the demo the way a cluster runs it:
# `ionflow demo` starts the embedded database, submits the demo spec to the LaunchPad and
# runs it through FireWorks (see README). Extra arguments go to `ionflow demo`
# (--quick, --slurm, --oracle cp2k, --out DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
cd "$here"
exec "$here/.venv/bin/ionflow" demo --force "$@"  # --force: a rerun runs into ionflow-demo/ again
