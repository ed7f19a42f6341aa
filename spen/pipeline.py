"""From `params/` to files: the runs an experiment list asks for, their paths, the DVC stages.

Snakemake (`workflow/rules/common.smk`) and `spen dvc-yaml` both build on this module, so the two
tools see the same runs, the same paths, the same params keys per step and the same code
dependencies. `spen aggregate` (`aggregate`) collects the scores of finished runs.

Paths are patterns whose `{fields}` are Snakemake wildcards and `Run` attributes:

    data/raw/{rawdir}/                               fetch       (DIR of params/data.yaml)
    data/{task}/{train,dev,test}.arrow, ...           preprocess
    models/{task}/tlm/{kind}[-{setting}].pt          pretrain-tlm (models with a global energy)
    models/{task}/{model}-{setting}/tune/{point}/    tune_train  a grid point (params/tuning.yaml)
    results/tuning/{task}/{model}-{setting}.json     tune_select every point's dev score, the choice
    models/{task}/{model}-{setting}/seed{seed}/       train       best.pt, metrics.jsonl, train.json
    results/{task}/{model}-{setting}/seed{seed}/      decode, score: test.conll, test.json
    results/summary.json, results/.../learning_curve.json         aggregate

Run profile. Snakemake takes it from `--config profile=NAME`; DVC has no such switch, so
`spen dvc-yaml [--profile NAME]` bakes it (default: params/experiments.yaml's `profile`) into
dvc.yaml's `vars`, with the seeds it implies. dvc.yaml is generated: after editing
params/experiments.yaml or a profile's seeds, rerun `spen dvc-yaml` (`--check` and
tests/test_pipeline.py catch a stale one). Values inside params/ need no regeneration: DVC
reads them through each stage's `params:` keys.

Code. A DVC stage depends on the spen subpackages its modules import (`code_deps`); Snakemake
rules do not list code (its mtime rule would retrain everything after any edit), so after a code
change use `snakemake --list-code-changes` / `-R` or let DVC decide.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from spen import tuning
from spen.config import TAG_LM_DIR, Params, ParamsError
from spen.io import atomic_open, read_json, write_json

RAW_DIR = "data/raw/{rawdir}"
PREPARED = "data/{task}/{name}"
PREPARED_FILES = (
    "train.arrow",
    "dev.arrow",
    "test.arrow",
    "vocab.json",
    "embeddings.npy",
    "summary.json",
)
# What each step reads of a task's prepared directory (spen.data.prepared.load_prepared reads
# vocab.json and embeddings.npy; each step one or two splits).
TRAIN_READS = ("train.arrow", "dev.arrow", "vocab.json", "embeddings.npy")
DECODE_READS = ("test.arrow", "vocab.json", "embeddings.npy")

TAG_LM = f"{TAG_LM_DIR}/{{name}}.pt"
DEFAULT_TAG_LM_SETTING = "paper"  # `spen pretrain-tlm`'s default; a tlm_a never reads it
RUN_DIR = "{task}/{model}-{setting}/seed{seed}"
CHECKPOINT = f"models/{RUN_DIR}/best.pt"
TRAIN_LOG = f"models/{RUN_DIR}/metrics.jsonl"
TRAIN_SUMMARY = f"models/{RUN_DIR}/train.json"
TIMINGS = f"models/{RUN_DIR}/timings.json"
PREDICTIONS = f"results/{RUN_DIR}/test.conll"
SCORES = f"results/{RUN_DIR}/test.json"
CURVE = f"results/{RUN_DIR}/learning_curve.json"
ANALYSIS = f"results/{RUN_DIR}/analysis.json"
TUNE_POINTS = "models/{task}/{model}-{setting}/tune"
TUNE_DIR = f"{TUNE_POINTS}/{{point}}"
TUNE_SUMMARY = f"{TUNE_DIR}/train.json"
TUNE_PROBES = "models/{task}/{model}-{setting}/probe"
TUNE_PROBE = f"{TUNE_PROBES}/{{point}}.json"
PRUNING = "results/tuning/{task}/pruning/{model}-{setting}.json"
TUNING = "results/tuning/{task}/{model}-{setting}.json"
SUMMARY = "results/summary.json"
BENCH = "reports/bench/decode-{task}.json"
REPORT = ("reports/index.html", "reports/index.md")
CHOICES = "docs/CHOICES.md"

PARAM_FILES = {name: f"params/{name}.yaml" for name in ("data", "models", "profiles")}
# The spen modules each step runs (as spen/cli.py imports them); its code dependencies are
# everything they import, found by `code_deps`. spen/cli.py itself is wiring, left out on
# purpose: adding a subcommand must not retrain every model.
ENTRY_MODULES = {
    "fetch": ("spen.config", "spen.data.sources"),
    "preprocess": ("spen.config", "spen.data.preprocess"),
    "pretrain_tlm": ("spen.config", "spen.data.prepared", "spen.training.tag_lm"),
    "train": ("spen.config", "spen.data.prepared", "spen.training.loop", "spen.tuning"),
    "tune_select": ("spen.tuning",),
    "decode": (
        "spen.data.prepared",
        "spen.evaluation.decode",
        "spen.training.checkpoint",
        "spen.training.loop",
    ),
    "score": ("spen.data.vocab", "spen.evaluation.decode", "spen.evaluation.metrics", "spen.io"),
    "analyze": (
        "spen.data.prepared",
        "spen.evaluation.analysis",
        "spen.training.checkpoint",
        "spen.training.loop",
    ),
    "aggregate": ("spen.pipeline",),
    "bench": ("spen.bench", "spen.config", "spen.data.prepared"),
    "report": ("spen.report.build",),
}
PACKAGE_ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True, order=True)
class Run:
    """One training run: TASK x MODEL x SETTING x SEED."""

    task: str
    model: str
    setting: str
    seed: int

    @property
    def name(self) -> str:
        """`pos-bilstm-paper-1`: how DVC's matrix names the run's stages (`train@...`)."""
        return f"{self.task}-{self.model}-{self.setting}-{self.seed}"

    @property
    def variant(self) -> str:
        """`MODEL-SETTING`, the run's directory under its task."""
        return f"{self.model}-{self.setting}"

    def path(self, pattern: str) -> str:
        """`pattern` (e.g. `CHECKPOINT`) filled in for this run."""
        return pattern.format(**asdict(self))


