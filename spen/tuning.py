"""The tuning protocol (params/tuning.yaml): grid points, pruning, the choice on dev.

Every tuned model trains each point of its grid once (the protocol's seed). Where the task has
a pruning rule, every point first trains its probe epochs and `prune` keeps the best few to go
on. `choose` picks the point with the best dev score and `chosen_overrides` hands its settings
to the main runs of that model and of the models that follow it. Nothing here reads a test
score.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spen.config import Params, ParamsError
from spen.io import read_json
from spen.run_config import RETUNING_OBJECTIVES

#: how each axis is written in a point's name: `sgd_l10_k5`, `adam_r0p5`
AXIS_PREFIX = {"optimizer": "", "lr_scale": "r", "compound_weight": "l", "inner_steps": "k"}
#: an axis value a point's name leaves out (a learning-rate scale of 1 is the optimizer's own)
UNNAMED = {"lr_scale": 1}


@dataclass(frozen=True)
class GridPoint:
    """One setting of a grid's axes, e.g. optimizer sgd, compound_weight 10, inner_steps 5."""

    axes: tuple[tuple[str, Any], ...]

    @property
    def name(self) -> str:
        """`sgd_l10_k5`: the point's directory and wildcard."""
        return "_".join(
            f"{AXIS_PREFIX[axis]}{_number(value)}"
            for axis, value in self.axes
            if not (axis in UNNAMED and value == UNNAMED[axis])
        )

    def overrides(self, params: Params, kind: str, objective: str | None) -> dict[str, Any]:
        """The run-configuration keys this point sets for a model of `kind` (and `objective`)."""
        out: dict[str, Any] = {}
        axes = dict(self.axes)
        for axis, value in self.axes:
            if axis in ("optimizer", "lr_scale"):
                continue
            out[axis] = value
        if "optimizer" in axes:
            spec = dict(params.tuning["optimizers"][axes["optimizer"]])
            if axes.get("lr_scale", 1) != 1:  # the optimizer's learning rate, scaled
                spec["lr"] = spec["lr"] * axes["lr_scale"]
            for key in optimizer_keys(kind, objective):
                out[key] = spec
        return out


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(".", "p")


def optimizer_keys(kind: str, objective: str | None) -> tuple[str, ...]:
    """The configuration keys of the optimizer that trains the tag-producing networks."""
    if kind in ("local", "crf"):
        return ("optimizer",)
    if objective in RETUNING_OBJECTIVES:
        return ("inference_optimizer", "retune_optimizer")
    return ("inference_optimizer",)


def grid_name(params: Params, model: str, task: str) -> str:
    """The grid a tuned `model` is tuned on for `task`: `tuned_by_task`'s, else `tuned`'s."""
    by_task = (params.tuning.get("tuned_by_task") or {}).get(task) or {}
    name = by_task.get(model) or params.tuning["tuned"].get(model)
    if name is None:
        raise ParamsError(f"params/tuning.yaml: '{model}' is not a tuned model (see 'tuned')")
    return str(name)


def grid(params: Params, model: str, profile: str, task: str) -> list[GridPoint]:
    """The points a tuned `model` trains on `task` under `profile` (its grid, narrowed by the
    profile)."""
    name = grid_name(params, model, task)
    axes = params.tuning["grids"][name]
    narrow = params.profile(profile).get("grid", {})
    values = []
    for axis, choices in axes.items():
        kept = [v for v in choices if v in narrow[axis]] if axis in narrow else list(choices)
        if not kept:
            raise ParamsError(
                f"params/profiles.yaml: {profile}.grid.{axis} keeps none of grid '{name}''s "
                f"values {choices}"
            )
        values.append([(axis, v) for v in kept])
    return [GridPoint(tuple(combo)) for combo in itertools.product(*values)]


def point(params: Params, model: str, profile: str, name: str, task: str) -> GridPoint:
    """The grid point of `model` on `task` called `name`."""
    points = {p.name: p for p in grid(params, model, profile, task)}
    if name not in points:
        raise ParamsError(
            f"params/tuning.yaml: '{name}' is not a grid point of '{model}'; "
            f"its points: {', '.join(points)}"
        )
    return points[name]


def leader(params: Params, model: str) -> str | None:
    """The tuned model whose choice `model`'s main runs take: itself, the one it follows, or
    None for a model the protocol does not tune."""
    if model in params.tuning["tuned"]:
        return model
    return params.tuning["follows"].get(model)


def choose(points: dict[str, dict[str, Any]]) -> str:
    """The name of the point with the best dev score (the first of equals); `points` maps a
    name to its training summary (`dev`: the best dev score over its epochs).

    A point whose training diverged before its first epoch ended (`dev` None) is never chosen.
    """
    best_name, best_dev = "", -math.inf
    for name, summary in points.items():
        dev = summary["dev"]
        if dev is None:
            continue
        if not isinstance(dev, int | float) or not math.isfinite(dev):
            raise ValueError(f"grid point '{name}': dev score {dev!r} is not a finite number")
        if dev > best_dev:
            best_name, best_dev = name, dev
    if not best_name:
        raise ValueError("no grid point to choose from: every one diverged or none was given")
    return best_name


