#!/usr/bin/env bash
# CI: DVC used for real on the smoke profile, as a new user would, in a temporary repository.
#
#   bash .ci/dvc-smoke.sh          (after scripts/install.sh)
#
# 1. A git repository made from the working tree (tracked and untracked files, not ignored
#    ones), its outputs removed, the experiment list cut to POS x {BiLSTM-CRF, compound
#    separated} x paper, the smoke profile's outputs at the root (not runs/smoke: here they are
#    the project's own, versioned), dvc.yaml rendered for it, a local DVC remote.
# 2. `dvc repro` builds everything; dvc.lock and the small results are committed.
# 3. One value of params/ changes (models.compound_separated.ce_weight): `dvc status` and
#    `snakemake -n` (after a `snakemake --touch` recorded its provenance) must name the same
#    changed steps, and again after a one-line code edit (reverted); `dvc repro` must rerun
#    exactly the stages that read it (the separated row's tuning, training, decoding, scoring,
#    analysis; the benchmark, which times every model; aggregate and report), then `dvc push`.
# 4. A second clone `dvc pull`s; `dvc status` must report nothing to do, and `spen report`
#    renders from the pulled outputs.
# Snakemake on the same checkouts: after `dvc repro`, and after `dvc pull` + `snakemake --touch
# --forceall`, `snakemake -n` must have nothing to do.
# Environment: SPEN_PYTHON (default .venv/bin/python), KEEP_WORK=1 keeps the temporary folder.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PY="${SPEN_PYTHON:-$SRC/.venv/bin/python}"
BIN="$(dirname "$PY")"
export PATH="$BIN:$PATH"
T0="$(date +%s)"
log() { echo "[dvc-smoke +$(($(date +%s) - T0)) s] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spen-dvc-smoke.XXXXXX")"
OK=0
cleanup() {
    local rc=$?
    if [[ $OK == 1 && "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
    log "wall time $(($(date +%s) - T0)) s"
    exit "$rc"
}
trap cleanup EXIT

mkdir -p "$WORK/repo"
git -C "$SRC" ls-files -z --cached --others --exclude-standard |
    tar -C "$SRC" --null -T - --ignore-failed-read -cf - 2>/dev/null |
    tar -C "$WORK/repo" -xf -
ln -s "$(cd "$SRC/../shared" && pwd)" "$WORK/shared" # params/data.yaml's ../shared/data
cd "$WORK/repo"
rm -rf data models results logs .snakemake dvc.lock reports/index.* reports/figures
export PYTHONPATH="$WORK/repo"

"$PY" - <<'PYEOF'
import yaml
path = "params/experiments.yaml"
exp = yaml.safe_load(open(path))
exp.update(profile="smoke", tasks=["pos"], models=["bilstm_crf", "compound_separated"],
           settings=["paper"])
yaml.safe_dump(exp, open(path, "w"), sort_keys=False)
# This repository is a smoke-only project: its smoke results are its own, versioned at the root
# as the paper's are in the real one (git keeps the small ones, DVC the rest), not in runs/smoke.
path = "params/profiles.yaml"
profiles = yaml.safe_load(open(path))
profiles["smoke"].pop("root", None)
profiles["smoke"].pop("experiments", None)  # the list above is this test's own
yaml.safe_dump(profiles, open(path, "w"), sort_keys=False)
PYEOF
spen dvc-yaml
git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm base
dvc remote add -q -d -f storage "$WORK/remote"
commit() { git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm "$1"; }

ran() { sed -n "s/^Running stage '\(.*\)':$/\1/p" "$1" | sort; }

log "dvc repro: everything"
dvc repro >"$WORK/repro1.log" 2>&1 || { tail -n 60 "$WORK/repro1.log"; exit 1; }
log "stages run: $(ran "$WORK/repro1.log" | wc -l)"
commit "first reproduction"
# Snakemake after DVC on the same checkout: nothing to rerun (timestamps in order).
nothing_to_do() {
    snakemake -n --config profile=smoke >"$WORK/$1.log" 2>&1 || { tail -n 40 "$WORK/$1.log"; exit 1; }
    grep -q "Nothing to be done" "$WORK/$1.log" || {
        log "$2: snakemake wants to rerun:"; grep -A20 "Job stats" "$WORK/$1.log" >&2; exit 1; }
    log "$2: snakemake -n: nothing to be done"
}
nothing_to_do snakemake1 "after dvc repro"
# Snakemake records its own provenance of the outputs DVC made (a touch run writes its metadata:
# params and code digests), so that both tools can judge the next edit.
provenance() {
    snakemake --touch --forceall --cores 1 --config profile=smoke >"$WORK/touch-$1.log" 2>&1 ||
        { tail -n 40 "$WORK/touch-$1.log"; exit 1; }
}
# An edit as each tool sees it: `dvc status` and `snakemake -n` must name the same steps where
# the change enters the graph (past those, DVC lists each stage whose own inputs changed, and
# Snakemake all that follows); Snakemake's whole list is kept for the rerun check below.
same_changes() {
    local name="${1// /-}"
    dvc status --json >"$WORK/$name-dvc.json"
    "$PY" - "$WORK/$name" <<'PYEOF'
import json, sys
from pathlib import Path
from tests.test_pipeline import first_reached, snakemake_graph, snakemake_jobs
out = sys.argv[1]
edges = snakemake_graph(snakemake_jobs(Path.cwd(), "smoke"))[1]
pending = {j.stage for j in snakemake_jobs(Path.cwd(), "smoke", force=False)}
changed = set(json.load(open(out + "-dvc.json")))
for name, stages in (("dvc", changed), ("snakemake", pending)):
    Path(f"{out}-{name}.txt").write_text("".join(f"{s}\n" for s in first_reached(stages, edges)))
Path(f"{out}-snakemake-all.txt").write_text("".join(f"{s}\n" for s in sorted(pending)))
PYEOF
    log "$1: where it enters, dvc status: $(tr '\n' ' ' <"$WORK/$name-dvc.txt")"
    log "$1: where it enters, snakemake -n: $(tr '\n' ' ' <"$WORK/$name-snakemake.txt")"
    log "$1: snakemake -n, all: $(wc -l <"$WORK/$name-snakemake-all.txt") jobs"
    if ! diff -u "$WORK/$name-dvc.txt" "$WORK/$name-snakemake.txt" >&2; then
        log "$1: dvc status and snakemake -n disagree on what changed"
        exit 1
    fi
    [[ -s "$WORK/$name-dvc.txt" ]] || { log "$1: neither tool saw the change"; exit 1; }
}
provenance 1

log "change: params/models.yaml models.compound_separated.ce_weight 1 -> 2"
"$PY" - <<'PYEOF'
import re
path = "params/models.yaml"
text = open(path).read()
head, sep, tail = text.partition("  compound_separated:")
tail, n = re.subn(r"(\n    ce_weight:) 1\b", r"\1 2", tail, count=1)
assert sep and n == 1, "models.compound_separated.ce_weight not found"
open(path, "w").write(head + sep + tail)
PYEOF
same_changes "params edit"
dvc repro >"$WORK/repro2.log" 2>&1 || { tail -n 60 "$WORK/repro2.log"; exit 1; }
ran "$WORK/repro2.log" >"$WORK/rerun.txt"
dvc stage list --name-only | grep -E -- '-compound_separated-|^(aggregate|report|bench@pos)$' |
    sort >"$WORK/expected.txt"
log "stages rerun: $(tr '\n' ' ' <"$WORK/rerun.txt")"
if ! diff -u "$WORK/expected.txt" "$WORK/rerun.txt" >&2; then
    log "the rerun is not the set of stages that read the changed value"
    exit 1
fi
if ! diff -u "$WORK/expected.txt" "$WORK/params-edit-snakemake-all.txt" >&2; then
    log "snakemake -n, before the rerun, did not list the same stages"
    exit 1
fi
log "snakemake -n had listed the same $(wc -l <"$WORK/expected.txt") steps"
commit "ce_weight 2 for compound-separated"
# A code edit (one line added to spen/aggregate.py): the same steps again, in both tools.
provenance 2
echo "# an edit" >>spen/aggregate.py
same_changes "code edit"
git checkout -q spen/aggregate.py
dvc push -q
log "pushed $(find "$WORK/remote" -type f | wc -l) files to the remote"

git clone -q "$WORK/repo" "$WORK/clone"
cd "$WORK/clone"
export PYTHONPATH="$WORK/clone"
dvc pull -q
status="$(dvc status)"
log "second clone, after dvc pull: dvc status: $status"
[[ "$status" == *"Data and pipelines are up to date."* ]] || exit 1
# Pulled files carry the time of the pull, in no order, and git wrote each tuning record before
# its grid's summaries: `snakemake --touch --forceall` (README) stamps every output in the graph's
# order, which DVC has just checked against dvc.lock.
snakemake --touch --forceall --cores 1 --config profile=smoke >"$WORK/touch.log" 2>&1 || { tail -n 40 "$WORK/touch.log"; exit 1; }
nothing_to_do snakemake2 "second clone, after dvc pull and snakemake --touch --forceall"
spen report --summary results/summary.json --bench results/bench --out "$WORK/report" >/dev/null
test -s "$WORK/report/index.html"
log "report rendered from the pulled outputs: $WORK/report/index.html"
OK=1
