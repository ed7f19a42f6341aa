"""Section 3: the paper's claims, measured. Each claim, per task and input setting, against
its tuned baseline and its matched controls: the difference of the means, its standard error,
the verdict, and the claims on test scores as a forest plot."""

from __future__ import annotations

import math
import statistics
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spen.report import svg
from spen.report.benchmarks import training_throughputs
from spen.report.cells import DASH, NOT_RUN, Cell, Chart, Table, fmt, stat_cell, text_cell
from spen.report.comparison import MAIN_COLUMNS
from spen.report.paired import (
    FAILS_WORD,
    HOLDS_WORD,
    INCONCLUSIVE,
    LEVEL,
    REPLICATES,
    WORD_CLASS,
    PairedTest,
    comparison_key,
    keyed_bootstrap,
)
from spen.report.results import SETTING_ORDER, TASK_ORDER, Results

HOLDS, WITHIN = "holds", "holds within 2 SE"
FAILS_WITHIN, FAILS = "does not hold within 2 SE", "does not hold"
CANNOT_TELL = "cannot tell"
UNTUNED = f"{CANNOT_TELL} (not run under the tuning protocol)"
VERDICT_CLASS = {HOLDS: "up", WITHIN: "within", FAILS_WITHIN: "within", FAILS: "down"}
BASELINE_ROW, CONTROL_ROW, BENCH_ROW = "tuned baseline", "matched control", "benchmark"
#: marks a claims row whose figures repeat an earlier row's
REPEATS = "— repeats an earlier row"


@dataclass(frozen=True)
class Difference:
    """`better − other` on the means, its standard error and the verdict on `better > other`;
    Δ and SE are None where they cannot be had."""

    delta: float | None
    se: float | None
    verdict: str

    @property
    def cls(self) -> str:
        """The verdict's CSS class: `up`, `within`, `down`, or `missing` for cannot tell."""
        return VERDICT_CLASS.get(self.verdict, "missing")


def difference_verdict(
    better: Sequence[float], other: Sequence[float], unit: str = "seed"
) -> Difference:
    """The verdict on "`better` beats `other`" from their per-seed figures (or per benchmark
    run: `unit`). Cannot tell with a side missing or under two values on a side; else, with
    SE = sqrt(s₁²/n₁ + s₂²/n₂) from the sample standard deviations, it holds when Δ > 2 SE and
    does not hold when Δ < −2 SE; in between, it holds or does not hold "within 2 SE" by the
    sign of Δ (Δ = 0 does not hold)."""
    if not better or not other:
        return Difference(None, None, f"{CANNOT_TELL} ({NOT_RUN})")
    delta = statistics.fmean(better) - statistics.fmean(other)
    fewest = min(len(better), len(other))
    if fewest < 2:
        return Difference(delta, None, f"{CANNOT_TELL} ({fewest} {unit})")
    se = math.sqrt(
        statistics.variance(better) / len(better) + statistics.variance(other) / len(other)
    )
    if abs(delta) > 2 * se:
        verdict = HOLDS if delta > 0 else FAILS
    else:
        verdict = WITHIN if delta > 0 else FAILS_WITHIN
    return Difference(delta, se, verdict)


@dataclass(frozen=True)
class Comparison:
    """One row of the claims table: a claim on one task and input setting, its claimed-better
    model against one other model (the tuned baseline, a matched control, or, for a speed
    claim, the benchmarked slower model)."""

    claim: dict[str, Any]
    task: str
    setting: str
    kind: str
    other: str
    better_values: list[float]
    other_values: list[float]
    difference: Difference
    paper: float | None  # the paper's better − worse figure, None where it has none
    fresh: float | None = None  # Δ over the seeds but the tuning seed, where Δ counts
    paired: PairedTest | None = None  # where Δ counts and both sides kept per-sentence counts

    @property
    def key(self) -> str:
        """`claim:BETTER-over-WORSE:TASK-SETTING:OTHER`: the row's cells start with it."""
        claim = self.claim
        return (
            f"claim:{claim['better']}-over-{claim['worse']}:{self.task}-{self.setting}:{self.other}"
        )

    @property
    def speed(self) -> bool:
        """Whether the row compares training speed rather than test scores."""
        return is_speed(self.claim)


