"""Exact versus amortised inference on a trained SPEN: energy gap and both decoders' scores."""

from __future__ import annotations

from typing import Any

import torch

from spen.data.arrow import Split
from spen.data.batches import make_batches
from spen.data.vocab import Vocabularies
from spen.evaluation.decode import learner_uses_chars, predict_split
from spen.evaluation.metrics import score
from spen.training.learners import Learner


@torch.no_grad()
def exact_vs_amortised(
    learner: Learner, split: Split, vocabs: Vocabularies, batch_size: int, device: torch.device
) -> dict[str, Any]:
    """Scores of A_Ψ and of Viterbi on the energy, and the energy gap E(A_Ψ(x)) − E(viterbi(x)).

    A model without an inference network and an energy gets `{"spen": false}` only.

    Gaps are per sentence, on the linear-chain part of the energy; `discrete` uses A_Ψ's
    argmax as a one-hot output, `relaxed` its distributions.
    """
    entities = vocabs.tags.is_bioes
    if not hasattr(learner, "energy_gap"):
        return {"spen": False, "sentences": len(split)}
    decoded = {
        name: predict_split(learner, split, vocabs, batch_size, device, name)
        for name in ("test_time", "viterbi")
    }
    chars = vocabs.chars if learner_uses_chars(learner) else None
    gaps: dict[str, list[torch.Tensor]] = {}
    for batch in make_batches(split, batch_size, chars):
        for key, value in learner.energy_gap(batch.to(device)).items():
            gaps.setdefault(key, []).append(value.cpu())
    gap = {key: torch.cat(values) for key, values in gaps.items()}
    same = sum(a == v for a, v in zip(decoded["test_time"], decoded["viterbi"], strict=True))
    return {
        "spen": True,
        "test_time": score(split.tags, decoded["test_time"], entities),
        "viterbi": score(split.tags, decoded["viterbi"], entities),
        "same_output_sentences": same / len(split),
        "energy_gap_discrete_mean": float(gap["discrete"].mean()),
        "energy_gap_relaxed_mean": float(gap["relaxed"].mean()),
        "energy_gap_discrete_per_token": float(gap["discrete"].sum()) / sum(map(len, split.tags)),
        "viterbi_energy_mean": float(gap["viterbi_energy"].mean()),
        "sentences": len(split),
    }
