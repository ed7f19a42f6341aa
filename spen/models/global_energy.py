"""Global energy terms: tag language models (METHOD.md §1, "Global energy terms").

``E_TLM(y) = − Σ_{t=1..T+1} log(ỹ_tᵀ ȳ_t)`` where ``ȳ_t`` is the model's distribution over
the ``L`` tags plus an end symbol given what precedes position ``t``, ``ỹ_t = [y_t ; 0]`` for
``t ≤ T`` and ``ỹ_{T+1}`` the end symbol. The same formula serves one-hot and relaxed ``y``;
on one-hot ``y`` it is the sequence's negative log-likelihood under the language model.

Kinds (``global_energy.kind``):

``tlm_a``
    GE(a): ``ȳ_t = h(y_0..y_{t−1})``, an LSTM over the previous tags only (learned start
    vector ``y_0``).
``tlm_b``
    GE(b): ``ȳ_t = h(x_0..x_{t−1}, y_0..y_{t−1})``: the LSTM also reads the previous word
    (``x_0`` a learned start vector). Its word encoder is built with the run's input setting.
``tlm_c``
    GE(c), **project choice** (the paper's exact form was not recovered): GE(b) plus the
    mirror-image backward term, a second LSTM that predicts ``y_t`` from the words and tags to
    its right (``y_{T+1}``, ``x_{T+1}`` learned start vectors; its "end" symbol is the
    beginning of the sentence). The energy is the sum of the two terms.

Whether a term is pretrained on gold tag sequences and frozen (``pretrained`` + ``trainable:
false``, GE(a)'s recipe) or trained with Θ (``trainable: true``) is a configuration choice.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spen.data.batches import Batch
from spen.models.encoders import WordEncoder, reverse_padded

GLOBAL_ENERGY_KINDS = ("tlm_a", "tlm_b", "tlm_c")
_TINY = 1e-30


class DirectionalTagLM(nn.Module):
    """One left-to-right tag language model, optionally reading the previous words too."""

    def __init__(self, num_tags: int, hidden: int, word_dim: int = 0) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.word_dim = word_dim
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.start_word = nn.Parameter(torch.zeros(word_dim)) if word_dim else None
        self.lstm = nn.LSTM(num_tags + word_dim, hidden, batch_first=True)
        self.output = nn.Linear(hidden, num_tags + 1)

    def energy(self, labels: Tensor, mask: Tensor, words: Tensor | None = None) -> Tensor:
        """``−Σ_{t=1..T+1} log(ỹ_tᵀ ȳ_t)`` per sentence, `(batch,)`.

        `labels` `(batch, seq_len, num_tags)` relaxed or one-hot; `words` `(batch, seq_len,
        word_dim)` word vectors when the model reads words.
        """
        batch, seq_len, num_tags = labels.shape
        real = mask.unsqueeze(-1)
        y = labels.masked_fill(~real, 0.0)
        inputs = torch.cat([self.start.expand(batch, 1, num_tags), y], dim=1)
        if self.start_word is not None:
            if words is None:
                raise ValueError("this tag language model reads words; none were given")
            w = words.masked_fill(~real, 0.0)
            w = torch.cat([self.start_word.expand(batch, 1, self.word_dim), w], dim=1)
            inputs = torch.cat([inputs, w], dim=-1)
        hidden, _ = self.lstm(inputs)
        probs = self.output(hidden).softmax(dim=-1)  # (batch, seq_len + 1, num_tags + 1)
        lengths = mask.long().sum(dim=1)
        end = nn.functional.one_hot(lengths, seq_len + 1).to(y.dtype)  # (batch, seq_len + 1)
        tags = torch.cat([y, y.new_zeros(batch, 1, num_tags)], dim=1)
        targets = torch.cat([tags, end.unsqueeze(-1)], dim=-1)  # (batch, seq_len + 1, L + 1)
        agreement = (targets * probs).sum(dim=-1)
        positions = torch.arange(seq_len + 1, device=mask.device).unsqueeze(0)
        valid = positions <= lengths.unsqueeze(1)
        log_agreement = torch.where(valid, agreement.clamp_min(_TINY).log(), 0.0)
        return -log_agreement.sum(dim=1)


class TagLanguageModel(nn.Module):
    """A GE(a), GE(b) or GE(c) tag language model (see the module docstring)."""

    def __init__(
        self, kind: str, num_tags: int, hidden: int, words: WordEncoder | None = None
    ) -> None:
        super().__init__()
        if kind not in GLOBAL_ENERGY_KINDS:
            raise ValueError(
                f"unknown global energy kind '{kind}'; allowed: {', '.join(GLOBAL_ENERGY_KINDS)}"
            )
        if kind != "tlm_a" and words is None:
            raise ValueError(f"global energy '{kind}' reads words; give it a word encoder")
        self.kind = kind
        self.num_tags = num_tags
        self.hidden = hidden
        self.words = words if kind != "tlm_a" else None
        word_dim = self.words.out_dim if self.words is not None else 0
        self.forward_lm = DirectionalTagLM(num_tags, hidden, word_dim)
        self.backward_lm = DirectionalTagLM(num_tags, hidden, word_dim) if kind == "tlm_c" else None

    @property
    def uses_chars(self) -> bool:
        return self.words is not None and self.words.uses_chars

    def word_features(self, batch: Batch) -> Tensor | None:
        """The word vectors this model reads, `(batch, seq_len, dim)`; None for GE(a)."""
        return self.words(batch) if self.words is not None else None

    def energy(self, labels: Tensor, mask: Tensor, words: Tensor | None) -> Tensor:
        """Energy `(batch,)` of relaxed or one-hot `labels` given the batch's
        :meth:`word_features` `words`."""
        energy = self.forward_lm.energy(labels, mask, words)
        if self.backward_lm is not None:
            backward_words = None if words is None else reverse_padded(words, mask)
            energy = energy + self.backward_lm.energy(
                reverse_padded(labels, mask), mask, backward_words
            )
        return energy

    def forward(self, batch: Batch, labels: Tensor) -> Tensor:
        """Energy `(batch,)` of relaxed or one-hot `labels`."""
        return self.energy(labels, batch.mask, self.word_features(batch))

    def nll(self, batch: Batch) -> Tensor:
        """Negative log-likelihood of the gold tags per sentence, `(batch,)`."""
        gold = nn.functional.one_hot(batch.tags, self.num_tags).to(torch.get_default_dtype())
        return self(batch, gold)

    def spec(self) -> dict[str, Any]:
        """What is needed to build the same architecture again."""
        return {"kind": self.kind, "num_tags": self.num_tags, "hidden": self.hidden}


class GlobalEnergy(nn.Module):
    """A weighted global energy term ``weight · E_TLM(y)`` added to the linear-chain energy."""

    def __init__(self, model: TagLanguageModel, weight: float, trainable: bool) -> None:
        super().__init__()
        self.model = model
        self.weight = weight
        for p in self.model.parameters():
            p.requires_grad_(trainable and p.requires_grad)

    def word_features(self, batch: Batch) -> Tensor | None:
        """The word vectors the tag LM reads (:meth:`TagLanguageModel.word_features`)."""
        return self.model.word_features(batch)

    def forward(self, labels: Tensor, mask: Tensor, words: Tensor | None) -> Tensor:
        """``weight · E_TLM(y)`` `(batch,)` given the batch's :meth:`word_features` `words`."""
        return self.weight * self.model.energy(labels, mask, words)