def claim_comparisons(res: Results) -> list[Comparison]:
    """Every claim of paper.yaml × task × input setting × comparison, in paper.yaml's order."""
    rows = []
    for claim in res.paper.get("claims", []):
        speed = is_speed(claim)
        for task in claim.get("tasks", TASK_ORDER):
            for setting in claim.get("settings", SETTING_ORDER):
                paper = _paper_delta(res, claim, task, setting)
                record = None if speed else res.tuning_record(task, claim["better"], setting)
                others = [(BENCH_ROW if speed else BASELINE_ROW, claim["worse"])]
                others += [(CONTROL_ROW, _control(c, record)) for c in claim.get("controls", [])]
                better = _claim_values(res, claim, task, claim["better"], setting)
                for kind, model in others:
                    other = _claim_values(res, claim, task, model, setting)
                    found = (
                        Measured(difference_verdict(better, other, "timed pass"))
                        if speed
                        else measure(res, task, setting, (claim["better"], model), (better, other))
                    )
                    row = (claim, task, setting, kind, model, better, other, found.difference)
                    rows.append(Comparison(*row, paper, found.fresh, found.paired))
    return rows


@dataclass(frozen=True)
class Measured:
    """What a comparison measured: Δ, its SE and the verdict; Δ over the seeds no grid picked;
    the paired test (None where there is none)."""

    difference: Difference
    fresh: float | None = None
    paired: PairedTest | None = None


def measure(
    res: Results,
    task: str,
    setting: str,
    models: tuple[str, str],
    values: tuple[Sequence[float], Sequence[float]],
) -> Measured:
    """`models[0]` against `models[1]` on test scores, from their per-seed `values`: Δ only
    where both sides ran under the tuning protocol, the paired test only where Δ has an SE."""
    better, other = models
    if not all(res.under_protocol(task, m, setting) for m in models):
        return Measured(Difference(None, None, UNTUNED))
    difference = difference_verdict(*values)
    fresh = fresh_delta(res, task, setting, better, other) if difference.delta is not None else None
    paired = paired_test(res, task, setting, better, other) if difference.se is not None else None
    return Measured(difference, fresh, paired)


def paired_test(
    res: Results, task: str, setting: str, better: str, other: str
) -> PairedTest | None:
    """The paired bootstrap of `better` over `other` on the task's metric, where both sides'
    runs kept their per-sentence counts."""
    return keyed_bootstrap(
        res.sentence_counts(task, better, setting),
        res.sentence_counts(task, other, setting),
        res.metric(task),
        comparison_key(task, setting, better, other),
    )


def figures(row: Comparison) -> tuple[Any, ...]:
    """What a row's figures are (measure, task, setting, both sides' values): two rows with the
    same are one comparison."""
    return (row.speed, row.task, row.setting, tuple(row.better_values), tuple(row.other_values))


def repeats(comparisons: Sequence[Comparison]) -> dict[str, Comparison]:
    """The rows (by key) with a Δ and an SE whose figures repeat an earlier such row's, each
    with the row it repeats: a BiLSTM control that is the tuned baseline's configuration and
    seeds again, or a control that another claim compares with already."""
    first: dict[tuple[Any, ...], Comparison] = {}
    found = {}
    for row in comparisons:
        if row.difference.se is None:
            continue
        earlier = first.setdefault(figures(row), row)
        if earlier is not row:
            found[row.key] = earlier
    return found


def fresh_delta(res: Results, task: str, setting: str, better: str, other: str) -> float | None:
    """`better` − `other` on the means over the seeds other than the tuning seed (the seeds no
    grid picked); None where a side has none."""
    metric, seed = res.metric(task), res.tuning_seed
    ours = res.test_values(task, better, setting, metric, skip_seed=seed)
    theirs = res.test_values(task, other, setting, metric, skip_seed=seed)
    if not ours or not theirs:
        return None
    return statistics.fmean(ours) - statistics.fmean(theirs)


def is_speed(claim: dict[str, Any]) -> bool:
    """Whether the claim is on training speed (`measure: speed`) rather than test scores."""
    return claim.get("measure", "test") == "speed"


def _claim_values(
    res: Results, claim: dict[str, Any], task: str, model: str, setting: str
) -> list[float]:
    """The model's figures for the claim's measure: per-seed test scores of the task's headline
    metric, or the training throughput `spen bench` measured."""
    if is_speed(claim):
        return _bench_speed(res, task, model)
    return res.test_values(task, model, setting, res.metric(task))


