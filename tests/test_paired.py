"""The paired bootstrap against closed forms and hand-made cases; `spen compare`, which applies
it to two sets of scored runs."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spen.cli import app
from spen.evaluation.metrics import decode_counts, encode_counts
from spen.report.compare_runs import compare
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


def _scored(path: Path, correct: list[int], tokens: list[int]) -> Path:
    """A POS test.json as `spen score` writes it, from per-sentence counts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {"tokens": tokens, "correct": correct}
    scores = {"accuracy": 100 * sum(correct) / sum(tokens), "sentences": len(tokens)}
    path.write_text(json.dumps({**scores, "tokens": sum(tokens),
                                "per_sentence": encode_counts(counts)}))  # fmt: skip
    return path


def _counts(path: Path) -> dict:
    return decode_counts(json.loads(path.read_text())["per_sentence"])


def test_spen_compare_gives_the_reports_two_verdicts_and_refuses_unscored_runs(
    tmp_path: Path,
) -> None:
    """`spen compare` on two sides of 3 runs: the means, Δ and its seed SE computed here by
    hand, the seed verdict and the paired test's word, alike from the run groups' folders; a
    test.json without per-sentence counts, a side with two runs of one seed and a folder with
    no runs are refused in one line naming the file, exit 2."""
    rng = np.random.default_rng(3)
    tokens = rng.integers(5, 20, size=200).tolist()
    better, other = [], []
    for seed in range(3):
        good = [t - int(rng.integers(0, 2)) for t in tokens]
        bad = [t - int(rng.integers(1, 4)) if t > 3 else t for t in tokens]
        better.append(_scored(tmp_path / f"new/seed{seed}/test.json", good, tokens))
        other.append(_scored(tmp_path / f"old/seed{seed}/test.json", bad, tokens))
    args = ["compare", *map(str, better), *sum((["--against", str(p)] for p in other), [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    acc = [[json.loads(p.read_text())["accuracy"] for p in side] for side in (better, other)]
    delta = statistics.fmean(acc[0]) - statistics.fmean(acc[1])
    se = (statistics.variance(acc[0]) / 3 + statistics.variance(acc[1]) / 3) ** 0.5
    assert out["metric"] == "accuracy" and out["better"]["values"] == acc[0]
    assert out["delta"] == pytest.approx(delta) and out["se"] == pytest.approx(se)
    assert out["verdict"] == "holds" and delta > 2 * se
    assert out["paired"]["word"] == HOLDS_WORD and out["paired"]["delta"] == pytest.approx(delta)
    reverse = ["compare", *map(str, other), *sum((["--against", str(p)] for p in better), [])]
    assert json.loads(CliRunner().invoke(app, reverse).stdout)["paired"]["word"] == FAILS_WORD
    # a run group's folder stands for its seedK/test.json files
    folders = ["compare", str(tmp_path / "new"), "--against", str(tmp_path / "old")]
    by_folder = json.loads(CliRunner().invoke(app, folders).stdout)
    assert by_folder["better"]["values"] == acc[0] and by_folder["delta"] == out["delta"]
    # a shell pattern after --against puts all but its first file on the claimed-better side:
    # two runs of one seed there, refused
    trap = ["compare", *map(str, better), "--against", *map(str, other)]
    result = CliRunner().invoke(app, trap)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"{other[1]}: a second run of seed1 on the claimed-better side" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["compare", str(empty), "--against", str(tmp_path / "old")])
    assert result.exit_code == 2 and f"{empty}: no seedK/test.json inside" in result.stderr

    unscored = tmp_path / "older/test.json"
    unscored.parent.mkdir()
    unscored.write_text(json.dumps({"accuracy": 80.0, "sentences": 200}))
    result = CliRunner().invoke(app, ["compare", str(better[0]), "--against", str(unscored)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and f"{unscored}: no per-sentence counts" in result.stderr


def test_spen_compare_pairs_the_seeds_in_number_order(tmp_path: Path) -> None:
    """Seeds 1, 2 and 10 a side, the files given in any order: `spen compare` pairs them as
    the report does, seed by seed in number order (not seed1, seed10, seed2), so the paired
    test's figures do not move with the order given."""
    rng = np.random.default_rng(4)
    tokens = rng.integers(5, 20, size=150).tolist()
    sides: dict[str, list[Path]] = {"new": [], "old": []}
    for seed in (1, 2, 10):
        for side, worst in (("new", 2), ("old", 4)):
            correct = [t - int(rng.integers(0, worst)) for t in tokens]
            sides[side].append(_scored(tmp_path / f"{side}/seed{seed}/test.json", correct, tokens))
    folders = compare([tmp_path / "new"], [tmp_path / "old"])
    assert folders["better"]["runs"] == [str(p) for p in sides["new"]]
    shuffled = compare(sides["new"][::-1], [sides["old"][i] for i in (1, 2, 0)])
    assert shuffled["better"]["runs"] == folders["better"]["runs"]
    assert shuffled["paired"] == folders["paired"]
    by_hand = paired_bootstrap(
        [_counts(p) for p in sides["new"]], [_counts(p) for p in sides["old"]], "accuracy"
    )
    assert folders["paired"]["p"] == by_hand.p and folders["paired"]["low"] == by_hand.low
