"""How long a run profile's whole pipeline takes on a number of workers, projected from what
was measured: every job's cost, then the jobs scheduled in dependency order.

Training (a main run or a grid point) costs epochs × the benchmark's seconds per training
sentence for the model at its k (`spen bench`; linear in k between the two k measured) × a
calibration factor per task and input setting: the median, over the runs measured in that
setting, of their measured seconds ÷ that estimate. The factor takes in what the benchmark
leaves out (the training sentences, dev evaluation each epoch, two jobs sharing two cores, a
setting's larger inputs); a setting without a measured run takes the task's `paper` factor
times the ratio of the two settings' factors on the other task, else, where no task has run
it, the median over models of its CPU time per training sentence over `paper`'s in the
task's settings benchmark (`spen bench --training-only --setting ...`), else 1. A run that was
measured counts its own seconds; a tuned model's main run of the tuning seed, unmeasured, costs
nothing (it takes over the chosen grid point's run). Epochs: a run's own when measured, a grid
point's from its tuning record, else the median of the task's measured runs (a pruned grid:
every point its probe epochs, the kept ones the rest). The other steps cost their mean seconds
per job in the recorded pipeline runs of the task (`spen pipeline-time`), or nothing when none
recorded them (counted as unmeasured).
"""

from __future__ import annotations

import heapq
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spen import tuning
from spen.config import Params
from spen.io import read_json
from spen.layout import (
    Run,
    experiments,
    pretrained_file,
    reads_features,
    runs,
    split_variant,
    tag_lms,
    tuned_grids,
)
from spen.run_config import RETUNING_OBJECTIVES


@dataclass(frozen=True)
class Job:
    """One job of the pipeline: its cost and the jobs it waits for."""

    name: str
    step: str
    seconds: float
    after: tuple[str, ...] = ()
    measured: bool = True
    group: tuple[str, str, str] | None = None  # a training's (task, model, setting)


