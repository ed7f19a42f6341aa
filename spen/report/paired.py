"""Paired evidence for a claim on test scores: a bootstrap over the test sentences, which both
sides tagged, pooled with the spread over seeds (docs/CHOICES.md, "Paired test").

Each side is its runs' per-sentence counts (`spen.evaluation.metrics.sentence_counts`), one
table per seed. A replicate draws the test sentences with replacement, the same draw for both
sides (the pairing), and each side's seeds with replacement; Δ* is the difference of the two
sides' means over their drawn seeds, each seed scored on the drawn sentences. The percentiles
of Δ* give the interval, its spread around the observed Δ the p-value. Resampling the
sentences alone, seeds kept, gives the part of the uncertainty the test set carries."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

HOLDS_WORD, FAILS_WORD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
#: the three words as the report's CSS classes
WORD_CLASS = {HOLDS_WORD: "up", FAILS_WORD: "down", INCONCLUSIVE: "within"}
#: the counts each test metric is computed from, in the order `score_counts` reads them
COUNTS_OF = {"accuracy": ("tokens", "correct"), "f1": ("tp", "fp", "fn")}
REPLICATES = 10_000
LEVEL = 0.95
#: replicates drawn at once (a NER side is 3,453 sentences: a chunk's weights stay small)
_CHUNK = 1_000

Counts = Mapping[str, Sequence[int]]


@dataclass(frozen=True)
class PairedTest:
    """The paired bootstrap's figures for "better beats other": the observed Δ, its LEVEL
    interval and two-sided p pooled over sentences and seeds, and the SE of Δ from the
    sentences alone."""

    delta: float
    low: float
    high: float
    p: float
    se_sentences: float
    replicates: int

    @property
    def p_text(self) -> str:
        """The p-value to three decimals; `< 0.001` below that (the bootstrap's floor is
        1 / (replicates + 1))."""
        return f"{self.p:.3f}" if self.p >= 0.001 else "< 0.001"

    @property
    def word(self) -> str:
        """ "holds" when the interval lies above 0, "does not hold" below it, else
        "inconclusive"."""
        if self.low > 0:
            return HOLDS_WORD
        if self.high < 0:
            return FAILS_WORD
        return INCONCLUSIVE


def score_counts(sums: np.ndarray, metric: str) -> np.ndarray:
    """The metric, in percent, of count sums whose last axis is `COUNTS_OF[metric]`."""
    if metric == "accuracy":
        tokens, correct = sums[..., 0], sums[..., 1]
        return 100.0 * correct / np.maximum(tokens, 1)
    if metric == "f1":
        tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
        return 100.0 * 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    raise _unknown_metric(metric)


def _unknown_metric(metric: str) -> ValueError:
    return ValueError(f"no paired test for metric {metric!r}; expected one of {sorted(COUNTS_OF)}")


def side_array(side: Sequence[Counts], metric: str) -> np.ndarray:
    """One side's counts as an array (seeds, sentences, counts of the metric)."""
    if metric not in COUNTS_OF:
        raise _unknown_metric(metric)
    if not side:
        raise ValueError("a side of a paired test has no run")
    names = COUNTS_OF[metric]
    missing = [name for name in names if any(name not in seed for seed in side)]
    if missing:
        raise ValueError(f"a run's per-sentence counts lack {', '.join(missing)} ({metric})")
    arrays = [np.array([seed[name] for name in names], dtype=np.float64).T for seed in side]
    sizes = {a.shape[0] for a in arrays}
    if len(sizes) != 1:
        raise ValueError(
            f"the runs of a side tagged different numbers of sentences: {sorted(sizes)}"
        )
    return np.stack(arrays)


def paired_bootstrap(
    better: Sequence[Counts],
    other: Sequence[Counts],
    metric: str,
    replicates: int = REPLICATES,
    seed: int = 0,
) -> PairedTest:
    """The paired bootstrap of "`better` beats `other`" on `metric` ("accuracy" or "f1"), from
    each side's per-seed, per-sentence counts of the same test sentences (module docstring)."""
    a, b = side_array(better, metric), side_array(other, metric)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"the two sides tagged different numbers of sentences: {a.shape[1]} and {b.shape[1]}"
        )
    if replicates < 1:
        raise ValueError(f"replicates: expected a positive number, got {replicates}")
    observed = float(
        score_counts(a.sum(axis=1), metric).mean() - score_counts(b.sum(axis=1), metric).mean()
    )
    rng = np.random.default_rng(seed)
    sentences = a.shape[1]
    pooled, fixed = [], []
    for start in range(0, replicates, _CHUNK):
        size = min(_CHUNK, replicates - start)
        weights = rng.multinomial(sentences, np.full(sentences, 1.0 / sentences), size=size)
        scores_a = score_counts(np.einsum("rn,snk->rsk", weights, a), metric)
        scores_b = score_counts(np.einsum("rn,snk->rsk", weights, b), metric)
        fixed.append(scores_a.mean(axis=1) - scores_b.mean(axis=1))
        seeds_a = rng.integers(0, a.shape[0], size=scores_a.shape)
        seeds_b = rng.integers(0, b.shape[0], size=scores_b.shape)
        pooled.append(
            np.take_along_axis(scores_a, seeds_a, axis=1).mean(axis=1)
            - np.take_along_axis(scores_b, seeds_b, axis=1).mean(axis=1)
        )
    draws, sentence_draws = np.concatenate(pooled), np.concatenate(fixed)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    # Two-sided p: how often the centred replicates reach |Δ| (the null shifted to 0).
    extreme = np.count_nonzero(np.abs(draws - observed) >= abs(observed) - 1e-12)
    return PairedTest(
        delta=observed,
        low=float(low),
        high=float(high),
        p=(extreme + 1) / (replicates + 1),
        se_sentences=float(sentence_draws.std()),
        replicates=replicates,
    )


def holm(p_values: Sequence[float], alpha: float = 1 - LEVEL) -> list[bool]:
    """Which of the hypotheses Holm's step-down rule rejects at family-wise level `alpha`."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


def comparison_key(task: str, setting: str, better: str, other: str) -> str:
    """What a claim's paired test compares, `TASK/SETTING/BETTER/OTHER`: the key its bootstrap
    is seeded by, in the report and in `spen compare`."""
    return f"{task}/{setting}/{better}/{other}"


def keyed_bootstrap(
    better: Sequence[Counts], other: Sequence[Counts], metric: str, key: str
) -> PairedTest | None:
    """`paired_bootstrap` with its generator seeded by `key` (what is compared, so the report
    renders the same figures each time); None where a side has no per-sentence counts."""
    if not better or not other:
        return None
    return paired_bootstrap(better, other, metric, seed=key_seed(key))


def key_seed(key: str) -> int:
    """The bootstrap generator's seed for comparison `key`."""
    return zlib.crc32(key.encode())
