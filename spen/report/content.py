"""The report's sections as plain data: tables of formatted cells, charts, notes.

Both templates (HTML and Markdown) lay out the same `Table`s, so the two files always say the
same thing. Every figure comes from `Inputs`; a cell without data says why ("not run", ...).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from spen import tuning
from spen.config import ParamsError
from spen.report import markdown, svg
from spen.report.collect import Inputs, RunData

NOT_RUN = "not run"
NO_PAPER = "no paper counterpart"
REFERENCE = "exact-inference reference"
DASH = "—"
TASK_ORDER = ("pos", "ner")
SETTING_ORDER = ("paper", "plus")
METRIC_NAMES = {"accuracy": "accuracy", "f1": "entity F1"}
AXIS_NAMES = {"compound_weight": "λ", "inner_steps": "k"}  # the tuning grids' axes


@dataclass
class Cell:
    """One table cell: its text, a CSS class (`num`, `missing`, `up`, `down`, ...), a key the
    tests can find it by (`data-cell` in HTML) and an optional tooltip."""

    text: str
    cls: str = ""
    key: str = ""
    title: str = ""
    sub: str = ""  # a small trailer, e.g. `n=3`

    @property
    def full(self) -> str:
        """The text with its trailer, as plain text (Markdown)."""
        return f"{self.text} ({self.sub})" if self.sub else self.text


@dataclass
class Table:
    """Column labels (with optional spanning groups above them) and rows of cells."""

    id: str
    header: list[str]
    rows: list[list[Cell]]
    groups: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def flat_header(self) -> list[str]:
        """Column labels with their group prefixed (Markdown has one header row)."""
        if not self.groups:
            return self.header
        prefixes = [label for label, span in self.groups for _ in range(span)]
        return [f"{p} {h}".strip() if p else h for p, h in zip(prefixes, self.header, strict=True)]


@dataclass
class Chart:
    title: str
    svg: str
    caption: str


# ---------------------------------------------------------------------------------------------
# formatting


def fmt(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def stat_text(mean: float, std: float | None, digits: int = 2) -> str:
    """`88.81 ± 0.32`; a single seed has no std: `88.81`."""
    spread = "" if std is None else f" ± {std:.{digits}f}"
    return f"{mean:.{digits}f}{spread}"


def stat(mean: float, std: float | None, n: int, key: str = "", digits: int = 2) -> Cell:
    """A cell `88.81 ± 0.32 (n=3)`: mean ± sample std over `n` seeds."""
    return Cell(stat_text(mean, std, digits), "num", key, sub=f"n={n}")


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for one value), as `spen aggregate` computes."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def stat_cell(values: Sequence[float], key: str = "", digits: int = 2) -> Cell:
    if not values:
        return Cell(NOT_RUN, "missing", key)
    mean, std = mean_std(values)
    return stat(mean, std, len(values), key, digits)


def diff_cell(ours: float | None, paper: float | None, key: str) -> Cell:
    if ours is None or paper is None:
        return Cell(DASH, "na", key)
    delta = ours - paper
    return Cell(f"{delta:+.2f}", "num up" if delta >= 0 else "num down", key)


def text_cell(text: Any, cls: str = "") -> Cell:
    return Cell(str(text), cls)


# ---------------------------------------------------------------------------------------------
# lookups


class Results:
    """Ordered access to the summary's groups and the runs behind them."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.groups: dict[str, dict[str, Any]] = inputs.summary["groups"]
        self.paper = inputs.paper
        self.labels: dict[str, str] = self.paper.get("labels", {})

    def label(self, model: str) -> str:
        """The model's display name; a benchmark variant `MODEL@k=K` keeps its `k=K`."""
        base, _, variant = model.partition("@")
        return self.labels.get(base, base) + (f" ({variant})" if variant else "")

    def group(self, task: str, model: str, setting: str) -> dict[str, Any] | None:
        return self.groups.get(f"{task}/{model}-{setting}")

    def runs(self, task: str, model: str, setting: str) -> list[RunData]:
        return self.inputs.group_runs(f"{task}/{model}-{setting}")

    def metric(self, task: str) -> str:
        """The task's headline test metric: entity F1 when scored, else token accuracy."""
        for group in self.groups.values():
            if group["task"] == task and "f1" in group["test"]:
                return "f1"
        return "accuracy"

    def tasks(self) -> list[str]:
        return _ordered({g["task"] for g in self.groups.values()}, TASK_ORDER)

    def settings(self) -> list[str]:
        return _ordered({g["setting"] for g in self.groups.values()}, SETTING_ORDER)

    def models(self, extra: Iterable[str] = ()) -> list[str]:
        found = {g["model"] for g in self.groups.values()} | set(extra)
        return _ordered(found, tuple(self.labels))

    def sorted_groups(self) -> list[dict[str, Any]]:
        tasks, models, settings = self.tasks(), self.models(), self.settings()
        return sorted(
            self.groups.values(),
            key=lambda g: (
                tasks.index(g["task"]),
                models.index(g["model"]),
                settings.index(g["setting"]),
            ),
        )

    def test_values(self, task: str, model: str, setting: str, metric: str) -> list[float]:
        """Per-seed test figures of `metric` (the summary's runs), [] when not run."""
        return [
            float(r.test[metric])
            for r in self.runs(task, model, setting)
            if _is_number(r.test.get(metric))
        ]

    def group_stat(self, task: str, model: str, setting: str, metric: str) -> Cell:
        """The summary's mean ± std of `metric` for the group, with its number of seeds."""
        group = self.group(task, model, setting)
        key = f"{task}/{model}-{setting}/{metric}"
        if group is None:
            return Cell(NOT_RUN, "missing", key)
        stats = group["test"].get(metric)
        if stats is None:
            return Cell("not scored", "missing", key, f"test.json holds no '{metric}'")
        return stat(stats["mean"], stats["std"], len(group["seeds"]), key)

    def group_mean(self, task: str, model: str, setting: str, metric: str) -> float | None:
        group = self.group(task, model, setting)
        if group is None or metric not in group["test"]:
            return None
        return group["test"][metric]["mean"]

    def tuning_record(self, task: str, model: str, setting: str) -> dict[str, Any] | None:
        """The tuning record the model's runs take their settings from (its own, or that of
        the tuned row it follows); None when there is none yet, or no params/ to tell."""
        params = self.inputs.params
        leader = tuning.leader(params, model) if params is not None else None
        return None if leader is None else self.inputs.tuning.get((task, leader, setting))

    def predates_protocol(self, task: str, model: str, setting: str) -> bool:
        """Whether the model has runs here that params/ shows to predate the tuning protocol
        (a tuned row, or a follower, without its tuning record); False without params/."""
        return (
            self.inputs.params is not None
            and self.group(task, model, setting) is not None
            and not self.under_protocol(task, model, setting)
        )

    def under_protocol(self, task: str, model: str, setting: str) -> bool:
        """Whether the model's runs can count under the tuning protocol: params/ is at hand and
        the model is untuned (a fixed control) or its tuning record exists."""
        params = self.inputs.params
        if params is None:
            return False
        return tuning.leader(params, model) is None or bool(
            self.tuning_record(task, model, setting)
        )


