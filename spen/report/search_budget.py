"""Section 4's search budgets: how many grid points each tuned row tried in each task and
input setting, and its expected best dev score against the number of points tried (the
expected validation performance of Dodge et al. 2019, "Show Your Work"), so that the size of
each row's search is visible beside its result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spen.aggregate import is_number
from spen.evaluation.metrics import decode_counts
from spen.report.cells import DASH, Cell, Table, fmt, text_cell
from spen.report.claims import Difference, difference_verdict, is_speed
from spen.report.paired import PairedTest, comparison_key, keyed_bootstrap
from spen.report.results import Results, in_report_order

#: the numbers of points tried the table shows (a column beyond a grid's size reads a dash)
POINTS_TRIED = (1, 2, 4, 6, 12)


def expected_best(scores: Sequence[float], tried: int) -> float:
    """The expected best of `tried` points drawn at random, with replacement, from a grid whose
    points scored `scores`: Σᵢ v₍ᵢ₎ ((i/N)ⁿ − ((i−1)/N)ⁿ) over the sorted scores."""
    if not scores:
        raise ValueError("expected best of an empty grid")
    if tried < 1:
        raise ValueError(f"points tried: expected a positive number, got {tried}")
    ordered_scores = sorted(scores)
    size = len(ordered_scores)
    return sum(
        value * (((i + 1) / size) ** tried - (i / size) ** tried)
        for i, value in enumerate(ordered_scores)
    )


def _budget_row(record: dict, key: str, label: str) -> list[Cell]:
    """A tuning record's row of the search-budget table, its cells keyed `key`."""
    scores = [p["dev"] for p in record["points"].values() if is_number(p.get("dev"))]
    cells = [
        text_cell(record["task"]),
        text_cell(record["setting"]),
        Cell(label, "label", title=record["model"]),
        Cell(str(len(record["points"])), "num", f"{key}:points"),
        Cell(str(len(scores)), "num", f"{key}:scored"),
    ]
    for tried in POINTS_TRIED:
        if scores and tried <= len(record["points"]):
            cells.append(Cell(fmt(expected_best(scores, tried)), "num", f"{key}:expected{tried}"))
        else:
            cells.append(Cell(DASH, "na", f"{key}:expected{tried}"))
    return cells


def budget_table(res: Results) -> Table | None:
    """Per tuning record: its grid's size, the points with a dev score, and the expected best
    dev score after 1 to 12 points tried; then the same for the 2018 rows' grids retuned with
    as many joint epochs; None without records."""
    records = res.inputs.tuning
    if not records:
        return None
    rows = [
        _budget_row(records[k], f"budget:{k[0]}/{k[1]}-{k[2]}", res.label(k[1]))
        for k in in_report_order(res, records)
    ]
    retuned = res.inputs.joint_epochs_tuning
    rows += [
        _budget_row(
            retuned[k],
            f"budget:{k[0]}/{k[1]}-{k[2]}:joint-epochs",
            f"{res.label(k[1])}, as many joint epochs",
        )
        for k in in_report_order(res, retuned)
    ]
    header = ["task", "setting", "model", "grid points", "with a dev score"]
    header += [f"expected best dev, {n} tried" for n in POINTS_TRIED]
    notes = [
        "The size of each tuned row's search, per task and input setting: its grid's points, "
        "and those with a dev score (a point that diverged before its first epoch ended has "
        "none and is left out of the expectation). Expected best dev, n tried: the expected "
        "best dev score of n points drawn at random, with replacement, from the row's grid "
        "(Dodge et al. 2019's expected validation performance), "
        "Σᵢ v₍ᵢ₎ ((i/N)ⁿ − ((i−1)/N)ⁿ) over the N sorted scores v; a dash where n exceeds "
        "the grid. Rows compared at the same n are compared at the same search budget; a row "
        "whose curve still rises at its grid's size would gain from a larger one.",
    ]
    if retuned:
        notes.append(
            'Rows marked "as many joint epochs": a 2018 row\'s grid tuned again with an epoch '
            "budget and patience twice the others', which its retuning epochs count in, so that "
            "it trains F_Φ with the energy as long as the other rows do (docs/CHOICES.md, "
            '"Retuning"); the verdict panel gives their test scores.'
        )
    return Table("budget", header, rows, notes=notes)


def unequal_budgets(res: Results) -> dict[tuple[str, str], dict[str, int]]:
    """Per (task, setting) whose tuning records tried different numbers of grid points, each
    tuned model's number (the search budgets a comparison there is not equal in)."""
    sizes: dict[tuple[str, str], dict[str, int]] = {}
    for task, model, setting in in_report_order(res, res.inputs.tuning):
        record = res.inputs.tuning[task, model, setting]
        sizes.setdefault((task, setting), {})[model] = len(record["points"])
    return {key: found for key, found in sizes.items() if len(set(found.values())) > 1}


