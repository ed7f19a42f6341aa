#!/usr/bin/env bash
# The device batch rehearsed on this CPU, on the smoke profile: pack here, run "there" (a copy
# of what the device call sends: the checkout's tracked and unignored files and the batch
# folder, no .git, no .venv, no ../shared) with an interpreter that holds only the device
# image's packages (scripts/device_image.py) and installs the rest from the batch's wheels
# without an index, then unpack into the clone and check that Snakemake takes the runs as done.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
BIN="$REPO/.venv/bin"
WORK="$(mktemp -d)"
log() { echo "[device-rehearsal] $*"; }
T0="$(date +%s)"

# Here: a clone as CI has it, the smoke profile's data, the pack.
git clone -q "$REPO" "$WORK/here"
ln -s "$(realpath "$REPO/../shared")" "$WORK/shared"
cd "$WORK/here"
export PYTHONPATH="$WORK/here" PATH="$BIN:$PATH"
BATCH_GROUPS=(--group pos/bilstm-paper --group pos/compound_stacked-xfmr)
snakemake --cores 2 data/pos/summary.json --config profile=smoke >"$WORK/data.log" 2>&1
PY_VERSION="$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
spen device-pack --profile smoke "${BATCH_GROUPS[@]}" --python "$PY_VERSION" --out .device-batch
log "pack: $(du -sm .device-batch | cut -f1) MiB in .device-batch ($(($(date +%s) - T0)) s)"

# There: what the device call sends, an image-only interpreter, no index.
mkdir -p "$WORK/there" "$WORK/out"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -a --parents -t "$WORK/there"
cp -r .device-batch "$WORK/there/"
"$BIN/python" "$REPO/scripts/device_image.py" "$WORK/image" "$REPO/workflow/device/h200.yaml"
(
    cd "$WORK/there"
    env -i HOME="$HOME" PATH=/usr/bin:/bin OUT="$WORK/out" SPEN_DEVICE_PYTHON="$WORK/image/bin/python" \
        SPEN_DEVICE_BATCH_DEVICE=cpu SPEN_DEVICE_BATCH_PROBE="1 2" PIP_NO_INDEX=1 bash scripts/device-batch.sh .device-batch
)
BACK="$(find "$WORK/out" -type f | wc -l)"
log "run: $(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); j=r['jobs']; print(f\"{j['jobs_finished']} of {j['jobs_planned']} jobs, {len(r['runs_finished'])} of {r['runs_packed']} runs finished\")" "$WORK/out/batch-record.json"), $BACK files back ($(du -sm "$WORK/out" | cut -f1) MiB)"
((BACK <= 8)) || { log "more than 8 files would come back"; exit 1; }

# Here again: unpack, then Snakemake has nothing left to do for the batch's runs.
spen device-unpack "$WORK/out"
TARGETS="$(python3 -c "import json; print(' '.join(json.load(open('.device-batch/batch.json'))['targets']))")"
PLAN="$(snakemake -n $TARGETS --config profile=smoke 2>&1)"
if ! grep -q "Nothing to be done" <<<"$PLAN"; then
    echo "$PLAN" | tail -30
    log "after the unpack, Snakemake still plans jobs for the batch's runs"
    exit 1
fi
log "unpack: $(ls runs/smoke/results/device/) recorded; snakemake -n: nothing to be done ($(($(date +%s) - T0)) s in all)"
rm -rf "$WORK"