def _ordered(items: Iterable[str], order: Sequence[str]) -> list[str]:
    items = set(items)
    return [x for x in order if x in items] + sorted(items - set(order))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# 1, 2: comparison with the paper


@dataclass(frozen=True)
class Column:
    label: str
    task: str
    setting: str | None  # None: we have no counterpart setting
    metric: str
    paper_key: str | None  # None: the paper has no such column


MAIN_COLUMNS = (
    Column("POS acc", "pos", "paper", "accuracy", "pos"),
    Column("NER F1", "ner", "paper", "f1", "ner"),
    Column("NER+ F1", "ner", "plus", "f1", "ner_plus"),
    Column("POS+ acc", "pos", "plus", "accuracy", None),
)
GLOBAL_COLUMNS = (
    Column("NER F1", "ner", "paper", "f1", "ner"),
    Column("NER+ F1", "ner", "plus", "f1", "ner_plus"),
    Column("NER++ F1", "ner", None, "f1", "ner_plus_plus"),
)


#: marks a figure whose runs predate the tuning protocol (no tuning record for its row yet)
BEFORE_PROTOCOL = "†"


def comparison_table(
    res: Results,
    table_id: str,
    models: Sequence[str],
    paper_rows: dict[str, dict[str, float]],
    columns: Sequence[Column],
    reference: Sequence[str] = (),
) -> Table:
    """Rows of models, per column our mean ± std beside the paper's figure and the difference.

    A column without a paper figure shows ours alone, one without our setting the paper's alone.
    Our figure is marked † when its runs predate the tuning protocol.
    """
    header, groups = _grouped_header(columns, ["ours", "paper", "Δ"])
    rows = []
    for model in models:
        label = res.label(model) + (f" ({REFERENCE})" if model in reference else "")
        row = [Cell(label, "label", title=model)]
        for col in columns:
            key = f"{table_id}:{model}:{col.task}-{col.setting}:{col.paper_key or 'none'}"
            paper_value = None
            if model not in reference and col.paper_key is not None:
                paper_value = paper_rows.get(model, {}).get(col.paper_key)
            paper = (
                Cell(fmt(paper_value, 1), "num paper", f"{key}:paper")
                if paper_value is not None
                else Cell(DASH, "na", f"{key}:paper", "the paper has no such figure")
            )
            if col.setting is None:
                row.append(paper)
                continue
            ours = res.group_stat(col.task, model, col.setting, col.metric)
            ours.key = f"{key}:ours"
            if res.predates_protocol(col.task, model, col.setting):
                ours.text += f" {BEFORE_PROTOCOL}"
                ours.title = "run before the tuning protocol (docs/CHOICES.md)"
            if col.paper_key is None:
                row.append(ours)
                continue
            ours_mean = res.group_mean(col.task, model, col.setting, col.metric)
            row += [ours, paper, diff_cell(ours_mean, paper_value, f"{key}:diff")]
        rows.append(row)
    return Table(table_id, header, rows, groups)


def _grouped_header(
    columns: Sequence[Column], compared: list[str]
) -> tuple[list[str], list[tuple[str, int]]]:
    """Column labels under one group per column: `compared` where ours meets a paper figure,
    ours alone where the paper has none, the paper's alone where we have no setting."""
    groups: list[tuple[str, int]] = [("", 1)]
    header = ["model"]
    for col in columns:
        if col.setting is None:
            sub = ["paper (no counterpart setting of ours)"]
        elif col.paper_key is None:
            sub = [f"ours ({NO_PAPER})"]
        else:
            sub = compared
        groups.append((col.label, len(sub)))
        header += sub
    return header, groups


def main_table(res: Results) -> Table:
    paper = res.paper["main_table"]
    reference = list(res.paper.get("reference_models", []))
    models = list(paper) + reference
    table = comparison_table(res, "main", models, paper, MAIN_COLUMNS, reference)
    table.notes = [
        "Ours: test-set mean ± sample standard deviation over seeds (n seeds), best-dev-epoch "
        "model. Δ = our mean − the paper's figure.",
        "Our `paper` input setting (frozen embeddings) is compared with the paper's POS and NER "
        "columns, our `plus` setting (fine-tuned embeddings + character CNN, our reading of the "
        "paper's NER+) with NER+. POS+ is our `plus` setting on POS: the paper has no such "
        "column.",
        "BiLSTM-CRF (exact inference by Viterbi) is our reference; the paper has no such row.",
        f"{BEFORE_PROTOCOL}: runs made before the tuning protocol (each row's optimizer chosen "
        "on its own, gradients clipped at 5, separated with k = 1), kept until that row, task "
        "and setting are rerun under it; section 3 counts no such run.",
    ]
    return table


