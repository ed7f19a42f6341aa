"""What evaluation needs of a trained model: a `Predictor`. Any learner is one; evaluation
never imports training (docs/DESIGN.md, layers)."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn

from spen.data.batches import Batch


class Predictor(Protocol):
    """A trained network (`model`) and the decoders that tag a batch with it."""

    model: nn.Module

    @property
    def decoders(self) -> tuple[str, ...]:
        """Names of the decoders `predict` accepts; the first is the test-time one."""
        ...

    def predict(self, batch: Batch, decoder: str = "test_time") -> Tensor:
        """Predicted tag ids `(batch, seq_len)` by the named decoder."""
        ...
