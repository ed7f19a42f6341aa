"""Two sets of scored runs compared as the report compares a claim's two sides: Δ of the means
with its seed SE and verdict (`claims.difference_verdict`), and the paired bootstrap over the
test sentences pooled with the seeds (`paired.paired_bootstrap`). For a setting changed by hand:
score the new runs, compare them with the committed ones. A side is a run group's folder (its
`seedK/test.json` files) or test.json files, one per seed."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spen.aggregate import run_of_scores
from spen.evaluation.metrics import decode_counts
from spen.report.claims import difference_verdict
from spen.report.collect import read_counted_scores
from spen.report.paired import COUNTS_OF, comparison_key, key_seed, paired_bootstrap

SCORES_HINT = "a test.json written by `spen score`"


def seed_number(run: Path) -> int | None:
    """K of a run's `seedK/test.json`; None for a file in another folder."""
    found = re.fullmatch(r"seed(\d+)", run.parent.name)
    return None if found is None else int(found.group(1))


def side_runs(paths: Sequence[Path], side: str) -> list[Path]:
    """A side's test.json files, in seed order where each lies in its `seedK` folder (the
    report's order, which pairs the two sides' seeds), else as given: each folder given stands
    for its `seedK/test.json` files; two runs of one seed on a side are refused (a shell
    pattern's files landed on the wrong side)."""
    runs: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("seed*/test.json"))
            if not found:
                raise ValueError(
                    f"{path}: no seedK/test.json inside; expected a run group's folder or "
                    f"{SCORES_HINT}"
                )
            runs += found
        else:
            runs.append(path)
    seeds = [seed_number(run) for run in runs]
    seen: dict[int, Path] = {}
    for run, seed in zip(runs, seeds, strict=True):
        if seed in seen:
            raise ValueError(
                f"{run}: a second run of seed{seed} on the {side} side (after {seen[seed]}); a "
                "side holds one run per seed: give the other side's folder, or each of its "
                "files after its own --against"
            )
        if seed is not None:
            seen[seed] = run
    if None in seeds:
        return runs
    return [run for _, run in sorted(zip(seeds, runs, strict=True))]


def run_group(runs: Sequence[Path]) -> tuple[str, str, str] | None:
    """(task, model, setting) where every run lies in one group's folder of a results folder
    (`results/TASK/MODEL-SETTING/seedK/test.json`), else None."""
    groups = set()
    for path in runs:
        try:
            run, _ = run_of_scores(path.resolve())
        except ValueError:
            return None
        groups.add((run.task, run.model, run.setting))
    return groups.pop() if len(groups) == 1 else None


def report_key(better: Sequence[Path], other: Sequence[Path]) -> str | None:
    """The report's key for the paired test of two run groups of one task and input setting
    (so that `spen compare` repeats the report's figures), else None."""
    sides = run_group(better), run_group(other)
    if sides[0] is None or sides[1] is None or sides[0][::2] != sides[1][::2]:
        return None
    (task, model, setting), other_model = sides[0], sides[1][1]
    return comparison_key(task, setting, model, other_model)


def task_metric(scores: Sequence[dict[str, Any]], paths: Sequence[Path]) -> str:
    """The headline metric the runs share: entity `f1` where they were scored on entities,
    else `accuracy`; runs scored both ways are refused."""
    kinds = {"f1" if "f1" in s else "accuracy" for s in scores}
    if len(kinds) != 1:
        names = ", ".join(str(p) for p in paths)
        raise ValueError(f"{names}: some runs were scored on entities and some not")
    return kinds.pop()


def compare(better: Sequence[Path], other: Sequence[Path], metric: str | None = None) -> dict:
    """ "`better` beats `other`" (each side as `side_runs` reads it): each side's per-seed
    figures and mean, Δ ± seed SE and its verdict, and the paired bootstrap's Δ, interval, p
    and word, on `metric` (default the runs' headline metric)."""
    if not better or not other:
        raise ValueError("compare: give at least one scored run on each side")
    better, other = side_runs(better, "claimed-better"), side_runs(other, "other")
    sides = [[read_counted_scores(p) for p in paths] for paths in (better, other)]
    metric = metric or task_metric(sides[0] + sides[1], [*better, *other])
    if metric not in COUNTS_OF:
        raise ValueError(f"--metric: expected one of {', '.join(COUNTS_OF)}, got {metric}")
    for paths, side in zip((better, other), sides, strict=True):
        for path, scores in zip(paths, side, strict=True):
            if metric not in scores:
                raise ValueError(f"{path}: no {metric}; expected {SCORES_HINT} that has it")
    values = [[float(s[metric]) for s in side] for side in sides]
    seeds = difference_verdict(values[0], values[1])
    key = report_key(better, other)
    paired = paired_bootstrap(
        [decode_counts(s["per_sentence"]) for s in sides[0]],
        [decode_counts(s["per_sentence"]) for s in sides[1]],
        metric,
        seed=0 if key is None else key_seed(key),
    )
    return {
        "metric": metric,
        "better": {"runs": [str(p) for p in better], "values": values[0],
                   "mean": statistics.fmean(values[0])},
        "other": {"runs": [str(p) for p in other], "values": values[1],
                  "mean": statistics.fmean(values[1])},
        "delta": seeds.delta,
        "se": seeds.se,
        "verdict": seeds.verdict,
        "paired": {"delta": paired.delta, "low": paired.low, "high": paired.high,
                   "p": paired.p, "word": paired.word, "se_sentences": paired.se_sentences,
                   "replicates": paired.replicates},
    }  # fmt: skip