BASELINE = "bilstm"


def gain_table(res: Results) -> Table:
    """Each row's gain over the local BiLSTM, ours beside the paper's: the comparison that the
    embeddings (METHOD.md §6) leave fair when the absolute figures cannot be reached."""
    paper = res.paper["main_table"]
    header, groups = _grouped_header(MAIN_COLUMNS, ["ours", "paper", "ours − paper"])
    rows = []
    for model in (m for m in paper if m != BASELINE):
        row = [Cell(res.label(model), "label", title=model)]
        for col in MAIN_COLUMNS:
            key = f"gain:{model}:{col.task}-{col.setting}"
            ours_model = res.group_mean(col.task, model, col.setting, col.metric)
            ours_base = res.group_mean(col.task, BASELINE, col.setting, col.metric)
            ours = None if ours_model is None or ours_base is None else ours_model - ours_base
            ours_cell = Cell(NOT_RUN, "missing", f"{key}:ours")
            if ours is not None:
                ours_cell = Cell(f"{ours:+.2f}", "num", f"{key}:ours")
            if col.paper_key is None:
                row.append(ours_cell)
                continue
            theirs = paper[model][col.paper_key] - paper[BASELINE][col.paper_key]
            row += [
                ours_cell,
                Cell(f"{theirs:+.1f}", "num paper", f"{key}:paper"),
                diff_cell(ours, theirs, f"{key}:diff"),
            ]
        rows.append(row)
    notes = [
        "Gain = the row's mean − the local BiLSTM's mean, in the same task and input setting "
        "(ours), or in the same column of the paper's table (paper). METHOD.md §6: frozen 50-d "
        "GloVe cannot reach the paper's absolute figures but can reproduce its differences "
        "between rows."
    ]
    return Table("gain", header, rows, groups, notes)


def global_table(res: Results) -> Table:
    paper = res.paper["global_energies"]
    present = set(res.models())
    models = [m for m in paper if m != "compound_stacked_ge_c"]
    models += [m for m in ("compound_stacked_ge_a", "compound_stacked_ge_b") if m in present]
    models += [m for m in paper if m == "compound_stacked_ge_c"]
    table = comparison_table(res, "global", models, paper, GLOBAL_COLUMNS)
    table.notes = [
        "Table 4 of the paper: NER test F1 with global energy terms. GE(a) and GE(b) rows are "
        "ours only (the paper's Table 4 shows GE(c)); NER++ has no counterpart setting here."
    ]
    return table


# ---------------------------------------------------------------------------------------------
# 3: the paper's claims

HOLDS, WITHIN, FAILS = "holds", "holds within 2 SE", "does not hold"
CANNOT_TELL = "cannot tell"
UNTUNED = f"{CANNOT_TELL} (not run under the tuning protocol)"
VERDICT_CLASS = {HOLDS: "up", WITHIN: "within", FAILS: "down"}
BASELINE_ROW, CONTROL_ROW, BENCH_ROW = "tuned baseline", "matched control", "benchmark"


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
    run: `unit`). Cannot tell with a side missing or under two values on a side; else it holds
    when Δ > 2 SE, holds within 2 SE when 0 < Δ ≤ 2 SE, and does not hold when Δ ≤ 0, with
    SE = sqrt(s₁²/n₁ + s₂²/n₂) from the sample standard deviations."""
    if not better or not other:
        return Difference(None, None, f"{CANNOT_TELL} ({NOT_RUN})")
    delta = statistics.fmean(better) - statistics.fmean(other)
    fewest = min(len(better), len(other))
    if fewest < 2:
        return Difference(delta, None, f"{CANNOT_TELL} ({fewest} {unit})")
    se = math.sqrt(
        statistics.variance(better) / len(better) + statistics.variance(other) / len(other)
    )
    verdict = FAILS if delta <= 0 else HOLDS if delta > 2 * se else WITHIN
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

    @property
    def key(self) -> str:
        """`claim:BETTER-over-WORSE:TASK-SETTING:OTHER`: the row's cells start with it."""
        claim = self.claim
        return (
            f"claim:{claim['better']}-over-{claim['worse']}:{self.task}-{self.setting}:{self.other}"
        )

    @property
    def speed(self) -> bool:
        return _is_speed(self.claim)


def claim_comparisons(res: Results) -> list[Comparison]:
    """Every claim of paper.yaml × task × input setting × comparison, in paper.yaml's order."""
    rows = []
    for claim in res.paper.get("claims", []):
        speed = _is_speed(claim)
        for task in claim.get("tasks", TASK_ORDER):
            for setting in claim.get("settings", SETTING_ORDER):
                paper = _paper_delta(res, claim, task, setting)
                record = None if speed else res.tuning_record(task, claim["better"], setting)
                others = [(BENCH_ROW if speed else BASELINE_ROW, claim["worse"])]
                others += [(CONTROL_ROW, _control(c, record)) for c in claim.get("controls", [])]
                better = _claim_values(res, claim, task, claim["better"], setting)
                for kind, model in others:
                    other = _claim_values(res, claim, task, model, setting)
                    if speed:
                        difference = difference_verdict(better, other, "benchmark run")
                    elif not all(
                        res.under_protocol(task, m, setting) for m in (claim["better"], model)
                    ):
                        difference = Difference(None, None, UNTUNED)
                    else:
                        difference = difference_verdict(better, other)
                    rows.append(
                        Comparison(
                            claim, task, setting, kind, model, better, other, difference, paper
                        )
                    )
    return rows


def _is_speed(claim: dict[str, Any]) -> bool:
    """Whether the claim is on training speed (`measure: speed`) rather than test scores."""
    return claim.get("measure", "test") == "speed"


