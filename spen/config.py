"""Loading the `params/` files, validating them, and resolving one run's configuration."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

PARAM_FILES = ("data", "models", "profiles", "experiments", "tuning")
SCHEMA_DIR = Path("workflow") / "schemas"
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
    ) -> dict[str, Any]:
        """One training run's configuration: every level merged, then validated. `tuned`: the
        settings the tuning protocol chose (or a grid point's), above the model's own."""
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
        _validate(config, _run_schema(self.root), where)
        for key in ("kind", "hidden"):
            if key not in config:
                raise ParamsError(f"{where}: no level of params/models.yaml sets '{key}'")
        config.update(task=task, model=model, setting=setting, seed=seed, profile=profile)
        return config


def _pick(table: dict[str, Any], name: str, where: str) -> Any:
    if name not in table:
        raise ParamsError(f"{where}: unknown name '{name}'; allowed: {', '.join(sorted(table))}")
    return table[name]


def load_schema(root: Path, name: str) -> dict[str, Any]:
    """The JSON schema of params file `name` from `workflow/schemas/`."""
    path = root / SCHEMA_DIR / f"{name}.schema.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _run_schema(root: Path) -> dict[str, Any]:
    models = load_schema(root, "models")
    return {"$defs": models["$defs"], **models["$defs"]["run"]}


def _validate(value: Any, schema: dict[str, Any], where: str) -> None:
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
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
        _validate(value, load_schema(root, name), str(path))
        loaded[name] = value
    params = Params(root=root, **loaded)
    _check_names(params)
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
    for name, axes in tuning["grids"].items():
        for value in axes.get("optimizer", []):
            _pick(tuning["optimizers"], value, f"{where}: grids.{name}.optimizer")
