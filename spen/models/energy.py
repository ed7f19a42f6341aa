"""The SPEN energy of METHOD.md §1: a linear-chain energy over BiLSTM features.

For one-hot outputs it is minus the BiLSTM-CRF score, so the same module, trained by
likelihood, is the BiLSTM-CRF baseline.
"""

from __future__ import annotations

import torch
from torch import nn

from spen.data.batches import Batch
from spen.inference.linear_chain import crf_nll, sequence_score, viterbi
from spen.models.encoders import FeatureNetwork

TRANSITION_INIT = 0.02


class LinearChainEnergy(nn.Module):
    """E(x, y) = -(Σ_t y_t·U b(x, t) + Σ_t y_{t-1}ᵀ W y_t), lower is better."""

    def __init__(self, features: FeatureNetwork, num_tags: int) -> None:
        super().__init__()
        self.features = features
        self.unary = nn.Linear(features.out_dim, num_tags, bias=False)
        self.transitions = nn.Parameter(
            torch.empty(num_tags + 1, num_tags + 1).uniform_(-TRANSITION_INIT, TRANSITION_INIT)
        )

    def emissions(self, batch: Batch) -> torch.Tensor:
        """Unary scores U b(x, t), `(batch, seq_len, num_tags)`."""
        return self.unary(self.features(batch))

    def forward(
        self, batch: Batch, labels: torch.Tensor, emissions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Energy `(batch,)` of relaxed or one-hot `labels` `(batch, seq_len, num_tags)`."""
        if emissions is None:
            emissions = self.emissions(batch)
        return -sequence_score(emissions, self.transitions, labels, batch.mask)

    def loss(self, batch: Batch) -> torch.Tensor:
        """CRF negative log-likelihood of the gold tags, averaged over the batch."""
        return crf_nll(self.emissions(batch), self.transitions, batch.tags, batch.mask).mean()

    def predict(self, batch: Batch) -> torch.Tensor:
        """Exact minimum-energy tags by Viterbi, `(batch, seq_len)`."""
        tags, _ = viterbi(self.emissions(batch), self.transitions, batch.mask)
        return tags
