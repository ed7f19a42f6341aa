"""Section 7: learning curves, the dev score by epoch of every model, one chart per task and
input setting."""

from __future__ import annotations

import statistics

from spen.aggregate import is_number
from spen.report import svg
from spen.report.cells import Chart
from spen.report.results import Results

METRIC_NAMES = {"accuracy": "accuracy", "f1": "entity F1"}


def learning_curves(res: Results) -> list[Chart]:
    """One chart per task and input setting: each model's dev score by epoch, averaged over
    its seeds."""
    charts = []
    for task in res.tasks():
        metric = METRIC_NAMES.get(res.metric(task), res.metric(task))
        for setting in res.settings():
            series = []
            for style, model in enumerate(res.models()):
                histories = [
                    r.history for r in res.runs(task, model, setting) if r.history is not None
                ]
                if not histories:
                    continue
                by_epoch: dict[int, list[float]] = {}
                for history in histories:
                    for record in history:
                        if is_number(record.get("dev")):
                            by_epoch.setdefault(int(record["epoch"]), []).append(record["dev"])
                points = [(e, statistics.fmean(v)) for e, v in sorted(by_epoch.items())]
                n = len(histories)
                label = f"{model} ({n} seed{'s' * (n != 1)})"
                series.append(svg.Series(label, points, style))
            if not series:
                continue
            title = f"{task.upper()}, {setting} setting: dev {metric} by epoch"
            charts.append(
                Chart(
                    f"curves-{task}-{setting}",
                    title,
                    svg.line_chart(series, title=title, x_label="epoch", y_label=f"dev {metric}"),
                    "Mean over the seeds still training at each epoch (runs stop early at "
                    "different epochs). From each run's learning_curve.json (or metrics.jsonl).",
                )
            )
    return charts
