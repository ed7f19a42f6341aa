"""Calibration of a trained model's per-token distributions on a split (`spen calibrate`).

Two distributions are measured, each where the model has it (`spen.tagger` finds the parts):

- ``inference_network``: the test-time inference network's softmax, ``A_Ψ(x)`` of a SPEN, the
  BiLSTM's own for the baseline;
- ``exact_marginals``: the exact tag marginals ``p(y_t | x)`` of the linear-chain energy under
  ``p(y) ∝ exp(−E(y))`` (a CRF's own distribution; for a SPEN, its first-order part, whose
  marginals are exact; for a CE-only control that energy is never trained).

For each, every real token gives a confidence (the probability of its distribution's argmax
tag) and a correctness (that argmax equals the gold tag). The confidences are binned into
equal-width bins over [0, 1] (docs/CHOICES.md, "Calibration"); the expected calibration error
is the token-weighted mean over bins of ``|accuracy − mean confidence|``. Beside it: the mean
confidence, the accuracy of the argmax and the negative log-likelihood of the gold tags per
token (natural log).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from spen.chain_inference import marginals
from spen.data.batches import Batch, make_batches
from spen.measured import Measured
from spen.tagger import inference_network, linear_chain

#: equal-width confidence bins over [0, 1] (docs/CHOICES.md, "Calibration")
BINS = 15
#: the distributions measured, in report order
DISTRIBUTIONS = ("inference_network", "exact_marginals")


def bin_index(confidence: Tensor, bins: int) -> Tensor:
    """The bin of each confidence in ``bins`` equal-width bins over [0, 1], each closed on the
    right: bin ``b`` holds ``b/bins < c ≤ (b+1)/bins``, and bin 0 also holds 0."""
    index = torch.ceil(confidence.double() * bins).long() - 1
    return index.clamp(0, bins - 1)


def reliability(confidence: Tensor, correct: Tensor, bins: int = BINS) -> dict[str, Any]:
    """The reliability diagram of tokens with these confidences (each in [0, 1]) and
    correctness flags: per bin its token count, accuracy and mean confidence (None for an empty
    bin), and over all tokens the expected calibration error, the mean confidence and the
    accuracy. ValueError for fewer than one bin, no tokens or mismatched shapes."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    confidence, correct = confidence.flatten().double(), correct.flatten().double()
    if confidence.shape != correct.shape or confidence.numel() == 0:
        raise ValueError(
            f"expected as many correctness flags as confidences, at least one; got "
            f"{correct.numel()} and {confidence.numel()}"
        )
    index = bin_index(confidence, bins)
    counts = torch.bincount(index, minlength=bins)
    hits = torch.bincount(index, weights=correct, minlength=bins)
    sums = torch.bincount(index, weights=confidence, minlength=bins)
    total = confidence.numel()
    ece = float(((hits - sums).abs() / total).sum())

    def per_bin(values: Tensor) -> list[float | None]:
        return [float(v / n) if n else None for v, n in zip(values, counts, strict=True)]

    return {
        "bins": bins,
        "bin_edges": [b / bins for b in range(bins + 1)],
        "bin_counts": [int(n) for n in counts],
        "bin_accuracy": per_bin(hits),
        "bin_confidence": per_bin(sums),
        "ece": ece,
        "mean_confidence": float(confidence.mean()),
        "accuracy": float(correct.mean()),
        "tokens": total,
    }


def token_outcomes(log_probs: Tensor, gold: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
    """For the real tokens of a batch of log-distributions `(batch, seq_len, num_tags)`: the
    confidence, the correctness of the argmax and the gold tag's log-probability, each flat."""
    real = log_probs[mask]
    best, argmax = real.max(-1)
    gold = gold[mask]
    return best.exp(), (argmax == gold), real.gather(-1, gold.unsqueeze(-1)).squeeze(-1)


def log_distributions(model: nn.Module, batch: Batch) -> dict[str, Tensor]:
    """A trained `model`'s log-distributions over the tags of `batch`, by name (DISTRIBUTIONS),
    those it has; a zero probability is kept finite (the smallest positive float) so that it
    counts."""
    network, chain = inference_network(model), linear_chain(model)
    found = {}
    if network is not None:
        found["inference_network"] = network(batch).log_softmax(-1)
    if chain is not None:
        exact = marginals(chain.emissions(batch), chain.transitions, batch.mask)
        found["exact_marginals"] = exact.clamp_min(torch.finfo(exact.dtype).tiny).log()
    return found


@torch.no_grad()
def calibrate(
    measured: Measured, bins: int = BINS, batch_size: int | None = None
) -> dict[str, Any]:
    """The calibration of each distribution the model of `measured` has on its split (module
    docstring): its reliability diagram (:func:`reliability`) and the negative log-likelihood
    per token, beside the run's identity; `batch_size`: sentences at once (default: the run's
    evaluation batch size), which changes no figure."""
    tagger = measured.tagger
    tagger.learner.model.eval()
    chars = tagger.vocabs.chars if tagger.uses_chars else None
    outcomes: dict[str, list[tuple[Tensor, ...]]] = {}
    for batch in make_batches(measured.split, batch_size or measured.config.eval_batch_size, chars):
        batch = batch.to(tagger.device)
        for name, log_probs in log_distributions(tagger.learner.model, batch).items():
            found = token_outcomes(log_probs.double(), batch.tags, batch.mask)
            outcomes.setdefault(name, []).append(tuple(t.cpu() for t in found))
    distributions = {}
    for name in (n for n in DISTRIBUTIONS if n in outcomes):
        confidence, correct, log_gold = (
            torch.cat(parts) for parts in zip(*outcomes[name], strict=True)
        )
        figures = reliability(confidence, correct, bins)
        figures["nll_per_token"] = float(-log_gold.mean())
        distributions[name] = figures
    return {
        **measured.identity(),
        "kind": measured.config.kind,
        "objective": measured.config.objective,
        "binning": f"{bins} equal-width bins over [0, 1], closed on the right",
        "distributions": distributions,
    }
