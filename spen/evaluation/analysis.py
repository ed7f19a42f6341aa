"""Amortised, exact and gradient-descent inference on a trained SPEN: each decoder's scores
and how far its output's energy is above the exact minimum (METHOD.md §5)."""

from __future__ import annotations

from typing import Any

import torch

from spen.data.arrow import Split
from spen.data.batches import make_batches
from spen.data.vocab import Vocabularies
from spen.evaluation.metrics import score
from spen.evaluation.predictor import Predictor
from spen.inference.linear_chain import one_hot

#: the decoders compared, in report order (spen.training.spen_learner.SpenLearner.predict)
COMPARED = ("test_time", "viterbi", "gradient_descent", "gradient_descent_from_test_time")


@torch.no_grad()
def exact_vs_amortised(
    learner: Predictor,
    split: Split,
    vocabs: Vocabularies,
    batch_size: int,
    device: torch.device,
    *,
    uses_chars: bool,
) -> dict[str, Any]:
    """Scores of A_Ψ, of Viterbi and of gradient-descent inference on the energy, with each
    one's energy gap E(output) − E(viterbi(x)). `uses_chars`: the model reads words through
    their characters (its run configuration's `char_cnn`).

    A model without an inference network and an energy gets `{"spen": false}` only.

    Gaps are per sentence, on the linear-chain part of the energy (Viterbi is exact for that
    part only), with each decoder's argmax as a one-hot output; `energy_gap_relaxed_mean` is
    the gap of A_Ψ's distributions themselves.
    """
    if not hasattr(learner, "energy_gap"):
        return {"spen": False, "sentences": len(split)}
    learner.model.eval()
    model = learner.model
    chars = vocabs.chars if uses_chars else None
    predicted: dict[str, list[list[str]]] = {name: [[]] * len(split) for name in COMPARED}
    gaps: dict[str, list[torch.Tensor]] = {name: [] for name in COMPARED}
    relaxed_gaps, best_energies = [], []
    for batch in make_batches(split, batch_size, chars):
        batch = batch.to(device)
        gap = learner.energy_gap(batch)
        relaxed_gaps.append(gap["relaxed"].cpu())
        best_energies.append(gap["viterbi_energy"].cpu())
        for name in COMPARED:
            tags = learner.predict(batch, name)
            labels = one_hot(tags, model.num_tags, dtype=gap["viterbi_energy"].dtype)
            energy = model.linear_chain_energy(batch, labels)
            gaps[name].append((energy - gap["viterbi_energy"]).cpu())
            for row, ids, n in zip(batch.index, tags.tolist(), batch.lengths.tolist(), strict=True):
                predicted[name][row] = [vocabs.tags.tags[i] for i in ids[:n]]
    entities = vocabs.tags.is_bioes
    tokens = sum(map(len, split.tags))
    decoders = {}
    for name in COMPARED:
        gap_all = torch.cat(gaps[name])
        decoders[name] = {
            # no per-sentence counts: no paired test reads a decoder's, and they would
            # outweigh the rest of the checkout that travels to a device (64 MiB with the batch)
            "scores": score(split.tags, predicted[name], entities, counts=False),
            "energy_gap_mean": float(gap_all.mean()),
            "energy_gap_per_token": float(gap_all.sum()) / tokens,
            "same_output_as_viterbi": sum(
                p == v for p, v in zip(predicted[name], predicted["viterbi"], strict=True)
            )
            / len(split),
        }
    options = getattr(learner, "gradient_descent", None)
    return {
        "spen": True,
        "decoders": decoders,
        "energy_gap_relaxed_mean": float(torch.cat(relaxed_gaps).mean()),
        "viterbi_energy_mean": float(torch.cat(best_energies).mean()),
        "gradient_descent": None if options is None else vars(options),
        "sentences": len(split),
    }
