"""The learner a run's configuration asks for (its `kind`)."""

from __future__ import annotations

from typing import Any

from torch import nn

from spen.training.learners import Learner, SupervisedLearner
from spen.training.spen_learner import SpenLearner


def build_learner(config: dict[str, Any], model: nn.Module) -> Learner:
    """The learner that trains `model` as `config["kind"]` says."""
    if config["kind"] in {"local", "crf"}:
        return SupervisedLearner(model, config)
    if config["kind"] == "spen":
        return SpenLearner(model, config)  # type: ignore[arg-type] (it checks the type)
    raise ValueError(f"unknown model kind '{config['kind']}'")
