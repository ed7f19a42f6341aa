"""The verdict panel, above section 1: per claim its best distinct comparison against the tuned
baseline and against the matched controls, in three words (holds, does not hold, inconclusive)
and a sentence; what reproduced and what did not; how much of the matrix is done.

Everything here is read off the rows section 3 computes (`claim_comparisons`, and
`ablation_comparisons` for the recipe's parts), so the panel and section 3 cannot disagree; a
row whose figures repeat an earlier row's (a BiLSTM control that is the tuned baseline's
configuration again, or one claim's control that is another claim's) counts once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spen.report.ablations import Ablation
from spen.report.analysis import trained_energy_decoding
from spen.report.cells import Cell, Table
from spen.report.claims import (
    BASELINE_ROW,
    BENCH_ROW,
    FAILS,
    FAILS_WITHIN,
    HOLDS,
    WITHIN,
    Comparison,
    Difference,
    repeats,
)
from spen.report.paired import (
    FAILS_WORD,
    HOLDS_WORD,
    INCONCLUSIVE,
    LEVEL,
    WORD_CLASS,
    PairedTest,
    holm,
)
from spen.report.results import SETTING_ORDER, TASK_ORDER, Results
from spen.report.search_budget import (
    Retuning,
    joint_epochs_effects,
    short_joint_budgets,
    unequal_budgets,
)
from spen.report.tuning_table import peaked_at_budget, runs_peaked_at_budget

WORDS = (HOLDS_WORD, FAILS_WORD, INCONCLUSIVE)
#: section 3's verdicts in the panel's three words (the rule is the same: Δ against 2 SE)
WORD_OF = {HOLDS: HOLDS_WORD, FAILS: FAILS_WORD, WITHIN: INCONCLUSIVE, FAILS_WITHIN: INCONCLUSIVE}
#: the matrix: the paper's rows, our exact-inference reference, GE(c) and the matched controls
MAIN_ROWS = (
    "bilstm",
    "bilstm_crf",
    "margin_rescaled",
    "perceptron",
    "compound_separated",
    "compound_shared",
    "compound_stacked",
    "compound_stacked_ge_c",
    "control_ce_shared",
    "control_ce_stacked",
)
#: what a matched control leaves out of the claimed-better model, by its name's start
CONTROL_LEAVES_OUT = {
    "control_ce_": "the energy (it trains the same networks by their CE terms alone)",
    "bilstm_": "the energy and the inference networks (a BiLSTM under the same optimizer)",
}
#: the matched controls by kind, as the one-sentence answer names them (by the name's start)
CONTROL_KINDS = {
    "control_ce_": "the CE-only controls (the same networks, k and optimizer, no energy)",
    "bilstm_": "the untuned BiLSTM under the compound row's optimizer",
}
ENERGY_CONTROL = "control_ce_"


def verdict_word(row: Comparison | Ablation) -> str | None:
    """The row's verdict in the panel's words: its paired test's where it has one, else Δ
    against 2 SE; None where section 3 cannot tell (a side not run, one seed, or not run
    under the tuning protocol)."""
    if row.difference.se is None:
        return None
    if row.paired is not None:
        return row.paired.word
    return WORD_OF.get(row.difference.verdict)


def where(row: Comparison | Ablation) -> str:
    """`POS paper`: the row's task and input setting."""
    return f"{row.task.upper()} {row.setting}"


def _retuning_text(retuning: Retuning | None) -> str:
    """` (its 12 points retuned: sgd_r2 again)`, or with the other point it chose, or ""."""
    if retuning is None:
        return ""
    if retuning.committed is None:
        choice = retuning.chosen
    elif retuning.chosen == retuning.committed:
        choice = f"{retuning.chosen} again"
    else:
        choice = f"{retuning.chosen}, not {retuning.committed}"
    return f" (its {retuning.points} points retuned: {choice})"


