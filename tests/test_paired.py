"""The paired bootstrap against closed forms and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from spen.report.paired import (
    FAILS_WORD,
    HOLDS_WORD,
    INCONCLUSIVE,
    holm,
    paired_bootstrap,
)


def _tokens_side(correct_per_seed: list[list[int]], tokens: list[int]) -> list[dict]:
    return [{"tokens": tokens, "correct": correct} for correct in correct_per_seed]


def test_observed_delta_is_the_difference_of_the_mean_accuracies() -> None:
    tokens = [4, 2, 3]
    better = _tokens_side([[4, 2, 2], [3, 2, 3]], tokens)
    other = _tokens_side([[2, 1, 3], [4, 0, 1], [3, 2, 2]], tokens)
    test = paired_bootstrap(better, other, "accuracy", replicates=200)
    mean_better = np.mean([100 * 8 / 9, 100 * 8 / 9])
    mean_other = np.mean([100 * 6 / 9, 100 * 5 / 9, 100 * 7 / 9])
    assert test.delta == pytest.approx(mean_better - mean_other)


def test_sentence_se_matches_the_closed_form_for_one_seed_a_side() -> None:
    # Equal sentence lengths and one seed a side: Δ* is the mean of the drawn sentences'
    # differences d_i, so its SE is the population std of d over sqrt(n).
    rng = np.random.default_rng(7)
    n, length = 400, 10
    a = rng.integers(5, 11, size=n)
    b = rng.integers(4, 11, size=n)
    tokens = [length] * n
    test = paired_bootstrap(
        _tokens_side([a.tolist()], tokens),
        _tokens_side([b.tolist()], tokens),
        "accuracy",
        replicates=20_000,
        seed=3,
    )
    d = 100 * (a - b) / length
    assert test.se_sentences == pytest.approx(d.std() / np.sqrt(n), rel=0.03)
    # One seed a side: the pooled draws are the sentence draws, so the interval is about
    # Δ ± 1.96 SE.
    assert test.low == pytest.approx(test.delta - 1.96 * test.se_sentences, abs=0.1)
    assert test.high == pytest.approx(test.delta + 1.96 * test.se_sentences, abs=0.1)


def test_identical_sides_are_inconclusive_with_p_one() -> None:
    side = _tokens_side([[3, 1, 2], [2, 2, 2]], [3, 2, 2])
    test = paired_bootstrap(side, side, "accuracy", replicates=500)
    assert test.delta == 0.0
    assert test.p == 1.0 and test.p_text == "1.000"
    assert test.word == INCONCLUSIVE


def test_a_clear_gain_holds_and_its_reverse_does_not() -> None:
    tokens = [5] * 60
    strong = _tokens_side([[5] * 60, [5] * 59 + [4], [5] * 58 + [4, 4]], tokens)
    weak = _tokens_side([[3] * 60, [4] * 30 + [2] * 30, [3] * 60], tokens)
    up = paired_bootstrap(strong, weak, "accuracy", replicates=2_000)
    down = paired_bootstrap(weak, strong, "accuracy", replicates=2_000)
    assert up.word == HOLDS_WORD and up.p < 0.001 and up.p_text == "< 0.001"
    assert down.word == FAILS_WORD and down.delta == pytest.approx(-up.delta)


def test_seed_spread_widens_the_interval_beyond_the_sentences_alone() -> None:
    tokens = [10] * 200
    rng = np.random.default_rng(1)
    base = rng.integers(7, 11, size=200)
    # The same sentences, seeds that differ by whole points of accuracy.
    better = _tokens_side([np.clip(base + s, 0, 10).tolist() for s in (-1, 0, 1)], tokens)
    other = _tokens_side([base.tolist()] * 3, tokens)
    test = paired_bootstrap(better, other, "accuracy", replicates=5_000)
    assert (test.high - test.low) / 2 > 1.96 * test.se_sentences * 1.2


def test_f1_from_entity_counts() -> None:
    better = [{"tp": [2, 1, 0], "fp": [0, 0, 1], "fn": [0, 1, 0]}]
    other = [{"tp": [1, 1, 0], "fp": [1, 0, 0], "fn": [1, 1, 0]}]
    test = paired_bootstrap(better, other, "f1", replicates=100)
    f1 = lambda tp, fp, fn: 100 * 2 * tp / (2 * tp + fp + fn)  # noqa: E731
    assert test.delta == pytest.approx(f1(3, 1, 1) - f1(2, 1, 2))


def test_sides_of_different_sentences_are_refused() -> None:
    with pytest.raises(ValueError, match="different numbers of sentences: 3 and 2"):
        paired_bootstrap(
            _tokens_side([[1, 1, 1]], [1, 1, 1]), _tokens_side([[1, 1]], [1, 1]), "accuracy"
        )
    with pytest.raises(ValueError, match="lack tp, fp, fn"):
        paired_bootstrap(_tokens_side([[1]], [1]), _tokens_side([[1]], [1]), "f1")


def test_holm_step_down() -> None:
    # Sorted p: 0.01 <= 0.05/4, 0.015 <= 0.05/3, 0.03 > 0.05/2: the first two only.
    assert holm([0.03, 0.01, 0.2, 0.015]) == [False, True, False, True]
    assert holm([]) == []
