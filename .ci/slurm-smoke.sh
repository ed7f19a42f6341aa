#!/usr/bin/env bash
# CI: the smoke pipeline on a real (one-node) Slurm cluster, through the Slurm profile.
#
#   bash .ci/slurm-smoke.sh          (as root; after scripts/install.sh)
#
# 1. .ci/slurm/cluster.sh start: installs slurmctld, slurmd and munge if missing (apt-get),
#    starts munged, slurmctld and slurmd for one node (this machine's name, CPUs and memory),
#    with the partitions workflow/profiles/slurm/config.yaml names.
# 2. Copies the working tree (tracked and untracked files, not ignored ones) into a temporary
#    directory, without data/, models/, results/, logs/: the project's own outputs are never
#    touched. The raw data comes from ../shared/data and data/raw/ of this checkout, linked as
#    the copy's ../shared/data (the second entry of params/data.yaml's search path).
#    Its params/experiments.yaml is cut down to SMOKE_TASKS x SMOKE_MODELS x SMOKE_SETTINGS.
# 3. Runs `snakemake --workflow-profile workflow/profiles/slurm --config profile=smoke` there,
#    with only what a CPU-only one-node cluster needs on top of the profile: the train rule's
#    `gpu` resource set to 0 (and tune_train's), its memory capped to the node's, threads capped to the node's
#    CPUs; no account, status by squeue, no retries (a failure must show).
# 4. .ci/slurm/check_smoke.py: every run's test.json and results/summary.json (under the smoke
#    profile's root, runs/smoke/) exist and are new; every job went through sbatch and Slurm
#    recorded it COMPLETED, exit 0, in the profile's partition.
# 5. Stops the daemons it started (trap) and removes the copy and the cluster's state (both
#    kept when a step failed, or with KEEP_WORK=1).
#
# Environment: SMOKE_TASKS, SMOKE_MODELS, SMOKE_SETTINGS (space-separated; default pos,
# bilstm_crf compound_separated, xfmr: every step of the other settings plus featurize, whose
# encoder runs as a cluster job; one setting keeps CI short), SPEN_PYTHON (default .venv/bin/python),
# SPEN_SLURM_STATE (default /tmp/spen-slurm), SMOKE_TIMEOUT (seconds Snakemake may take,
# default 1200), KEEP_WORK=1 to keep the temporary copy.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PY="${SPEN_PYTHON:-$SRC/.venv/bin/python}"
export SPEN_SLURM_STATE="${SPEN_SLURM_STATE:-/tmp/spen-slurm}"
PROFILE=workflow/profiles/slurm
T0="$(date +%s)"

log() { echo "[slurm-smoke +$(($(date +%s) - T0)) s] $*" >&2; }

if ! "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    log "snakemake-executor-plugin-slurm is not installed in $PY's environment"
    log "(scripts/install.sh installs it with the dev extras)"
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spen-slurm-smoke.XXXXXX")"
OK=0
cleanup() {
    local rc=$?
    if [[ $OK == 1 && "${KEEP_WORK:-0}" != 1 ]]; then
        bash "$SRC/.ci/slurm/cluster.sh" clean || true
        rm -rf "$WORK"
    else
        bash "$SRC/.ci/slurm/cluster.sh" stop || true
        log "kept $WORK and $SPEN_SLURM_STATE"
    fi
    log "wall time $(($(date +%s) - T0)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The working tree, without outputs.
mkdir -p "$WORK/repo" "$WORK/shared/data"
git -C "$SRC" ls-files -z --cached --others --exclude-standard |
    tar -C "$SRC" --null -T - --ignore-failed-read -cf - 2>/dev/null |
    tar -C "$WORK/repo" -xf -
rm -rf "$WORK/repo"/{data,models,results,logs,reports,.snakemake}
for raw in "$SRC/../shared/data" "$SRC/data/raw"; do
    if [[ -d "$raw" ]]; then cp -rsn "$(cd "$raw" && pwd)/." "$WORK/shared/data/"; fi
done
cd "$WORK/repo"
export PYTHONPATH="$WORK/repo${PYTHONPATH:+:$PYTHONPATH}" # spen from the copy

# A smaller experiment list in the copy: the smoke profile over all of it is ~100 jobs, too
# many for a few minutes on 2 cores. Names must be in the real list.
"$PY" - params/experiments.yaml <<'EOF'
import os, sys, yaml
path = sys.argv[1]
exp = yaml.safe_load(open(path))
for key, default in (("tasks", "pos"), ("models", "bilstm_crf compound_separated"),
                     ("settings", "xfmr")):
    names = os.environ.get(f"SMOKE_{key.upper()}", default).split()
    unknown = [n for n in names if n not in exp[key]]
    if unknown:
        sys.exit(f"SMOKE_{key.upper()}: {unknown} not in params/experiments.yaml {key}")
    exp[key] = names
yaml.safe_dump(exp, open(path, "w"), sort_keys=False)
print(f"[slurm-smoke] experiments: {exp}", file=sys.stderr)
profiles = yaml.safe_load(open("params/profiles.yaml"))
profiles["smoke"].pop("experiments", None)  # the list above is this test's own
yaml.safe_dump(profiles, open("params/profiles.yaml", "w"), sort_keys=False)
EOF

# The partitions the profile uses (its default first) make the cluster's.
SPEN_SLURM_PARTITIONS="$("$PY" - "$PROFILE/config.yaml" <<'EOF'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
names = [(config.get("default-resources") or {}).get("slurm_partition", "cpu")]
names += [r["slurm_partition"] for r in (config.get("set-resources") or {}).values()
          if "slurm_partition" in r]
print(" ".join(dict.fromkeys(names)))
EOF
)"
export SPEN_SLURM_PARTITIONS
bash "$SRC/.ci/slurm/cluster.sh" start