def _control(template: str, record: dict[str, Any] | None) -> str:
    """A control's model name, its `{axis}` fields (e.g. `bilstm_{optimizer}`) filled with the
    axes of the point the tuning `record` chose; unfilled without a record."""
    if record is None:
        return template
    axes = record["points"][record["chosen"]]["axes"]
    try:
        return template.format(**axes)
    except KeyError as err:
        raise ValueError(
            f"paper.yaml: claims: control '{template}' names axis {err} that the tuning record "
            f"of {record['task']}/{record['model']}-{record['setting']} lacks"
        ) from None


def _other_label(res: Results, model: str) -> str:
    """The display name of a comparison's other side; a control still unfilled (no tuning
    record for its row) says which of its settings the row's tuning will choose."""
    fields = [name for _, name, _, _ in string.Formatter().parse(model) if name]
    if not fields:
        return res.label(model)
    name = res.label(model.partition("_{")[0]).partition(" (")[0]
    return f"{name} with the {' and '.join(fields)} the row's tuning chooses (not tuned yet)"


def _paper_delta(res: Results, claim: dict[str, Any], task: str, setting: str) -> float | None:
    """The paper's better − worse figure for the task and our input setting: its speed column
    (paper setting only) for a speed claim, else the column MAIN_COLUMNS compares the setting
    with, from the first of its main table and Table 4 that has both rows."""
    better, worse = claim["better"], claim["worse"]
    if is_speed(claim):
        speeds = res.paper.get("speed", {}).get(task, {}) if setting == "paper" else {}
        if better in speeds and worse in speeds:
            return float(speeds[better] - speeds[worse])
        return None
    column = next(
        (c.paper_key for c in MAIN_COLUMNS if (c.task, c.setting) == (task, setting)), None
    )
    for name in ("main_table", "global_energies"):
        table = res.paper.get(name, {})
        if column in table.get(better, {}) and column in table.get(worse, {}):
            return float(table[better][column] - table[worse][column])
    return None


#: marks a comparison whose two sides ran on different hardware (CPU and a GPU, or two GPUs)
MIXED_HARDWARE = "(sides on different hardware)"


def mixed_hardware(res: Results, row: Comparison) -> bool:
    """Whether the two sides of a test-score comparison ran on different hardware."""
    return not row.speed and on_different_hardware(
        res, row.task, row.setting, row.claim["better"], row.other
    )


def on_different_hardware(res: Results, task: str, setting: str, one: str, other: str) -> bool:
    """Whether the runs of two models on a task and input setting ran on different hardware."""
    ours, theirs = res.devices(task, one, setting), res.devices(task, other, setting)
    return bool(ours and theirs) and ours != theirs