def _joint_epochs_measured(res: Results) -> str:
    """` Retrained with as many joint epochs …`: each such row's Δ over its committed runs, the
    point its retuned grid chose, and each claim against it redone ("" when none was
    retrained)."""
    effects = joint_epochs_effects(res)
    if not effects:
        return ""
    found = []
    for e in effects:
        text = f"{_short(res, e.model)} {e.task.upper()} {e.setting}{_retuning_text(e.retuning)} "
        if e.unchanged:
            found.append(text + "the same test scores (no better dev epoch past the budget)")
            continue
        text += _difference_text(e.difference, e.paired)
        redone = [
            f"{_short(res, c.better)} over the retrained runs "
            + _difference_text(c.difference, c.paired)
            for c in e.claims
        ]
        if redone:
            text += f" ({'; '.join(redone)})"
        found.append(text)
    at = (
        "at the point their grid retuned at that budget chose (at their committed choice "
        "where not retuned)"
        if any(e.retuning is not None for e in effects)
        else "at their chosen points"
    )
    return (
        " Retrained with as many joint epochs (profiles joint_epochs_pos and joint_epochs_ner, "
        f"3 seeds), {at}, they score against their runs here: {'; '.join(found)}."
    )


def _difference_text(diff: Difference, paired: PairedTest | None, digits: int = 2) -> str:
    """`+0.45 ± 0.28, paired p 0.175`, or the Δ alone with too few seeds for an SE."""
    if diff.delta is None:
        return "not measured"
    if diff.se is None:
        return f"{diff.delta:+.{digits}f} (too few seeds for an SE)".replace("-", "−")
    text = f"{diff.delta:+.{digits}f} ± {diff.se:.{digits}f}".replace("-", "−")
    if paired is not None:
        text += f", paired p {paired.p_text}"
    return text


def delta_text(row: Comparison) -> str:
    """`+2.02 ± 0.18` (speed: one decimal, sentences/s), and the paired test's p where the
    row has one: `+2.02 ± 0.18, paired p 0.001`."""
    return _difference_text(row.difference, row.paired, 1 if row.speed else 2)


@dataclass
class Side:
    """One side of a claim's verdict: its distinct comparisons with a verdict, those that
    cannot tell yet, and those that repeat another row."""

    rows: list[Comparison] = field(default_factory=list)
    pending: list[Comparison] = field(default_factory=list)
    repeated: list[tuple[Comparison, Comparison]] = field(default_factory=list)

    @property
    def best(self) -> Comparison | None:
        """The comparison most in the claim's favour: the largest Δ / SE."""
        return max(self.rows, key=lambda r: r.difference.delta / r.difference.se, default=None)

    def count(self, word: str) -> int:
        return sum(verdict_word(r) == word for r in self.rows)

    def tally(self) -> str:
        """`holds 2 · inconclusive 2 of 4` (and how many cannot tell yet)."""
        if not self.rows:
            if self.repeated:
                rows = _n(len(self.repeated), "row repeats", "rows repeat")
                return f"none distinct: {rows} one counted already"
            return "not measured yet" if self.pending else "—"
        parts = [f"{word} {self.count(word)}" for word in WORDS if self.count(word)]
        text = f"{' · '.join(parts)} of {len(self.rows)}"
        if self.pending:
            text += f" ({len(self.pending)} not measured yet)"
        return text

    def listing(self, res: Results, name_other: bool) -> str:
        """`holds on POS paper (+2.02 ± 0.18); inconclusive on …`, by verdict word."""
        groups = []
        for word in WORDS:
            rows = [r for r in self.rows if verdict_word(r) == word]
            if rows:
                items = [
                    f"{where(r)}{' vs ' + _short(res, r.other) if name_other else ''} "
                    f"({delta_text(r)})"
                    for r in rows
                ]
                groups.append(f"{word} on {', '.join(items)}")
        return "; ".join(groups)


@dataclass
class ClaimVerdict:
    """A claim's two sides: against its tuned baseline (or, for speed, the benchmarked other
    model) and against its matched controls."""

    claim: dict[str, Any]
    baseline: Side
    control: Side

    @property
    def speed(self) -> bool:
        return self.claim.get("measure", "test") == "speed"

    @property
    def id(self) -> str:
        return f"{self.claim['better']}-over-{self.claim['worse']}"


