"""Resolving one run's configuration from the levels of params/models.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from spen.config import ParamsError, load_params

REPO = Path(__file__).resolve().parents[1]


def params_copy(tmp_path: Path, edit) -> Path:
    """A copy of params/ whose models.yaml `edit` has changed."""
    shutil.copytree(REPO / "params", tmp_path / "params")
    path = tmp_path / "params" / "models.yaml"
    models = yaml.safe_load(path.read_text())
    edit(models)
    path.write_text(yaml.safe_dump(models))
    return tmp_path / "params"


def test_when_overrides_its_task_only(tmp_path: Path) -> None:
    def edit(models: dict) -> None:
        models["models"]["bilstm"].update(hidden=50, when={"ner": {"patience": 3, "hidden": 7}})
        models["tasks"]["ner"]["patience"] = 5

    params = load_params(params_copy(tmp_path, edit))
    ner = params.run_config("ner", "bilstm", "paper", 1, "paper")
    pos = params.run_config("pos", "bilstm", "paper", 1, "paper")
    assert (ner.patience, ner.hidden) == (3, 7)  # stronger than tasks and the model
    assert (pos.patience, pos.hidden) == (8, 50)
    assert "when" not in ner.to_dict() and "when" not in pos.to_dict()
    # Another model on the same task keeps the task level's value.
    assert params.run_config("ner", "bilstm_crf", "paper", 1, "paper").patience == 5


def test_task_and_setting_beat_task_and_the_profile_beats_both(tmp_path: Path) -> None:
    def edit(models: dict) -> None:
        models["models"]["bilstm"]["when"] = {
            "pos/plus": {"patience": 2, "max_epochs": 30},
            "pos": {"patience": 4},
        }

    params = load_params(params_copy(tmp_path, edit))
    assert params.run_config("pos", "bilstm", "plus", 1, "paper").patience == 2
    assert params.run_config("pos", "bilstm", "paper", 1, "paper").patience == 4
    assert params.run_config("ner", "bilstm", "plus", 1, "paper").patience == 8
    assert params.run_config("pos", "bilstm", "plus", 1, "smoke").max_epochs == 1


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda m: m["models"]["bilstm"].update(when={"chunking": {}}), "chunking"),
        (lambda m: m["models"]["bilstm"].update(when={"pos/tiny": {}}), "tiny"),
        (lambda m: m["training"].update(when={"pos": {}}), "when"),
        (
            lambda m: m["models"]["bilstm"].update(when={"pos": {"optimizer": {"lr": 1}}}),
            "when.pos.optimizer",
        ),
    ],
    ids=["unknown-task", "unknown-setting", "outside-a-model-entry", "bad-value"],
)
def test_bad_when_is_named(tmp_path: Path, edit, named: str) -> None:
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        params = load_params(params_copy(tmp_path, edit))
        params.run_config("pos", "bilstm", "paper", 1, "paper")
