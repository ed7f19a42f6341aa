"""The table of all runs: per task, model and setting its seeds, headline test figure and
training summary (best dev score and epoch, epochs, minutes)."""

from __future__ import annotations

from spen.report.cells import DASH, Cell, Table, stat, text_cell
from spen.report.comparison import BEFORE_PROTOCOL
from spen.report.results import Results


def inventory_table(res: Results) -> Table:
    """Every group of runs: seeds, headline test figure, best dev score and epoch, epochs and
    training minutes."""
    header = ["task", "model", "setting", "seeds", "test (headline)", "best dev", "best epoch"]
    header += ["epochs", "train minutes", "ran on"]
    rows = []
    for group in res.sorted_groups():
        task, model, setting = group["task"], group["model"], group["setting"]
        metric = res.metric(task)
        train = group["train"]
        seconds = train.get("seconds") or {}
        minutes = {k: None if v is None else v / 60 for k, v in seconds.items()}
        test = res.group_stat(task, model, setting, metric)
        if res.predates_protocol(task, model, setting):
            test.text += f" {BEFORE_PROTOCOL}"
        rows.append(
            [
                text_cell(task),
                Cell(res.label(model), "label", title=model),
                text_cell(setting),
                text_cell(", ".join(map(str, group["seeds"])), "num"),
                test,
                _summary_stat(train.get("best_dev"), len(group["seeds"])),
                _summary_stat(train.get("best_epoch"), len(group["seeds"]), 1),
                _summary_stat(train.get("epochs"), len(group["seeds"]), 1),
                _summary_stat(minutes, len(group["seeds"]), 1),
                text_cell(", ".join(res.devices(task, model, setting))),
            ]
        )
    notes = [
        "Headline test metric: token accuracy (POS), conlleval-style entity F1 (NER).",
        f"{BEFORE_PROTOCOL}: runs made before the tuning protocol (section 1's note says how they "
        "differ).",
        "Ran on: CPU (this project's machines), or the GPU a device batch names "
        "(results/device/batch-*.json); GPU runs are not bit-identical to CPU runs "
        "(docs/CHOICES.md, Determinism).",
    ]
    return Table("runs", header, rows, notes=notes)


def _summary_stat(stats: dict[str, float | None] | None, n: int, digits: int = 2) -> Cell:
    """A cell of the summary's mean ± std over `n` seeds; a dash without a mean."""
    if not stats or stats.get("mean") is None:
        return Cell(DASH, "na")
    return stat(stats["mean"], stats["std"], n, digits=digits)
