"""Scoring against hand-counted examples."""

from __future__ import annotations

import pytest

from spen.evaluation.metrics import (
    decode_counts,
    entity_scores,
    score,
    sentence_counts,
    token_accuracy,
)


def test_token_accuracy_hand_count() -> None:
    gold = [["N", "V", "D"], ["N", ","]]
    pred = [["N", "N", "D"], ["V", ","]]
    assert token_accuracy(gold, pred) == pytest.approx(100 * 3 / 5)


def test_entity_scores_hand_count() -> None:
    # Gold entities: PER(0-1), LOC(3), ORG(5-7), LOC(9)  -> 4
    gold = [["B-PER", "E-PER", "O", "S-LOC", "O"], ["B-ORG", "I-ORG", "E-ORG", "O", "S-LOC"]]
    # Predicted: PER(0-1) right, LOC(3) typed MISC (wrong), ORG(5-6) too short (wrong),
    # LOC(9) right, plus a spurious PER at 8 -> 5 predicted, 2 right.
    pred = [["B-PER", "E-PER", "O", "S-MISC", "O"], ["B-ORG", "E-ORG", "O", "S-PER", "S-LOC"]]
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(100 * 2 / 5)
    assert scores["recall"] == pytest.approx(100 * 2 / 4)
    f1 = 2 * 0.4 * 0.5 / 0.9
    assert scores["f1"] == pytest.approx(100 * f1)
    assert scores["strict_f1"] == pytest.approx(100 * f1)
    assert scores["per_type"]["LOC"]["recall"] == pytest.approx(50.0)
    assert scores["per_type"]["PER"]["precision"] == pytest.approx(50.0)
    assert scores["per_type"]["ORG"]["f1"] == 0.0


def test_bioes_is_not_chunked_as_iob() -> None:
    # Two adjacent single-token entities: conlleval on raw BIOES would merge them.
    gold = [["S-PER", "S-PER"]]
    assert entity_scores(gold, gold)["f1"] == pytest.approx(100.0)
    merged = [["B-PER", "E-PER"]]
    assert entity_scores(gold, merged)["f1"] == 0.0


def test_ill_formed_prediction_differs_between_conlleval_and_strict() -> None:
    gold = [["B-PER", "E-PER", "O"]]
    pred = [["B-PER", "I-PER", "O"]]  # no E-: ill-formed under BIOES
    scores = entity_scores(gold, pred)
    assert scores["f1"] == pytest.approx(100.0)  # IOB2 reading: B-PER I-PER is the entity
    assert scores["strict_f1"] == 0.0


def test_score_rejects_misaligned_input() -> None:
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1"):
        score([["N", "V"]], [["N"]], entities=False)


def test_sentence_counts_sum_to_the_split_scores() -> None:
    gold = [["B-PER", "E-PER", "O", "S-LOC", "O"], ["B-ORG", "I-ORG", "E-ORG", "O", "S-LOC"]]
    pred = [["B-PER", "E-PER", "O", "S-MISC", "O"], ["B-ORG", "E-ORG", "O", "S-PER", "S-LOC"]]
    counts = sentence_counts(gold, pred, entities=True)
    # By hand: sentence 1 has PER right, LOC typed MISC; sentence 2 has LOC right, ORG too
    # short and a spurious PER.
    assert counts == {
        "tokens": [5, 5],
        "correct": [4, 2],
        "tp": [1, 1],
        "fp": [1, 2],
        "fn": [1, 1],
    }
    tp, fp, fn = (sum(counts[k]) for k in ("tp", "fp", "fn"))
    scores = score(gold, pred, entities=True)
    assert 100 * 2 * tp / (2 * tp + fp + fn) == pytest.approx(scores["f1"])
    assert 100 * sum(counts["correct"]) / sum(counts["tokens"]) == pytest.approx(scores["accuracy"])
    assert decode_counts(scores["per_sentence"]) == counts


def test_sentence_counts_match_seqeval_on_ill_formed_tags() -> None:
    # I- and E- without a B-: conlleval starts an entity there; the sums must still agree.
    gold = [["B-PER", "E-PER", "O"], ["S-LOC", "O", "B-ORG", "E-ORG"], ["O", "O"]]
    pred = [["I-PER", "E-PER", "O"], ["E-LOC", "I-ORG", "E-ORG", "E-ORG"], ["S-PER", "O"]]
    counts = sentence_counts(gold, pred, entities=True)
    scores = entity_scores(gold, pred)
    tp, fp, fn = (sum(counts[k]) for k in ("tp", "fp", "fn"))
    assert 100 * tp / (tp + fp) == pytest.approx(scores["precision"])
    assert 100 * tp / (tp + fn) == pytest.approx(scores["recall"])


def test_token_counts_only_without_entities() -> None:
    counts = sentence_counts([["N", "V"], ["D"]], [["N", "N"], ["D"]], entities=False)
    assert counts == {"tokens": [2, 1], "correct": [1, 1]}
