"""Token accuracy and entity F1, in percent.

Entity F1 is the field's standard, as CoNLL's ``conlleval`` computes it on IOB2 tags:
BIOES tags are first converted to IOB2 (``S-X`` -> ``B-X``, ``E-X`` -> ``I-X``) and scored
with seqeval's default (conlleval-compatible) mode. seqeval's strict IOBES F1, which counts
an ill-formed predicted entity as wrong, is reported beside it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOBES

from spen.data.readers import bioes_to_iob2

Tags = Sequence[Sequence[str]]


def token_accuracy(gold: Tags, pred: Tags) -> float:
    """Percentage of tokens whose predicted tag equals the gold tag."""
    _check_aligned(gold, pred)
    total = sum(len(g) for g in gold)
    right = sum(
        g == p for gs, ps in zip(gold, pred, strict=True) for g, p in zip(gs, ps, strict=True)
    )
    return 100.0 * right / total


def entity_scores(gold: Tags, pred: Tags) -> dict[str, object]:
    """Entity precision, recall and F1 of BIOES tags, overall and per type (see module doc)."""
    _check_aligned(gold, pred)
    gold_iob2 = [bioes_to_iob2(list(s)) for s in gold]
    pred_iob2 = [bioes_to_iob2(list(s)) for s in pred]
    with warnings.catch_warnings():  # no entity at all: numpy warns of a mean over nothing
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(gold_iob2, pred_iob2, output_dict=True, zero_division=0)
    per_type = {
        name: {
            "precision": 100.0 * row["precision"],
            "recall": 100.0 * row["recall"],
            "f1": 100.0 * row["f1-score"],
            "support": int(row["support"]),
        }
        for name, row in report.items()
        if not name.endswith(" avg")
    }
    strict = {"mode": "strict", "scheme": IOBES, "zero_division": 0}
    gold_lists, pred_lists = [list(s) for s in gold], [list(s) for s in pred]
    return {
        "precision": 100.0 * precision_score(gold_iob2, pred_iob2, zero_division=0),
        "recall": 100.0 * recall_score(gold_iob2, pred_iob2, zero_division=0),
        "f1": 100.0 * f1_score(gold_iob2, pred_iob2, zero_division=0),
        "strict_precision": 100.0 * precision_score(gold_lists, pred_lists, **strict),
        "strict_recall": 100.0 * recall_score(gold_lists, pred_lists, **strict),
        "strict_f1": 100.0 * f1_score(gold_lists, pred_lists, **strict),
        "per_type": per_type,
    }


#: The per-sentence counts a scores file keeps (`per_sentence`): tokens and correct tokens, and
#: for entity scores the true positives, false positives and false negatives (conlleval's
#: entities, as `entity_scores` counts them).
TOKEN_COUNTS = ("tokens", "correct")
ENTITY_COUNTS = ("tp", "fp", "fn")


def sentence_counts(gold: Tags, pred: Tags, entities: bool) -> dict[str, list[int]]:
    """Per sentence, the counts behind the split's scores (`TOKEN_COUNTS`, and `ENTITY_COUNTS`
    when `entities`): their sums give back its accuracy and entity P/R/F1."""
    _check_aligned(gold, pred)
    counts: dict[str, list[int]] = {name: [] for name in TOKEN_COUNTS}
    if entities:
        counts.update({name: [] for name in ENTITY_COUNTS})
    for gs, ps in zip(gold, pred, strict=True):
        counts["tokens"].append(len(gs))
        counts["correct"].append(sum(g == p for g, p in zip(gs, ps, strict=True)))
        if entities:
            gold_set = set(get_entities(bioes_to_iob2(list(gs))))
            pred_set = set(get_entities(bioes_to_iob2(list(ps))))
            right = len(gold_set & pred_set)
            counts["tp"].append(right)
            counts["fp"].append(len(pred_set) - right)
            counts["fn"].append(len(gold_set) - right)
    return counts


def encode_counts(counts: dict[str, list[int]]) -> dict[str, str]:
    """Per-sentence counts as one line of space-separated integers per count (a scores file is
    versioned in git: 3,453 NER sentences stay a few lines, not thousands)."""
    return {name: " ".join(map(str, values)) for name, values in counts.items()}


def decode_counts(encoded: dict[str, str]) -> dict[str, list[int]]:
    """The per-sentence counts `encode_counts` wrote."""
    return {name: [int(v) for v in line.split()] for name, line in encoded.items()}


def score(gold: Tags, pred: Tags, entities: bool, *, counts: bool = True) -> dict[str, object]:
    """Token accuracy, plus the entity scores when `entities` (BIOES tags), and, when
    `counts`, the per-sentence counts behind them (`per_sentence`, as `encode_counts` writes
    them) for the paired tests."""
    scores: dict[str, object] = {"accuracy": token_accuracy(gold, pred), "sentences": len(gold)}
    scores["tokens"] = sum(len(g) for g in gold)
    if entities:
        scores.update(entity_scores(gold, pred))
    if counts:
        scores["per_sentence"] = encode_counts(sentence_counts(gold, pred, entities))
    return scores


def _check_aligned(gold: Tags, pred: Tags) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i + 1}: {len(g)} gold tags but {len(p)} predicted ones")
