"""Section 8, training throughput: each group's sentences/s, seconds per epoch and peak
memory from its runs' own logs, and the same per run."""

from __future__ import annotations

import statistics

from spen.aggregate import is_number
from spen.report.cells import DASH, Cell, Table, fmt, stat_cell, text_cell
from spen.report.collect import RunData
from spen.report.results import Results, group_key


def training_speed_tables(res: Results) -> list[Table]:
    """Training throughput, seconds per epoch and peak memory: per group (beside the paper's
    speed column), then per run."""
    paper_speed = res.paper.get("speed", {})
    header = ["task", "model", "setting", "train sentences/s", "seconds/epoch", "paper speed"]
    header.append("peak memory (MB)")
    rows = []
    per_run_rows = []
    for group in res.sorted_groups():
        task, model, setting = group["task"], group["model"], group["setting"]
        runs = res.inputs.group_runs(group_key(group))
        speeds = [s for s in map(_run_speed, runs) if s is not None]
        seconds = [s for s in map(_run_epoch_seconds, runs) if s is not None]
        peaks = [m for m in map(_run_peak_memory, runs) if m is not None]
        paper = paper_speed.get(task, {}).get(model) if setting == "paper" else None
        rows.append(
            [
                text_cell(task),
                Cell(res.label(model), "label", title=model),
                text_cell(setting),
                stat_cell(speeds, f"{group_key(group)}/speed", 1) if speeds else Cell(DASH, "na"),
                stat_cell(seconds, "", 1) if seconds else Cell(DASH, "na"),
                Cell(f"{paper:g}", "num paper") if paper is not None else Cell(DASH, "na"),
                Cell(f"{max(peaks):,.0f}", "num", f"{group_key(group)}/peak-memory")
                if peaks
                else Cell(DASH, "na"),
            ]
        )
        for run in runs:
            speed, secs = _run_speed(run), _run_epoch_seconds(run)
            peak = _run_peak_memory(run)
            per_run_rows.append(
                [
                    text_cell(task),
                    text_cell(model),
                    text_cell(setting),
                    text_cell(run.run.seed, "num"),
                    Cell(fmt(speed, 1), "num" if speed is not None else "na"),
                    Cell(fmt(secs, 1), "num" if secs is not None else "na"),
                    text_cell(len(run.history or []), "num"),
                    Cell(fmt(peak, 0), "num" if peak is not None else "na"),
                ]
            )
    notes = [
        "Training throughput: each run's mean over epochs of metrics.jsonl "
        "`sentences_per_second` (training sentences / wall-clock seconds of the epoch, "
        "evaluation excluded); then mean ± std over seeds. Runs shared the machine with other "
        "jobs, so figures are indicative. The paper's speed column (unit not recovered, most "
        "likely training throughput) is shown for its three compound rows. Peak memory: the "
        "largest, over seeds, of train.json's `peak_rss_mb` (the training process's peak "
        "resident memory)."
    ]
    per_run_header = ["task", "model", "setting", "seed", "sentences/s", "seconds/epoch"]
    return [
        Table("train-speed", header, rows, notes=notes),
        Table("train-speed-runs", [*per_run_header, "epochs", "peak MB"], per_run_rows),
    ]


def _run_speed(run: RunData) -> float | None:
    """The run's mean training sentences/s over its epochs; None when not logged."""
    values = [r["sentences_per_second"] for r in run.history or [] if "sentences_per_second" in r]
    return statistics.fmean(values) if values else None


def _run_epoch_seconds(run: RunData) -> float | None:
    """The run's mean wall-clock seconds per epoch; None when not logged."""
    values = [r["seconds"] for r in run.history or [] if is_number(r.get("seconds"))]
    return statistics.fmean(values) if values else None


def _run_peak_memory(run: RunData) -> float | None:
    """The training process's peak resident memory in MB (train.json); None when absent."""
    value = (run.train or {}).get("peak_rss_mb")
    return float(value) if is_number(value) else None
