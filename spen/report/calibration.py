"""Section 10, calibration: how far each model's per-token confidence is from its accuracy on
test (`spen calibrate`), for the inference network's distributions and for the exact
marginals of a linear-chain energy; a table of the figures and reliability diagrams."""

from __future__ import annotations

from typing import Any

from spen.aggregate import is_number
from spen.report import svg
from spen.report.analysis import UNTRAINED_ENERGY
from spen.report.cells import DASH, Cell, Chart, Table, stat_cell, text_cell
from spen.report.collect import RunData
from spen.report.results import Results, group_key

#: the distributions `spen calibrate` measures, and how the report's table names them
DISTRIBUTIONS = {
    "inference_network": "inference network (A_Ψ; the BiLSTM's softmax)",
    "exact_marginals": "exact marginals of the linear chain",
}
#: how the charts' titles name them
SHORT_NAMES = {"inference_network": "inference network", "exact_marginals": "exact marginals"}
#: the charts' width: room for two columns of model names in the legend
CHART_WIDTH = 760
#: the figures of each distribution in the table: JSON key, column label, scale, digits
FIGURES = (
    ("ece", "ECE (%)", 100.0, 2),
    ("accuracy", "accuracy (%)", 100.0, 2),
    ("mean_confidence", "mean confidence (%)", 100.0, 2),
    ("nll_per_token", "NLL / token", 1.0, 3),
)


def _calibrated_groups(res: Results) -> list[tuple[dict[str, Any], list[RunData]]]:
    """The summary's groups, in the report's order, with their runs that have calibration.json."""
    found = []
    for group in res.sorted_groups():
        runs = [r for r in res.inputs.group_runs(group_key(group)) if r.calibration]
        if runs:
            found.append((group, runs))
    return found


def _untrained_energy(runs: list[RunData]) -> bool:
    """Whether the runs' inference network is trained by cross-entropy alone, as their
    calibration.json says (their energy keeps its initial weights)."""
    return any((r.calibration or {}).get("objective") == "cross_entropy" for r in runs)


def calibration_table(res: Results) -> Table | None:
    """Per group with calibration.json: the ECE, accuracy, mean confidence and NLL per token of
    each distribution, mean ± std over seeds; None when no run has been calibrated."""
    rows = []
    calibrated = _calibrated_groups(res)
    for group, runs in calibrated:
        key = group_key(group)
        label = Cell(res.label(group["model"]), "label", f"{key}/model", group["model"])
        if _untrained_energy(runs):
            label.text += f" {UNTRAINED_ENERGY}"
        row = [text_cell(group["task"]), label, text_cell(group["setting"])]
        for name in DISTRIBUTIONS:
            measured = [
                r.calibration["distributions"][name]
                for r in runs
                if r.calibration and name in r.calibration["distributions"]
            ]
            for figure, _, scale, digits in FIGURES:
                cell_key = f"calibration:{key}:{name}:{figure}"
                if not measured:
                    row.append(Cell(DASH, "na", cell_key, "the model has no such distribution"))
                    continue
                values = [scale * d[figure] for d in measured if is_number(d.get(figure))]
                row.append(stat_cell(values, cell_key, digits))
        rows.append(row)
    if not rows:
        return None
    header = ["task", "model", "setting"] + [label for _, label, _, _ in FIGURES] * 2
    groups = [("", 3)] + [(title, len(FIGURES)) for title in DISTRIBUTIONS.values()]
    bins = sorted(
        {
            str(d.get("bins", "?"))
            for _, runs in calibrated
            for r in runs
            for d in (r.calibration or {}).get("distributions", {}).values()
        }
    )
    notes = [
        "From results/TASK/MODEL-SETTING/seedK/calibration.json (the pipeline's calibrate step, "
        "`spen calibrate CHECKPOINT --split test`): per test token, confidence = the "
        "probability of the distribution's argmax tag, correct = that argmax is the gold "
        "tag. ECE = Σ over bins of (tokens in the bin / all tokens) · |accuracy − mean "
        f"confidence| in the bin, {' or '.join(bins)} "
        "equal-width bins over [0, 1] (docs/CHOICES.md, Calibration); accuracy is that of the "
        "argmax of each token's distribution (for the exact marginals, max-marginal decoding, "
        "not Viterbi's); NLL = − mean log-probability of the gold tag (natural log). Mean ± "
        "sample std over the seeds calibrated (n).",
        "Inference network: a SPEN's test-time A_Ψ, the BiLSTM's own softmax; a CRF has none. "
        "Exact marginals: p(y_t | x) under p(y) ∝ exp(−E(y)) for the linear-chain energy (the "
        "CRF's own distribution; a SPEN's first-order part, whose scale no likelihood fixes, so "
        "its marginals say how peaked that energy is rather than what it was trained to "
        "predict); the BiLSTM has none.",
    ]
    if any(_untrained_energy(runs) for _, runs in calibrated):
        notes.append(
            f"{UNTRAINED_ENERGY}: a CE-only control, whose energy is never trained: its exact "
            "marginals are those of the energy as initialised."
        )
    return Table("calibration", header, rows, groups, notes)


def pooled_bins(runs: list[RunData], name: str) -> list[tuple[float, float]]:
    """The reliability diagram of distribution `name` over the runs' tokens pooled: per bin
    that holds tokens, (mean confidence, accuracy), in bin order."""
    totals: dict[int, list[float]] = {}
    for run in runs:
        figures = (run.calibration or {}).get("distributions", {}).get(name)
        if not figures:
            continue
        for b, (n, acc, conf) in enumerate(
            zip(
                figures["bin_counts"],
                figures["bin_accuracy"],
                figures["bin_confidence"],
                strict=True,
            )
        ):
            if n:
                total = totals.setdefault(b, [0.0, 0.0, 0.0])
                total[0] += n
                total[1] += n * acc
                total[2] += n * conf
    return [(conf / n, acc / n) for _, (n, acc, conf) in sorted(totals.items())]


def reliability_charts(res: Results) -> list[Chart]:
    """One reliability diagram per task, input setting and distribution: each calibrated
    model's accuracy against its mean confidence by bin, beside the diagonal."""
    charts = []
    calibrated = _calibrated_groups(res)
    for task in res.tasks():
        for setting in res.settings():
            for name, title_name in SHORT_NAMES.items():
                series = []
                for style, (group, runs) in enumerate(calibrated):
                    if (group["task"], group["setting"]) != (task, setting):
                        continue
                    points = pooled_bins(runs, name)
                    if points:
                        label = f"{res.label(group['model'])} ({len(runs)} seed"
                        label += "s)" if len(runs) != 1 else ")"
                        series.append(svg.Series(label, points, style))
                if not series:
                    continue
                diagonal = svg.Series("perfect calibration", [(0.0, 0.0), (1.0, 1.0)], 16)
                title = f"{task.upper()}, {setting}: reliability of the {title_name}"
                charts.append(
                    Chart(
                        f"reliability-{task}-{setting}-{name.replace('_', '-')}",
                        title,
                        svg.line_chart(
                            [diagonal, *series],
                            title=title,
                            x_label="mean confidence in the bin",
                            y_label="accuracy in the bin",
                            width=CHART_WIDTH,
                        ),
                        "One point per confidence bin that holds test tokens (its tokens "
                        "pooled over the seeds calibrated): a point under the diagonal is a bin "
                        "more confident than accurate. Sparse bins (their counts are in "
                        "calibration.json) move far from chance alone.",
                    )
                )
    return charts
