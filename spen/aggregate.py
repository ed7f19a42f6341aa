"""`spen aggregate`: the scores and training logs of finished runs, collected into
results/summary.json (mean and std over seeds per task x model x setting) and each run's learning
curve."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spen.io import read_json, write_json
from spen.layout import CURVE, TIMINGS, TRAIN_LOG, TRAIN_SUMMARY, Run

_SCORES_PATH = re.compile(
    r"(?P<task>[a-z0-9_]+)/(?P<model>[a-z0-9_]+)-(?P<setting>[a-z0-9_]+)/seed(?P<seed>\d+)"
    r"/test\.json$"
)


def scores_run(path: Path) -> Run | None:
    """The run a `…/TASK/MODEL-SETTING/seedK/test.json` path names; None for another path."""
    match = _SCORES_PATH.search(path.as_posix())
    if not match:
        return None
    fields = match.groupdict()
    return Run(fields["task"], fields["model"], fields["setting"], int(fields["seed"]))


def run_of_scores(path: str | Path) -> tuple[Run, Path]:
    """The run and the project root of a `results/TASK/MODEL-SETTING/seedK/test.json` path."""
    path = Path(path)
    run = scores_run(path)
    if run is None or path.parents[3].name != "results":
        raise ValueError(
            f"{path}: not a scores file; expected results/TASK/MODEL-SETTING/seedK/test.json"
        )
    return run, path.parents[4]


def read_history(path: Path) -> list[dict[str, Any]]:
    """The per-epoch records of a `metrics.jsonl` training log."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the run's training log (run `spen train`)")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {number}: not JSON ({err.msg})") from err
    if not records:
        raise ValueError(f"{path}: no epochs recorded")
    return records


def mean_std(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std}


def run_history(root: Path, run: Run) -> tuple[list[dict[str, Any]], bool]:
    """The run's per-epoch records and whether they come from its training log: the log
    `metrics.jsonl` when the checkpoint directory is there, else the versioned copy
    `learning_curve.json` that aggregating wrote (a fresh clone, checkpoints not pulled)."""
    log, curve = root / run.path(TRAIN_LOG), root / run.path(CURVE)
    if log.is_file() or not curve.is_file():
        return read_history(log), True
    records = read_json(curve)
    if not isinstance(records, list) or not records:
        raise ValueError(f"{curve}: not a learning curve (a non-empty list of epochs)")
    return records, False


def aggregate(
    scores: Sequence[str | Path],
    curves: bool = True,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Collect finished runs: per run its test scores, training summary and train.json, per
    TASK/MODEL-SETTING the mean and std over seeds of every test score and training figure.

    With `curves`, write each run's learning curve (the epochs of metrics.jsonl) as JSON
    beside its scores, for `dvc plots`. A run whose train.json is absent (checkpoints not
    pulled) keeps the copy `previous`, the summary being replaced, holds for it, if any.
    Returns the summary.
    """
    per_run: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    earlier = (previous or {}).get("runs", {})
    for path in sorted(map(str, scores)):
        run, root = run_of_scores(path)
        key = f"{run.task}/{run.variant}/seed{run.seed}"
        test = json.loads(Path(path).read_text(encoding="utf-8"))
        test.pop("per_sentence", None)  # the paired tests read it from the scores file itself
        history, from_log = run_history(root, run)
        timings_path = root / run.path(TIMINGS)
        timings = read_json(timings_path) if timings_path.is_file() else None
        if timings is not None:
            history = with_timings(history, timings)
        best = max(history, key=lambda r: r["dev"])
        train = {
            "best_epoch": best["epoch"],
            "best_dev": best["dev"],
            "epochs": len(history),
            "seconds": sum(r.get("seconds", 0.0) for r in history),
        }
        entry = {**asdict(run), "test": test, "train": train}
        train_json = root / run.path(TRAIN_SUMMARY)
        if train_json.is_file():
            entry["train_json"] = read_json(train_json)
        elif "train_json" in earlier.get(key, {}):
            entry["train_json"] = earlier[key]["train_json"]
        if timings is not None:
            entry["timings"] = {k: timings.get(k) for k in ("seconds_per_epoch", "peak_rss_mb")}
        elif "timings" in earlier.get(key, {}):
            entry["timings"] = earlier[key]["timings"]
        per_run[key] = entry
        groups.setdefault(f"{run.task}/{run.variant}", []).append(entry)
        if curves and from_log:
            write_json(root / run.path(CURVE), history)
    summary_groups = {}
    for key, entries in groups.items():
        first = entries[0]
        summary_groups[key] = {
            "task": first["task"],
            "model": first["model"],
            "setting": first["setting"],
            "seeds": [e["seed"] for e in entries],
            "test": _stats(e["test"] for e in entries),
            "train": _stats(e["train"] for e in entries),
        }
    return {"groups": summary_groups, "runs": per_run}


def with_timings(history: list[dict[str, Any]], timings: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-epoch records with each epoch's wall-clock figures (a run's `timings.json`)
    merged in: what the learning curves and the report's speed tables read."""
    by_epoch = {t["epoch"]: t for t in timings.get("epochs", [])}
    return [{**record, **by_epoch.get(record["epoch"], {})} for record in history]


def _stats(tables: Iterable[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """mean/std of each number all `tables` hold at top level, counts (`COUNTS`) left out."""
    tables = list(tables)
    return {
        key: mean_std([t[key] for t in tables])
        for key in tables[0]
        if key not in COUNTS and all(is_number(t.get(key)) for t in tables)
    }


COUNTS = ("sentences", "tokens")


def is_number(value: Any) -> bool:
    """Whether `value` is a finite int or float (a bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