def claim_verdicts(comparisons: Sequence[Comparison]) -> list[ClaimVerdict]:
    """Each claim's comparisons, sorted into its two sides, distinct rows only."""
    repeated = repeats(comparisons)
    verdicts: dict[int, ClaimVerdict] = {}
    for row in comparisons:
        verdict = verdicts.setdefault(id(row.claim), ClaimVerdict(row.claim, Side(), Side()))
        side = verdict.baseline if row.kind in (BASELINE_ROW, BENCH_ROW) else verdict.control
        if row.key in repeated:
            side.repeated.append((row, repeated[row.key]))
        elif verdict_word(row) is None:
            side.pending.append(row)
        else:
            side.rows.append(row)
    return list(verdicts.values())


def _short(res: Results, model: str) -> str:
    """The model's display name without its parenthesis; a label that describes the row
    (`compound, CE, no truncation: stacked`) gives way to the model's name, hyphenated."""
    label = res.label(model).partition(" (")[0]
    return model.replace("_", "-") if ":" in label else label


def _best_cell(res: Results, side: Side, key: str, name_other: bool) -> Cell:
    best = side.best
    if best is None:
        return Cell("—", "na", key)
    text = f"{delta_text(best)} ({where(best)}"
    text += f", {_short(res, best.other)})" if name_other else ")"
    return Cell(text, "num " + WORD_CLASS[verdict_word(best) or INCONCLUSIVE], key)


def _tally_cell(side: Side, key: str) -> Cell:
    cls = "missing" if not side.rows else WORD_CLASS[HOLDS_WORD] if side.count(HOLDS_WORD) else ""
    return Cell(side.tally(), cls, key)


def sentence(res: Results, verdict: ClaimVerdict) -> str:
    """The claim's verdict in plain words, from its distinct comparisons."""
    base, control = verdict.baseline, verdict.control
    other = _short(res, verdict.claim["worse"])
    against = f"the benchmarked {other}" if verdict.speed else f"the tuned {other}"
    if not base.rows:
        parts = [f"Not measured yet against {against} (section 3 says why)."]
    else:
        parts = [f"Against {against}: {base.listing(res, False)}."]
    if control.rows:
        parts.append(f"Against the matched control: {control.listing(res, True)}.")
        if base.count(HOLDS_WORD) and not control.count(HOLDS_WORD):
            leaves = sorted({_leaves_out(r.other) for r in control.rows})
            parts.append(
                f'No distinct matched control is beaten ("{HOLDS_WORD}"), so the gain over '
                f"{other} is not shown to come from {' or '.join(leaves)}."
            )
    elif control.repeated:
        repeated = list(dict.fromkeys(where(r) for r, _ in control.repeated))
        parts.append(
            f"Its matched controls repeat rows counted already ({', '.join(repeated)}): no "
            "distinct control."
        )
    elif control.pending:
        parts.append("Its matched controls are not measured yet.")
    return " ".join(parts)


def _no_control(verdict: ClaimVerdict) -> str | None:
    """Why the claim has no control column: a speed claim, or one whose baseline is its own
    matched control; None when it names controls."""
    if verdict.speed:
        return "no control (speed)"
    if not verdict.claim.get("controls"):
        return "its baseline is its control"
    return None


def _leaves_out(model: str) -> str:
    return next((v for k, v in CONTROL_LEAVES_OUT.items() if model.startswith(k)), model)


def verdict_table(res: Results, verdicts: Sequence[ClaimVerdict]) -> Table:
    """One row per claim: its best distinct comparison and tally on each side, a sentence."""
    header = ["claim", "vs tuned baseline: best Δ ± SE", "vs tuned baseline: verdicts"]
    header += ["vs matched control: best Δ ± SE", "vs matched control: verdicts", "in words"]
    rows = []
    for verdict in verdicts:
        key = f"verdict:{verdict.id}"
        control_best = _best_cell(res, verdict.control, f"{key}:control:best", True)
        control_tally = _tally_cell(verdict.control, f"{key}:control:tally")
        if (why := _no_control(verdict)) is not None:
            control_best = Cell("—", "na", f"{key}:control:best")
            control_tally = Cell(why, "missing", f"{key}:control:tally")
        rows.append(
            [
                Cell(verdict.claim["text"], "label"),
                _best_cell(res, verdict.baseline, f"{key}:baseline:best", False),
                _tally_cell(verdict.baseline, f"{key}:baseline:tally"),
                control_best,
                control_tally,
                Cell(sentence(res, verdict), "words", f"{key}:sentence"),
            ]
        )
    return Table("verdict", header, rows)