def active_profile(params: Params, override: str | None = None) -> str:
    """The run profile: `override` if given, else params/experiments.yaml's `profile`."""
    name = override or params.experiments["profile"]
    if name not in params.profiles:
        raise ParamsError(
            f"run profile '{name}' (asked for on the command line) is not in "
            f"params/profiles.yaml; allowed: {', '.join(sorted(params.profiles))}"
        )
    return name


def check_no_overwrite(params: Params, profile: str, root: Path) -> None:
    """Refuse to let `profile` overwrite results another profile made: the profile recorded in
    results/summary.json and in the tuning records, when its overrides differ from `profile`'s
    (`paper` and `paper_seed1` share their outputs; `smoke` shares none)."""
    mine = params.profile(profile)["overrides"]
    records = sorted((root / "results" / "tuning").glob("*/*.json"))
    for path in [root / SUMMARY, *records]:
        if not path.is_file():
            continue
        theirs = read_json(path).get("profile")
        if (
            theirs
            and theirs != profile
            and (theirs not in params.profiles or params.profile(theirs)["overrides"] != mine)
        ):
            raise ParamsError(
                f"{path.relative_to(root)} holds results of run profile '{theirs}'; profile "
                f"'{profile}' trains otherwise and would overwrite them: run it in a copy "
                "(`git worktree add ../spen-" + profile + "`) or pass --config overwrite=true"
            )


def runs(params: Params, profile: str) -> list[Run]:
    """Every run of params/experiments.yaml, with the seeds of `profile`."""
    exp = params.experiments
    seeds = params.profile(profile)["seeds"]
    product = itertools.product(exp["tasks"], exp["models"], exp["settings"], seeds)
    return [Run(task, model, setting, int(seed)) for task, model, setting, seed in product]


def tuning_record(params: Params, task: str, model: str, setting: str) -> str | None:
    """The tuning record whose choice the runs of MODEL in SETTING on TASK take, if any."""
    leader = tuning.leader(params, model)
    return None if leader is None else TUNING.format(task=task, model=leader, setting=setting)


def tuned_grids(params: Params, run_list: Iterable[Run]) -> list[tuple[str, str, str]]:
    """(TASK, MODEL, SETTING) of every grid `run_list` takes its settings from, each once."""
    found = {(r.task, tuning.leader(params, r.model), r.setting) for r in run_list}
    return sorted((task, model, setting) for task, model, setting in found if model)


