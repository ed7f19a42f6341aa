"""Running a trained learner over a split, and the CoNLL predictions file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from spen.data.arrow import Split
from spen.data.batches import make_batches
from spen.data.readers import is_bioes_tag
from spen.data.text import DataFormatError, check_token, iter_lines, shown
from spen.data.vocab import Vocabularies
from spen.evaluation.predictor import Predictor
from spen.io import atomic_open


@torch.no_grad()
def predict_split(
    learner: Predictor,
    split: Split,
    vocabs: Vocabularies,
    batch_size: int,
    device: torch.device,
    decoder: str = "test_time",
    *,
    uses_chars: bool,
) -> list[list[str]]:
    """Predicted tags for every sentence of `split`, in the split's order. `uses_chars`: the
    model reads words through their characters (its run configuration's `char_cnn`)."""
    learner.model.eval()
    chars = vocabs.chars if uses_chars else None
    predicted: list[list[str]] = [[] for _ in range(len(split))]
    for batch in make_batches(split, batch_size, chars):
        batch = batch.to(device)
        ids = learner.predict(batch, decoder).cpu().tolist()
        for row, tags, n in zip(batch.index, ids, batch.lengths.tolist(), strict=True):
            predicted[row] = [vocabs.tags.tags[i] for i in tags[:n]]
    return predicted


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


@dataclass(frozen=True)
class Predictions:
    """A predictions file: gold and predicted tags per sentence, and each token's line."""

    gold: list[list[str]]
    pred: list[list[str]]
    lines: list[list[int]]


_COLUMNS = "3 tab-separated columns (token<TAB>gold<TAB>predicted)"


def read_prediction_file(path: str | os.PathLike[str]) -> Predictions:
    """Read a file `write_predictions` wrote, as every text input is read (`spen.data.text`):
    `token<TAB>gold<TAB>predicted` lines, none empty, a blank line between sentences; trailing
    whitespace is dropped. Anything else is a DataFormatError naming the file and line."""
    gold: list[list[str]] = [[]]
    pred: list[list[str]] = [[]]
    lines: list[list[int]] = [[]]
    for line_no, text in iter_lines(path, "a predictions file written by `spen decode`"):
        line = text.rstrip()
        if not line:
            if gold[-1]:
                gold.append([])
                pred.append([])
                lines.append([])
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            found = f"{len(fields)} column(s) in line {shown(line)}"
            raise DataFormatError(path, line_no, found, _COLUMNS)
        for name, value in zip(("token", "gold tag", "predicted tag"), fields, strict=True):
            if not value:
                found = f"empty {name} column in line {shown(line)}"
                raise DataFormatError(path, line_no, found, _COLUMNS + ", none empty")
            check_token(value, path, line_no, f"{name} column")
        gold[-1].append(fields[1])
        pred[-1].append(fields[2])
        lines[-1].append(line_no)
    if not gold[-1]:
        gold.pop()
        pred.pop()
        lines.pop()
    if not gold:
        found = "no predictions (the file is empty or holds only blank lines)"
        raise DataFormatError(path, None, found, "sentences of " + _COLUMNS)
    return Predictions(gold, pred, lines)


def read_predictions(path: str | os.PathLike[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tags from a file `write_predictions` wrote."""
    found = read_prediction_file(path)
    return found.gold, found.pred


def scores_entities(found: Predictions, path: str | os.PathLike[str]) -> bool:
    """Whether entity scores apply: every gold tag is a BIOES tag (`O`, `B-PER`, ...). Then
    every predicted tag must be one too (a DataFormatError at the first that is not)."""
    if not all(is_bioes_tag(tag) for sentence in found.gold for tag in sentence):
        return False
    for tags, lines in zip(found.pred, found.lines, strict=True):
        for tag, line in zip(tags, lines, strict=True):
            if not is_bioes_tag(tag):
                found_text = f"predicted tag {tag!r} is no BIOES tag, while every gold tag is one"
                expected = "'O', or B-/I-/E-/S- and an entity type (e.g. 'B-PER')"
                raise DataFormatError(path, line, found_text, expected)
    return True
