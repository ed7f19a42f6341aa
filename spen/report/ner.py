"""Section 5: NER precision, recall and F1, conlleval-style and strict IOBES, and F1 by
entity type."""

from __future__ import annotations

from typing import Any

from spen.aggregate import is_number
from spen.report.cells import Cell, Table, stat_cell, text_cell
from spen.report.collect import RunData
from spen.report.results import Results, group_key


def ner_tables(res: Results) -> list[Table]:
    """Overall P/R/F1 (conlleval-style and strict) and F1 by entity type of every group scored
    by F1; [] when none is."""
    groups = [g for g in res.sorted_groups() if "f1" in g["test"]]
    if not groups:
        return []
    overall_header = ["task", "model", "setting", "P", "R", "F1", "strict P", "strict R"]
    overall_header += ["strict F1", "F1 − strict F1"]
    overall, per_type = [], []
    types = sorted(
        {t for g in groups for r in res.inputs.group_runs(group_key(g)) for t in _per_type(r)}
    )
    for group in groups:
        task, model, setting = group["task"], group["model"], group["setting"]
        runs = res.inputs.group_runs(group_key(group))
        label = [text_cell(task), Cell(res.label(model), "label", title=model), text_cell(setting)]
        cells = [
            res.group_stat(task, model, setting, m)
            for m in ("precision", "recall", "f1", "strict_precision", "strict_recall")
        ]
        cells.append(res.group_stat(task, model, setting, "strict_f1"))
        gaps = [
            float(r.test["f1"]) - float(r.test["strict_f1"])
            for r in runs
            if is_number(r.test.get("f1")) and is_number(r.test.get("strict_f1"))
        ]
        cells.append(stat_cell(gaps, f"{group_key(group)}/f1-strict"))
        overall.append(label + cells)
        type_cells = []
        for name in types:
            values = [float(_per_type(r)[name]["f1"]) for r in runs if name in _per_type(r)]
            type_cells.append(stat_cell(values, f"{group_key(group)}/type/{name}"))
        per_type.append(label + type_cells)
    support = _supports(res, groups, types)
    return [
        Table(
            "ner-overall",
            overall_header,
            overall,
            notes=[
                "P/R/F1: conlleval-style (BIOES converted to IOB2, seqeval's default mode); "
                "strict: seqeval's strict IOBES mode, which keeps only well-formed predicted "
                "entities: an ill-formed one is neither a hit nor a prediction, so it costs "
                "recall where the conlleval-style reading counts it a hit, and never costs "
                "precision (strict precision can exceed the conlleval-style one)."
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


def _per_type(run: RunData) -> dict[str, Any]:
    """The run's scores by entity type (test.json `per_type`); {} when absent."""
    value = run.test.get("per_type")
    return value if isinstance(value, dict) else {}


def _supports(res: Results, groups: list[dict[str, Any]], types: list[str]) -> str:
    """The gold entities of each type in the test set, from the first run that counts them."""
    for group in groups:
        for run in res.inputs.group_runs(group_key(group)):
            table = _per_type(run)
            if all(t in table and "support" in table[t] for t in types):
                return ", ".join(f"{t} {table[t]['support']}" for t in types)
    return "not recorded"