def pruning(params: Params, task: str, model: str, profile: str) -> dict[str, int] | None:
    """The task's pruning rule (`probe_epochs`, `keep`) for `model`'s grid, or None when the
    task has none or the grid has no more than `keep` points."""
    rule = params.tuning["pruning"].get(task)
    if rule is None or len(grid(params, model, profile, task)) <= rule["keep"]:
        return None
    return dict(rule)


def prune(probes: dict[str, float | None], keep: int) -> list[str]:
    """The `keep` points (in `probes`' order) with the best probe dev scores, the earlier point
    of the grid first among equals; a point that diverged in its probe (None) comes last."""
    order = {name: i for i, name in enumerate(probes)}
    ranked = sorted(probes, key=lambda n: (probes[n] is None, -(probes[n] or 0.0), order[n]))
    kept = set(ranked[:keep])
    return [name for name in probes if name in kept]


def pruning_record(
    params: Params, task: str, model: str, setting: str, profile: str, probes: list[Path]
) -> dict[str, Any]:
    """Which points of MODEL's grid go on after the probe: every point's probe dev score and
    the kept ones. `probes` are the points' probe summaries, each named after its point."""
    rule = pruning(params, task, model, profile)
    if rule is None:
        raise ValueError(f"{task}/{model}-{setting}: no pruning rule applies to this grid")
    by_name = {path.stem: path for path in probes}
    scores: dict[str, float | None] = {}
    for grid_point in grid(params, model, profile, task):
        if grid_point.name not in by_name:
            raise FileNotFoundError(
                f"grid point '{grid_point.name}' of {task}/{model}-{setting}: no probe given"
            )
        scores[grid_point.name] = read_json(by_name[grid_point.name])["dev"]
    return {**rule, "probe_dev": scores, "kept": prune(scores, rule["keep"])}


def pruned_after(record_path: Path, point: str) -> int | None:
    """The epochs after which `point` stops, by a pruning record: its probe epochs if it was
    pruned, None if it goes on."""
    record = read_json(record_path)
    if point not in record.get("probe_dev", {}):
        raise ValueError(f"{record_path}: no grid point '{point}' in this pruning record")
    return None if point in record["kept"] else int(record["probe_epochs"])


def selection(
    params: Params, task: str, model: str, setting: str, profile: str, summaries: list[Path]
) -> dict[str, Any]:
    """The tuning record of MODEL in SETTING on TASK: every point's settings and dev figures,
    and the chosen point. `summaries` are the points' training summaries, one per point, each
    named after its point."""
    by_name = {path.stem: path for path in summaries}
    config = params.run_config(task, model, setting, params.tuning["seed"], profile)
    points: dict[str, dict[str, Any]] = {}
    for grid_point in grid(params, model, profile, task):
        path = by_name.get(grid_point.name)
        if path is None:
            raise FileNotFoundError(
                f"grid point '{grid_point.name}' of {task}/{model}-{setting}: no summary given"
            )
        summary = read_json(path)
        points[grid_point.name] = {
            "axes": dict(grid_point.axes),
            "overrides": grid_point.overrides(params, config.kind, config.objective),
            "dev": summary["dev"],
            "best_epoch": summary["best_epoch"],
            "epochs": summary["epochs"],
            **({"stopped": summary["stopped"]} if "stopped" in summary else {}),
        }
    extra = sorted(set(by_name) - set(points))
    if extra:
        raise ValueError(f"{task}/{model}-{setting}: not grid points of '{model}': {extra}")
    chosen = choose(points)
    return {
        "task": task,
        "model": model,
        "setting": setting,
        "profile": profile,
        "seed": params.tuning["seed"],
        "metric": params.task(task)["metric"],
        "points": points,
        "chosen": chosen,
        "overrides": points[chosen]["overrides"],
    }


def on_current_grid(params: Params, task: str, model: str, record: dict[str, Any]) -> bool:
    """Whether a tuning `record` of the tuned `model` on `task` tried exactly the points
    params/ now names for it (under the record's profile): a record from a smaller or older
    grid is not the protocol's choice."""
    try:
        names = {p.name for p in grid(params, model, record["profile"], task)}
    except (ParamsError, KeyError):
        return False
    return set(record["points"]) == names


def chosen_overrides(path: Path) -> dict[str, Any]:
    """The settings a tuning record (`selection`'s output) chose."""
    return _record(path)["overrides"]


def chosen_point(path: Path) -> str:
    """The name of the grid point a tuning record chose."""
    return str(_record(path)["chosen"])


def _record(path: Path) -> dict[str, Any]:
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("overrides"), dict):
        raise ValueError(f"{path}: not a tuning record (no 'overrides' table)")
    if not isinstance(record.get("chosen"), str):
        raise ValueError(f"{path}: not a tuning record (no 'chosen' point)")
    return record