def tuning_records(params: Params, run_list: Iterable[Run]) -> list[str]:
    """The tuning records `run_list` reads, each once, in order."""
    return [
        TUNING.format(task=task, model=model, setting=setting)
        for task, model, setting in tuned_grids(params, run_list)
    ]


def grid_summaries(
    params: Params, task: str, model: str, setting: str, profile: str, pattern: str = TUNE_SUMMARY
) -> list[str]:
    """The `train.json` (or, with `pattern` TUNE_PROBE, the probe summary) of every grid point
    of a tuned MODEL in SETTING on TASK."""
    return [
        pattern.format(task=task, model=model, setting=setting, point=p.name)
        for p in tuning.grid(params, model, profile)
    ]


def pruning_record(params: Params, task: str, model: str, setting: str, profile: str) -> str | None:
    """The pruning record the grid of a tuned MODEL in SETTING on TASK goes by, if pruned."""
    if tuning.pruning(params, task, model, profile) is None:
        return None
    return PRUNING.format(task=task, model=model, setting=setting)


@dataclass(frozen=True, order=True)
class TagLM:
    """A pretrained tag language model (global energy) that some runs read."""

    task: str
    kind: str
    setting: str
    path: str

    @property
    def name(self) -> str:
        """`pos-tlm_c-paper`: its DVC stage name (`pretrain_tlm@...`)."""
        return f"{self.task}-{Path(self.path).stem}"


def pretrained_file(params: Params, task: str, model: str, setting: str) -> str | None:
    """The pretrained tag LM file a run of MODEL in SETTING on TASK reads, if any: the model's
    `global_energy.pretrained` with `{task}` and `{setting}` filled in."""
    spec = params.models["models"][model].get("global_energy") or {}
    if not spec.get("pretrained"):
        return None
    return str(spec["pretrained"].format(task=task, setting=setting))


def tag_lm(params: Params, task: str, model: str, setting: str) -> TagLM | None:
    """The tag LM the pipeline pretrains for a run of MODEL in SETTING on TASK, if any.

    `spen pretrain-tlm` builds `models/TASK/tlm/KIND.pt` or `KIND-SETTING.pt`; a `pretrained`
    file anywhere else is the user's own, read as it is and never rebuilt (nor overwritten).
    """
    path = pretrained_file(params, task, model, setting)
    if path is None or Path(path).parent != Path(TAG_LM_DIR.format(task=task)):
        return None
    spec = params.models["models"][model]["global_energy"]
    kind, _, named_setting = Path(path).stem.partition("-")
    if kind != spec["kind"] or named_setting not in ("", setting):
        raise ParamsError(
            f"params/models.yaml: models.{model}.global_energy.pretrained: '{path}' must be named "
            f"{spec['kind']}.pt or {spec['kind']}-{{setting}}.pt for the pipeline to build it"
        )
    # a tag-only LM (KIND.pt) reads no words: one file serves every setting
    return TagLM(task, kind, named_setting or DEFAULT_TAG_LM_SETTING, path)


def tag_lms(params: Params, run_list: Iterable[Run]) -> list[TagLM]:
    """The tag LMs `run_list` reads, each once."""
    found = {tag_lm(params, r.task, r.model, r.setting) for r in run_list}
    return sorted(t for t in found if t is not None)


def raw_dir(params: Params, task: str) -> str:
    """`data/raw/DIR` of `task`: where `spen fetch` puts its raw files."""
    return RAW_DIR.format(rawdir=params.task(task)["dir"])


def prepared(task: str, names: Iterable[str] = PREPARED_FILES) -> list[str]:
    """The files of `data/TASK/` named `names`."""
    return [PREPARED.format(task=task, name=name) for name in names]


