"""Gradient-descent inference (Belanger & McCallum 2016; METHOD.md §5).

The energy is minimised over relaxed outputs ``y_t = softmax(z_t)`` by ``steps`` plain
gradient steps on the logits ``z``. **Project choice** (docs/CHOICES.md): the logits start at
zero (every position uniform) unless a start is given, the step size is fixed, and the output
is the last iterate; its per-position argmax is the discrete prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

#: maps relaxed outputs `(batch, seq_len, num_tags)` to per-sentence energies `(batch,)`
EnergyFunction = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class GradientDescentOptions:
    """How many gradient steps, and their size, on the output logits."""

    steps: int = 30
    lr: float = 1.0

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"gradient-descent steps must be >= 0, got {self.steps}")
        if not self.lr > 0:
            raise ValueError(f"gradient-descent lr must be > 0, got {self.lr}")


def minimise_relaxed(
    energy: EnergyFunction, start_logits: Tensor, options: GradientDescentOptions
) -> Tensor:
    """The relaxed output `(batch, seq_len, num_tags)` reached from `start_logits` by gradient
    descent on `energy`; gradients reach the logits only (the energy's parameters are
    constants here, whatever their `requires_grad`)."""
    logits = start_logits.detach().clone()
    with torch.enable_grad():
        for _ in range(options.steps):
            logits.requires_grad_(True)
            total = energy(logits.softmax(dim=-1)).sum()
            (grad,) = torch.autograd.grad(total, logits)
            logits = (logits - options.lr * grad).detach()
    return logits.softmax(dim=-1)
