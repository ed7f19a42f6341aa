"""A learner is a model with its optimizers and its update rule for one minibatch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import torch
from torch import nn
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

from spen.data.batches import Batch
from spen.run_config import OptimizerConfig, RunConfig


def make_optimizer(params: list[nn.Parameter], spec: OptimizerConfig) -> torch.optim.Optimizer:
    """Adam or SGD (with momentum) as `spec` says. Adam is the fused implementation (one kernel
    for all parameters; the same update up to rounding) where torch has one for the parameters'
    device; SGD is the plain one (its fused kernel rounds differently, by about 1e-8 a step)."""
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, fused=fused_adam_available(params))
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum)
    raise ValueError(f"unknown optimizer '{spec.name}'; allowed: adam, sgd")


def fused_adam_available(params: list[nn.Parameter]) -> bool:
    """Whether this torch build has a fused Adam for every one of `params` (CUDA; the CPU from
    torch 2.4); False for no parameters."""
    supported = _get_fused_kernels_supported_devices()
    return bool(params) and all(
        p.device.type in supported and p.is_floating_point() for p in params
    )


def trainable(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of `module` that require gradients."""
    return [p for p in module.parameters() if p.requires_grad]


class Learner(ABC):
    """Owns a model and its optimizers; knows how to update them on one batch."""

    model: nn.Module
    grad_clip: float | None

    @abstractmethod
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The learner's optimizers by name, fresh."""

    @cached_property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name, made at their first use (a training step, a resume, a
        checkpoint): a learner restored to decode or tag never makes one, as building the first
        torch optimizer of a process imports torch's compiler (seconds)."""
        return self.make_optimizers()

    @abstractmethod
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Update the parameters on `batch`; return the losses (detached scalars)."""

    def start_epoch(self, epoch: int) -> None:  # noqa: B027 (a hook, empty by default)
        """Called by the training loop before epoch `epoch` (1-based); nothing by default."""

    @property
    def decoders(self) -> tuple[str, ...]:
        """Names of the decoders `predict` accepts; the first is the test-time one."""
        return ("test_time",)

    def predict(self, batch: Batch, decoder: str = "test_time") -> torch.Tensor:
        """Predicted tag ids `(batch, seq_len)` by the named decoder."""
        self._check_decoder(decoder)
        return self.model.predict(batch)

    def _check_decoder(self, decoder: str) -> None:
        if decoder not in self.decoders:
            raise ValueError(
                f"unknown decoder '{decoder}'; this model has: {', '.join(self.decoders)}"
            )

    def step(self, name: str, loss: torch.Tensor, params: list[nn.Parameter]) -> None:
        """Backpropagate `loss` and update `params` with optimizer `name`."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        optimizer.step()


class SupervisedLearner(Learner):
    """One model trained by its own `loss` (cross-entropy or CRF likelihood), one optimizer."""

    def __init__(self, model: nn.Module, config: RunConfig) -> None:
        self.model = model
        self.params = trainable(model)
        self.optimizer_spec = config.optimizer
        self.grad_clip = config.grad_clip

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": make_optimizer(self.params, self.optimizer_spec)}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        loss = self.model.loss(batch)
        self.step("model", loss, self.params)
        return {"loss": loss.detach()}
