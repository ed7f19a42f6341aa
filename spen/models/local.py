"""The local tagger: BiLSTM features, a linear layer and a softmax per position.

It is the paper's BiLSTM baseline and also the architecture of every inference network.
"""

from __future__ import annotations

import torch
from torch import nn

from spen.data.batches import Batch
from spen.models.encoders import FeatureNetwork


class LocalTagger(nn.Module):
    """BiLSTM -> linear -> softmax, independently at each position."""

    def __init__(self, features: FeatureNetwork, num_tags: int) -> None:
        super().__init__()
        self.features = features
        self.output = nn.Linear(features.out_dim, num_tags)

    def logits(self, batch: Batch) -> torch.Tensor:
        """Unnormalised tag scores `(batch, seq_len, num_tags)`."""
        return self.output(self.features(batch))

    def forward(self, batch: Batch) -> torch.Tensor:
        """Tag distributions `(batch, seq_len, num_tags)` (a relaxed output)."""
        return self.logits(batch).softmax(dim=-1)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Token-level cross-entropy against the gold tags, averaged over real tokens."""
        return token_cross_entropy(self.logits(batch), batch.tags, batch.mask)

    def predict(self, batch: Batch) -> torch.Tensor:
        """Per-position argmax `(batch, seq_len)`."""
        return self.logits(batch).argmax(dim=-1)


def token_cross_entropy(
    logits: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy over the real tokens: `logits` `(B, T, L)`, `tags`/`mask` `(B, T)`."""
    return nn.functional.cross_entropy(logits[mask], tags[mask])
