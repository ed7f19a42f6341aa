"""The typed run configuration (spen.run_config): built once from params, the same values as
the merged dict of params/models.yaml, unknown keys refused, old checkpoints readable."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from test_spen import tiny_config, vocabs

from spen.config import ParamsError, load_params
from spen.models.build import build_model
from spen.run_config import (
    CharCNNConfig,
    FeatureSpec,
    GlobalEnergyConfig,
    InputSetting,
    OptimizerConfig,
    RunConfig,
    RunConfigError,
)
from spen.training.checkpoint import checkpoint_config, restore_learner

REPO = Path(__file__).resolve().parents[1]

#: what the consumers read for a key no level sets, before the configuration was typed
#: (their `.get(key, default)` calls)
OLD_DEFAULTS: dict[str, Any] = {
    "char_cnn": None,
    "features": None,
    "grad_clip": None,
    "train_limit": None,
    "dev_limit": None,
    "test_limit": None,
    "objective": None,
    "parameterization": "separated",
    "compound_weight": 1.0,
    "inner_steps": 1,
    "test_time_cost": False,
    "ce": True,
    "ce_weight": 1.0,
    "joint_epochs": 1,
    "retune_epochs": 1,
    "energy_optimizer": {"name": "adam", "lr": 0.001},
    "inference_optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "global_energy": None,
}


@pytest.fixture(scope="module")
def params():  # noqa: ANN201
    return load_params(REPO / "params")


def old_merge(params, task: str, model: str, setting: str, profile: str) -> dict[str, Any]:  # noqa: ANN001
    """The run configuration as the untyped `Params.run_config` merged it (a plain dict)."""
    entry = dict(params.models["models"][model])
    when = entry.pop("when", {})
    config: dict[str, Any] = {}
    for level in (
        params.models["training"],
        params.models["tasks"].get(task, {}),
        params.models["settings"][setting],
        entry,
        when.get(task, {}),
        when.get(f"{task}/{setting}", {}),
        params.profiles[profile]["overrides"],
    ):
        config.update(copy.deepcopy(level))
    config.update(task=task, model=model, setting=setting, seed=1, profile=profile)
    return config


def expected_value(key: str, old: dict[str, Any]) -> Any:
    """What the untyped code read for `key`, in the typed config's plain form."""
    if key == "zero_truncation" and key not in old:
        return old.get("objective") != "compound" if old["kind"] == "spen" else None
    if key == "retune_optimizer" and key not in old:
        if old["kind"] != "spen":
            return None
        return expected_value("inference_optimizer", old)
    value = old[key] if key in old else OLD_DEFAULTS[key]
    if key.endswith("optimizer") and value is not None:
        return {"momentum": 0.0, **value}
    if key == "global_energy" and value is not None:
        return {"hidden": 200, "pretrained": None, "trainable": False, **value}
    return value


COMBOS = [
    ("pos", "bilstm", "paper", "paper"),
    ("ner", "bilstm_crf", "plus", "paper"),
    ("pos", "margin_rescaled", "paper", "paper"),
    ("ner", "compound_separated", "plus", "smoke"),
    ("pos", "control_ce_stacked", "xfmr", "paper"),
    ("ner", "compound_stacked_ge_b", "paper", "smoke"),
]


@pytest.mark.parametrize(("task", "model", "setting", "profile"), COMBOS)
def test_typed_config_holds_the_values_the_merged_dict_gave(
    params,  # noqa: ANN001
    task: str,
    model: str,
    setting: str,
    profile: str,
) -> None:
    config = params.run_config(task, model, setting, 1, profile)
    old = old_merge(params, task, model, setting, profile)
    typed = config.to_dict()
    assert set(old) <= set(typed), set(old) - set(typed)
    for key in typed:
        assert typed[key] == expected_value(key, old), key


