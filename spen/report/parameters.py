"""Section 9: trainable parameters of every model, ours beside the paper's |T| and |I|."""

from __future__ import annotations

from spen.report.cells import DASH, NOT_RUN, Cell, Table
from spen.report.results import SETTING_ORDER, TASK_ORDER, Results, ordered


def parameter_table(res: Results) -> Table:
    """Trainable parameters of each model per task and setting, beside the paper's counts."""
    paper = res.paper.get("parameters", {})
    tasks = ordered(set(res.tasks()) | set(paper), TASK_ORDER)
    settings = res.settings() or list(SETTING_ORDER)
    models = res.models(m for table in paper.values() for m in table)
    header = ["model"]
    groups = [("", 1)]
    for task in tasks:
        header += [f"ours, {s} setting" for s in settings] + ["the paper's |T|", "the paper's |I|"]
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
        "embeddings and a GE row's frozen tag LM not counted), in thousands; where no run's "
        "train.json is at hand (the checkpoint directories are DVC's), the count `spen bench` "
        "took of the same model as built (training does not change it; the cell's tooltip "
        "names the source). The paper's |T| counts the parameters trained, |I| those used at "
        "test time (the inference network)."
    ]
    return Table("parameters", header, rows, groups, notes)


def _parameter_cell(res: Results, task: str, model: str, setting: str) -> Cell:
    """Our parameter count of the group: train.json's, else the benchmark's, else why not."""
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