NODE="$(hostname -s)"
CPUS="$(scontrol show node "$NODE" -o | grep -o 'CPUTot=[0-9]*' | cut -d= -f2)"
NODE_MEM="$(scontrol show node "$NODE" -o | grep -o 'RealMemory=[0-9]*' | cut -d= -f2)"
# The profile's set-resources (the command line replaces them, so restate them), GPU
# requests dropped, memory capped to the node's; the train rule without a GPU.
mapfile -t SET_RESOURCES < <("$PY" - "$PROFILE/config.yaml" "$NODE_MEM" <<'EOF'
import sys, yaml
config, node_mem = yaml.safe_load(open(sys.argv[1])), int(sys.argv[2])
rules = config.get("set-resources") or {}
for rule, resources in rules.items():
    for key, value in resources.items():
        if key in ("gpu", "gres", "gpu_model"):
            continue
        if key == "mem_mb":
            value = min(int(value), node_mem)
        print(f"{rule}:{key}={value}")
print("train:gpu=0")
print("tune_train:gpu=0")
EOF
)

log "snakemake in $WORK/repo; --set-resources ${SET_RESOURCES[*]}; --max-threads $CPUS"
START="$(date +%s)"
set +e
timeout --signal=INT --kill-after=60 "${SMOKE_TIMEOUT:-1200}" \
    "$PY" -m snakemake --workflow-profile "$PROFILE" --config profile=smoke \
    --set-resources "${SET_RESOURCES[@]}" --max-threads "$CPUS" --retries 0 \
    --slurm-no-account --slurm-status-command squeue \
    --slurm-init-seconds-before-status-checks 2 --slurm-keep-successful-logs \
    >"$WORK/snakemake.log" 2>&1
RC=$?
set -e
log "snakemake exited $RC after $(($(date +%s) - START)) s"
if [[ $RC != 0 ]]; then
    tail -n 80 "$WORK/snakemake.log"
    ROOT="$("$PY" -c 'from spen import config, layout; print(layout.profile_root(config.load_params(), "smoke"))')"
    for f in "$ROOT"/.snakemake/slurm_logs/*/{,*/}*.log "$ROOT"/logs/{,*/,*/*/*/}*.log; do
        if [[ -f "$f" ]]; then echo "----- $f" && tail -n 30 "$f"; fi
    done
    bash "$SRC/.ci/slurm/cluster.sh" logs
    exit 1
fi
grep -E "submitted with SLURM jobid" "$WORK/snakemake.log" | head -n 3
"$PY" "$SRC/.ci/slurm/check_smoke.py" --log "$WORK/snakemake.log" \
    --jobcomp "$SPEN_SLURM_STATE/jobcomp.log" --profile "$PROFILE/config.yaml" \
    --since "$START" --run-profile smoke
OK=1