def reads(step: str, task: str, model: str = "", setting: str = "", profile: str = "") -> dict:
    """The params keys `step` reads, as DVC's `params:` wants them: {file: [dotted keys]}.

    Arguments may be DVC templates (`${item.task}`); `spen dvc-yaml` passes those.
    """
    data, models, profiles = PARAM_FILES["data"], PARAM_FILES["models"], PARAM_FILES["profiles"]
    if step == "fetch":
        return {data: ["raw", f"tasks.{task}.dir", f"tasks.{task}.files"]}
    if step == "preprocess":
        keys = ("dir", "format", "normalize", "splits")
        return {data: [f"tasks.{task}.{key}" for key in keys] + ["embeddings"]}
    if step == "bench":  # every model of the experiment list, in every input setting
        return {
            models: ["training", f"tasks.{task}", "settings", "models"],
            profiles: [f"{profile}.overrides"],
        }
    if step == "pretrain_tlm":  # tlm_a reads no input setting
        settings = [f"settings.{setting}"] if setting else []
        return {models: settings, profiles: [f"{profile}.overrides"]}
    if step == "train":
        return {
            data: [f"tasks.{task}.metric"],
            models: ["training", f"tasks.{task}", f"settings.{setting}", f"models.{model}"],
            profiles: [f"{profile}.overrides"],
        }
    return {}


def report_inputs(params: Params, profile: str) -> list[str]:
    """What the report reads besides the summary and curves: analyses, benchmarks, choices."""
    analyses = [run.path(ANALYSIS) for run in runs(params, profile)]
    benches = [BENCH.format(task=task) for task in params.experiments["tasks"]]
    return [*analyses, *benches, CHOICES]


def param_values(params: Params, keys: dict[str, list[str]]) -> dict[str, Any]:
    """The values of `keys` (as `reads` gives them): Snakemake's rerun trigger for a job."""
    tables = {f"params/{name}.yaml": getattr(params, name) for name in PARAM_FILES}
    values: dict[str, Any] = {}
    for file, dotted in keys.items():
        for key in dotted:
            value: Any = tables[file]
            for part in key.split("."):
                value = value.get(part, {}) if isinstance(value, dict) else None
            values[f"{file}:{key}"] = value
    return values


def code_deps(step: str, root: Path = PACKAGE_ROOT) -> list[str]:
    """The code `step` runs: every spen module its entry modules import, transitively.

    Given as `spen/SUBPACKAGE` directories and `spen/MODULE.py` files, relative to the project.
    """
    seen: set[str] = set()
    todo = list(ENTRY_MODULES[step])
    while todo:
        module = todo.pop()
        path = _module_path(module, root)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo.extend(_spen_imports(path))
    deps = set()
    for module in seen:
        top = module.split(".")[1]
        deps.add(f"spen/{top}" if (root / top).is_dir() else f"spen/{top}.py")
    return sorted(deps)