def matrix(res: Results) -> tuple[Table, int, int]:
    """The 60 cells (task × input setting × MAIN_ROWS): whether each is done under the
    protocol with every seed of the run profile; with the count done and the total."""
    seeds = _profile_seeds(res)
    columns = [(t, s) for t in TASK_ORDER for s in SETTING_ORDER]
    header = ["row"] + [f"{t.upper()} {s}" for t, s in columns]
    rows, done = [], 0
    for model in MAIN_ROWS:
        row = [Cell(_short(res, model), "label", title=model)]
        for task, setting in columns:
            key = f"matrix:{task}/{model}-{setting}"
            n = len(res.runs(task, model, setting))
            if res.group(task, model, setting) is None:
                row.append(Cell("·", "na", key, "not run"))
            elif not res.under_protocol(task, model, setting):
                title = "run before the tuning protocol or its current grid"
                row.append(Cell("†", "na", key, title))
            elif seeds is not None and n < seeds:
                row.append(Cell(f"{n}/{seeds}", "within", key, f"{n} of {seeds} seeds"))
            else:
                done += 1
                row.append(Cell("✓", "up", key, f"done under the protocol, {n} seeds"))
        rows.append(row)
    notes = [
        "✓ done under the tuning protocol with every seed of the run profile; n/N: N − n "
        "seeds to go; †: its runs predate the protocol, or the grid params/ now names for the "
        "row (they reach no verdict); ·: not run."
    ]
    total = len(MAIN_ROWS) * len(columns)
    return Table("matrix", header, rows, notes=notes), done, total


def _profile_seeds(res: Results) -> int | None:
    """The number of seeds a cell needs: the run profile's, else the most any group has."""
    params, profile = res.inputs.params, res.inputs.summary.get("profile")
    if params is not None and profile is not None:
        seeds = params.profiles.get(profile, {}).get("seeds")
        if seeds:
            return len(seeds)
    return max((len(g["seeds"]) for g in res.groups.values()), default=None)


def verdict_panel(
    res: Results, comparisons: Sequence[Comparison], ablations: Sequence[Ablation] = ()
) -> dict[str, Any]:
    """The panel: the claims' table, what reproduced and what did not (the recipe's parts
    against its ablations among it), the rule, the multiplicity, the energies decoded alone,
    and the matrix."""
    verdicts = claim_verdicts(comparisons)
    table = verdict_table(res, verdicts)
    grid, done, total = matrix(res)
    tests = [r for v in verdicts if not v.speed for s in (v.baseline, v.control) for r in s.rows]
    speeds = [r for v in verdicts if v.speed for r in v.baseline.rows]
    pending = sum(len(s.pending) for v in verdicts for s in (v.baseline, v.control))
    repeated = [pair for v in verdicts for s in (v.baseline, v.control) for pair in s.repeated]
    return {
        "headline": headline(res, verdicts),
        "table": table,
        "findings": _findings(res, verdicts, ablations),
        "rule": (
            "Verdicts, for Δ = claimed-better − other (means over seeds): where both sides "
            "kept per-sentence test counts, the paired test of section 3 (a bootstrap over "
            f'test sentences pooled with the seed spread): "{HOLDS_WORD}" when its '
            f'{LEVEL:.0%} interval lies above 0, "{FAILS_WORD}" below 0, "{INCONCLUSIVE}" '
            f'across it; elsewhere Δ against its seed SE: "{HOLDS_WORD}" when Δ > 2 SE, '
            f'"{FAILS_WORD}" when Δ < −2 SE, "{INCONCLUSIVE}" in between (section 3\'s two '
            '"within 2 SE" verdicts). A comparison with a side not run, a single seed, or a '
            "side not run under the tuning protocol has none yet. Best: the distinct "
            "comparison with the largest Δ / SE, the one most in the claim's favour."
        ),
        "multiplicity": _multiplicity(tests, speeds, pending, repeated, len(comparisons)),
        "matrix": grid,
        "matrix_line": (
            f"The matrix: {done} of {total} cells done under the protocol (task × input setting "
            f"× the {len(MAIN_ROWS)} main rows: {', '.join(MAIN_ROWS)})."
        ),
        "repeated": repeated,
        "distinct": tests + speeds,
    }


