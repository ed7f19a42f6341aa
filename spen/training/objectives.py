"""The pieces of the SPEN training objectives (METHOD.md §3-§4), as plain tensor functions.

Shapes: relaxed or one-hot labels `(batch, seq_len, num_tags)`, logits the same, integer tags
and the bool mask `(batch, seq_len)`. Every per-sentence quantity is `(batch,)` and sums over
the real tokens only. Scalar losses average per-sentence quantities over the batch, as the
authors' code does (``T.mean`` over sentences of per-sentence sums), so the hinges, the cost
and the cross-entropy are on the same per-sentence scale.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

__all__ = [
    "compound_energy_loss",
    "compound_inference_loss",
    "cost",
    "hinge",
    "sentence_cross_entropy",
]


def cost(predicted: Tensor, gold: Tensor, mask: Tensor) -> Tensor:
    """``Δ(ŷ, y) = Σ_t ‖ŷ_t − y_t‖₁`` over the real positions, `(batch,)` (METHOD.md §3)."""
    per_position = (predicted - gold).abs().sum(dim=-1)
    return (per_position * mask.to(per_position.dtype)).sum(dim=1)


def sentence_cross_entropy(logits: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
    """Token cross-entropy ``−Σ_t log softmax(logits_t)[y_t]`` summed per sentence, `(batch,)`."""
    log_probs = functional.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, tags.unsqueeze(-1)).squeeze(-1)
    return -(picked * mask.to(picked.dtype)).sum(dim=1)


def hinge(energy_predicted: Tensor, energy_gold: Tensor, margin: Tensor | None = None) -> Tensor:
    """Untruncated hinge ``[Δ] − E(x, ŷ) + E(x, y)``, `(batch,)`; `margin` None: perceptron."""
    value = energy_gold - energy_predicted
    return value if margin is None else margin + value


def compound_energy_loss(
    hinge_cost_augmented: Tensor, hinge_test_time: Tensor | None, weight: float
) -> Tensor:
    """Θ's loss: ``mean([h_F]_+) + λ·mean([h_A]_+)`` (the truncated hinges, METHOD.md §4b).

    With `hinge_test_time` None it is the Tu & Gimpel (2018) loss ``mean([h_F]_+)``.
    """
    loss = torch.relu(hinge_cost_augmented).mean()
    if hinge_test_time is not None:
        loss = loss + weight * torch.relu(hinge_test_time).mean()
    return loss


def compound_inference_loss(
    hinge_cost_augmented: Tensor,
    hinge_test_time: Tensor | None,
    weight: float,
    zero_truncation: bool,
) -> Tensor:
    """Φ,Ψ's loss without the CE terms: ``−mean(h_F) − λ·mean(h_A)`` (they *maximise* the hinges).

    With `zero_truncation` each hinge is clipped at zero first (``[h]_+``), as Θ sees it; the
    paper's final recipe leaves them unclipped.
    """

    def clip(value: Tensor) -> Tensor:
        return torch.relu(value) if zero_truncation else value

    loss = -clip(hinge_cost_augmented).mean()
    if hinge_test_time is not None:
        loss = loss - weight * clip(hinge_test_time).mean()
    return loss
