"""Length-bucketed, padded minibatches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from spen.data.arrow import Split
from spen.data.vocab import Vocab

MAX_WORD_CHARS = 30
POOL_BATCHES = 50


@dataclass(frozen=True)
class Batch:
    """Padded tensors for a group of sentences.

    `words`, `tags`: `(batch, seq_len)` long; `mask`: `(batch, seq_len)` bool, a left-aligned
    prefix of True; `chars`: `(batch, seq_len, word_len)` long or None; `index`: each row's
    position in its split, so that predictions can be put back in order; `features`:
    `(batch, seq_len, dim)` float encoder features of the words, or None.
    """

    words: torch.Tensor
    tags: torch.Tensor
    mask: torch.Tensor
    chars: torch.Tensor | None
    index: tuple[int, ...]
    features: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def lengths(self) -> torch.Tensor:
        """Real tokens per sentence, `(batch,)`."""
        return self.mask.sum(dim=1)

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on `device`."""
        chars = None if self.chars is None else self.chars.to(device)
        features = None if self.features is None else self.features.to(device)
        return replace(
            self,
            words=self.words.to(device),
            tags=self.tags.to(device),
            mask=self.mask.to(device),
            chars=chars,
            features=features,
        )


def char_ids(tokens: Sequence[str], chars: Vocab) -> list[list[int]]:
    """Character ids of each token (original case), cut to `MAX_WORD_CHARS`."""
    return [[chars.index(c) for c in token[:MAX_WORD_CHARS]] for token in tokens]


def collate(split: Split, rows: Sequence[int], chars: Vocab | None) -> Batch:
    """Pad the sentences at `rows` of `split` into one `Batch`."""
    lengths = [len(split.token_ids[r]) for r in rows]
    width = max(lengths)
    words = torch.zeros(len(rows), width, dtype=torch.long)
    tags = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, (r, n) in enumerate(zip(rows, lengths, strict=True)):
        words[b, :n] = torch.tensor(split.token_ids[r])
        tags[b, :n] = torch.tensor(split.tag_ids[r])
        mask[b, :n] = True
    char_tensor = None
    if chars is not None:
        ids = [char_ids(split.tokens[r], chars) for r in rows]
        word_len = max(len(w) for sent in ids for w in sent)
        char_tensor = torch.zeros(len(rows), width, max(word_len, 1), dtype=torch.long)
        for b, sent in enumerate(ids):
            for t, word in enumerate(sent):
                char_tensor[b, t, : len(word)] = torch.tensor(word)
    features = None
    if split.features is not None:
        features = torch.zeros(len(rows), width, split.features.dim)
        for b, (r, n) in enumerate(zip(rows, lengths, strict=True)):
            features[b, :n] = torch.from_numpy(split.features.sentence(r).astype(np.float32))
    return Batch(words, tags, mask, char_tensor, tuple(rows), features)


def batch_rows(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None
) -> list[list[int]]:
    """Group sentence indices into batches of similar length.

    Without `rng` (evaluation): sorted by length. With `rng` (training): shuffled, sorted by
    length within pools of `POOL_BATCHES` batches, and the batches shuffled.
    """
    order = np.arange(len(lengths))
    if rng is None:
        order = order[np.argsort(np.asarray(lengths), kind="stable")]
        return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    pool = batch_size * POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(np.asarray(lengths)[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def make_batches(
    split: Split,
    batch_size: int,
    chars: Vocab | None = None,
    rng: np.random.Generator | None = None,
) -> list[Batch]:
    """All of `split` as padded batches (see `batch_rows` for the order)."""
    lengths = [len(t) for t in split.token_ids]
    return [collate(split, rows, chars) for rows in batch_rows(lengths, batch_size, rng)]
