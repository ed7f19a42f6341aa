"""The learner a run's configuration asks for (its `kind`)."""

from __future__ import annotations

from torch import nn

from spen.run_config import RunConfig
from spen.training.learners import Learner, SupervisedLearner
from spen.training.spen_learner import SpenLearner


def build_learner(config: RunConfig, model: nn.Module) -> Learner:
    """The learner that trains `model` as the run's `kind` says."""
    if config.kind in {"local", "crf"}:
        return SupervisedLearner(model, config)
    if config.kind == "spen":
        return SpenLearner(model, config)  # type: ignore[arg-type] (it checks the type)
    raise ValueError(f"unknown model kind '{config.kind}'")
