"""Section 4: the tuning protocol. Every grid point of every tuning record with its dev score,
the chosen point marked, and params/tuning.yaml in a sentence; then the grids still in
progress (points finished, no record yet)."""

from __future__ import annotations

from typing import Any

from spen import tuning
from spen.aggregate import is_number
from spen.config import ParamsError
from spen.report.cells import DASH, Cell, Table, fmt, text_cell
from spen.report.results import Results, in_report_order, ordered

AXIS_NAMES = {"compound_weight": "λ", "inner_steps": "k"}  # the tuning grids' axes


def tuning_table(res: Results) -> Table | None:
    """Every grid point of every tuning record, the chosen one marked; None without records."""
    records = res.inputs.tuning
    if not records:
        return None
    rows = []
    for task, model, setting in in_report_order(res, records):
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
                text_cell(axes.get("lr_scale", DASH), "num"),
                text_cell(axes.get("compound_weight", DASH), "num"),
                text_cell(axes.get("inner_steps", DASH), "num"),
                Cell(fmt(dev), "num", f"{key}:dev") if is_number(dev) else Cell(DASH, "na"),
                text_cell(epochs, "num"),
                Cell(str(point.get("stopped", "")), "stopped"),
                Cell("✓" if chosen else "", "mark", f"{key}:chosen"),
            ]
            if chosen:
                for cell in cells:
                    cell.cls = f"{cell.cls} chosen".strip()
            rows.append(cells)
    header = ["task", "setting", "model", "point", "optimizer", "lr scale", "λ", "k"]
    header += ["dev score"]
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
        "lr scale: the factor on the optimizer's learning rate (SGD 0.05, Adam 0.001) of "
        "the 12-point grid that gives the BiLSTM, the CRF and the 2018 rows the compound "
        "grid's size (a point at scale 1 is named by its optimizer alone); λ: the weight of "
        "the test-time inference network A_Ψ's terms in the compound "
        "objective (compound_weight); k: updates of the inference networks per minibatch "
        "(inner_steps). Best epoch / epochs: the epoch of the best dev score, and the epochs "
        "trained. A point stopped early says why; one that diverged before its first epoch "
        "ended has no dev score and is never chosen.",
    ]
    at_end = peaked_at_budget(res)
    if at_end:
        notes.append(
            f"{len(at_end)} of {len(records)} chosen points had their best dev score at the last "
            "epoch they trained: still improving when the task's epoch budget (the same for every "
            "row of the task) ran out, so those rows might gain from a larger budget."
        )
    if res.inputs.params is not None:
        notes.append(_protocol_note(res.inputs.params.tuning))
    return Table("tuning", header, rows, notes=notes)


def peaked_at_budget(res: Results) -> list[tuple[str, str, str]]:
    """The tuning records (task, model, setting) whose chosen point had its best dev score at
    the last epoch it trained, not stopped early: the epoch budget ran out while it improved."""
    found = []
    for key in in_report_order(res, res.inputs.tuning):
        record = res.inputs.tuning[key]
        point = record["points"][record["chosen"]]
        epochs = point.get("epochs")
        if epochs and point.get("best_epoch") == epochs and not point.get("stopped"):
            found.append(key)
    return found


def runs_peaked_at_budget(res: Results) -> tuple[int, int]:
    """How many of the runs with a training record had their best dev score at the last
    epoch they trained, not stopped early (the budget ran out while they improved), and how
    many runs have such a record."""
    trained = [r.train for r in res.inputs.runs.values() if r.train and r.train.get("epochs")]
    peaked = [t for t in trained if t.get("best_epoch") == t["epochs"] and not t.get("stopped")]
    return len(peaked), len(trained)


def progress_table(res: Results) -> Table | None:
    """Each grid with finished points but no tuning record yet: how many of its points have
    probed and finished, and the best dev score so far; None when every grid is decided."""
    grids = res.inputs.grids_in_progress
    if not grids:
        return None
    profile = res.inputs.summary.get("profile")
    rows = []
    for task, model, setting in in_report_order(res, grids):
        grid = grids[task, model, setting]
        size = _grid_size(res, model, profile, task)
        key = f"progress:{task}/{model}-{setting}"
        rows.append(
            [
                text_cell(task),
                text_cell(setting),
                Cell(res.label(model), "label", title=model),
                Cell(_share(len(grid.probes), size), "num", f"{key}:probed"),
                Cell(_share(len(grid.points), size), "num", f"{key}:finished"),
                Cell(_best(grid.probes), "num", f"{key}:best_probe"),
                Cell(_best(grid.points), "num", f"{key}:best"),
            ]
        )
    header = ["task", "setting", "model", "probed", "finished", "best probe dev (point)"]
    header += ["best dev so far (point)"]
    notes = [
        "Grids whose points have left their summaries (results/tuning/TASK/points/ and probes/, "
        "versioned as each point finishes) but which have no tuning record yet: nothing is "
        "chosen, and no main run of these rows counts, until every point has finished. Dev "
        "scores of the tuning seed; a probe is a point's first epochs under the task's pruning "
        "rule."
    ]
    return Table("tuning-progress", header, rows, notes=notes)


def _grid_size(res: Results, model: str, profile: str | None, task: str) -> int | None:
    """How many points the model's grid has on `task` in `profile` (default: params' own) by
    params/tuning.yaml; None without params."""
    params = res.inputs.params
    if params is None:
        return None
    try:
        return len(tuning.grid(params, model, profile or params.experiments["profile"], task))
    except ParamsError:
        return None


def _share(done: int, size: int | None) -> str:
    return f"{done} of {size}" if size is not None else str(done)


def _best(summaries: dict[str, dict[str, Any]]) -> str:
    """The best dev score among `summaries` with its point's name; a dash without one."""
    scored = {name: s["dev"] for name, s in summaries.items() if is_number(s.get("dev"))}
    if not scored:
        return DASH
    name = max(scored, key=lambda n: scored[n])
    return f"{fmt(scored[name])} ({name})"


def _grid_order(res: Results, record: dict[str, Any]) -> list[str]:
    """The record's point names in the order of the model's grid (params/tuning.yaml); points
    the grid does not know, or all of them without params, sorted after."""
    order: list[str] = []
    if res.inputs.params is not None:
        try:
            points = tuning.grid(
                res.inputs.params, record["model"], record.get("profile", ""), record["task"]
            )
            order = [p.name for p in points]
        except ParamsError:
            pass
    return ordered(record["points"], order)


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
