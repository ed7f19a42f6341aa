#!/usr/bin/env bash
# The device batch, there: one command on a lent GPU machine without network, from the
# checkout with the batch folder that `spen device-pack` wrote here carried along:
#
#   bash scripts/device-batch.sh [BATCH]      # BATCH: default .device-batch; files go to $OUT
#
# 1. Installs the batch's wheels that the machine's Python lacks into a temporary site (pip
#    --no-index: nothing is fetched).
# 2. Checks the GPU (SPEN_DEVICE_BATCH_DEVICE=cpu rehearses the same steps on a CPU).
# 3. `spen device-run`: places the prepared data, featurises on the GPU where the batch reads
#    encoder features, chooses how many runs share the GPU, runs the batch's trainings through
#    Snakemake (workflow/profiles/gpu) and stops launching at a deadline so that the command
#    ends inside the spec's minutes; then packs into $OUT what finished (results.tar.gz,
#    checkpoints-K.tar, gpu-check.json, batch-record.json).
# Here afterwards: `spen device-unpack FOLDER` with the files that came back.
# SPEN_DEVICE_PYTHON names the interpreter (default python3, the one holding CUDA torch);
# SPEN_DEVICE_BATCH_PROBE ("1 2") narrows the numbers of concurrent runs measured.
set -euo pipefail
T0="$(date +%s)"
cd "$(dirname "$0")/.."
REPO="$(pwd)"
BATCH="$(realpath "${1:-.device-batch}")"
: "${OUT:?set OUT to the folder whose files come back}"
PY="${SPEN_DEVICE_PYTHON:-python3}"
DEVICE="${SPEN_DEVICE_BATCH_DEVICE:-cuda}"
log() { echo "[device-batch] $* ($(($(date +%s) - T0)) s)" >&2; }

[[ -f "$BATCH/batch.json" ]] || { echo "device-batch: $BATCH/batch.json: missing; run spen device-pack here first" >&2; exit 2; }
SITE="$(mktemp -d)"
mapfile -t WHEELS < <(PYTHONPATH="$REPO" "$PY" -c "
import sys; from pathlib import Path; from spen.wheels import missing
print('\n'.join(str(p) for p in missing(Path(sys.argv[1]))))" "$BATCH/wheels" | sed '/^$/d')
if ((${#WHEELS[@]})); then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "${WHEELS[@]}"
fi
export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$SITE/bin"
for tool in spen snakemake; do printf '#!/bin/sh\nexec "%s" -m %s "$@"\n' "$PY" "$tool" >"$SITE/bin/$tool"; done
chmod +x "$SITE"/bin/*
export PATH="$SITE/bin:$PATH"
log "installed ${#WHEELS[@]} wheels the interpreter lacked"

"$PY" -c "import sys, torch; sys.exit(0 if '$DEVICE' == 'cpu' or torch.cuda.is_available() else 1)" ||
    { echo "device-batch: $PY: torch sees no CUDA device (SPEN_DEVICE_BATCH_DEVICE=cpu rehearses on a CPU)" >&2; exit 2; }
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')" >&2

mkdir -p "$OUT"
PROBE=()
for n in ${SPEN_DEVICE_BATCH_PROBE:-}; do PROBE+=(--probe "$n"); done
spen device-run "$BATCH" --out "$OUT" --device "$DEVICE" --started "$T0" "${PROBE[@]}"
log "done; $(ls "$OUT" | wc -l) files in $OUT: $(du -sh "$OUT" | cut -f1)"