def test_known_values_of_params(params) -> None:  # noqa: ANN001
    ner = params.run_config("ner", "bilstm_crf", "plus", 3, "paper")
    assert (ner.kind, ner.hidden, ner.max_epochs, ner.patience) == ("crf", 128, 15, 8)
    assert (ner.task, ner.model, ner.setting, ner.seed, ner.profile) == (
        "ner",
        "bilstm_crf",
        "plus",
        3,
        "paper",
    )
    assert ner.optimizer == OptimizerConfig("adam", 0.001)
    assert ner.char_cnn == CharCNNConfig(30, 50, 3) and ner.uses_chars
    assert ner.finetune_embeddings and ner.features is None
    separated = params.run_config("pos", "compound_separated", "paper", 1, "paper")
    assert separated.inference_optimizer == OptimizerConfig("sgd", 0.05, 0.9)
    assert separated.test_time_cost and separated.zero_truncation is False
    assert separated.inner_steps == 10 and separated.compound_weight == 1
    assert not separated.uses_chars and separated.input_setting == InputSetting()
    ge_a = params.run_config("pos", "compound_stacked_ge_a", "xfmr", 1, "paper")
    assert ge_a.global_energy == GlobalEnergyConfig(
        "tlm_a", 0.1, 200, "models/{task}/tlm/tlm_a.pt", False
    )
    assert ge_a.features == FeatureSpec("all-minilm-l6-v2", (3, 4, 5, 6), "mean", 384)
    smoke = params.run_config("pos", "bilstm", "paper", 1, "smoke")
    assert smoke.max_epochs == 1 and smoke.limit("train") is not None
    rescaled = params.run_config("pos", "margin_rescaled", "paper", 1, "paper")
    assert rescaled.retune_optimizer == OptimizerConfig("adam", 0.001)


def test_to_dict_is_json_and_rebuilds_the_same_config(params) -> None:  # noqa: ANN001
    config = params.run_config("pos", "compound_stacked_ge_c", "xfmr", 2, "smoke")
    plain = config.to_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert RunConfig.from_dict(json.loads(json.dumps(plain))) == config
    # the rerun trigger's form: the same for the same values, another for another value
    again = params.run_config("pos", "compound_stacked_ge_c", "xfmr", 2, "smoke").to_dict()
    assert repr(again) == repr(plain)
    assert replace(config, patience=3).to_dict() != plain


def test_an_unknown_key_is_refused_by_name() -> None:
    plain = tiny_config().to_dict()
    with pytest.raises(RunConfigError, match="unknown key 'dropout'"):
        RunConfig.from_dict({**plain, "dropout": 0.5})
    with pytest.raises(RunConfigError, match=r"unknown key 'energy_optimizer\.beta'"):
        RunConfig.from_dict({**plain, "energy_optimizer": {"name": "adam", "lr": 1, "beta": 2}})
    with pytest.raises(RunConfigError, match=r"unknown key 'global_energy\.depth'"):
        tiny_config(global_energy={"kind": "tlm_a", "weight": 1.0, "depth": 2})
    missing = {k: v for k, v in plain.items() if k != "batch_size"}
    with pytest.raises(RunConfigError, match="'batch_size'"):
        RunConfig.from_dict(missing)


def test_params_refuse_an_unknown_key_by_name(params) -> None:  # noqa: ANN001
    with pytest.raises(ParamsError, match="dropout"):
        params.run_config("pos", "bilstm", "paper", 1, "paper", {"dropout": 0.5})


def test_a_checkpoint_config_missing_newer_keys_takes_the_defaults(params) -> None:  # noqa: ANN001
    config = params.run_config("pos", "compound_stacked", "plus", 1, "paper")
    # a checkpoint written before the configuration was typed: the merged dict, no defaults,
    # and before `features` and `test_time_cost` existed
    old = old_merge(params, "pos", "compound_stacked", "plus", "paper")
    for key in ("features", "test_time_cost"):
        old.pop(key, None)
    restored = checkpoint_config({"config": old})
    assert restored == config
    assert restored.features is None and restored.test_time_cost is False
    assert restored.retune_optimizer == restored.inference_optimizer


def test_restore_learner_reads_an_old_checkpoint() -> None:
    config = tiny_config(parameterization="stacked")
    torch.manual_seed(0)
    model = build_model(config, vocabs(), torch.randn(7, 6))
    old = {
        k: v
        for k, v in config.to_dict().items()
        if k not in ("features", "test_time_cost", "retune_optimizer", "global_energy")
    }
    checkpoint = {
        "config": old,
        "vocab": vocabs().to_dict(),
        "embedding_shape": [7, 6],
        "model": model.state_dict(),
    }
    learner, restored_vocabs = restore_learner(checkpoint, torch.device("cpu"))
    assert restored_vocabs == vocabs()
    for ours, theirs in zip(
        learner.model.state_dict().values(), model.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs)