def wall_time(jobs: Iterable[Job], workers: int) -> float:
    """Seconds from the first job's start to the last one's end on `workers` workers, each job
    started as soon as its predecessors ended and a worker is free, the one heading the longest
    remaining chain first."""
    by_name = {job.name: job for job in jobs}
    children: dict[str, list[str]] = defaultdict(list)
    for job in by_name.values():
        for parent in job.after:
            children[parent].append(job.name)
    tail: dict[str, float] = {}
    for name in _reverse_topological(by_name, children):
        tail[name] = by_name[name].seconds + max((tail[c] for c in children[name]), default=0.0)
    waiting = {name: len(job.after) for name, job in by_name.items()}
    ready = [(-tail[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < workers:
            _, name = heapq.heappop(ready)
            heapq.heappush(running, (now + by_name[name].seconds, name))
        now, done = heapq.heappop(running)
        for child in children[done]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (-tail[child], child))
    return now


def _reverse_topological(by_name: dict[str, Job], children: dict[str, list[str]]) -> list[str]:
    order, seen = [], set()
    for start in by_name:
        stack = [(start, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(name)
            elif name not in seen:
                seen.add(name)
                stack.append((name, True))
                stack.extend((c, False) for c in children[name] if c not in seen)
    return order


@dataclass
class Costs:
    """What was measured: runs, tuning records, benchmarks and pipeline records."""

    params: Params
    summary: dict[str, Any]
    tuning_records: dict[tuple[str, str, str], dict[str, Any]]
    benches: dict[str, dict[str, Any]]  # by task: `spen bench` output
    pipeline_records: list[dict[str, Any]]
    setting_benches: dict[str, dict[str, Any]] = field(default_factory=dict)  # by task
    factors: dict[tuple[str, str], float] = field(init=False)

    def __post_init__(self) -> None:
        ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
        for run, train in self.measured_runs().items():
            estimate = train["epochs"] * self.seconds_per_sentence(run.task, run.model, self.k(run))
            if estimate > 0:
                ratios[(run.task, run.setting)].append(train["seconds"] / estimate)
        self.factors = {key: statistics.median(values) for key, values in ratios.items()}

    def measured_runs(self) -> dict[Run, dict[str, Any]]:
        """Every run of the summary with its training seconds and epochs."""
        found = {}
        for entry in self.summary.get("runs", {}).values():
            train = entry.get("train") or {}
            if train.get("seconds") and train.get("epochs"):
                run = Run(entry["task"], entry["model"], entry["setting"], int(entry["seed"]))
                found[run] = train
        return found

    def k(self, run: Run, point: tuning.GridPoint | None = None) -> int:
        """The inner steps of `run` (or of its grid `point`): the point's, the tuning record's
        choice, else its configuration's."""
        if point is not None and "inner_steps" in dict(point.axes):
            return int(dict(point.axes)["inner_steps"])
        leader = tuning.leader(self.params, run.model)
        record = self.tuning_records.get((run.task, leader or "", run.setting))
        if record:
            chosen = record["points"][record["chosen"]]
            if "inner_steps" in chosen.get("axes", {}):
                return int(chosen["axes"]["inner_steps"])
        config = self.params.run_config(run.task, run.model, run.setting, run.seed, "paper")
        return config.inner_steps if config.kind == "spen" else 0

    def seconds_per_sentence(self, task: str, model: str, k: int) -> float:
        """The benchmark's training seconds per sentence of `model` (or the nearest model it
        timed) at `k` inner steps, linear in k between the two k it measured."""
        rows = [
            row
            for row in (self.benches.get(task) or {}).get("training", [])
            if row.get("setting", "paper") == "paper"
        ]
        base = _bench_model(self.params, model, {r["model"].partition("@")[0] for r in rows})
        points = sorted(
            {(r.get("inner_steps") or 0, 1 / r["sentences_per_second"]) for r in rows
             if r["model"].partition("@")[0] == base}
        )  # fmt: skip
        if not points:
            return 0.0
        if len(points) == 1 or points[0][0] == points[-1][0]:
            k0, cost = points[0]
            return cost * (1 + k) / (1 + k0)
        (k0, c0), (k1, c1) = points[0], points[-1]
        return c0 + (c1 - c0) * (k - k0) / (k1 - k0)

    def factor(self, task: str, setting: str) -> tuple[float, bool]:
        """The calibration factor of `setting` on `task`, and whether it was measured there."""
        if (task, setting) in self.factors:
            return self.factors[(task, setting)], True
        paper = self.factors.get((task, "paper"), 1.0)
        others = [
            self.factors[(t, setting)] / self.factors[(t, "paper")]
            for t, s in self.factors
            if s == setting and (t, "paper") in self.factors
        ]
        if others:
            return paper * statistics.median(others), False
        return paper * (self.bench_ratio(task, setting) or 1.0), False

    def bench_ratio(self, task: str, setting: str) -> float | None:
        """The median over models of the CPU time per training sentence in `setting` over that
        in `paper`, from the task's settings benchmark; None without one timing both."""
        cpu = cpu_seconds_by_setting(self.setting_benches.get(task) or {})
        ratios = [t[setting] / t["paper"] for t in cpu.values() if setting in t and "paper" in t]
        return statistics.median(ratios) if ratios else None

    def median_epochs(self, task: str) -> float:
        """The median epochs of the task's measured runs (the budget when none)."""
        epochs = [t["epochs"] for r, t in self.measured_runs().items() if r.task == task]
        if epochs:
            return statistics.median(epochs)
        return float(self.params.run_config(task, "bilstm", "paper", 1, "paper").max_epochs)

    def training_seconds(
        self, run: Run, epochs: float, point: tuning.GridPoint | None = None
    ) -> float:
        """The estimated seconds of training `run` (or its grid `point`) for `epochs` epochs."""
        per_sentence = self.seconds_per_sentence(run.task, run.model, self.k(run, point))
        return epochs * per_sentence * self.factor(run.task, run.setting)[0]

    def step_seconds(self, step: str, task: str) -> float | None:
        """Mean seconds per job of `step` in the recorded pipeline runs of `task` under a
        profile that trains as `paper` does (a smoke run's jobs are not the real ones)."""
        seconds = jobs = 0.0
        for record in self.pipeline_records:
            command = record.get("command", "")
            profile = re.search(r"profile=(\w+)", command)
            name = profile.group(1) if profile else self.params.experiments["profile"]
            overrides = self.params.profiles.get(name, {}).get("overrides")
            targets = re.findall(r"results/(\w+)/", command)
            if overrides == {} and step in record["rules"] and task in (targets or [task]):
                seconds += record["rules"][step]["seconds"]
                jobs += record["rules"][step]["jobs"]
        return seconds / jobs if jobs else None


def _bench_model(params: Params, model: str, timed: set[str]) -> str:
    """The model the benchmark timed that stands for `model`: itself, else the one of the same
    kind, objective and parameterization (and global energy)."""
    if model in timed:
        return model
    spec = params.run_config("pos", model, "paper", 1, "paper")
    if spec.kind != "spen":
        return "bilstm_crf" if spec.kind == "crf" else "bilstm"
    if spec.objective in RETUNING_OBJECTIVES:
        return spec.objective
    name = f"compound_{spec.parameterization}"
    energy = spec.global_energy.kind.replace("tlm", "ge") if spec.global_energy else ""
    return f"{name}_{energy}" if energy and f"{name}_{energy}" in timed else name


def pipeline_jobs(costs: Costs, profile: str) -> list[Job]:
    """Every job of `profile`'s pipeline with its cost and predecessors."""
    params = costs.params
    exp = experiments(params, profile)
    run_list = runs(params, profile)
    measured = costs.measured_runs()
    jobs: list[Job] = []

    def step(name: str, kind: str, task: str, after: tuple[str, ...] = ()) -> str:
        seconds = costs.step_seconds(kind, task)
        jobs.append(Job(name, kind, seconds or 0.0, after, seconds is not None))
        return name

    data = {t: step(f"preprocess {t}", "preprocess", t) for t in exp["tasks"]}
    inputs = {
        (t, s): (step(f"featurize {t}-{s}", "featurize", t, (data[t],)),)
        if reads_features(params, s)
        else (data[t],)
        for t in exp["tasks"]
        for s in exp["settings"]
    }
    lms = {
        (lm.task, lm.path): step(f"lm {lm.name}", "pretrain_tlm", lm.task, (data[lm.task],))
        for lm in tag_lms(params, run_list)
    }
    records = {}
    for task, model, setting in tuned_grids(params, run_list):
        record = costs.tuning_records.get((task, model, setting), {})
        rule = tuning.pruning(params, task, model, profile)
        points = tuning.grid(params, model, profile, task)
        names = []
        for point in points:
            epochs = record.get("points", {}).get(point.name, {}).get("epochs")
            if epochs is None:
                epochs = costs.median_epochs(task)
                if rule:  # every point its probe epochs, `keep` of them the rest
                    share = rule["keep"] / len(points)
                    epochs = rule["probe_epochs"] + share * (epochs - rule["probe_epochs"])
            seconds = costs.training_seconds(Run(task, model, setting, 0), epochs, point)
            name = f"tune {task}/{model}-{setting}/{point.name}"
            jobs.append(
                Job(name, "tune", seconds, inputs[(task, setting)], False, (task, model, setting))
            )
            names.append(name)
        select = f"select {task}/{model}-{setting}"
        records[(task, model, setting)] = step(select, "tune_select", task, tuple(names))
    scores = []
    for run in run_list:
        leader = tuning.leader(params, run.model)
        after = list(inputs[(run.task, run.setting)])
        if leader:
            after.append(records[(run.task, leader, run.setting)])
        lm = lms.get((run.task, pretrained_file(params, run.task, run.model, run.setting) or ""))
        if lm:
            after.append(lm)
        train = f"train {run.name}"
        group = (run.task, run.model, run.setting)
        if run in measured:
            jobs.append(Job(train, "train", measured[run]["seconds"], tuple(after), True, group))
        elif leader == run.model and run.seed == params.tuning["seed"]:
            # the chosen grid point's run, taken over rather than trained again
            jobs.append(Job(train, "train", 0.0, tuple(after), False, group))
        else:
            seconds = costs.training_seconds(run, costs.median_epochs(run.task))
            jobs.append(Job(train, "train", seconds, tuple(after), False, group))
        decode = step(f"decode {run.name}", "decode", run.task, (train,))
        step(f"analyze {run.name}", "analyze", run.task, (train,))
        step(f"calibrate {run.name}", "calibrate", run.task, (train,))
        scores.append(step(f"score {run.name}", "score", run.task, (decode,)))
    for task in exp["tasks"]:
        step(f"bench {task}", "bench", task, (data[task],))
    step("aggregate", "aggregate", exp["tasks"][0], tuple(scores))
    return jobs


def project(
    costs: Costs, profile: str, workers: int, jobs: list[Job] | None = None
) -> dict[str, Any]:
    """The projected wall time of `profile` on `workers` workers, with its inputs: jobs by
    step (how many were estimated rather than measured), seconds, the calibration factors.
    `jobs`: the profile's jobs costed otherwise (default: `pipeline_jobs`)."""
    jobs = jobs if jobs is not None else pipeline_jobs(costs, profile)
    by_step: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for job in jobs:
        entry = by_step[job.step]
        entry["jobs"] += 1
        entry["seconds"] += job.seconds
        entry["estimated_jobs"] += 0 if job.measured else 1
    return {
        "profile": profile,
        "workers": workers,
        "wall_seconds": wall_time(jobs, workers),
        "job_seconds": sum(job.seconds for job in jobs),
        "steps": {name: dict(entry) for name, entry in sorted(by_step.items())},
        "calibration": {f"{t}/{s}": f for (t, s), f in sorted(costs.factors.items())},
        "settings_without_measured_runs": sorted(
            f"{t}/{s}"
            for t in experiments(costs.params, profile)["tasks"]
            for s in experiments(costs.params, profile)["settings"]
            if not costs.factor(t, s)[1]
        ),
    }


def gpu_ratios(costs: Costs, check: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    """Per (task, model, setting) measured on the GPU: its seconds per epoch there (the GPU
    check's `runs`, shared as the batch shared it) over the CPU's for one epoch of the same
    run or grid point (measured, else estimated as the projection does), the median over its
    runs."""
    found: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for directory, speed in check.get("runs", {}).items():
        parts = directory.split("/")
        model, setting = split_variant(parts[1])
        point = None
        if len(parts) == 4 and parts[2] == "tune":
            point = tuning.point(costs.params, model, "paper", parts[3], parts[0])
        cpu = costs.training_seconds(Run(parts[0], model, setting, 0), 1.0, point)
        if cpu > 0:
            found[(parts[0], model, setting)].append(speed["seconds_per_epoch"] / cpu)
    return {group: statistics.median(values) for group, values in found.items()}


def project_on_gpu(costs: Costs, profile: str, check: dict[str, Any]) -> dict[str, Any]:
    """The projected wall time of `profile` on the GPU a check measured: every training and
    grid point costs its CPU estimate (a measured run too: its seconds) times its model's
    GPU/CPU ratio (`gpu_ratios`; the median ratio for a model not measured there), with the
    check's runs per GPU as workers; the other steps keep their CPU cost."""
    ratios = gpu_ratios(costs, check)
    if not ratios:
        raise ValueError("the GPU check times no run (its `runs` is empty): nothing to scale by")
    default = statistics.median(ratios.values())
    jobs = [
        replace(job, seconds=job.seconds * ratios.get(job.group, default))
        if job.group is not None
        else job
        for job in pipeline_jobs(costs, profile)
    ]
    workers = int(check.get("runs_per_gpu") or 1)
    result = project(costs, profile, workers, jobs)
    result["device"] = check.get("device")
    result["gpu_ratios"] = {"/".join(g): r for g, r in sorted(ratios.items())}
    result["gpu_ratio_default"] = default
    return result


def cpu_seconds_by_setting(bench: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each model's CPU seconds in each input setting of a training benchmark (`spen bench
    --training-only --setting ...`), by model then setting. A row is the model as configured
    (named `MODEL`, or `MODEL@SETTING` outside `paper`); the variants `spen bench` adds at another
    inner-step count (`MODEL@k=K`) and rows without CPU time (a benchmark made before it was
    kept) are left out."""
    cpu: dict[str, dict[str, float]] = defaultdict(dict)
    for row in bench.get("training", []):
        setting = row.get("setting", "paper")
        model = row["model"].removesuffix(f"@{setting}")
        if row.get("cpu_seconds") and "@" not in model:
            cpu[model][setting] = row["cpu_seconds"]
    return dict(cpu)


def load_costs(params: Params, results: Path) -> Costs:
    """What `results/` holds of measured costs: the summary, the tuning records, the
    benchmarks (`bench/decode-TASK.json`, `bench/settings-TASK.json`) and the pipeline records
    (`bench/pipeline-*.json`)."""
    records = {}
    for path in sorted((results / "tuning").glob("*/*.json")):
        record = read_json(path)
        records[(record["task"], record["model"], record["setting"])] = record
    benches = {}
    for path in sorted((results / "bench").glob("decode-*.json")):
        bench = read_json(path)
        benches[bench["task"]] = bench
    settings = {}
    for path in sorted((results / "bench").glob("settings-*.json")):
        bench = read_json(path)
        settings[bench["task"]] = bench
    pipelines = [read_json(p) for p in sorted((results / "bench").glob("pipeline-*.json"))]
    summary = read_json(results / "summary.json")
    return Costs(params, summary, records, benches, pipelines, settings)