def _claim_values(
    res: Results, claim: dict[str, Any], task: str, model: str, setting: str
) -> list[float]:
    """The model's figures for the claim's measure: per-seed test scores of the task's headline
    metric, or the training throughput `spen bench` measured."""
    if _is_speed(claim):
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


def _paper_delta(res: Results, claim: dict[str, Any], task: str, setting: str) -> float | None:
    """The paper's better − worse figure for the task and our input setting: its speed column
    (paper setting only) for a speed claim, else the column MAIN_COLUMNS compares the setting
    with, from the first of its main table and Table 4 that has both rows."""
    better, worse = claim["better"], claim["worse"]
    if _is_speed(claim):
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


def claims_table(res: Results, comparisons: Sequence[Comparison]) -> Table:
    """The claims, each against its tuned baseline and its matched controls, per task and
    input setting, with the verdicts."""
    header = ["claim", "task", "setting", "comparison", "better: ours", "other side: ours"]
    header += ["Δ", "SE of Δ", "verdict", "paper's Δ"]
    rows = []
    for row in comparisons:
        key, diff, digits = row.key, row.difference, 1 if row.speed else 2
        rows.append(
            [
                text_cell(row.claim["text"]),
                text_cell(row.task),
                text_cell(row.setting),
                Cell(f"{row.kind}: {res.label(row.other)}", "label", title=row.other),
                stat_cell(row.better_values, f"{key}:better", digits),
                stat_cell(row.other_values, f"{key}:other", digits),
                Cell(DASH, "na", f"{key}:diff")
                if diff.delta is None
                else Cell(
                    f"{diff.delta:+.2f}",
                    "num " + ("up" if diff.delta > 0 else "down"),
                    f"{key}:diff",
                ),
                Cell(fmt(diff.se), "num" if diff.se is not None else "na", f"{key}:se"),
                Cell(diff.verdict, diff.cls, f"{key}:verdict"),
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
        f'Verdict: "{HOLDS}" when Δ > 2 SE; "{WITHIN}" when 0 < Δ ≤ 2 SE, a difference the '
        f'seed-to-seed spread could explain; "{FAILS}" when Δ ≤ 0; "{CANNOT_TELL}" when a side '
        "is not run or has a single seed.",
        "A test-score comparison counts only when the claimed-better model ran under the "
        "tuning protocol: the tuning record of its task and input setting (section 4; the "
        "record of the tuned row it follows, for a model that follows one) must exist. Until "
        f'then its rows read "{UNTUNED}" and show no Δ, so runs made before the protocol '
        "never reach a verdict.",
        "Matched controls change one thing: the CE-only controls (control_ce_shared, "
        "control_ce_stacked) keep the compound row's networks, k and optimizer and train them "
        "by its cross-entropy terms alone, with no hinge and no energy; the BiLSTM control "
        "(bilstm_sgd or bilstm_adam, untuned) is the local BiLSTM under the optimizer that the "
        "compound row's tuning record chose. Without that record, the BiLSTM control is not "
        "known.",
        "Paper's Δ: the paper's figure for the better row − that for the other row, in the "
        "column our setting is compared with in section 1 (paper setting: POS or NER; plus: "
        "NER+; POS plus has no paper column) of its main table, or Table 4 for GE(c). The "
        "paper has no controls: each row of a claim shows the claim's figure.",
        "Speed claims compare training sentences/s from `spen bench` (section 8's training "
        "throughput benchmark: every model timed one after another in one process, paper input "
        "setting), not the runs' own logs, which shared the machine with other jobs; the "
        "paper's Δ is from its speed column. One benchmark run has no spread: cannot tell.",
    ]
    return Table("claims", header, rows, notes=notes)


def claims_forest(comparisons: Sequence[Comparison]) -> Chart | None:
    """The test-score comparisons that have a Δ and an SE as a forest plot, beside the paper's
    Δ; None when there is none."""
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
        if not row.speed and row.difference.delta is not None and row.difference.se is not None
    ]
    if not rows:
        return None
    title = "The claims on test scores: Δ ± 2 SE"
    return Chart(
        title,
        svg.forest_plot(rows, title=title, x_label="Δ = better − other (accuracy or F1 points)"),
        "One row per claim, task, input setting and comparison with two or more seeds on each "
        "side, grouped by claim: the dot is our Δ, the bar ± 2 SE; the diamond is the paper's "
        "Δ. A bar clear of zero on the right is a claim that holds.",
    )


def _bench_speed(res: Results, task: str, model: str) -> list[float]:
    """The training throughput `spen bench` measured for the model on the task, if any."""
    return [
        float(entry["sentences_per_second"])
        for bench in res.inputs.bench
        if bench.get("task") == task
        for entry in bench.get("training", [])
        if entry["model"] == model
    ]


# ---------------------------------------------------------------------------------------------
# 4: the tuning protocol


