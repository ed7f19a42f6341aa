"""Running a trained learner over a split, and the CoNLL predictions file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from spen.data.arrow import Split
from spen.data.batches import make_batches
from spen.data.readers import DataFormatError
from spen.data.vocab import Vocabularies
from spen.io import atomic_open
from spen.training.learners import Learner


@torch.no_grad()
def predict_split(
    learner: Learner,
    split: Split,
    vocabs: Vocabularies,
    batch_size: int,
    device: torch.device,
    decoder: str = "test_time",
) -> list[list[str]]:
    """Predicted tags for every sentence of `split`, in the split's order."""
    learner.model.eval()
    chars = vocabs.chars if learner_uses_chars(learner) else None
    predicted: list[list[str]] = [[] for _ in range(len(split))]
    for batch in make_batches(split, batch_size, chars):
        batch = batch.to(device)
        ids = learner.predict(batch, decoder).cpu().tolist()
        for row, tags, n in zip(batch.index, ids, batch.lengths.tolist(), strict=True):
            predicted[row] = [vocabs.tags.tags[i] for i in tags[:n]]
    return predicted


def learner_uses_chars(learner: Learner) -> bool:
    """Whether any encoder of the learner's model reads characters."""
    return any(getattr(m, "uses_chars", False) for m in learner.model.modules())


def write_predictions(
    path: str | os.PathLike[str],
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
) -> None:
    """Write `token<TAB>gold<TAB>predicted` lines, a blank line after each sentence."""
    with atomic_open(path) as handle:
        for sent in zip(tokens, gold, pred, strict=True):
            for token, g, p in zip(*sent, strict=True):
                handle.write(f"{token}\t{g}\t{p}\n")
            handle.write("\n")


def read_predictions(path: str | os.PathLike[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tags from a file `write_predictions` wrote."""
    gold: list[list[str]] = [[]]
    pred: list[list[str]] = [[]]
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if gold[-1]:
                    gold.append([])
                    pred.append([])
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise DataFormatError(
                    Path(path),
                    line_no,
                    f"found {len(fields)} tab-separated columns",
                    "3 (token, gold tag, predicted tag)",
                )
            gold[-1].append(fields[1])
            pred[-1].append(fields[2])
    if not gold[-1]:
        gold.pop()
        pred.pop()
    if not gold:
        raise DataFormatError(Path(path), None, "expected predictions, found an empty file")
    return gold, pred
