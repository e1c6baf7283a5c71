#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests and for trying ionflow out.
#
#   local_slurm.sh up     [--work-dir DIR]   install (if missing), configure, start, wait idle
#   local_slurm.sh down   [--work-dir DIR]   cancel our jobs, stop the daemons we started
#   local_slurm.sh status [--work-dir DIR]   daemons, node state; exit 0 if up, 3 if not
#   local_slurm.sh env    [--work-dir DIR]   print the line clients need (export SLURM_CONF=...)
#
# Everything lives in the work directory (default $IONFLOW_SLURM_DIR, else
# ${XDG_DATA_HOME:-~/.local/share}/ionflow/slurm): slurm.conf, the munge key and socket,
# pid files, logs, spool and state. munged, slurmctld and slurmd run as root without
# systemd, on free TCP ports, so several clusters (and the system's own munge/slurm, if
# any) can coexist. `down` stops only the daemons whose pid files are in the work
# directory; `up` is idempotent and cleans stale pid files left by a crash.
set -euo pipefail

action=${1:-}
[ $# -gt 0 ] && shift
work_dir=${IONFLOW_SLURM_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/ionflow/slurm}
timeout=${IONFLOW_SLURM_TIMEOUT:-60}
while [ $# -gt 0 ]; do
    case $1 in
        --work-dir) work_dir=$2; shift 2 ;;
        --work-dir=*) work_dir=${1#*=}; shift ;;
        --timeout) timeout=$2; shift 2 ;;
        *) echo "local_slurm.sh: error: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

log() { printf '[local-slurm] %s\n' "$*" >&2; }
die() { printf 'local_slurm.sh: error: %s\n' "$*" >&2; exit "${2:-1}"; }

case $action in
    up | down | status | env) ;;
    *) die "usage: local_slurm.sh up|down|status|env [--work-dir DIR]" 2 ;;
esac
# only `up` creates the work directory; down/status of a missing one report "stopped"
[ "$action" = up ] && mkdir -p "$work_dir"
work_dir=$(realpath -m "$work_dir")
etc=$work_dir/etc run=$work_dir/run logs=$work_dir/log spool=$work_dir/spool
conf=$etc/slurm.conf
munge_socket=$run/munge.socket
# daemon name -> pid file (the daemons write these themselves)
declare -A pid_file=([munged]=$run/munged.pid [slurmctld]=$run/slurmctld.pid
                     [slurmd]=$run/slurmd.pid)
export SLURM_CONF=$conf

install_packages() {
    local missing=() cmd
    for cmd in munged slurmctld slurmd sbatch; do
        command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$cmd" >/dev/null 2>&1 \
            || missing+=("$cmd")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run as root or apt-get install slurmctld slurmd slurm-client munge"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install SLURM and munge yourself"
    log "apt-get install slurmctld slurmd slurm-client munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
}

