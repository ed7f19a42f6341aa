#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for CI (Debian's slurm-wlm and munge).
#
#   .ci/slurm/cluster.sh start    install if missing, start munged (unless one answers),
#                                 slurmctld and slurmd, wait until the node is idle
#   .ci/slurm/cluster.sh stop     stop what `start` started (by the pid files it wrote)
#   .ci/slurm/cluster.sh logs     print the daemons' logs
#   .ci/slurm/cluster.sh clean    stop, then remove the state directory
#
# The configuration, from .ci/slurm/slurm.conf.in, goes to /etc/slurm/slurm.conf, where every
# Slurm command looks: snakemake-executor-plugin-slurm-jobstep drops SLURM_* variables,
# SLURM_CONF included, from the environment of the `srun` it runs inside a job, so a
# configuration elsewhere is not found there. `start` refuses to replace a slurm.conf it did
# not write (a real Slurm installation); `stop` removes its own.
# Environment (all optional):
#   SPEN_SLURM_STATE       state, spool, pid files, logs, jobcomp.log (default /tmp/spen-slurm)
#   SPEN_SLURM_PARTITIONS  partition names, the first is the default (default "cpu")
#   SPEN_SLURM_PORTS       slurmctld and slurmd ports (default "17817 17818")
# Run as root (as are the jobs). `start` is idempotent: it stops a cluster an earlier `start`
# left running and begins from empty state.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${SPEN_SLURM_STATE:-/tmp/spen-slurm}"
PARTITIONS="${SPEN_SLURM_PARTITIONS:-cpu}"
read -r CTLD_PORT SLURMD_PORT <<<"${SPEN_SLURM_PORTS:-17817 17818}"
NODE="$(hostname -s)"
CONF=/etc/slurm/slurm.conf
MARK="# spen CI cluster (.ci/slurm/cluster.sh)"
unset SLURM_CONF

log() { echo "[slurm-ci] $*" >&2; }

alive() { # alive PIDFILE: the pid it names is a running process
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_pid() { # stop_pid PIDFILE NAME: TERM, then KILL after 15 s; only the pid in PIDFILE
    local pidfile=$1 name=$2 pid
    alive "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid="$(cat "$pidfile")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name did not stop; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

print_logs() {
    local f
    for f in "$STATE/slurmctld.log" "$STATE/slurmd.log" /var/log/munge/munged.log; do
        [[ -f "$f" ]] || continue
        echo "----- $f (last 60 lines)"
        tail -n 60 "$f"
    done
}

install_packages() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

munge_answers() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_answers; then
        log "munged already running; using it"
        return 0
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
    chmod 0700 /etc/munge
    chmod 0400 /etc/munge/munge.key
    chmod 0755 /run/munge
    log "starting munged"
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid \
        --log-file=/var/log/munge/munged.log --force
    for _ in $(seq 20); do
        munge_answers && break
        sleep 0.5
    done
    if ! munge_answers; then
        log "munged does not answer"
        print_logs
        exit 1
    fi
    cp /run/munge/munged.pid "$STATE/munged.pid" # ours to stop
}

write_conf() {
    if [[ -e "$CONF" ]] && ! grep -qxF "$MARK" "$CONF"; then
        log "$CONF exists and is not ours: a Slurm installation? Leaving it alone."
        exit 1
    fi
    mkdir -p "$(dirname "$CONF")"
    local cpus mem_kb mem_mb margin real partitions="" name default=YES
    cpus="$(nproc)"
    mem_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
    mem_mb=$((mem_kb / 1024))
    margin=$((mem_mb / 10 > 1024 ? mem_mb / 10 : 1024)) # the OS and the daemons
    real=$((mem_mb - margin))
    for name in $PARTITIONS; do
        partitions+="PartitionName=$name Nodes=$NODE Default=$default MaxTime=INFINITE"
        partitions+=" State=UP"$'\n'
        default=NO
    done
    sed -e "1i $MARK" -e "s|@NODE@|$NODE|g" -e "s|@CPUS@|$cpus|g" -e "s|@REAL_MEMORY@|$real|g" \
        -e "s|@STATE@|$STATE|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "/@PARTITIONS@/d" \
        "$HERE/slurm.conf.in" >"$CONF.tmp"
    printf '%s' "$partitions" >>"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    log "node $NODE: CPUs=$cpus RealMemory=$real MB; partitions: $PARTITIONS"
}

wait_idle() {
    local state=""
    for _ in $(seq 120); do
        state="$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1 || true)"
        case "$state" in
        idle) return 0 ;;
        drain* | drng | down* | fail*) break ;;
        esac
        sleep 0.5
    done
    log "node $NODE is not idle after 60 s (state: '${state:-none}')"
    sinfo -N -l 2>&1 || true
    sinfo -R 2>&1 || true
    print_logs
    return 1
}

cancel_jobs() {
    alive "$STATE/slurmctld.pid" || return 0
    if [[ -n "$(squeue -h -o %i 2>/dev/null)" ]]; then
        log "cancelling the jobs still in the queue"
        scancel --full --quiet $(squeue -h -o %i) 2>/dev/null || true
        sleep 2
    fi
}

stop() {
    cancel_jobs
    stop_pid "$STATE/slurmd.pid" slurmd
    stop_pid "$STATE/slurmctld.pid" slurmctld
    stop_pid "$STATE/munged.pid" munged
    if [[ -f "$CONF" ]] && grep -qxF "$MARK" "$CONF"; then rm -f "$CONF"; fi
}

start() {
    [[ $EUID -eq 0 ]] || { log "run as root"; exit 1; }
    install_packages
    mkdir -p "$STATE"
    stop # a cluster an earlier start left behind
    rm -rf "$STATE/slurmctld" "$STATE/slurmd" "$STATE"/*.log
    mkdir -p "$STATE/slurmctld" "$STATE/slurmd"
    write_conf
    start_munge
    log "starting slurmctld and slurmd"
    if ! slurmctld || ! slurmd -N "$NODE"; then
        log "a daemon did not start"
        print_logs
        stop
        exit 1
    fi
    if ! wait_idle; then
        stop
        exit 1
    fi
    log "node $NODE idle ($CONF)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
logs) print_logs ;;
clean)
    stop
    rm -rf "$STATE"
    ;;
*)
    echo "usage: $0 start|stop|logs|clean" >&2
    exit 2
    ;;
esac