def short_joint_budgets(res: Results) -> dict[tuple[str, int, int], list[str]]:
    """The tuned rows whose chosen settings train their tag-producing network with the energy
    for fewer epochs than the epoch budget (Tu & Gimpel 2018's rows, whose retuning epochs
    count in it), by (task, those joint epochs, the budget); empty without params/."""
    params = res.inputs.params
    if params is None:
        return {}
    short: dict[tuple[str, int, int], list[str]] = {}
    for task, model, setting in in_report_order(res, res.inputs.tuning):
        record = res.inputs.tuning[task, model, setting]
        config = params.run_config(
            task, model, setting, record["seed"], record["profile"], record["overrides"]
        )
        if config.joint_epoch_budget < config.max_epochs:
            rows = short.setdefault((task, config.joint_epoch_budget, config.max_epochs), [])
            if model not in rows:
                rows.append(model)
    return short


@dataclass(frozen=True)
class ClaimAgainstRetrained:
    """A test-score claim whose worse side is a retrained 2018 row, redone against the
    retrained runs: the claimed-better row's committed runs − the retrained ones."""

    claim: str
    better: str
    difference: Difference
    paired: PairedTest | None


@dataclass(frozen=True)
class Retuning:
    """A 2018 row's grid tuned again with as many joint epochs: the point it chose, the point
    the committed grid chose, and the grid's size."""

    chosen: str
    committed: str | None  # None: the row has no committed record
    points: int


@dataclass(frozen=True)
class JointEpochsEffect:
    """A 2018 row retrained with as many joint epochs as the other rows, at its chosen point or
    at the point its grid retuned at that budget chose, against its committed runs: Δ of the
    task's metric ± seed SE, and the paired test where both sides kept their per-sentence
    counts; each claim against the row, redone; and whether the retrained runs scored just what
    the committed ones did (no better dev epoch came after the committed budget)."""

    task: str
    model: str
    setting: str
    difference: Difference
    paired: PairedTest | None
    claims: tuple[ClaimAgainstRetrained, ...] = ()
    unchanged: bool = False  # every retrained run scored what a committed one did
    retuning: Retuning | None = None  # None: retrained at the committed grid's choice


def retuning(res: Results, task: str, model: str, setting: str) -> Retuning | None:
    """The row's grid retuned with as many joint epochs, beside the committed grid's choice;
    None where it was not retuned."""
    record = res.inputs.joint_epochs_tuning.get((task, model, setting))
    if record is None:
        return None
    committed = res.inputs.tuning.get((task, model, setting), {}).get("chosen")
    return Retuning(record["chosen"], committed, len(record["points"]))


def joint_epochs_effects(res: Results) -> list[JointEpochsEffect]:
    """Each row of `res.inputs.joint_epochs` against the row's runs in the summary, in the
    report's order; a row the summary has no runs of is left out."""
    effects = []
    for task, model, setting in in_report_order(res, res.inputs.joint_epochs):
        metric = res.metric(task)
        committed = res.test_values(task, model, setting, metric)
        if not committed:
            continue
        retrained = res.inputs.joint_epochs[task, model, setting]
        values = [float(s[metric]) for s in retrained]
        counts = [decode_counts(s["per_sentence"]) for s in retrained]
        difference = difference_verdict(values, committed)
        paired = keyed_bootstrap(
            counts,
            res.sentence_counts(task, model, setting),
            metric,
            f"joint-epochs/{task}/{setting}/{model}",
        )
        claims = tuple(
            ClaimAgainstRetrained(
                claim["text"],
                claim["better"],
                difference_verdict(res.test_values(task, claim["better"], setting, metric), values),
                keyed_bootstrap(
                    res.sentence_counts(task, claim["better"], setting),
                    counts,
                    metric,
                    "joint-epochs/" + comparison_key(task, setting, claim["better"], model),
                ),
            )
            for claim in res.paper.get("claims", [])
            if claim["worse"] == model
            and not is_speed(claim)
            and task in claim.get("tasks", [task])
            and setting in claim.get("settings", [setting])
            and res.under_protocol(task, claim["better"], setting)
        )
        unchanged = sorted(values) == sorted(committed)
        effects.append(
            JointEpochsEffect(
                task,
                model,
                setting,
                difference,
                paired,
                claims,
                unchanged,
                retuning(res, task, model, setting),
            )
        )
    return effects
