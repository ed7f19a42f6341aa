"""Section 10, inference methods (`spen bench-inference`): on each SPEN's energy, the inference
network, exact Viterbi and gradient-descent inference (from uniform outputs, and from A_Ψ)
side by side: score, search error against Viterbi, and sentences per second by batch size; a
table per benchmark file and a picture of speed against score."""

from __future__ import annotations

import math
from typing import Any

from spen.aggregate import is_number
from spen.report import svg
from spen.report.analysis import UNTRAINED_ENERGY
from spen.report.cells import DASH, Cell, Chart, Table, text_cell
from spen.report.results import Results, ordered

#: the decoders `spen bench-inference` times, and how the report names them
DECODERS = {
    "test_time": "A_Ψ (inference network)",
    "viterbi": "Viterbi (exact)",
    "gradient_descent": "gradient descent from uniform",
    "gradient_descent_from_test_time": "gradient descent from A_Ψ",
    "exported": "A_Ψ exported (TorchScript)",
}
METRICS = {"accuracy": "accuracy", "f1": "entity F1"}
#: the batch size of the speed-against-score picture, where it was timed (else the largest)
CHART_BATCH = 64


def _untrained(row: dict[str, Any]) -> bool:
    """Whether the row's energy was never trained (a CE-only control)."""
    return row.get("objective") == "cross_entropy"