def claims_table(res: Results, comparisons: Sequence[Comparison]) -> Table:
    """The claims, each against its tuned baseline and its matched controls, per task and
    input setting, with the verdicts."""
    header = ["claim", "task", "setting", "comparison", "better: ours", "other side: ours"]
    header += ["Δ", "SE of Δ", "verdict", f"paired test: {LEVEL:.0%} interval of Δ, p"]
    header += ["SE of Δ from sentences", f"Δ without seed {res.tuning_seed}", "paper's Δ"]
    rows = []
    repeated = repeats(comparisons)
    for row in comparisons:
        key, diff = row.key, row.difference
        digits, count = (1, "passes") if row.speed else (2, "n")
        kind = f"{row.kind} (training sentences/s)" if row.speed else row.kind
        label = f"{kind}: {_other_label(res, row.other)}"
        if mixed_hardware(res, row):
            label += f" {MIXED_HARDWARE}"
        if row.key in repeated:
            label += f" {_repeat_note(res, row, repeated[row.key])}"
        rows.append(
            [
                text_cell(row.claim["text"]),
                text_cell(row.task),
                text_cell(row.setting),
                Cell(label, "label", f"{key}:comparison", row.other),
                stat_cell(row.better_values, f"{key}:better", digits, count),
                stat_cell(row.other_values, f"{key}:other", digits, count),
                *difference_cells(diff, key),
                *paired_cells(row.paired, key),
                fresh_cell(row.fresh, key),
                Cell(f"{row.paper:+.1f}", "num paper", f"{key}:paper")
                if row.paper is not None
                else Cell(DASH, "na", f"{key}:paper", "the paper has no such figure"),
            ]
        )
    notes = [
        "Each claim is measured per task and input setting against the model the paper says it "
        "beats (its tuned baseline) and against its matched controls. Δ = mean of the "
        "claimed-better model − mean of the other side, over seeds: test accuracy (POS) or "
        "conlleval-style entity F1 (NER). SE of Δ = sqrt(s₁²/n₁ + s₂²/n₂), from the sample "
        "standard deviations s and the numbers of seeds n of the two sides.",
        f'Verdict: "{HOLDS}" when Δ > 2 SE; "{FAILS}" when Δ < −2 SE; in between, a '
        "difference the seed-to-seed spread could explain, "
        f'"{WITHIN}" when Δ > 0 and "{FAILS_WITHIN}" when Δ ≤ 0 (the two sides are treated '
        f'alike); "{CANNOT_TELL}" when a side is not run or has a single seed. With 3 seeds a '
        "side the SE is itself uncertain: at Δ = 2 SE, Welch's t-test (2 to 4 degrees of "
        f'freedom) puts the two-sided p between about 0.1 and 0.2, so "{HOLDS}" marks a '
        "difference larger than the seed-to-seed noise measured, not a significant one.",
        f"Paired test: a bootstrap over the test sentences ({REPLICATES:,} replicates), "
        "pooled with the seed spread: each replicate draws the sentences with replacement, "
        "the same draw for both sides, and each side's seeds with replacement, and takes the "
        "difference of the two sides' means over their drawn seeds. The interval is its "
        f"{(1 - LEVEL) / 2:.1%} and {(1 + LEVEL) / 2:.1%} percentiles; p (two-sided) is how "
        f'often the replicates, centred on Δ, reach |Δ|; the word is "{HOLDS_WORD}" when the '
        f'interval lies above 0, "{FAILS_WORD}" below 0, "{INCONCLUSIVE}" across it. "SE of Δ '
        'from sentences" is the spread of Δ when the sentences alone are drawn, the seeds '
        "kept: beside the seed SE it shows which of the two the uncertainty comes from. Only "
        "runs whose test.json keeps per-sentence counts (every run scored since the counts "
        "were kept) have one; the verdict panel reads this word where a row has it. Drawing "
        "3 seeds from 3 understates their spread by a third of its variance (docs/CHOICES.md, "
        '"Paired test").',
        f'"{MIXED_HARDWARE}": the two sides ran on different hardware (a GPU for one, this '
        "project's CPUs for the other; results/device/batch-*.json says which runs a device "
        "batch made): such a Δ also holds what the hardware changes.",
        "A test-score comparison counts only when both of its sides ran under the tuning "
        "protocol: the tuning record of its task and input setting (section 4; the "
        "record of the tuned row it follows, for a model that follows one) must exist and "
        "have tried every point of the grid params/tuning.yaml names for that row now, and "
        "that tuned row's seed-1 run must be here and be the chosen grid point's run (the same "
        "best dev score; its other seeds and the rows that follow it are taken to come with "
        "it); an untuned control counts as it is. Until then its rows read "
        f'"{UNTUNED}" and show no Δ, so runs made before the protocol never reach a verdict.',
        "The seed-1 run of a tuned row is its chosen grid point's run (the same settings and "
        "seed), so one of its three test seeds was picked on dev among the grid's points "
        "(section 4's search budgets give each row's grid size: 12 for every tuned row on POS, "
        "12 for the compound rows and 2 for the others on NER): an edge for the side with "
        "the larger grid, and for a tuned row against its matched controls, whose "
        "seeds are all fresh (they take the row's choice and run no grid). "
        f'"Δ without seed {res.tuning_seed}" is Δ over the other seeds alone, fresh on both '
        "sides: where it is much smaller than Δ, the selection on dev carried part of Δ.",
        "Matched controls change one thing: the CE-only controls (control_ce_shared, "
        "control_ce_stacked) keep the compound row's networks, k and optimizer and train them "
        "by its cross-entropy terms alone, with no hinge and no energy; the BiLSTM control "
        "(bilstm_sgd or bilstm_adam, untuned) is the local BiLSTM under the optimizer that the "
        "compound row's tuning record chose. Without that record, the BiLSTM control is not "
        "known. Where the tuned BiLSTM chose that same optimizer, the control is the tuned "
        "baseline's configuration and seeds again, so its row repeats the baseline's; such a "
        f'row, and a control another claim compares with already, is marked "{REPEATS}" and '
        "counted once (in the forest plot and the verdict panel).",
        "Compound-stacked against margin-rescaled on POS carries the clipping confound that "
        'section 12 measures ("Clipping, measured"): no row is clipped under the protocol, '
        "and the 2018 rows lose most without it.",
        "Paper's Δ: the paper's figure for the better row − that for the other row, in the "
        "column our setting is compared with in section 1 (paper setting: POS or NER; plus: "
        "NER+; POS plus has no paper column; xfmr: the paper's best column for the task, POS or "
        "NER+) of its main table, or Table 4 for GE(c). The paper has no controls: each row of "
        "a claim shows the claim's figure.",
        "Speed claims compare training sentences/s from `spen bench` (section 8's training "
        "throughput benchmark: every model timed one after another in one process, paper input "
        "setting, per CPU second on a CPU), not the runs' own logs, which shared the machine "
        "with other jobs; the paper's Δ is from its speed column. Their SE is over the "
        "benchmark's timed passes of each model (one process, one model after another): it "
        "holds the noise within one benchmark, not the spread between processes or machines. A "
        "benchmark from before passes were timed apart has one figure a model: cannot tell.",
    ]
    return Table("claims", header, rows, notes=notes)


