"""dvc.yaml, rendered from `params/` (`spen dvc-yaml`): one stage per step of `spen.steps`, whose
commands it takes from there, over the runs and paths of `spen.layout`.

Run profile. Snakemake takes it from `--config profile=NAME`; DVC has no such switch, so
`spen dvc-yaml [--profile NAME]` bakes it (default: params/experiments.yaml's `profile`) into
dvc.yaml's `vars`, with the seeds it implies. dvc.yaml is generated: after editing
params/experiments.yaml or a profile's seeds, rerun `spen dvc-yaml` (`--check` and
tests/test_pipeline.py catch a stale one). Values inside params/ need no regeneration: DVC
reads them through each stage's `params:` keys.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from spen import tuning
from spen.config import Params, ParamsError
from spen.io import atomic_open
from spen.layout import (
    ANALYSIS,
    BENCH,
    BENCH_READS,
    CALIBRATION,
    CHECKPOINT,
    CURVE,
    DECODE_READS,
    FEATURES,
    FEATURIZE_COST,
    FEATURIZE_READS,
    PREDICTIONS,
    RAW_DIR,
    REPORT,
    SCORES,
    SUMMARY,
    TIMINGS,
    TRAIN_LOG,
    TRAIN_READS,
    TRAIN_SUMMARY,
    TUNE_PROBE,
    TUNE_PROBES,
    TUNE_SUMMARIES,
    TUNE_SUMMARY,
    TUNING,
    Run,
    experiments,
    grid_summaries,
    prepared,
    pretrained_file,
    profile_root,
    pruning_record,
    reads_features,
    report_inputs,
    runs,
    tag_lms,
    tuned_grids,
    tuning_record,
)
from spen.steps import code_deps, dvc_command, reads


def dvc_stages(params: Params, profile: str) -> dict[str, Any]:
    """The content of dvc.yaml for `profile`: `vars` hold the experiment list, stages iterate.

    fetch/preprocess iterate (`foreach`) over the tasks, train/decode/score take the `matrix`
    of tasks x models x settings x seeds, so their stages are named `train@pos-bilstm-paper-1`.
    Runs of a model with a pretrained global energy train in `train_global@RUN` instead (a
    foreach over those runs), after `pretrain_tlm@TASK-KIND[-SETTING]` built their tag LM.
    """
    exp = experiments(params, profile)
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
        "tuning_seed": params.tuning["seed"],
        "raw": {task: {"dir": params.task(task)["dir"]} for task in exp["tasks"]},
        "tasks": list(exp["tasks"]),
        "models": list(exp["models"]),
        "plain_models": [m for m in exp["models"] if m not in reads_lm | reads_tuning],
        "settings": list(exp["settings"]),
        "featurize": {
            f"{task}-{setting}": {
                "task": task,
                "setting": setting,
                "path": FEATURES.format(task=task, setting=setting),
            }
            for task in exp["tasks"]
            for setting in exp["settings"]
            if reads_features(params, setting)
        },
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
            for name in (p.name for p in tuning.grid(params, model, profile, task))
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
            for name in (p.name for p in tuning.grid(params, model, profile, task))
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
        "cmd": dvc_command("train"),
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
                "cmd": dvc_command("fetch", task="${key}"),
                "deps": code_deps("fetch"),
                "params": _params_list(reads("fetch", "${key}")),
                "outs": [RAW_DIR.format(rawdir="${item.dir}")],
            },
        },
        "featurize": {
            "foreach": "${featurize}",
            "do": {
                "cmd": dvc_command("featurize"),
                "deps": [*prepared("${item.task}", FEATURIZE_READS), *code_deps("featurize")],
                "params": _params_list(
                    reads(
                        "featurize", "${item.task}", setting="${item.setting}", profile="${profile}"
                    )
                ),
                "outs": [
                    "${item.path}",
                    {
                        FEATURIZE_COST.format(
                            task="${item.task}", setting="${item.setting}"
                        ): _NO_CACHE
                    },
                ],
            },
        },
        "preprocess": {
            "foreach": "${raw}",
            "do": {
                "cmd": dvc_command("preprocess", task="${key}"),
                "deps": [RAW_DIR.format(rawdir="${item.dir}"), *code_deps("preprocess")],
                "params": _params_list(reads("preprocess", "${key}")),
                "outs": prepared("${key}"),
            },
        },
        "train": {**train, "matrix": {**matrix, "model": "${plain_models}"}},
    }
    tuned_train = {
        **train,
        "cmd": dvc_command("train", tuned=" --tuned ${item.tuned}"),
        "deps": [*train["deps"], "${item.tuned}"],
    }
    if grids:
        point_params = [
            *train["params"],
            {"params/tuning.yaml": ["seed", "optimizers", "grids", "pruning"]},
        ]
        tune_train = {
            **train,
            "cmd": dvc_command("tune_train"),
            "params": point_params,
            # its summary, as in Snakemake: its checkpoints stay beside, outside what decides
            # a rerun, so that a grid goes on from its finished points on another machine
            "outs": [{TUNE_SUMMARY.format(**item, point="${item.point}"): _NO_CACHE}],
        }
        if variables["grid_points"]:
            stages["tune_train"] = {"foreach": "${grid_points}", "do": tune_train}
        if variables["pruned_points"]:
            probe = TUNE_PROBE.format(**item, point="${item.point}")
            stages["tune_probe"] = {
                "foreach": "${pruned_points}",
                "do": {
                    **train,
                    "cmd": dvc_command("tune_probe"),
                    "params": point_params,
                    "outs": [{probe: _NO_CACHE}],
                },
            }
            stages["tune_prune"] = _record_stage("tune_prune", "pruning_records", TUNE_PROBES)
            stages["tune_train_pruned"] = {
                "foreach": "${pruned_points}",
                "do": {
                    **tune_train,
                    "cmd": dvc_command("tune_train", pruning=" --pruning ${item.pruning}"),
                    "deps": [*tune_train["deps"], "${item.pruning}"],
                },
            }
        stages["tune_select"] = _record_stage("tune_select", "tuning_records", TUNE_SUMMARIES)
        stages["train_tuned"] = {"foreach": "${tuned_runs}", "do": tuned_train}
    if variables["global_runs"]:
        stages["pretrain_tlm"] = {
            "foreach": "${tag_lms}",
            "do": {
                "cmd": dvc_command("pretrain_tlm"),
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
                "cmd": dvc_command("decode"),
                "deps": [
                    run.path(CHECKPOINT),
                    *prepared("${item.task}", DECODE_READS),
                    *code_deps("decode"),
                ],
                "outs": [run.path(PREDICTIONS)],
            },
            "score": {
                "matrix": matrix,
                "cmd": dvc_command("score"),
                "deps": [run.path(PREDICTIONS), *code_deps("score")],
                "metrics": [{run.path(SCORES): _NO_CACHE}],
            },
            "analyze": {
                "matrix": matrix,
                "cmd": dvc_command("analyze"),
                "deps": [
                    run.path(CHECKPOINT),
                    *prepared("${item.task}", DECODE_READS),
                    *code_deps("analyze"),
                ],
                "outs": [{run.path(ANALYSIS): _NO_CACHE}],
            },
            "calibrate": {
                "matrix": matrix,
                "cmd": dvc_command("calibrate"),
                "deps": [
                    run.path(CHECKPOINT),
                    *prepared("${item.task}", DECODE_READS),
                    *code_deps("calibrate"),
                ],
                "outs": [{run.path(CALIBRATION): _NO_CACHE}],
            },
            "bench": {
                "foreach": "${raw}",
                "do": {
                    "cmd": dvc_command("bench", task="${key}"),
                    "deps": [*prepared("${key}", BENCH_READS), *code_deps("bench")],
                    "params": _params_list(reads("bench", "${key}", profile="${profile}")),
                    "outs": [{BENCH.format(task="${key}"): _NO_CACHE}],
                },
            },
            "report": {
                "cmd": dvc_command("report"),
                "deps": [
                    SUMMARY,
                    *curves,
                    *report_inputs(params, profile, Path(profile_root(params, profile))),
                    *code_deps("report"),
                ],
                "outs": [{path: _NO_CACHE} for path in REPORT],
            },
            "aggregate": {
                "cmd": dvc_command("aggregate", scores=" ".join(scores)),
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
    if not variables["featurize"]:
        del stages["featurize"]
    feature_settings = [s for s in exp["settings"] if reads_features(params, s)]
    stages = split_by_features(stages, variables, feature_settings)
    root = profile_root(params, profile)
    if root != ".":
        stages = {name: _in_folder(stage, root) for name, stage in stages.items()}
        for plot in plots:
            for spec in plot.values():
                spec["y"] = {f"{root}/{path}": y for path, y in spec["y"].items()}
    return {"vars": [variables], "stages": stages, "plots": plots}


def _in_folder(stage: dict[str, Any], root: str) -> dict[str, Any]:
    """`stage` run in the profile's folder `root` (`wdir`), its code dependencies named from
    there (params/ and docs/ are linked into it: `layout.enter_profile_root`)."""
    body = stage.get("do", stage)
    deps = [os.path.relpath(d, root) if d.startswith("spen/") else d for d in body["deps"]]
    body = {**body, "wdir": root, "deps": deps}
    return {**stage, "do": body} if "do" in stage else body


#: the stages whose runs read their input setting's encoder features, if it has any
FEATURE_READERS = (
    "train",
    "train_tuned",
    "train_global",
    "tune_train",
    "tune_probe",
    "tune_train_pruned",
    "pretrain_tlm",
    "decode",
    "analyze",
    "calibrate",
)


def split_by_features(
    stages: dict[str, Any], variables: dict[str, Any], feature_settings: list[str]
) -> dict[str, Any]:
    """Each stage of `FEATURE_READERS` as two: STAGE for the runs of settings without encoder
    features, STAGE_features for the others, which depend on their features folder too (DVC
    cannot make a dependency conditional). Their items move to `VAR` and `VAR_features`."""
    if not feature_settings:
        return stages
    features = FEATURES.format(task="${item.task}", setting="${item.setting}")
    plain_settings = [s for s in variables["settings"] if s not in feature_settings]
    variables.update(plain_settings=plain_settings, feature_settings=feature_settings)
    split_vars: set[str] = set()
    out: dict[str, Any] = {}
    for name, stage in stages.items():
        if name not in FEATURE_READERS:
            out[name] = stage
        elif "matrix" in stage:
            if plain_settings:
                out[name] = {**stage, "matrix": {**stage["matrix"], "setting": "${plain_settings}"}}
            out[f"{name}_features"] = {
                **stage,
                "matrix": {**stage["matrix"], "setting": "${feature_settings}"},
                "deps": [*stage["deps"], features],
            }
        else:
            var = stage["foreach"][2:-1]
            if var not in split_vars:
                items = variables[var]
                variables[var] = {k: v for k, v in items.items() if v["setting"] in plain_settings}
                variables[f"{var}_features"] = {
                    k: v for k, v in items.items() if v["setting"] in feature_settings
                }
                split_vars.add(var)
            if variables[var]:
                out[name] = stage
            if variables[f"{var}_features"]:
                out[f"{name}_features"] = {
                    "foreach": f"${{{var}_features}}",
                    "do": {**stage["do"], "deps": [*stage["do"]["deps"], features]},
                }
    return out


_NO_CACHE = {"cache": False}


def _record_stage(step: str, records: str, folder: str) -> dict[str, Any]:
    """A stage writing one record per tuned grid (`records`: its var) from the grid points'
    `folder` (DVC joins a directory dependency to every stage writing inside it)."""
    grid = {"task": "${item.task}", "model": "${item.model}", "setting": "${item.setting}"}
    return {
        "foreach": f"${{{records}}}",
        "do": {
            "cmd": dvc_command(step),
            "deps": [folder.format(**grid), *code_deps("tune_select")],
            "outs": [{"${item.path}": _NO_CACHE}],
        },
    }


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
    """YAML without anchors, every stage reading on its own: block style, except a mapping of
    scalars (one experiment item, `{cache: false}`) and a list of scalars, on one line if short."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_dict(self, data: Any) -> yaml.Node:  # noqa: D102 (PyYAML's hook)
        node = super().represent_dict(data)
        node.flow_style = all(_is_scalar(v) for v in data.values()) and _short(data)
        return node

    def represent_list(self, data: Any) -> yaml.Node:  # noqa: D102 (PyYAML's hook)
        node = super().represent_list(data)
        node.flow_style = all(_is_scalar(v) for v in data) and _short(data)
        return node


def _short(data: Any) -> bool:
    return len(str(data)) <= 220


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


_PlainDumper.add_representer(dict, _PlainDumper.represent_dict)
_PlainDumper.add_representer(list, _PlainDumper.represent_list)


def write_dvc_yaml(path: Path, text: str) -> None:
    """Write dvc.yaml atomically."""
    with atomic_open(path) as handle:
        handle.write(text)
