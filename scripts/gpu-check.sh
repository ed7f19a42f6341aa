#!/usr/bin/env bash
# The GPU check (issue 20), one command on a machine with one CUDA GPU, from a checkout:
#
#   bash scripts/gpu-check.sh             # writes results/bench/gpu-check.json (and gpu-check/)
#
# 1. Python: $SPEN_GPU_PYTHON, else python3. It must import a CUDA build of torch (an image
#    with one, or `pip install torch==2.13.0` from the registry). spen runs from the checkout;
#    the distributions it needs and that Python lacks are installed from .gpu-carry/wheels
#    without an index (`--prepare` made them), else from the registry.
# 2. The CUDA tests (`pytest -k cuda`).
# 3. `spen bench TASK --device cuda` for each task: decoding tokens/s, every model's training
#    sentences/s and peak GPU memory.
# 4. Runs per GPU: 1, 2, 4 and 8 trainings at once of the slowest model (NER plus, stacked +
#    GE(c)): sentences/s of each and of all, peak memory of each; the chosen N (the fewest
#    reaching 95% of the best total) goes into the JSON for workflow/profiles/gpu.
# 5. The smoke profile through workflow/profiles/gpu (runs/smoke/, several trainings on the one
#    GPU), on the prepared data of .gpu-carry/data (no raw data or GloVe needed there): wall
#    time.
# 6. results/bench/gpu-check.json: device, torch, each step's seconds and figures.
#
# On a lent device (its files come back from $OUT): `bash scripts/gpu-check.sh && cp
# results/bench/gpu-check.json $OUT/`, with .gpu-carry carried along. SPEN_GPU_CHECK_RUNS
# ("1 2 4 8") and SPEN_GPU_CHECK_TARGETS (the smoke's targets, from runs/smoke/) narrow it.
#
# Where the package registries are reachable, beforehand (a GPU machine without them needs it):
#
#   bash scripts/gpu-check.sh --prepare   # .gpu-carry/: wheels (CPython 3.12) and prepared data
#
# and send .gpu-carry/ along with the checkout (git ignores it). SPEN_GPU_DEVICE=cpu runs the
# same steps on the CPU, the benchmarks on the smoke profile (a rehearsal, not a measurement).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
CARRY="$REPO/.gpu-carry"
log() { echo "[gpu-check] $*" >&2; }

# What the smoke profile computes before any training (its encoder features included: the
# encoder's weights need not travel).
DATA_TARGETS=(data/pos/summary.json data/ner/summary.json data/features/pos/xfmr/summary.json
    data/features/ner/xfmr/summary.json)

if [[ "${1:-}" == "--prepare" ]]; then
    PY="${SPEN_PYTHON:-.venv/bin/python}"
    rm -rf "$CARRY" && mkdir -p "$CARRY/data"
    "$PY" scripts/gpu_carry.py wheels "$CARRY/wheels" >&2
    # The smoke profile's prepared data (its root, runs/smoke/), raw files included so that
    # Snakemake finds every step before training done.
    PATH="$(dirname "$PY"):$PATH" "$PY" -m snakemake --cores 2 "${DATA_TARGETS[@]}" \
        --config profile=smoke >/dev/null
    cp -r runs/smoke/data/. "$CARRY/data/"
    log "$(du -sh "$CARRY" | cut -f1) in $CARRY"
    exit 0
fi

DEVICE="${SPEN_GPU_DEVICE:-cuda}"
PY="${SPEN_GPU_PYTHON:-python3}"
OUT="$REPO/results/bench/gpu-check"
mkdir -p "$OUT"
T0="$(date +%s)"
step() { echo "$1 $(($(date +%s) - T0))" >>"$OUT/steps.txt"; log "$1 ($(($(date +%s) - T0)) s)"; }
: >"$OUT/steps.txt"

# 1. Python and spen.
"$PY" -c "import torch, sys; sys.exit(0 if '$DEVICE' == 'cpu' or torch.cuda.is_available() else 1)" ||
    { log "$PY: torch without CUDA; install a CUDA build of torch==2.13.0 first"; exit 2; }
SITE="$(mktemp -d)"
BIN="$SITE/bin" && mkdir -p "$BIN"
if [[ -d "$CARRY/wheels" ]]; then
    mapfile -t WHEELS < <("$PY" scripts/gpu_carry.py missing "$CARRY/wheels" | sed "/^$/d")
    if ((${#WHEELS[@]})); then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "${WHEELS[@]}"
    fi
    log "installed ${#WHEELS[@]} wheels the interpreter lacked"
else
    "$PY" -m pip install -q --target "$SITE" -e ".[dev]"
fi
export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"
for tool in spen snakemake; do printf '#!/bin/sh\nexec "%s" -m %s "$@"\n' "$PY" "$tool" >"$BIN/$tool"; done
chmod +x "$BIN"/*
export PATH="$BIN:$PATH"
"$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')" >"$OUT/device.txt"
step install

# 2. The CUDA tests.
"$PY" -m pytest -q -n 0 -p no:cacheprovider -k cuda tests >"$OUT/pytest.txt" 2>&1 || { tail -n 30 "$OUT/pytest.txt"; exit 1; }
step cuda-tests

# 3. The benchmark of each task on the device.
PROFILE=paper
[[ "$DEVICE" == cpu ]] && PROFILE=smoke
for task in pos ner; do
    spen bench "$task" --device "$DEVICE" --profile "$PROFILE" --data "$CARRY/data/$task" \
        --out "$OUT/bench-$task.json" >/dev/null
done
step bench

# 4. Runs per GPU: N trainings of the slowest model at once.
CORES="$(nproc)"
for n in ${SPEN_GPU_CHECK_RUNS:-1 2 4 8}; do
    THREADS="$((CORES / n > 0 ? CORES / n : 1))" # the host's cores shared (more only spin)
    for i in $(seq "$n"); do
        OMP_NUM_THREADS="$THREADS" spen bench ner --device "$DEVICE" --profile "$PROFILE" \
            --data "$CARRY/data/ner" --model compound_stacked_ge_c --setting plus \
            --training-only --out "$OUT/concurrent-$n-$i.json" >/dev/null &
    done
    wait
    step "concurrent-$n"
done

# 5. The smoke profile through the GPU profile, several trainings sharing the GPU.
mkdir -p runs/smoke/data && cp -r "$CARRY/data/." runs/smoke/data/
snakemake --workflow-profile workflow/profiles/gpu --touch "${DATA_TARGETS[@]}" \
    --config profile=smoke >"$OUT/touch.log" 2>&1
S0="$(date +%s)"
# SPEN_GPU_CHECK_TARGETS (files named from runs/smoke/) narrows it, e.g. for a rehearsal.
read -r -a TARGETS <<<"${SPEN_GPU_CHECK_TARGETS:-}"
snakemake --workflow-profile workflow/profiles/gpu "${TARGETS[@]}" --config profile=smoke \
    >"$OUT/smoke.log" 2>&1 || { tail -n 40 "$OUT/smoke.log"; exit 1; }
echo "$(($(date +%s) - S0))" >"$OUT/smoke-seconds.txt"
step smoke

"$PY" scripts/gpu_check_summary.py "$OUT" "$REPO/results/bench/gpu-check.json"
step done
log "results/bench/gpu-check.json written; $(($(date +%s) - T0)) s in all"