def headline(res: Results, verdicts: Sequence[ClaimVerdict]) -> str:
    """The answer in one sentence (inline Markdown), counted from the distinct comparisons on
    test scores: how many hold against the tuned baselines, how many against the matched
    controls, and how the learned energies decode alone."""
    tests = [v for v in verdicts if not v.speed]
    base = [r for v in tests for r in v.baseline.rows]
    if not base:
        return "**In one sentence:** no claim on test scores has a verdict yet."
    held = sum(verdict_word(r) == HOLDS_WORD for r in base)
    text = (
        f"**In one sentence:** the paper's claims on test scores hold against their tuned "
        f"baselines in {held} of {len(base)} distinct comparisons"
    )
    controls = [r for v in tests for r in v.control.rows]
    for start, kind in CONTROL_KINDS.items():
        rows = [r for r in controls if r.other.startswith(start)]
        if rows:
            beaten = sum(verdict_word(r) == HOLDS_WORD for r in rows)
            text += f"; against {kind} in {beaten} of {len(rows)}"
            if start == ENERGY_CONTROL and not beaten:
                text += ", so no gain is shown to come from the energy"
    energy = trained_energy_decoding(res)
    below = sum(e < a for a, e in energy)
    if energy:
        text += (
            f"; and the learned energies, decoded alone, score below their inference networks "
            f"in {below} of {len(energy)} groups"
        )
    return text + "."


