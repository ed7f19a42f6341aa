"""Resolving one run's configuration from the levels of params/models.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from spen.config import ParamsError, load_params

REPO = Path(__file__).resolve().parents[1]


def params_copy(tmp_path: Path, edit) -> Path:
    """A copy of params/ (with the schemas beside it) whose models.yaml `edit` has changed."""
    shutil.copytree(REPO / "params", tmp_path / "params")
    shutil.copytree(REPO / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    path = tmp_path / "params" / "models.yaml"
    models = yaml.safe_load(path.read_text())
    edit(models)
    path.write_text(yaml.safe_dump(models))
    return tmp_path / "params"


def test_per_task_overrides_its_task_only(tmp_path: Path) -> None:
    def edit(models: dict) -> None:
        models["models"]["bilstm"].update(hidden=50, per_task={"ner": {"patience": 3, "hidden": 7}})
        models["tasks"]["ner"]["patience"] = 5

    params = load_params(params_copy(tmp_path, edit))
    ner = params.run_config("ner", "bilstm", "paper", 1, "paper")
    pos = params.run_config("pos", "bilstm", "paper", 1, "paper")
    assert (ner["patience"], ner["hidden"]) == (3, 7)  # stronger than tasks and the model
    assert (pos["patience"], pos["hidden"]) == (8, 50)
    assert "per_task" not in ner and "per_task" not in pos
    # Another model on the same task keeps the task level's value.
    assert params.run_config("ner", "bilstm_crf", "paper", 1, "paper")["patience"] == 5


def test_profile_overrides_beat_per_task(tmp_path: Path) -> None:
    def edit(models: dict) -> None:
        models["models"]["bilstm"]["per_task"] = {"pos": {"max_epochs": 30}}

    params = load_params(params_copy(tmp_path, edit))
    assert params.run_config("pos", "bilstm", "paper", 1, "smoke")["max_epochs"] == 1


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda m: m["models"]["bilstm"].update(per_task={"chunking": {}}), "chunking"),
        (lambda m: m["training"].update(per_task={"pos": {}}), "per_task"),
        (
            lambda m: m["models"]["bilstm"].update(per_task={"pos": {"optimizer": {"lr": 1}}}),
            "per_task.pos.optimizer",
        ),
    ],
    ids=["unknown-task", "outside-a-model-entry", "bad-value"],
)
def test_bad_per_task_is_named(tmp_path: Path, edit, named: str) -> None:
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        params = load_params(params_copy(tmp_path, edit))
        params.run_config("pos", "bilstm", "paper", 1, "paper")