def tuning_table(res: Results) -> Table | None:
    """Every grid point of every tuning record, the chosen one marked; None without records."""
    records = res.inputs.tuning
    if not records:
        return None
    tasks = _ordered({task for task, _, _ in records}, TASK_ORDER)
    settings = _ordered({setting for _, _, setting in records}, SETTING_ORDER)
    models = _ordered({model for _, model, _ in records}, tuple(res.labels))
    rows = []
    for task, model, setting in sorted(
        records,
        key=lambda k: (tasks.index(k[0]), settings.index(k[2]), models.index(k[1])),
    ):
        record = records[task, model, setting]
        for name in _grid_order(res, record):
            point = record["points"][name]
            axes = point["axes"]
            chosen = name == record["chosen"]
            key = f"tuning:{task}/{model}-{setting}:{name}"
            dev = point.get("dev")
            epochs = " / ".join(
                DASH if point.get(k) is None else str(point[k]) for k in ("best_epoch", "epochs")
            )
            cells = [
                text_cell(task),
                text_cell(setting),
                Cell(res.label(model), "label", title=model),
                Cell(name, "mono"),
                text_cell(axes.get("optimizer", DASH)),
                text_cell(axes.get("compound_weight", DASH), "num"),
                text_cell(axes.get("inner_steps", DASH), "num"),
                Cell(fmt(dev), "num", f"{key}:dev") if _is_number(dev) else Cell(DASH, "na"),
                text_cell(epochs, "num"),
                Cell(str(point.get("stopped", "")), "stopped"),
                Cell("✓" if chosen else "", "mark", f"{key}:chosen"),
            ]
            if chosen:
                for cell in cells:
                    cell.cls = f"{cell.cls} chosen".strip()
            rows.append(cells)
    header = ["task", "setting", "model", "point", "optimizer", "λ", "k", "dev score"]
    header += ["best epoch / epochs", "stopped", "chosen"]
    seeds = ", ".join(str(s) for s in sorted({r["seed"] for r in records.values()}))
    profiles = ", ".join(sorted({str(r.get("profile", "?")) for r in records.values()}))
    notes = [
        "From results/tuning/TASK/MODEL-SETTING.json (`spen tune-select`). Selection reads dev "
        f"only: each tuned row trains every point of its grid (one grid per row family) once, "
        f"on seed {seeds} (profile "
        f"{profiles}), and the point with the best dev score (accuracy for POS, entity F1 for "
        "NER) is chosen (✓; ties go to the earlier point). No tuning run is ever scored on "
        "test. The main runs of the row, and of the models that follow it, use the chosen "
        "point's settings.",
        "λ: the weight of the test-time inference network A_Ψ's terms in the compound "
        "objective (compound_weight); k: updates of the inference networks per minibatch "
        "(inner_steps). Best epoch / epochs: the epoch of the best dev score, and the epochs "
        "trained. A point stopped early says why; one that diverged before its first epoch "
        "ended has no dev score and is never chosen.",
    ]
    if res.inputs.params is not None:
        notes.append(_protocol_note(res.inputs.params.tuning))
    return Table("tuning", header, rows, notes=notes)


def _grid_order(res: Results, record: dict[str, Any]) -> list[str]:
    """The record's point names in the order of the model's grid (params/tuning.yaml); points
    the grid does not know, or all of them without params, sorted after."""
    order: list[str] = []
    if res.inputs.params is not None:
        try:
            points = tuning.grid(res.inputs.params, record["model"], record.get("profile", ""))
            order = [p.name for p in points]
        except ParamsError:
            pass
    return _ordered(record["points"], order)


def _protocol_note(protocol: dict[str, Any]) -> str:
    """params/tuning.yaml in a sentence: one grid per row family, and who follows whom."""
    grids = []
    for name, axes in protocol["grids"].items():
        spans = ", ".join(
            f"{AXIS_NAMES.get(a, a)} ∈ {{{', '.join(map(str, v))}}}" for a, v in axes.items()
        )
        models = ", ".join(m for m, g in protocol["tuned"].items() if g == name)
        grids.append(f"{name} ({spans}) for {models}")
    leaders: dict[str, list[str]] = {}
    for model, leader in protocol["follows"].items():
        leaders.setdefault(leader, []).append(model)
    follows = "; ".join(
        f"{', '.join(ms)} follow{'s' * (len(ms) == 1)} {leader}" for leader, ms in leaders.items()
    )
    optimizers = ", ".join(
        f"{name} (lr {spec['lr']:g}"
        + (f", momentum {spec['momentum']:g}" if "momentum" in spec else "")
        + ")"
        for name, spec in protocol["optimizers"].items()
    )
    return (
        f"The grids (params/tuning.yaml): {'; '.join(grids)}. Optimizers of the "
        f"networks that output tags: {optimizers}. Models that run with a tuned row's choice: "
        f"{follows}."
    )


# ---------------------------------------------------------------------------------------------
# all runs


def inventory_table(res: Results) -> Table:
    header = ["task", "model", "setting", "seeds", "test (headline)", "best dev", "best epoch"]
    header += ["epochs", "train minutes"]
    rows = []
    for group in res.sorted_groups():
        task, model, setting = group["task"], group["model"], group["setting"]
        metric = res.metric(task)
        train = group["train"]
        seconds = train.get("seconds") or {}
        minutes = {k: None if v is None else v / 60 for k, v in seconds.items()}
        rows.append(
            [
                text_cell(task),
                Cell(res.label(model), "label", title=model),
                text_cell(setting),
                text_cell(", ".join(map(str, group["seeds"])), "num"),
                res.group_stat(task, model, setting, metric),
                _summary_stat(train.get("best_dev"), len(group["seeds"])),
                _summary_stat(train.get("best_epoch"), len(group["seeds"]), 1),
                _summary_stat(train.get("epochs"), len(group["seeds"]), 1),
                _summary_stat(minutes, len(group["seeds"]), 1),
            ]
        )
    notes = ["Headline test metric: token accuracy (POS), conlleval-style entity F1 (NER)."]
    return Table("runs", header, rows, notes=notes)


def _summary_stat(stats: dict[str, float | None] | None, n: int, digits: int = 2) -> Cell:
    if not stats or stats.get("mean") is None:
        return Cell(DASH, "na")
    return stat(stats["mean"], stats["std"], n, digits=digits)


# ---------------------------------------------------------------------------------------------
# 5: NER per entity type