def _module_path(module: str, root: Path) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _spen_imports(path: Path) -> list[str]:
    """Modules of `spen` that `path` imports anywhere (module level or inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "spen":
                found.extend(f"spen.{alias.name}" for alias in node.names)
            elif node.module.startswith("spen."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("spen."))
    return found


# ---------------------------------------------------------------------------------------------
# dvc.yaml


def dvc_stages(params: Params, profile: str) -> dict[str, Any]:
    """The content of dvc.yaml for `profile`: `vars` hold the experiment list, stages iterate.

    fetch/preprocess iterate (`foreach`) over the tasks, train/decode/score take the `matrix`
    of tasks x models x settings x seeds, so their stages are named `train@pos-bilstm-paper-1`.
    Runs of a model with a pretrained global energy train in `train_global@RUN` instead (a
    foreach over those runs), after `pretrain_tlm@TASK-KIND[-SETTING]` built their tag LM.
    """
    exp = params.experiments
    run_list = runs(params, profile)
    missing = [t for t in exp["tasks"] if t not in params.models["tasks"]]
    if missing:
        raise ParamsError(
            f"params/models.yaml: tasks: no entry for {', '.join(missing)}; DVC tracks "
            "`tasks.TASK` for every task of params/experiments.yaml (an empty {} will do)"
        )
    lm_of = {r: pretrained_file(params, r.task, r.model, r.setting) for r in run_list}
    tuned_of = {r: tuning_record(params, r.task, r.model, r.setting) for r in run_list}
    untuned = sorted({r.model for r, lm in lm_of.items() if lm is not None and not tuned_of[r]})
    if untuned:
        raise ParamsError(
            f"params/tuning.yaml: {', '.join(untuned)} read a pretrained global energy but neither "
            "is tuned nor follows a tuned model; DVC's train_global stages need a tuning record"
        )
    reads_lm = {r.model for r, lm in lm_of.items() if lm is not None}
    reads_tuning = {r.model for r, record in tuned_of.items() if record is not None}
    grids = tuned_grids(params, run_list)
    variables = {
        "profile": profile,
        "raw": {task: {"dir": params.task(task)["dir"]} for task in exp["tasks"]},
        "tasks": list(exp["tasks"]),
        "models": list(exp["models"]),
        "plain_models": [m for m in exp["models"] if m not in reads_lm | reads_tuning],
        "settings": list(exp["settings"]),
        "seeds": [int(s) for s in params.profile(profile)["seeds"]],
        "tag_lms": {
            lm.name: {"task": lm.task, "kind": lm.kind, "setting": lm.setting, "path": lm.path}
            for lm in tag_lms(params, run_list)
        },
        "grid_points": {
            f"{task}-{model}-{setting}-{name}": {
                "task": task,
                "model": model,
                "setting": setting,
                "point": name,
            }
            for task, model, setting in grids
            if not pruning_record(params, task, model, setting, profile)
            for name in (p.name for p in tuning.grid(params, model, profile))
        },
        "pruned_points": {
            f"{task}-{model}-{setting}-{name}": {
                "task": task,
                "model": model,
                "setting": setting,
                "point": name,
                "pruning": pruning,
            }
            for task, model, setting in grids
            if (pruning := pruning_record(params, task, model, setting, profile))
            for name in (p.name for p in tuning.grid(params, model, profile))
        },
        "pruning_records": {
            f"{task}-{model}-{setting}": {
                "task": task,
                "model": model,
                "setting": setting,
                "path": pruning,
                "probe_args": " ".join(
                    grid_summaries(params, task, model, setting, profile, TUNE_PROBE)
                ),
            }
            for task, model, setting in grids
            if (pruning := pruning_record(params, task, model, setting, profile))
        },
        "tuning_records": {
            f"{task}-{model}-{setting}": {
                "task": task,
                "model": model,
                "setting": setting,
                "path": TUNING.format(task=task, model=model, setting=setting),
                "summary_args": " ".join(grid_summaries(params, task, model, setting, profile)),
            }
            for task, model, setting in grids
        },
        "tuned_runs": {
            r.name: {**asdict(r), "tuned": record}
            for r, record in tuned_of.items()
            if record is not None and lm_of[r] is None
        },
        "global_runs": {
            r.name: {**asdict(r), "tag_lm": lm, "tuned": tuned_of[r]}
            for r, lm in lm_of.items()
            if lm is not None
        },
    }
    item = {k: "${item." + k + "}" for k in ("task", "model", "setting", "seed")}
    run = Run(**item)  # type: ignore[arg-type]
    matrix = {"task": "${tasks}", "model": "${models}", "setting": "${settings}"}
    matrix["seed"] = "${seeds}"
    scores = [r.path(SCORES) for r in run_list]
    curves = [r.path(CURVE) for r in run_list]
    train = {
        "cmd": (
            "spen train ${item.task} ${item.model} ${item.setting} --seed ${item.seed} "
            "--profile ${profile} --out " + str(Path(run.path(CHECKPOINT)).parent)
        ),
        "deps": [*prepared("${item.task}", TRAIN_READS), *code_deps("train")],
        "params": _params_list(
            reads("train", "${item.task}", "${item.model}", "${item.setting}", "${profile}")
        ),
        "outs": [
            run.path(CHECKPOINT),
            run.path(TRAIN_LOG),
            run.path(TRAIN_SUMMARY),
            run.path(TIMINGS),  # wall-clock figures: the one output that varies from run to run
        ],
    }
    stages = {
        "fetch": {
            "foreach": "${raw}",
            "do": {
                "cmd": "spen fetch ${key}",
                "deps": code_deps("fetch"),
                "params": _params_list(reads("fetch", "${key}")),
                "outs": [RAW_DIR.format(rawdir="${item.dir}")],
            },
        },
        "preprocess": {
            "foreach": "${raw}",
            "do": {
                "cmd": "spen preprocess ${key} --raw data/raw --out data/${key}",
                "deps": [RAW_DIR.format(rawdir="${item.dir}"), *code_deps("preprocess")],
                "params": _params_list(reads("preprocess", "${key}")),
                "outs": prepared("${key}"),
            },
        },
        "train": {**train, "matrix": {**matrix, "model": "${plain_models}"}},
    }
    tuned_train = {
        **train,
        "cmd": train["cmd"].replace(" --out ", " --tuned ${item.tuned} --out "),
        "deps": [*train["deps"], "${item.tuned}"],
    }
    if grids:
        point_dir = TUNE_DIR.format(
            task="${item.task}",
            model="${item.model}",
            setting="${item.setting}",
            point="${item.point}",
        )
        point_cmd = (
            "spen train ${item.task} ${item.model} ${item.setting} --seed "
            f"{params.tuning['seed']} --point ${{item.point}} --profile ${{profile}} "
            f"--out {point_dir}"
        )
        point_params = [
            *train["params"],
            {"params/tuning.yaml": ["seed", "optimizers", "grids", "pruning"]},
        ]
        tune_train = {
            **train,
            "cmd": point_cmd,
            "params": point_params,
            "outs": [
                f"{point_dir}/{name}"
                for name in ("best.pt", "metrics.jsonl", "train.json", "timings.json")
            ],
        }
        if variables["grid_points"]:
            stages["tune_train"] = {"foreach": "${grid_points}", "do": tune_train}
        if variables["pruned_points"]:
            probe = TUNE_PROBE.format(
                task="${item.task}",
                model="${item.model}",
                setting="${item.setting}",
                point="${item.point}",
            )
            stages["tune_probe"] = {
                "foreach": "${pruned_points}",
                "do": {
                    **train,
                    "cmd": point_cmd.replace(" --out ", f" --probe {probe} --out "),
                    "params": point_params,
                    "outs": [probe],
                },
            }
            stages["tune_prune"] = {
                "foreach": "${pruning_records}",
                "do": {
                    "cmd": (
                        "spen tune-prune ${item.task} ${item.model} ${item.setting} "
                        "${item.probe_args} --profile ${profile} --out ${item.path}"
                    ),
                    # the probes' directory: DVC joins it to every tune_probe stage writing inside
                    "deps": [
                        TUNE_PROBES.format(
                            task="${item.task}", model="${item.model}", setting="${item.setting}"
                        ),
                        *code_deps("tune_select"),
                    ],
                    "outs": [{"${item.path}": _NO_CACHE}],
                },
            }
            stages["tune_train_pruned"] = {
                "foreach": "${pruned_points}",
                "do": {
                    **tune_train,
                    "cmd": point_cmd.replace(" --out ", " --pruning ${item.pruning} --out "),
                    "deps": [*tune_train["deps"], "${item.pruning}"],
                },
            }
        stages["tune_select"] = {
            "foreach": "${tuning_records}",
            "do": {
                "cmd": (
                    "spen tune-select ${item.task} ${item.model} ${item.setting} "
                    "${item.summary_args} "
                    "--profile ${profile} --out ${item.path}"
                ),
                # the points' directory: DVC joins it to every tune_train stage writing inside
                "deps": [
                    TUNE_POINTS.format(
                        task="${item.task}", model="${item.model}", setting="${item.setting}"
                    ),
                    *code_deps("tune_select"),
                ],
                "outs": [{"${item.path}": _NO_CACHE}],
            },
        }
        stages["train_tuned"] = {"foreach": "${tuned_runs}", "do": tuned_train}
    if variables["global_runs"]:
        stages["pretrain_tlm"] = {
            "foreach": "${tag_lms}",
            "do": {
                "cmd": (
                    "spen pretrain-tlm ${item.task} --kind ${item.kind} --setting ${item.setting}"
                    " --profile ${profile} --out ${item.path}"
                ),
                "deps": [*prepared("${item.task}", TRAIN_READS), *code_deps("pretrain_tlm")],
                "params": _params_list(
                    reads(
                        "pretrain_tlm",
                        "${item.task}",
                        setting="${item.setting}",
                        profile="${profile}",
                    )
                ),
                "outs": ["${item.path}"],
            },
        }
        stages["train_global"] = {
            "foreach": "${global_runs}",
            "do": {**tuned_train, "deps": [*tuned_train["deps"], "${item.tag_lm}"]},
        }
    stages.update(
        {
            "decode": {
                "matrix": matrix,
                "cmd": (
                    f"spen decode {run.path(CHECKPOINT)} --split test --data data/${{item.task}} "
                    f"--out {run.path(PREDICTIONS)}"
                ),
                "deps": [
                    run.path(CHECKPOINT),
                    *prepared("${item.task}", DECODE_READS),
                    *code_deps("decode"),
                ],
                "outs": [run.path(PREDICTIONS)],
            },
            "score": {
                "matrix": matrix,
                "cmd": f"spen score {run.path(PREDICTIONS)} --out {run.path(SCORES)}",
                "deps": [run.path(PREDICTIONS), *code_deps("score")],
                "metrics": [{run.path(SCORES): _NO_CACHE}],
            },
            "analyze": {
                "matrix": matrix,
                "cmd": (
                    f"spen analyze {run.path(CHECKPOINT)} --split test --data data/${{item.task}} "
                    f"--out {run.path(ANALYSIS)}"
                ),
                "deps": [
                    run.path(CHECKPOINT),
                    *prepared("${item.task}", DECODE_READS),
                    *code_deps("analyze"),
                ],
                "outs": [{run.path(ANALYSIS): _NO_CACHE}],
            },
            "bench": {
                "foreach": "${raw}",
                "do": {
                    "cmd": "spen bench ${key} --profile ${profile} --out "
                    + BENCH.format(task="${key}"),
                    "deps": [*prepared("${key}", DECODE_READS), *code_deps("bench")],
                    "params": _params_list(reads("bench", "${key}", profile="${profile}")),
                    "outs": [{BENCH.format(task="${key}"): _NO_CACHE}],
                },
            },
            "report": {
                "cmd": f"spen report --summary {SUMMARY} --bench reports/bench --out reports",
                "deps": [SUMMARY, *curves, *report_inputs(params, profile), *code_deps("report")],
                "outs": [{path: _NO_CACHE} for path in REPORT],
            },
            "aggregate": {
                "cmd": " ".join(
                    ["spen aggregate", *scores, "--profile", "${profile}", "--out", SUMMARY]
                ),
                "deps": [
                    *scores,
                    *(r.path(TRAIN_LOG) for r in run_list),
                    *(r.path(TIMINGS) for r in run_list),
                    *code_deps("aggregate"),
                ],
                "metrics": [{SUMMARY: _NO_CACHE}],
                "outs": [{curve: _NO_CACHE} for curve in curves],
            },
        }
    )
    plots = [
        {
            "dev score by epoch": {
                "template": "linear",
                "x": "epoch",
                "y": {curve: "dev" for curve in curves},
            }
        }
    ]
    return {"vars": [variables], "stages": stages, "plots": plots}


_NO_CACHE = {"cache": False}


def _params_list(keys: dict[str, list[str]]) -> list[dict[str, list[str]]]:
    return [{file: names} for file, names in keys.items()]


DVC_HEADER = """\
# Generated by `spen dvc-yaml` from params/ for run profile '{profile}': edit params/ and
# regenerate (`spen dvc-yaml`), never this file. `vars` hold the experiment list; the stages
# iterate over it (foreach over tasks, matrix over tasks x models x settings x seeds).
"""


def render_dvc_yaml(params: Params, profile: str) -> str:
    """dvc.yaml as text: the header, then `dvc_stages` as block YAML."""
    body = yaml.dump(
        dvc_stages(params, profile),
        Dumper=_PlainDumper,
        sort_keys=False,
        default_flow_style=False,
        width=10_000,
    )
    return DVC_HEADER.format(profile=profile) + body


class _PlainDumper(yaml.SafeDumper):
    """Block YAML without anchors: every stage reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# ---------------------------------------------------------------------------------------------