# pid of a daemon if its pid file names a live process of that program, else nothing
live_pid() {
    local name=$1 file=${pid_file[$1]} pid
    [ -s "$file" ] || return 1
    pid=$(tr -dc '0-9' <"$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    # the pid may have been reused by another program after a crash
    [ "$(cat "/proc/$pid/comm")" = "$name" ] || return 1
    live_proc "$pid" || return 1
    echo "$pid"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
    mkdir -p "$etc" "$run" "$logs" "$spool/ctld" "$spool/d"
    chmod 755 "$work_dir" "$etc" "$run" "$logs"
    if [ ! -s "$etc/munge.key" ]; then
        head -c 1024 /dev/urandom >"$etc/munge.key"
    fi
    chmod 400 "$etc/munge.key"
    local node host ctld_port slurmd_port
    node=$(slurmd -C | head -n 1)
    host=$(hostname -s)
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
    : >"$etc/plugstack.conf"
    cat >"$conf" <<EOF
# Written by ionflow local_slurm.sh: a single-node cluster, no systemd, no cgroups.
ClusterName=ionflow-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# start batch jobs at submission (default: up to 3 s later), what tests wait on
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
SlurmdTimeout=60
InactiveLimit=0
PlugStackConfig=$etc/plugstack.conf
StateSaveLocation=$spool/ctld
SlurmdSpoolDir=$spool/d
SlurmctldPidFile=${pid_file[slurmctld]}
SlurmdPidFile=${pid_file[slurmd]}
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    printf 'export SLURM_CONF=%s\n' "$conf" >"$work_dir/env.sh"
}

node_state() { sinfo -h -N -o '%t' 2>/dev/null | head -n 1; }

wait_for() {  # wait_for <description> <command...>
    local what=$1 t0=$SECONDS; shift
    until "$@" >/dev/null; do
        [ $((SECONDS - t0)) -ge "$timeout" ] && die "timed out after ${timeout}s waiting for $what (logs: $logs)"
        sleep 0.5
    done
}

node_idle() { [ "$(node_state)" = idle ] || [ "$(node_state)" = mix ] || [ "$(node_state)" = alloc ]; }

up() {
    install_packages
    [ ${#munge_socket} -lt 100 ] || die "work dir path too long for a unix socket: $work_dir" 2
    local running=0 name
    for name in munged slurmctld slurmd; do live_pid "$name" >/dev/null && running=$((running + 1)); done
    if [ "$running" -eq 3 ] && node_idle; then
        log "already up ($work_dir)"
        echo "export SLURM_CONF=$conf"
        return 0
    fi
    # partial or crashed cluster: stop what is left, then start cleanly with fresh ports
    [ "$running" -gt 0 ] && { log "restarting a partial cluster"; stop_daemons; }
    rm -f "${pid_file[@]}" "$munge_socket" "$munge_socket.lock"
    write_config
    log "starting munged, slurmctld, slurmd in $work_dir"
    munged --key-file="$etc/munge.key" --socket="$munge_socket" --pid-file="${pid_file[munged]}" \
        --log-file="$logs/munged.log" --seed-file="$run/munged.seed" --force
    wait_for "munged" live_pid munged
    slurmctld -f "$conf"
    wait_for "slurmctld" live_pid slurmctld
    slurmd -f "$conf"
    wait_for "slurmd" live_pid slurmd
    # a node left DOWN by a crash comes back with ReturnToService=2; resume covers drained ones
    local t0=$SECONDS
    until node_idle; do
        case $(node_state) in
            down* | drain* | drng*) scontrol update NodeName=ALL State=RESUME >/dev/null 2>&1 || true ;;
        esac
        [ $((SECONDS - t0)) -ge "$timeout" ] && die "timed out after ${timeout}s waiting for an idle node (state '$(node_state)', logs: $logs)"
        sleep 0.5
    done
    log "up: node $(sinfo -h -N -o '%N %t %c CPUs'), partition local"
    echo "export SLURM_CONF=$conf"
}

stop_daemons() {
    # slurmd and slurmctld together (each takes seconds to shut down), munged last
    stop_group slurmd slurmctld
    stop_group munged
}

stop_group() {  # stop_group <daemon>...: TERM, wait up to 15 s, then KILL
    local name pid t0 pids=() names=()
    for name in "$@"; do
        if pid=$(live_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid") names+=("$name")
        fi
    done
    t0=$SECONDS
    for pid in "${pids[@]}"; do
        while live_proc "$pid" && [ $((SECONDS - t0)) -lt 15 ]; do sleep 0.1; done
        live_proc "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
    [ ${#names[@]} -gt 0 ] && log "stopped ${names[*]} (pids ${pids[*]})"
    for name in "$@"; do rm -f "${pid_file[$name]}"; done
}

# a killed daemon may linger as a zombie when nothing reaps it (containers): not alive
live_proc() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

down() {
    if live_pid slurmctld >/dev/null && live_pid munged >/dev/null; then
        local jobs
        jobs=$(squeue -h -o '%i' 2>/dev/null | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            log "cancelling jobs $jobs"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            local t0=$SECONDS
            while [ -n "$(squeue -h -t R,CG -o '%i' 2>/dev/null)" ] && [ $((SECONDS - t0)) -lt 15 ]; do
                sleep 0.5
            done
        fi
    fi
    stop_daemons
    rm -f "$munge_socket" "$munge_socket.lock"
    log "down ($work_dir)"
}

status() {
    local name pid up_count=0
    for name in munged slurmctld slurmd; do
        if pid=$(live_pid "$name"); then
            echo "$name: running (pid $pid)"
            up_count=$((up_count + 1))
        else
            echo "$name: stopped"
        fi
    done
    if [ "$up_count" -eq 3 ]; then
        echo "node: $(sinfo -h -N -o '%N %t' 2>/dev/null || echo unreachable)"
        echo "export SLURM_CONF=$conf"
        return 0
    fi
    return 3
}

case $action in
    up) up ;;
    down) down ;;
    status) status ;;
    env) echo "export SLURM_CONF=$conf" ;;
esac