def difference_cells(diff: Difference, key: str) -> list[Cell]:
    """Δ (coloured by its sign), its SE and the verdict; dashes where there is no Δ or SE."""
    return [
        Cell(DASH, "na", f"{key}:diff")
        if diff.delta is None
        else Cell(
            f"{diff.delta:+.2f}", "num " + ("up" if diff.delta > 0 else "down"), f"{key}:diff"
        ),
        Cell(fmt(diff.se), "num" if diff.se is not None else "na", f"{key}:se"),
        Cell(diff.verdict, diff.cls, f"{key}:verdict"),
    ]


def fresh_cell(fresh: float | None, key: str) -> Cell:
    """Δ without the tuning seed; a dash where there is none."""
    return (
        Cell(DASH, "na", f"{key}:fresh")
        if fresh is None
        else Cell(f"{fresh:+.2f}", "num", f"{key}:fresh")
    )


def paired_cells(paired: PairedTest | None, key: str) -> list[Cell]:
    """The paired test's interval and p (its word as the cell's class), and the SE of Δ from
    the sentences alone; dashes where the row has none."""
    if paired is None:
        why = "no per-sentence counts on both sides, or no Δ"
        return [Cell(DASH, "na", f"{key}:paired", why), Cell(DASH, "na", f"{key}:paired_se")]
    text = f"{paired.word}: [{paired.low:+.2f}, {paired.high:+.2f}], p {paired.p_text}"
    return [
        Cell(text, WORD_CLASS[paired.word], f"{key}:paired"),
        Cell(fmt(paired.se_sentences), "num", f"{key}:paired_se"),
    ]


def _repeat_note(res: Results, row: Comparison, earlier: Comparison) -> str:
    """`(repeats: the same figures as …)`, for a row counted once, under the earlier row."""
    what = f"{earlier.kind}: {_other_label(res, earlier.other)}"
    if earlier.claim is not row.claim:
        what += f", under “{earlier.claim['text']}”"
    return f"{REPEATS} ({what}; counted once)"


def claims_forest(comparisons: Sequence[Comparison]) -> Chart | None:
    """The test-score comparisons that have a Δ and an SE as a forest plot, beside the paper's
    Δ, each distinct comparison once; None when there is none."""
    repeated = repeats(comparisons)
    rows = [
        svg.ForestRow(
            row.claim["text"],
            f"{row.task.upper()} {row.setting} · vs {row.other}",
            row.difference.delta,
            row.difference.se,
            row.paper,
            row.key,
        )
        for row in comparisons
        if not row.speed
        and row.difference.delta is not None
        and row.difference.se is not None
        and row.key not in repeated
    ]
    if not rows:
        return None
    title = "The claims on test scores: Δ ± 2 SE"
    return Chart(
        "claims-forest",
        title,
        svg.forest_plot(rows, title=title, x_label="Δ = better − other (accuracy or F1 points)"),
        "One row per claim, task, input setting and comparison with two or more seeds on each "
        "side, grouped by claim, each distinct comparison once (a row of the table below "
        f'marked "{REPEATS}" is drawn where it first appears): the dot is our Δ, the bar '
        "± 2 SE; the diamond is the paper's Δ. A bar clear of zero on the right is a claim "
        "that holds.",
    )


def _bench_speed(res: Results, task: str, model: str) -> list[float]:
    """The training throughput `spen bench` measured for the model on the task, one figure per
    timed pass, if any."""
    return [
        figure
        for bench in res.inputs.bench
        if bench.get("task") == task
        for entry in bench.get("training", [])
        if entry["model"] == model
        for figure in training_throughputs(entry)
    ]