def _findings(
    res: Results, verdicts: Sequence[ClaimVerdict], ablations: Sequence[Ablation]
) -> list[str]:
    """What reproduced and what did not, in a few sentences (inline Markdown): what the
    matched controls show first, then the claims against their tuned baselines, the recipe's
    parts against its ablations, then the energies decoded alone."""
    tests = [v for v in verdicts if not v.speed]
    lines = []
    held = [(v, r) for v in verdicts for r in v.baseline.rows if verdict_word(r) == HOLDS_WORD]
    missed = [(v, r) for v in verdicts for r in v.baseline.rows if verdict_word(r) != HOLDS_WORD]
    controls = [r for v in tests for r in v.control.rows]
    if controls:
        matched = [
            r for r in controls if r.difference.delta is not None and r.difference.delta <= 0
        ]
        line = (
            "**The matched controls** (the same networks, k and optimizer, one thing left "
            f"out): {_counts(controls)} of {len(controls)} distinct comparisons; the control "
            f"matches or beats the claimed model (Δ ≤ 0) in {len(matched)}"
        )
        if matched:
            items = [
                f"{_short(res, r.claim['better'])} {where(r)} {delta_text(r)}" for r in matched
            ]
            line += f" ({', '.join(items)})"
        line += "."
        energy_controls = [r for r in controls if r.other.startswith(ENERGY_CONTROL)]
        if energy_controls and not any(verdict_word(r) == HOLDS_WORD for r in energy_controls):
            line += (
                " **So no gain over the tuned baseline is shown to come from the energy: no "
                "row beats its CE-only control.**"
            )
        alone = [v.claim["text"] for v in tests if v.control.repeated and not v.control.rows]
        if alone:
            line += f" Without a distinct matched control: {'; '.join(alone)}."
        lines.append(line)
    for label, pairs in (
        ("Reproduced against the tuned baseline (holds)", held),
        ("Not reproduced against the tuned baseline (inconclusive or does not hold)", missed),
    ):
        if pairs:
            lines.append(f"**{label}:** {_by_claim(pairs)}.")
    recipe = _recipe_parts(res, ablations)
    if recipe:
        lines.append(recipe)
    unequal = unequal_budgets(res)
    if unequal:
        where_unequal = ", ".join(
            f"{task.upper()} {setting} ({min(found.values())} to {max(found.values())} points)"
            for (task, setting), found in unequal.items()
        )
        lines.append(
            f"**Unequal search budgets remain** in {where_unequal}: there the tuned rows tried "
            "different numbers of grid points (section 4's search budgets), and a row with "
            "the larger grid keeps that edge in its verdicts."
        )
    short = short_joint_budgets(res)
    if short:
        where_short = " and ".join(
            f"{joint} of {task.upper()}'s {budget} ({', '.join(_short(res, m) for m in models)})"
            for (task, joint, budget), models in short.items()
        )
        lines.append(
            "**Fewer joint epochs for the 2018 rows:** their epoch budget also counts the "
            f"epochs that retune A_Ψ alone, so they train F_Φ with the energy for {where_short}, "
            'where every other row trains for all of them (docs/CHOICES.md, "Retuning").'
            + (_joint_epochs_measured(res) or " Their verdicts carry that.")
        )
    binding = peaked_at_budget(res)
    if binding:
        rows = ", ".join(f"{t.upper()} {s} {_short(res, m)}" for t, m, s in binding)
        peaked, trained = runs_peaked_at_budget(res)
        lines.append(
            f"**The epoch budget binds** for {len(binding)} of {len(res.inputs.tuning)} tuned "
            f"rows: their chosen point was still improving at its last epoch ({rows}), as "
            f"were {peaked} of {trained} runs; their verdicts may change with a larger budget "
            "(section 4)."
        )
    energy = trained_energy_decoding(res)
    if energy:
        below = [(a, e) for a, e in energy if e < a]
        gaps = [a - e for a, e in below]
        line = (
            "**The energies decoded alone** (Viterbi on the learned energy, section 10) score "
            f"below their inference networks in {len(below)} of {len(energy)} groups whose "
            "energy is trained"
        )
        if gaps:
            line += f", by {min(gaps):.1f} to {max(gaps):.1f} points"
        lines.append(line + ".")
    return lines


def _recipe_parts(res: Results, ablations: Sequence[Ablation]) -> str | None:
    """`**The recipe's parts** …: the CE terms: POS paper +2.11 ± 0.10 (holds), …`, from the
    ablations with a Δ and an SE; None when none has one."""
    measured = [a for a in ablations if a.difference.se is not None]
    if not measured:
        return None
    parts: dict[str, list[Ablation]] = {}
    for row in measured:
        parts.setdefault(row.part, []).append(row)
    items = "; ".join(
        f"{part}: "
        + ", ".join(
            f"{where(a)} {_difference_text(a.difference, a.paired, 2)} ({verdict_word(a)})"
            for a in rows
        )
        for part, rows in parts.items()
    )
    recipes = sorted({_short(res, a.recipe) for a in measured})
    return (
        f"**The recipe's parts** ({', '.join(recipes)} against its ablations, section 3: each "
        "leaves one part out and runs at the recipe's tuned point, which leans towards the "
        "recipe; Δ = recipe − ablation, and holds means the part helps; not counted above): "
        f"{items}."
    )


def _counts(rows: Sequence[Comparison]) -> str:
    parts = [
        f"{word} in {n}" for word in WORDS if (n := sum(verdict_word(r) == word for r in rows))
    ]
    return ", ".join(parts) or "none"


def _by_claim(pairs: Sequence[tuple[ClaimVerdict, Comparison]]) -> str:
    """`claim A on POS paper (+2.02 ± 0.18), …; claim B on …`."""
    order: dict[str, list[Comparison]] = {}
    for verdict, row in pairs:
        order.setdefault(verdict.claim["text"], []).append(row)
    return "; ".join(
        f"{text}: {', '.join(f'{where(r)} ({delta_text(r)})' for r in rows)}"
        for text, rows in order.items()
    )


