"""Section 10: exact against amortised inference: the inference network's test figure beside
Viterbi's and gradient descent's on the same energy, and the energy gaps (`spen analyze`)."""

from __future__ import annotations

from typing import Any

from spen.aggregate import is_number
from spen.report.cells import Cell, Table, stat_cell, text_cell
from spen.report.collect import RunData
from spen.report.results import Results, group_key

UNTRAINED_ENERGY = "‡"


def analysis_table(res: Results) -> Table | None:
    """Per group of SPEN runs: the test figure of the inference network, Viterbi and gradient
    descent on the same energy, and the energy gaps; None without analysis.json."""
    rows = []
    for group in res.sorted_groups():
        runs = [
            r
            for r in res.inputs.group_runs(group_key(group))
            if r.analysis and r.analysis.get("spen", True)
        ]
        if not runs:
            continue
        metric = res.metric(group["task"])

        def values(path: tuple[str, ...], runs: list[RunData] = runs) -> list[float]:
            found = []
            for run in runs:
                value: Any = run.analysis
                for part in path:
                    value = value.get(part) if isinstance(value, dict) else None
                if is_number(value):
                    found.append(float(value))
            return found

        def decoder(name: str, *path: str) -> list[float]:
            return values(("decoders", name, *path))

        amortised = decoder("test_time", "scores", metric)
        exact = decoder("viterbi", "scores", metric)
        gains = [v - a for a, v in zip(amortised, exact, strict=False)]
        same = [100 * v for v in decoder("test_time", "same_output_as_viterbi")]
        key = group_key(group)
        label = Cell(res.label(group["model"]), "label", f"{key}/model", group["model"])
        if _energy_untrained(res, group["model"]):
            label.text += f" {UNTRAINED_ENERGY}"
        rows.append(
            [
                text_cell(group["task"]),
                label,
                text_cell(group["setting"]),
                stat_cell(amortised, f"{key}/amortised"),
                stat_cell(exact, f"{key}/exact"),
                stat_cell(gains, f"{key}/exact-minus-amortised"),
                stat_cell(decoder("gradient_descent", "scores", metric), f"{key}/gd"),
                stat_cell(
                    decoder("gradient_descent_from_test_time", "scores", metric), f"{key}/gd-a"
                ),
                stat_cell(same, f"{key}/same", 1),
                stat_cell(decoder("test_time", "energy_gap_mean"), f"{key}/gap", 3),
                stat_cell(values(("energy_gap_relaxed_mean",)), f"{key}/gap-relaxed", 3),
                stat_cell(decoder("gradient_descent", "energy_gap_mean"), f"{key}/gap-gd", 3),
                stat_cell(
                    decoder("gradient_descent_from_test_time", "energy_gap_mean"),
                    f"{key}/gap-gd-a",
                    3,
                ),
            ]
        )
    if not rows:
        return None
    header = ["task", "model", "setting", "A_Ψ (amortised)", "Viterbi (exact)", "Viterbi − A_Ψ"]
    header += ["GD", "GD from A_Ψ", "A_Ψ = Viterbi (% sentences)", "energy gap A_Ψ"]
    header += ["relaxed gap A_Ψ", "energy gap GD", "energy gap GD from A_Ψ"]
    notes = [
        "From results/TASK/MODEL-SETTING/seedK/analysis.json (`spen analyze`): test headline "
        "metric of the inference network's output (A_Ψ), of Viterbi on the same energy and of "
        "gradient-descent inference on it (GD: from uniform outputs; GD from A_Ψ: started at "
        "A_Ψ(x)); energy gap = E(output) − E(Viterbi(x)) per sentence on the linear-chain part "
        "of the energy, with each decoder's argmax as the output (relaxed: A_Ψ's distributions "
        "themselves).",
        f"{UNTRAINED_ENERGY}: a CE-only control (objective cross_entropy), whose energy is never "
        "trained: its Viterbi and gradient-descent figures and its energy gaps are those of the "
        "energy as initialised, shown for completeness, not as evidence on inference.",
    ]
    return Table("analysis", header, rows, notes=notes)


def _energy_untrained(res: Results, model: str) -> bool:
    """Whether params/models.yaml trains the model's inference network by cross-entropy alone
    (its energy keeps its initial weights); False when params/ is not at hand."""
    params = res.inputs.params
    if params is None:
        return False
    return params.models["models"].get(model, {}).get("objective") == "cross_entropy"


def trained_energy_decoding(res: Results) -> list[tuple[float, float]]:
    """Per group of SPEN runs whose energy is trained (not a CE-only control) with both
    figures in analysis.json: the mean test figure of the inference network and of Viterbi on
    its energy alone, in the order of section 10."""
    found = []
    for group in res.sorted_groups():
        if _energy_untrained(res, group["model"]):
            continue
        metric = res.metric(group["task"])
        runs = [
            r
            for r in res.inputs.group_runs(group_key(group))
            if r.analysis and r.analysis.get("spen", True)
        ]
        pairs = [
            (amortised, exact)
            for run in runs
            if is_number(amortised := _score(run, "test_time", metric))
            and is_number(exact := _score(run, "viterbi", metric))
        ]
        if pairs:
            found.append(
                (
                    sum(a for a, _ in pairs) / len(pairs),
                    sum(e for _, e in pairs) / len(pairs),
                )
            )
    return found


def _score(run: RunData, decoder: str, metric: str) -> Any:
    decoders = (run.analysis or {}).get("decoders", {})
    return ((decoders.get(decoder) or {}).get("scores") or {}).get(metric)