def ner_tables(res: Results) -> list[Table]:
    groups = [g for g in res.sorted_groups() if "f1" in g["test"]]
    if not groups:
        return []
    overall_header = ["task", "model", "setting", "P", "R", "F1", "strict P", "strict R"]
    overall_header += ["strict F1", "F1 − strict F1"]
    overall, per_type = [], []
    types = sorted(
        {t for g in groups for r in res.inputs.group_runs(_key(g)) for t in _per_type(r)}
    )
    for group in groups:
        task, model, setting = group["task"], group["model"], group["setting"]
        runs = res.inputs.group_runs(_key(group))
        label = [text_cell(task), Cell(res.label(model), "label", title=model), text_cell(setting)]
        cells = [
            res.group_stat(task, model, setting, m)
            for m in ("precision", "recall", "f1", "strict_precision", "strict_recall")
        ]
        cells.append(res.group_stat(task, model, setting, "strict_f1"))
        gaps = [
            float(r.test["f1"]) - float(r.test["strict_f1"])
            for r in runs
            if _is_number(r.test.get("f1")) and _is_number(r.test.get("strict_f1"))
        ]
        cells.append(stat_cell(gaps, f"{_key(group)}/f1-strict"))
        overall.append(label + cells)
        type_cells = []
        for name in types:
            values = [float(_per_type(r)[name]["f1"]) for r in runs if name in _per_type(r)]
            type_cells.append(stat_cell(values, f"{_key(group)}/type/{name}"))
        per_type.append(label + type_cells)
    support = _supports(res, groups, types)
    return [
        Table(
            "ner-overall",
            overall_header,
            overall,
            notes=[
                "P/R/F1: conlleval-style (BIOES converted to IOB2, seqeval's default mode); "
                "strict: seqeval's strict IOBES mode, which counts an ill-formed predicted "
                "entity as wrong."
            ],
        ),
        Table(
            "ner-types",
            ["task", "model", "setting"] + [f"{t} F1" for t in types],
            per_type,
            notes=[
                "Per-type F1 is conlleval-style (test.json `per_type`; no per-type strict "
                f"figures are recorded). Gold entities in the test set: {support}."
            ],
        ),
    ]


def _key(group: dict[str, Any]) -> str:
    return f"{group['task']}/{group['model']}-{group['setting']}"


def _per_type(run: RunData) -> dict[str, Any]:
    value = run.test.get("per_type")
    return value if isinstance(value, dict) else {}


def _supports(res: Results, groups: list[dict[str, Any]], types: list[str]) -> str:
    for group in groups:
        for run in res.inputs.group_runs(_key(group)):
            table = _per_type(run)
            if all(t in table and "support" in table[t] for t in types):
                return ", ".join(f"{t} {table[t]['support']}" for t in types)
    return "not recorded"


# ---------------------------------------------------------------------------------------------
# 7: learning curves


def learning_curves(res: Results) -> list[Chart]:
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
                        if _is_number(record.get("dev")):
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
                    title,
                    svg.line_chart(series, title=title, x_label="epoch", y_label=f"dev {metric}"),
                    "Mean over the seeds still training at each epoch (runs stop early at "
                    "different epochs). From each run's learning_curve.json (or metrics.jsonl).",
                )
            )
    return charts


# ---------------------------------------------------------------------------------------------
# 8: speed


def _run_speed(run: RunData) -> float | None:
    values = [r["sentences_per_second"] for r in run.history or [] if "sentences_per_second" in r]
    return statistics.fmean(values) if values else None


def _run_epoch_seconds(run: RunData) -> float | None:
    values = [r["seconds"] for r in run.history or [] if _is_number(r.get("seconds"))]
    return statistics.fmean(values) if values else None


def _run_peak_memory(run: RunData) -> float | None:
    value = (run.train or {}).get("peak_rss_mb")
    return float(value) if _is_number(value) else None


