"""`Results`: the summary's groups and the runs behind them, in the report's order, and the
lookups every section shares (a group's figures, its tuning record, the tuning protocol)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from spen import tuning
from spen.aggregate import is_number
from spen.report.cells import NOT_RUN, Cell, stat
from spen.report.collect import CPU, Inputs, RunData

TASK_ORDER = ("pos", "ner")
SETTING_ORDER = ("paper", "plus", "xfmr")


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
        """The summary's group TASK/MODEL-SETTING; None when not run."""
        return self.groups.get(f"{task}/{model}-{setting}")

    def runs(self, task: str, model: str, setting: str) -> list[RunData]:
        """The finished runs of TASK/MODEL-SETTING, one per seed."""
        return self.inputs.group_runs(f"{task}/{model}-{setting}")

    def metric(self, task: str) -> str:
        """The task's headline test metric: entity F1 when scored, else token accuracy."""
        for group in self.groups.values():
            if group["task"] == task and "f1" in group["test"]:
                return "f1"
        return "accuracy"

    def tasks(self) -> list[str]:
        """The tasks that have runs, in the report's order."""
        return ordered({g["task"] for g in self.groups.values()}, TASK_ORDER)

    def settings(self) -> list[str]:
        """The input settings that have runs, in the report's order."""
        return ordered({g["setting"] for g in self.groups.values()}, SETTING_ORDER)

    def models(self, extra: Iterable[str] = ()) -> list[str]:
        """The models that have runs (and `extra`), in paper.yaml's order of labels."""
        found = {g["model"] for g in self.groups.values()} | set(extra)
        return ordered(found, tuple(self.labels))

    def sorted_groups(self) -> list[dict[str, Any]]:
        """The summary's groups by task, model and setting."""
        tasks, models, settings = self.tasks(), self.models(), self.settings()
        return sorted(
            self.groups.values(),
            key=lambda g: (
                tasks.index(g["task"]),
                models.index(g["model"]),
                settings.index(g["setting"]),
            ),
        )

    def test_values(
        self, task: str, model: str, setting: str, metric: str, skip_seed: int | None = None
    ) -> list[float]:
        """Per-seed test figures of `metric` (the summary's runs), but `skip_seed`'s; [] when
        not run."""
        return [
            float(r.test[metric])
            for r in self.runs(task, model, setting)
            if is_number(r.test.get(metric)) and r.run.seed != skip_seed
        ]

    def sentence_counts(self, task: str, model: str, setting: str) -> list[dict[str, list[int]]]:
        """Per seed, the per-sentence test counts of the group's runs; [] unless every run
        has them (a paired test needs each seed)."""
        runs = self.runs(task, model, setting)
        if not runs or any(r.sentences is None for r in runs):
            return []
        return [r.sentences for r in runs if r.sentences is not None]

    @property
    def tuning_seed(self) -> int | None:
        """The seed the tuning grids train with (`params/tuning.yaml`); None without params/."""
        params = self.inputs.params
        return params.tuning["seed"] if params is not None else None

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
        """The summary's mean of `metric` for the group; None when not run or not scored."""
        group = self.group(task, model, setting)
        if group is None or metric not in group["test"]:
            return None
        return group["test"][metric]["mean"]

    def devices(self, task: str, model: str, setting: str) -> list[str]:
        """Where the group's runs ran: the GPU a device batch names, else CPU (sorted)."""
        return sorted(
            {
                self.inputs.devices.get(f"{task}/{model}-{setting}/seed{run.run.seed}", CPU)
                for run in self.runs(task, model, setting)
            }
        )

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
        the model is untuned (a fixed control), or its tuning record exists and its runs were
        made with the record's choice. A run's train.json that names the settings tuning gave
        it (`tuning`) answers for that run; runs made before train.json did are judged by the
        tuned row's seed-1 run (`made_by_record`)."""
        params = self.inputs.params
        if params is None:
            return False
        leader = tuning.leader(params, model)
        if leader is None:
            return True
        record = self.tuning_record(task, model, setting)
        if not record or not self.on_current_grid(task, leader, record):
            return False
        given = [trained_with(run) for run in self.runs(task, model, setting)]
        if any(g is not None and g != record["overrides"] for g in given):
            return False
        if given and None not in given:
            return True
        return self.made_by_record(task, leader, setting, record)

    def on_current_grid(self, task: str, leader: str, record: dict[str, Any]) -> bool:
        """Whether the tuning record tried exactly the points params/ now names for the tuned
        row (under the record's profile): a record from a smaller or older grid is not the
        protocol's choice."""
        params = self.inputs.params
        return params is not None and tuning.on_current_grid(params, task, leader, record)

    def made_by_record(self, task: str, leader: str, setting: str, record: dict[str, Any]) -> bool:
        """Whether the tuned row's run with the protocol's seed is the chosen grid point's run
        (the same settings and seed train the same model on a CPU: the same best dev score,
        from its train.json or else its learning curve), so it was made with the record's
        choice and not before it; False when the row has no such run here, or one with no dev
        score: then nothing shows its runs (or a follower's) to come from the record."""
        seed = self.tuning_seed
        run = next((r for r in self.runs(task, leader, setting) if r.run.seed == seed), None)
        if run is None:
            return False
        if trained_with(run) is not None:
            return trained_with(run) == record["overrides"]
        return best_dev(run) == record["points"][record["chosen"]]["dev"]


def trained_with(run: RunData) -> dict[str, Any] | None:
    """The settings a tuning grid point or record gave the run, as its train.json names them;
    None when it names none (an untuned run, or one made before train.json did)."""
    given = (run.train or {}).get("tuning")
    return given if isinstance(given, dict) else None


def best_dev(run: RunData) -> float | None:
    """The run's best dev score: its train.json's, else the best of its learning curve; None
    when it has neither."""
    if run.train and is_number(run.train.get("dev")):
        return float(run.train["dev"])
    devs = [float(r["dev"]) for r in run.history or [] if is_number(r.get("dev"))]
    return max(devs) if devs else None


def in_report_order(
    res: Results, keys: Iterable[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """(task, model, setting) keys by task, then input setting, then model, in the report's
    orders."""
    keys = list(keys)
    tasks = ordered({task for task, _, _ in keys}, TASK_ORDER)
    settings = ordered({setting for _, _, setting in keys}, SETTING_ORDER)
    models = ordered({model for _, model, _ in keys}, tuple(res.labels))
    return sorted(keys, key=lambda k: (tasks.index(k[0]), settings.index(k[2]), models.index(k[1])))


def ordered(items: Iterable[str], order: Sequence[str]) -> list[str]:
    """`items` in `order`, those it does not name sorted after."""
    items = set(items)
    return [x for x in order if x in items] + sorted(items - set(order))


def group_key(group: dict[str, Any]) -> str:
    """A summary group's key, `TASK/MODEL-SETTING`."""
    return f"{group['task']}/{group['model']}-{group['setting']}"