# aggregate

_SCORES_PATH = re.compile(
    r"(?P<task>[a-z0-9_]+)/(?P<model>[a-z0-9_]+)-(?P<setting>[a-z0-9_]+)/seed(?P<seed>\d+)"
    r"/test\.json$"
)


def run_of_scores(path: str | Path) -> tuple[Run, Path]:
    """The run and the project root of a `results/TASK/MODEL-SETTING/seedK/test.json` path."""
    path = Path(path)
    match = _SCORES_PATH.search(path.as_posix())
    if not match or path.parents[3].name != "results":
        raise ValueError(
            f"{path}: not a scores file; expected results/TASK/MODEL-SETTING/seedK/test.json"
        )
    fields = match.groupdict()
    run = Run(fields["task"], fields["model"], fields["setting"], int(fields["seed"]))
    return run, path.parents[4]


def read_history(path: Path) -> list[dict[str, Any]]:
    """The per-epoch records of a `metrics.jsonl` training log."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the run's training log (run `spen train`)")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {number}: not JSON ({err.msg})") from err
    if not records:
        raise ValueError(f"{path}: no epochs recorded")
    return records


def mean_std(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std}


def run_history(root: Path, run: Run) -> tuple[list[dict[str, Any]], bool]:
    """The run's per-epoch records and whether they come from its training log: the log
    `metrics.jsonl` when the checkpoint directory is there, else the versioned copy
    `learning_curve.json` that aggregating wrote (a fresh clone, checkpoints not pulled)."""
    log, curve = root / run.path(TRAIN_LOG), root / run.path(CURVE)
    if log.is_file() or not curve.is_file():
        return read_history(log), True
    records = read_json(curve)
    if not isinstance(records, list) or not records:
        raise ValueError(f"{curve}: not a learning curve (a non-empty list of epochs)")
    return records, False


def aggregate(
    scores: Sequence[str | Path],
    curves: bool = True,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Collect finished runs: per run its test scores, training summary and train.json, per
    TASK/MODEL-SETTING the mean and std over seeds of every test score and training figure.

    With `curves`, write each run's learning curve (the epochs of metrics.jsonl) as JSON
    beside its scores, for `dvc plots`. A run whose train.json is absent (checkpoints not
    pulled) keeps the copy `previous`, the summary being replaced, holds for it, if any.
    Returns the summary.
    """
    per_run: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    earlier = (previous or {}).get("runs", {})
    for path in sorted(map(str, scores)):
        run, root = run_of_scores(path)
        key = f"{run.task}/{run.variant}/seed{run.seed}"
        test = json.loads(Path(path).read_text(encoding="utf-8"))
        history, from_log = run_history(root, run)
        timings_path = root / run.path(TIMINGS)
        timings = read_json(timings_path) if timings_path.is_file() else None
        if timings is not None:
            history = with_timings(history, timings)
        best = max(history, key=lambda r: r["dev"])
        train = {
            "best_epoch": best["epoch"],
            "best_dev": best["dev"],
            "epochs": len(history),
            "seconds": sum(r.get("seconds", 0.0) for r in history),
        }
        entry = {**asdict(run), "test": test, "train": train}
        train_json = root / run.path(TRAIN_SUMMARY)
        if train_json.is_file():
            entry["train_json"] = read_json(train_json)
        elif "train_json" in earlier.get(key, {}):
            entry["train_json"] = earlier[key]["train_json"]
        if timings is not None:
            entry["timings"] = {k: timings.get(k) for k in ("seconds_per_epoch", "peak_rss_mb")}
        elif "timings" in earlier.get(key, {}):
            entry["timings"] = earlier[key]["timings"]
        per_run[key] = entry
        groups.setdefault(f"{run.task}/{run.variant}", []).append(entry)
        if curves and from_log:
            write_json(root / run.path(CURVE), history)
    summary_groups = {}
    for key, entries in groups.items():
        first = entries[0]
        summary_groups[key] = {
            "task": first["task"],
            "model": first["model"],
            "setting": first["setting"],
            "seeds": [e["seed"] for e in entries],
            "test": _stats(e["test"] for e in entries),
            "train": _stats(e["train"] for e in entries),
        }
    return {"groups": summary_groups, "runs": per_run}


def with_timings(history: list[dict[str, Any]], timings: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-epoch records with each epoch's wall-clock figures (a run's `timings.json`)
    merged in: what the learning curves and the report's speed tables read."""
    by_epoch = {t["epoch"]: t for t in timings.get("epochs", [])}
    return [{**record, **by_epoch.get(record["epoch"], {})} for record in history]


def _stats(tables: Iterable[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """mean/std of each number all `tables` hold at top level, counts (`COUNTS`) left out."""
    tables = list(tables)
    return {
        key: mean_std([t[key] for t in tables])
        for key in tables[0]
        if key not in COUNTS and all(_is_number(t.get(key)) for t in tables)
    }


COUNTS = ("sentences", "tokens")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def write_dvc_yaml(path: Path, text: str) -> None:
    """Write dvc.yaml atomically."""
    with atomic_open(path) as handle:
        handle.write(text)