def _multiplicity(
    tests: Sequence[Comparison],
    speeds: Sequence[Comparison],
    pending: int,
    repeated: Sequence[tuple[Comparison, Comparison]],
    total: int,
) -> str:
    """How many distinct comparisons the panel makes, and what 2 SE means with their seeds."""
    seeds = sorted({len(v) for r in tests for v in (r.better_values, r.other_values)})
    if not tests and not speeds:
        return (
            f"No comparison has a verdict yet ({total} rows in section 3, {pending} waiting for "
            "runs under the protocol)."
        )
    seed_text = (
        f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}" if seeds else "no"
    )
    text = (
        f"Multiplicity: {len(tests) + len(speeds)} distinct comparisons have a verdict "
        f"({len(tests)} on test scores, {len(speeds)} on speed), out of {total} rows in section "
        f"3: {_n(len(repeated), 'row repeats', 'rows repeat')} another row's figures and "
        f"{'is' if len(repeated) == 1 else 'are'} counted once"
    )
    if repeated:
        own = sum(r.claim is e.claim for r, e in repeated)
        reasons = []
        if own:
            reasons.append(
                f"{_n(own, 'control', 'controls')} with the same figures as the claim's baseline"
            )
        if len(repeated) > own:
            others = _n(len(repeated) - own, "control", "controls")
            reasons.append(f"{others} an earlier claim compares with already")
        text += f" ({', '.join(reasons)})"
    text += (
        f", {pending} cannot tell yet. With {seed_text} seeds a side, 2 SE is the detection "
        "threshold: a smaller Δ is not told from seed-to-seed noise, and the SE is itself "
        f"uncertain; at Δ = 2 SE the one-sided p is about {LOW_P:.2f} to {HIGH_P:.2f} (Welch's "
        f"t, {HIGH_DF} to {LOW_DF} degrees of freedom), so among {len(tests)} test-score "
        f"comparisons with no true difference about {LOW_P * len(tests):.1f} to "
        f'{HIGH_P * len(tests):.1f} would read "{HOLDS_WORD}" by chance.'
    )
    return text + _holm_text(tests)


def _holm_text(tests: Sequence[Comparison]) -> str:
    """What Holm's rule keeps of the distinct paired tests' "holds" at a family-wise level."""
    paired = [r for r in tests if r.paired is not None]
    if not paired:
        return ""
    rejected = holm([r.paired.p for r in paired if r.paired is not None])
    held = [r for r in paired if r.paired is not None and r.paired.word == HOLDS_WORD]
    kept = [r for r, reject in zip(paired, rejected, strict=True) if reject and r.paired.delta > 0]
    return (
        f" {len(paired)} of these comparisons have the paired test: {len(held)} read "
        f'"{HOLDS_WORD}" one at a time; with Holm\'s step-down rule over the {len(paired)} '
        f"paired p-values (family-wise level {1 - LEVEL:.0%}), {len(kept)} "
        f"{'stays' if len(kept) == 1 else 'stay'} significant in the claim's direction"
        + (f" ({', '.join(f'{_claim_short(r)} {where(r)}' for r in kept)})." if kept else ".")
    )


def _claim_short(row: Comparison) -> str:
    """`compound-stacked vs control-ce-stacked`: the row's two models, hyphenated."""
    return f"{row.claim['better'].replace('_', '-')} vs {row.other.replace('_', '-')}"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def t_upper_tail(t: float, df: int, steps: int = 2000) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom, t ≥ 0 (Simpson's rule on the
    density from 0 to t)."""
    norm = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))

    def density(x: float) -> float:
        return norm * (1 + x * x / df) ** (-(df + 1) / 2)

    h = t / steps
    inner = sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    return 0.5 - h / 3 * (density(0.0) + inner + density(t))


#: Welch's degrees of freedom with 3 seeds a side: 2 (one side's spread dominates) to 4
LOW_DF, HIGH_DF = 4, 2
LOW_P, HIGH_P = t_upper_tail(2.0, LOW_DF), t_upper_tail(2.0, HIGH_DF)
