"""Input encoders: word embeddings, an optional character CNN, and BiLSTM features."""

from __future__ import annotations

import torch
from torch import nn

from spen.data.batches import Batch
from spen.run_config import CharCNNConfig


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
    """Word vectors (frozen or fine-tuned), optionally joined with character-CNN features and
    with a frozen pretrained encoder's word features (`features_dim` wide, read off the batch)."""

    def __init__(
        self,
        embeddings: torch.Tensor,
        finetune: bool,
        num_chars: int | None = None,
        char_cnn: CharCNNConfig | None = None,
        features_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(embeddings, freeze=not finetune, padding_idx=0)
        self.char_cnn = CharCNN(num_chars, char_cnn) if char_cnn and num_chars else None
        self.features_dim = features_dim
        self.out_dim = (
            embeddings.shape[1]
            + (self.char_cnn.out_dim if self.char_cnn else 0)
            + (features_dim or 0)
        )

    @property
    def uses_chars(self) -> bool:
        return self.char_cnn is not None

    def forward(self, batch: Batch) -> torch.Tensor:
        """Token representations `(batch, seq_len, out_dim)`."""
        parts = [self.embed(batch.words)]
        if self.char_cnn is not None:
            if batch.chars is None:
                raise ValueError("this model reads characters, but the batch carries none")
            parts.append(self.char_cnn(batch.chars))
        if self.features_dim is not None:
            if batch.features is None or batch.features.shape[-1] != self.features_dim:
                raise ValueError(
                    f"this model reads {self.features_dim}-d encoder features, but the batch "
                    "carries none of that size (load the task with its input setting's features)"
                )
            parts.append(batch.features)
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]


def reversal_index(mask: torch.Tensor) -> torch.Tensor:
    """`(B, T)` positions that reverse each sentence within its own length (padding stays).

    Position `t < n` of a sentence of length `n` maps to `n - 1 - t`, padding to itself; the
    map is its own inverse.
    """
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    lengths = mask.sum(dim=1, keepdim=True)
    return torch.where(mask, lengths - 1 - positions, positions)


def reverse_padded(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`x` `(B, T, ...)` with each sentence's real prefix reversed; padding stays put."""
    index = reversal_index(mask)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


class BiLSTM(nn.Module):
    """One bidirectional LSTM layer over padded input: `(B, T, D)` -> `(B, T, 2H)`.

    Two one-direction LSTMs over the padded batch, the backward one reading each sentence
    reversed within its length, give exactly what a bidirectional LSTM over packed sequences
    gives (padding never reaches a real position; padded outputs are zero). On a CPU this runs
    the fused oneDNN kernels, which packed sequences cannot use: 2-4x faster forward and
    backward at the sizes trained here (docs/CHOICES.md, Performance).
    """

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(input_dim, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(input_dim, hidden, batch_first=True)
        self.out_dim = 2 * hidden
        self._register_load_state_dict_pre_hook(_from_bidirectional_lstm)

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        forward, _ = self.forward_lstm(inputs)
        backward, _ = self.backward_lstm(reverse_padded(inputs, mask))
        joined = torch.cat([forward, reverse_padded(backward, mask)], dim=-1)
        return joined * mask.unsqueeze(-1).to(joined.dtype)


def _from_bidirectional_lstm(state: dict[str, torch.Tensor], prefix: str, *_: object) -> None:
    """Read a checkpoint written when this layer was one bidirectional `nn.LSTM` (`lstm.*`,
    `lstm.*_reverse`): the same weights under this layer's names."""
    for key in [k for k in state if k.startswith(prefix + "lstm.")]:
        name = key[len(prefix + "lstm.") :]
        if name.endswith("_reverse"):
            state[f"{prefix}backward_lstm.{name[: -len('_reverse')]}"] = state.pop(key)
        else:
            state[f"{prefix}forward_lstm.{name}"] = state.pop(key)


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