def training_speed_tables(res: Results) -> list[Table]:
    paper_speed = res.paper.get("speed", {})
    header = ["task", "model", "setting", "train sentences/s", "seconds/epoch", "paper speed"]
    header.append("peak memory (MB)")
    rows = []
    per_run_rows = []
    for group in res.sorted_groups():
        task, model, setting = group["task"], group["model"], group["setting"]
        runs = res.inputs.group_runs(_key(group))
        speeds = [s for s in map(_run_speed, runs) if s is not None]
        seconds = [s for s in map(_run_epoch_seconds, runs) if s is not None]
        peaks = [m for m in map(_run_peak_memory, runs) if m is not None]
        paper = paper_speed.get(task, {}).get(model) if setting == "paper" else None
        rows.append(
            [
                text_cell(task),
                Cell(res.label(model), "label", title=model),
                text_cell(setting),
                stat_cell(speeds, f"{_key(group)}/speed", 1) if speeds else Cell(DASH, "na"),
                stat_cell(seconds, "", 1) if seconds else Cell(DASH, "na"),
                Cell(f"{paper:g}", "num paper") if paper is not None else Cell(DASH, "na"),
                Cell(f"{max(peaks):,.0f}", "num", f"{_key(group)}/peak-memory")
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


BENCH_METHODS = {
    "inference_network": "inference network (BiLSTM + argmax), end to end",
    "viterbi_end_to_end": "BiLSTM + our Viterbi, end to end",
    "pytorch_crf_end_to_end": "BiLSTM + pytorch-crf, end to end",
    "gradient_descent_end_to_end": "BiLSTM + gradient-descent inference, end to end",
    "viterbi": "our Viterbi, decoder only",
    "pytorch_crf": "pytorch-crf, decoder only",
    "torch_struct": "torch-struct, decoder only",
    "gradient_descent": "gradient-descent inference, decoder only",
    "argmax": "argmax of unary scores, decoder only",
}


def bench_tables(res: Results) -> list[Table]:
    tables = []
    for bench in res.inputs.bench:
        rows_by_size = bench["rows"]
        methods = _ordered(
            {m for row in rows_by_size for m in row.get("tokens_per_second", {})},
            tuple(BENCH_METHODS),
        )
        header = ["method"]
        groups = [("", 1)]
        for row in rows_by_size:
            header += ["tokens/s", "× pytorch-crf"]
            groups.append((f"batch {row['batch_size']}", 2))
        header.append("agreement with Viterbi")
        groups.append(("", 1))
        rows = []
        for method in methods:
            cells = [Cell(BENCH_METHODS.get(method, method), "label", title=method)]
            agreement = []
            for row in rows_by_size:
                speed = row.get("tokens_per_second", {}).get(method)
                ratio = row.get("ratio_to_pytorch_crf", {}).get(method)
                key = f"bench:{bench['file']}:{row['batch_size']}:{method}"
                cells.append(Cell(f"{speed:,.0f}", "num", key) if speed else Cell(DASH, "na"))
                cells.append(
                    Cell(f"{ratio:.2f}", "num", f"{key}:ratio") if ratio else Cell(DASH, "na")
                )
                if method in row.get("agreement_with_viterbi", {}):
                    agreement.append(row["agreement_with_viterbi"][method])
            cells.append(
                Cell(f"{100 * min(agreement):.2f}%", "num") if agreement else Cell(DASH, "na")
            )
            rows.append(cells)
        device = bench.get("device", "cpu")
        peak = bench.get("peak_rss_mb")
        note = (
            f"{bench['file']}: task {bench.get('task', '?')}, device {device}, machine "
            f"{bench.get('machine', '?')}, {bench.get('threads', '?')} torch threads; "
            f"{bench.get('sentences', '?')} test sentences, {bench.get('tokens', '?')} tokens"
            + (f"; peak memory {peak:.0f} MB" if _is_number(peak) else "")
            + _gradient_descent_note(bench.get("gradient_descent"))
            + ". Best of the timed repetitions; `× pytorch-crf` = tokens/s over pytorch-crf's "
            "decoder-only tokens/s; agreement = the lowest, over batch sizes, share of tokens "
            "tagged as our Viterbi tags them."
        )
        title = f"{str(bench.get('task', '?')).upper()} on {device}"
        tables.append(Table(f"bench-{bench['file']}", header, rows, groups, [note], title))
        if bench.get("training"):
            tables.append(training_bench_table(res, bench, title))
    return tables


def _gradient_descent_note(options: dict[str, Any] | None) -> str:
    if not options:
        return ""
    return (
        f"; gradient-descent inference: {options['steps']} steps of size {options['lr']} from "
        "uniform outputs"
    )


def pipeline_time_table(inputs: Inputs) -> Table | None:
    """Wall time of each measured pipeline run (`spen pipeline-time` on its Snakemake log)."""
    if not inputs.pipeline_times:
        return None
    rows = []
    for timing in inputs.pipeline_times:
        trains = timing["rules"].get("train", {})
        key = f"pipeline:{timing['file']}"
        rows.append(
            [
                Cell(timing.get("name", timing["file"]), "label", title=timing["file"]),
                Cell(str(timing.get("cores", "?")), "num"),
                Cell(f"{timing['wall_seconds'] / 60:.1f}", "num", f"{key}:wall"),
                Cell(f"{timing['job_seconds'] / 60:.1f}", "num", f"{key}:jobs"),
                Cell(str(trains.get("jobs", 0)), "num"),
                Cell(f"{trains.get('max', 0) / 60:.1f}", "num"),
                text_cell("yes" if timing.get("complete") else "NO"),
            ]
        )
    header = ["pipeline run", "cores", "wall time (min)", "job time (min)", "trainings"]
    header += ["longest training (min)", "complete"]
    notes = [
        "From reports/bench/pipeline-*.json, which `spen pipeline-time LOG` reads off a run's "
        "Snakemake log: wall time from the first job's start to the last job's end; job time is "
        "the sum over jobs (what the run would take on one core)."
    ]
    return Table("pipeline-times", header, rows, notes=notes)


def training_bench_table(res: Results, bench: dict[str, Any], title: str) -> Table:
    """Training sentences/s of every model, measured one after another in one process."""
    rows = [
        [
            Cell(res.label(entry["model"]), "label", title=entry["model"]),
            Cell(
                f"{entry['sentences_per_second']:,.1f}",
                "num",
                f"bench:{bench['file']}:train:{entry['model']}",
            ),
            Cell(str(entry["batch_size"]), "num"),
            text_cell(entry.get("inner_steps") or DASH, "num"),
        ]
        for entry in bench["training"]
    ]
    note = (
        f"{bench['file']}: one pass over the first {bench['training'][0]['sentences']} training "
        "sentences per model, after one warm-up batch, in the paper input setting; a SPEN "
        "model's step includes its k inference-network updates (k: the inner steps, METHOD.md "
        "§4b). The rows `(k=K)` time a compound model at another k than its own, so that "
        "separated, shared and stacked are also compared at equal k."
    )
    return Table(
        f"bench-train-{bench['file']}",
        ["model", "training sentences/s", "batch size", "k"],
        rows,
        notes=[note],
        title=f"{title}: training throughput",
    )


# ---------------------------------------------------------------------------------------------
# 9: parameters


def parameter_table(res: Results) -> Table:
    paper = res.paper.get("parameters", {})
    tasks = _ordered(set(res.tasks()) | set(paper), TASK_ORDER)
    settings = res.settings() or list(SETTING_ORDER)
    models = res.models(m for table in paper.values() for m in table)
    header = ["model"]
    groups = [("", 1)]
    for task in tasks:
        header += [f"ours ({s})" for s in settings] + ["paper |T|", "paper |I|"]
        groups.append((task.upper(), len(settings) + 2))
    rows = []
    for model in models:
        row = [Cell(res.label(model), "label", title=model)]
        for task in tasks:
            for setting in settings:
                row.append(_parameter_cell(res, task, model, setting))
            counts = paper.get(task, {}).get(model)
            for value in counts or (None, None):
                row.append(
                    Cell(f"{value}K", "num paper") if value is not None else Cell(DASH, "na")
                )
        rows.append(row)
    notes = [
        "Ours: trainable parameters of the trained model (train.json `parameters`; frozen "
        "embeddings not counted), in thousands; where no run's train.json is at hand (the "
        "checkpoint directories are DVC's), the count `spen bench` took of the same model as "
        "built (training does not change it; the cell's tooltip names the source). The "
        "paper's |T| counts the parameters trained, |I| those used at test time (the "
        "inference network)."
    ]
    return Table("parameters", header, rows, groups, notes)


def _parameter_cell(res: Results, task: str, model: str, setting: str) -> Cell:
    runs = res.runs(task, model, setting)
    key = f"params:{task}/{model}-{setting}"
    if not runs:
        return Cell(NOT_RUN, "missing", key)
    counts = sorted(
        {int(r.train["parameters"]) for r in runs if r.train and "parameters" in r.train}
    )
    source = "train.json"
    if not counts:
        counts, source = _bench_parameters(res, task, model, setting), "spen bench"
    if not counts:
        return Cell("no count", "missing", key, "neither train.json nor `spen bench` counts it")
    text = " – ".join(f"{c / 1000:.1f}K" for c in sorted({counts[0], counts[-1]}))
    return Cell(text, "num", key, f"{counts[0]:,} parameters ({source})")


def _bench_parameters(res: Results, task: str, model: str, setting: str) -> list[int]:
    """The parameter count `spen bench` took of the model as built in the setting, if any."""
    return [
        int(entry["parameters"])
        for bench in res.inputs.bench
        if bench.get("task") == task
        for entry in bench.get("parameters", [])
        if (entry["model"], entry["setting"]) == (model, setting)
    ]


# ---------------------------------------------------------------------------------------------
# 10: exact vs amortised


def analysis_table(res: Results) -> Table | None:
    rows = []
    for group in res.sorted_groups():
        runs = [
            r
            for r in res.inputs.group_runs(_key(group))
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
                if _is_number(value):
                    found.append(float(value))
            return found

        def decoder(name: str, *path: str) -> list[float]:
            return values(("decoders", name, *path))

        amortised = decoder("test_time", "scores", metric)
        exact = decoder("viterbi", "scores", metric)
        gains = [v - a for a, v in zip(amortised, exact, strict=False)]
        same = [100 * v for v in decoder("test_time", "same_output_as_viterbi")]
        key = _key(group)
        rows.append(
            [
                text_cell(group["task"]),
                Cell(res.label(group["model"]), "label", title=group["model"]),
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
        "themselves)."
    ]
    return Table("analysis", header, rows, notes=notes)


# ---------------------------------------------------------------------------------------------
# 11, 12 and the whole


def environment_table(inputs: Inputs) -> Table:
    env = inputs.environment
    rows = [
        [text_cell("date (UTC)"), text_cell(env["date"])],
        [text_cell("git commit"), Cell(env["git_commit"], "mono")],
        [text_cell("python"), text_cell(f"{env['python']} ({env['implementation']})")],
        [text_cell("platform"), text_cell(env["platform"])],
        [text_cell("CPUs"), text_cell(env["cpus"])],
        [text_cell("device (this rendering)"), text_cell(env["device"])],
    ]
    rows += [[text_cell(name), Cell(version, "mono")] for name, version in env["packages"].items()]
    notes = [
        "The environment that rendered this report; each run's own device and timing are in "
        "its models/ directory, the benchmarks' machine in their notes above."
    ]
    return Table("environment", ["", "value"], rows, notes=notes)


def choices(inputs: Inputs) -> tuple[str, str] | None:
    """docs/CHOICES.md as (HTML, Markdown), its title line dropped, headings one level down."""
    if inputs.choices is None:
        return None
    lines = inputs.choices.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    body = "\n".join(lines).strip() + "\n"
    return markdown.to_html(body, heading_offset=1), markdown.shift_headings(body, 1)


def status(inputs: Inputs) -> dict[str, Any]:
    summary = inputs.summary
    runs = list(inputs.runs.values())
    profile = summary.get("profile")
    profiles = inputs.params.profiles if inputs.params is not None else {}
    overrides = profiles.get(profile, {}).get("overrides") if profile else None
    return {
        "profile": profile or "not recorded",
        "profile_warning": (
            f"Run profile '{profile}' overrides the training settings ("
            + ", ".join(f"{k} {v}" for k, v in overrides.items())
            + "): a check that the pipeline runs, not a measurement. Its figures and verdicts "
            "say nothing about the method."
            if overrides
            else ""
        ),
        "summary": str(inputs.summary_path),
        "runs": len(summary["runs"]),
        "groups": len(summary["groups"]),
        "tasks": sorted({g["task"] for g in summary["groups"].values()}),
        "seeds": sorted({r.run.seed for r in runs}),
        "with_train_json": sum(r.train is not None for r in runs),
        "with_analysis": sum(r.analysis is not None for r in runs),
        "bench_files": [b["file"] for b in inputs.bench],
        "warnings": inputs.warnings,
        "date": inputs.environment["date"],
        "commit": inputs.environment["git_commit"],
    }


def build_context(inputs: Inputs) -> dict[str, Any]:
    """Everything the templates lay out."""
    res = Results(inputs)
    speed = training_speed_tables(res)
    comparisons = claim_comparisons(res)
    return {
        "title": "spen: energy-based sequence labelling with inference networks",
        "subtitle": "A reproduction of Tu, Pang & Gimpel (2020)",
        "status": status(inputs),
        "main": main_table(res),
        "gain": gain_table(res),
        "global": global_table(res),
        "claims": claims_table(res, comparisons),
        "claims_forest": claims_forest(comparisons),
        "tuning": tuning_table(res),
        "inventory": inventory_table(res),
        "ner": ner_tables(res),
        "curves": learning_curves(res),
        "train_speed": speed[0],
        "train_speed_runs": speed[1],
        "bench": bench_tables(res),
        "pipeline_times": pipeline_time_table(inputs),
        "parameters": parameter_table(res),
        "analysis": analysis_table(res),
        "environment": environment_table(inputs),
        "choices": choices(inputs),
    }