def _decoders(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A benchmark row's figures by decoder, its exported A_Ψ (`exported`) among them."""
    found = dict(row.get("decoders", {}))
    if row.get("exported"):
        found["exported"] = row["exported"]
    return found


def _speed(figures: dict[str, Any], size: int) -> float | None:
    """A decoder's sentences per CPU second at batch size `size` (per wall second where the
    file has no CPU figure); None when not timed."""
    speeds = figures.get("sentences_per_cpu_second") or figures.get("sentences_per_second") or {}
    value = speeds.get(str(size))
    return float(value) if is_number(value) else None


def _cell(value: Any, text: str, key: str) -> Cell:
    return Cell(text, "num", key) if is_number(value) else Cell(DASH, "na", key)


def inference_tables(res: Results) -> list[Table]:
    """Per `inference-*.json`: a row per checkpoint and decoder with its score, energy gap,
    share of sentences whose output differs from Viterbi's and speed by batch size."""
    tables = []
    for bench in res.inputs.inference_benches:
        sizes = [int(s) for s in bench.get("batch_sizes", [])]
        rows = []
        for row in bench["rows"]:
            metric = row.get("metric", "accuracy")
            label = res.label(str(row.get("model", "?")))
            label += f" ({row.get('setting', '?')}, seed {row.get('seed', '?')})"
            if _untrained(row):
                label += f" {UNTRAINED_ENERGY}"
            decoders = _decoders(row)
            for name in ordered(decoders, tuple(DECODERS)):
                figures = decoders[name]
                key = f"inference:{bench['file']}:{row.get('run', '?')}:{name}"
                score = (figures.get("scores") or {}).get(metric)
                gap = figures.get("energy_gap_mean")
                differs = figures.get("differs_from_viterbi")
                cells = [
                    Cell(label, "label", title=str(row.get("run", ""))),
                    text_cell(DECODERS.get(name, name)),
                    _cell(score, f"{score:.2f}" if is_number(score) else "", f"{key}:score"),
                    _cell(gap, f"{gap:.3f}" if is_number(gap) else "", f"{key}:gap"),
                    _cell(
                        differs,
                        f"{100 * differs:.1f}" if is_number(differs) else "",
                        f"{key}:differs",
                    ),
                ]
                for size in sizes:
                    speed = _speed(figures, size)
                    text = f"{speed:,.0f}" if speed is not None else ""
                    cells.append(_cell(speed, text, f"{key}:{size}"))
                rows.append(cells)
        header = ["model", "decoder", f"test {_metric(bench)}", "energy gap"]
        header.append("≠ Viterbi (% sentences)")
        header += [f"batch {size}" for size in sizes]
        groups = [("", 5), ("sentences per CPU second", len(sizes))] if sizes else []
        note = (
            f"{bench['file']} (`spen bench-inference`): task {bench.get('task', '?')}, split "
            f"{bench.get('split', '?')} ({bench.get('sentences', '?')} sentences, "
            f"{bench.get('tokens', '?')} tokens), device {bench.get('device', '?')} "
            f"({bench.get('device_name', '?')}), {bench.get('threads', '?')} torch thread(s), "
            f"{bench.get('repeats', '?')} timed repetitions after a warm-up"
            f"{_timed_on(bench)}. Each decoder runs "
            "end to end from a batch of word ids (the BiLSTM features included). Energy gap = "
            "E(output) − E(Viterbi(x)) per sentence on the linear-chain part of the energy, "
            "with the decoder's argmax as the output (section 10's figure; 0 for Viterbi); "
            "≠ Viterbi: the share of sentences whose output differs from Viterbi's. Speed: "
            "sentences per CPU second of the process over the warm-up and the timed passes (the "
            "time other jobs held the CPU left out, their contention for its caches not; the "
            "file also holds the best pass per wall second)."
        )
        notes = [note + _gradient_descent(bench) + _parity(bench)]
        if any(_untrained(r) for r in bench["rows"]):
            notes.append(
                f"{UNTRAINED_ENERGY}: a CE-only control, whose energy is never trained: its "
                "Viterbi and gradient-descent rows decode the energy as initialised."
            )
        title = f"{str(bench.get('task', '?')).upper()} {bench.get('split', '')}".strip()
        tables.append(Table(f"inference-{bench['file']}", header, rows, groups, notes, title))
    return tables


def _gradient_descent(bench: dict[str, Any]) -> str:
    """The benchmark's gradient-descent settings as a sentence; '' when not recorded."""
    found = [r["gradient_descent"] for r in bench["rows"] if r.get("gradient_descent")]
    if not found:
        return ""
    steps, lr = found[0].get("steps", "?"), found[0].get("lr", "?")
    return f" Gradient-descent inference: {steps} steps of size {lr}."


def _timed_on(bench: dict[str, Any]) -> str:
    """', timed on the split's first N sentences' where the benchmark timed fewer than it
    scored; '' otherwise."""
    timed, sentences = bench.get("timed_sentences"), bench.get("sentences")
    if is_number(timed) and is_number(sentences) and timed < sentences:
        return f", timed on the split's first {timed} sentences (scores use all {sentences})"
    return ""


def _parity(bench: dict[str, Any]) -> str:
    """The exported A_Ψ's agreement with PyTorch's over the benchmark's rows, as a sentence;
    '' when no row was exported."""
    found = [r["exported"] for r in bench["rows"] if r.get("exported")]
    if not found:
        return ""
    largest = max(float(e["max_abs_diff_from_pytorch"]) for e in found)
    agreement = min(float(e["argmax_agreement"]) for e in found)
    return (
        f" A_Ψ exported: the TorchScript module `spen export --torchscript` writes, decoding "
        f"by the argmax of its output; over the {len(found)} checkpoint(s), the largest "
        f"|p_exported − p_PyTorch| on a test token is {largest:.2g} and its argmax agrees "
        f"with PyTorch's on {100 * agreement:.2f}% of tokens at least."
    )


def _metric(bench: dict[str, Any]) -> str:
    """The name of the benchmark's score (its first row's metric)."""
    rows = bench["rows"]
    return METRICS.get(str(rows[0].get("metric")), "score") if rows else "score"


def speed_accuracy_charts(res: Results) -> list[Chart]:
    """Per `inference-*.json`: each decoder's score against its speed (log scale) on every
    checkpoint whose energy was trained, at one batch size."""
    charts = []
    for bench in res.inputs.inference_benches:
        sizes = [int(s) for s in bench.get("batch_sizes", [])]
        if not sizes:
            continue
        size = CHART_BATCH if CHART_BATCH in sizes else max(sizes)
        series = []
        for style, name in enumerate(DECODERS):
            points = []
            for row in bench["rows"]:
                figures = _decoders(row).get(name)
                if _untrained(row) or not figures:
                    continue
                score = (figures.get("scores") or {}).get(row.get("metric", "accuracy"))
                speed = _speed(figures, size)
                if is_number(score) and speed:
                    points.append((math.log10(speed), float(score)))
            if points:
                series.append(svg.Series(DECODERS[name], points, style, joined=False))
        if not series:
            continue
        metric = _metric(bench)
        task = str(bench.get("task", "?")).upper()
        title = f"{task}: {metric} against speed, by decoder (batch {size})"
        charts.append(
            Chart(
                f"speed-accuracy-{bench['file'].removesuffix('.json')}",
                title,
                svg.line_chart(
                    series,
                    title=title,
                    x_label="log10 sentences per CPU second",
                    y_label=f"test {metric}",
                ),
                f"One point per checkpoint and decoder of {bench['file']} whose energy was "
                f"trained (CE-only controls left out), at batch size {size}: up and to the right "
                "is better. Speed on a log scale: 2 is 100 sentences per CPU second, 3 is 1,000.",
            )
        )
    return charts
