"""Input encoders: word embeddings, an optional character CNN, and BiLSTM features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spen.data.batches import Batch


@dataclass(frozen=True)
class CharCNNConfig:
    """Sizes of the character CNN word encoder (the `plus` input setting)."""

    char_dim: int = 30
    filters: int = 50
    width: int = 3


class CharCNN(nn.Module):
    """Max-pooled convolution over a word's characters: `(B, T, C)` ids -> `(B, T, filters)`."""

    def __init__(self, num_chars: int, config: CharCNNConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, config.char_dim, padding_idx=0)
        self.conv = nn.Conv1d(config.char_dim, config.filters, config.width, padding=1)
        self.out_dim = config.filters

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        batch, seq_len, word_len = chars.shape
        flat = self.embed(chars.view(batch * seq_len, word_len)).transpose(1, 2)
        feats = self.conv(flat)
        feats = feats.masked_fill((chars.view(-1, 1, word_len) == 0), float("-inf"))
        pooled = feats.max(dim=2).values
        pooled = torch.where(torch.isfinite(pooled), pooled, torch.zeros_like(pooled))
        return pooled.view(batch, seq_len, self.out_dim)


class WordEncoder(nn.Module):
    """Word vectors (frozen or fine-tuned), optionally joined with character-CNN features."""

    def __init__(
        self,
        embeddings: torch.Tensor,
        finetune: bool,
        num_chars: int | None = None,
        char_cnn: CharCNNConfig | None = None,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(embeddings, freeze=not finetune, padding_idx=0)
        self.char_cnn = CharCNN(num_chars, char_cnn) if char_cnn and num_chars else None
        self.out_dim = embeddings.shape[1] + (self.char_cnn.out_dim if self.char_cnn else 0)

    @property
    def uses_chars(self) -> bool:
        return self.char_cnn is not None

    def forward(self, batch: Batch) -> torch.Tensor:
        """Token representations `(batch, seq_len, out_dim)`."""
        vectors = self.embed(batch.words)
        if self.char_cnn is None:
            return vectors
        if batch.chars is None:
            raise ValueError("this model reads characters, but the batch carries none")
        return torch.cat([vectors, self.char_cnn(batch.chars)], dim=-1)


class BiLSTM(nn.Module):
    """One bidirectional LSTM layer over padded input: `(B, T, D)` -> `(B, T, 2H)`."""

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True, bidirectional=True)
        self.out_dim = 2 * hidden

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        padded, _ = pad_packed_sequence(output, batch_first=True, total_length=mask.shape[1])
        return padded


class FeatureNetwork(nn.Module):
    """Word encoder followed by a BiLSTM: the feature extractor every model here uses."""

    def __init__(self, words: WordEncoder, hidden: int) -> None:
        super().__init__()
        self.words = words
        self.bilstm = BiLSTM(words.out_dim, hidden)
        self.out_dim = self.bilstm.out_dim

    def forward(self, batch: Batch) -> torch.Tensor:
        """Features `(batch, seq_len, 2 * hidden)`."""
        return self.bilstm(self.words(batch), batch.mask)
