"""Exact inference on the linear chain beyond what training needs: tag marginals, the k best
tag sequences and the search error of a given output (METHOD.md §1).

Same tensor conventions as :mod:`spen.inference.linear_chain` (docs/DESIGN.md): scores are
*higher is better*, the energy is minus the score, so the k best sequences are the k lowest
energies and a search error ``E(output) − E(viterbi)`` is ≥ 0.

This module sits beside ``spen/inference/`` rather than in it (it is of the same layer): the
pipeline's steps hash their code directories whole, so a new file there would change the code
digest of every step that trains or decodes, and none of them uses what is here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spen.inference.linear_chain import (
    _check,
    log_partition,
    one_hot,
    sequence_score,
    viterbi,
)

__all__ = ["energies_against_viterbi", "k_best", "marginals"]


def marginals(emissions: Tensor, transitions: Tensor, mask: Tensor) -> Tensor:
    """Exact tag marginals ``p(y_t = j | x)`` under ``p(y) ∝ exp(score(y))``, computed as the
    gradient of the log-partition with respect to the emissions (forward-backward by autograd).

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.

    Returns:
        ``(batch, seq_len, num_tags)``, each real position a distribution, padded positions 0;
        no gradient flows back to the inputs.
    """
    with torch.enable_grad():
        leaf = emissions.detach().requires_grad_(True)
        log_z = log_partition(leaf, transitions.detach(), mask)
        (grad,) = torch.autograd.grad(log_z.sum(), leaf)
    return grad


def k_best(emissions: Tensor, transitions: Tensor, mask: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` highest-scoring tag sequences (k-best Viterbi), batched.

    At each position the dynamic program keeps, for every tag, the ``k`` best prefixes ending
    in it, chosen among the ``num_tags · k`` extensions of the previous position's prefixes;
    positions past a sequence's length pass every prefix through unchanged. Ties are broken by
    ``torch.topk``.

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.
        k: how many sequences, at least 1.

    Returns:
        ``(tags, scores)``: ``tags`` ``(batch, k, seq_len)`` long, best first, padded positions
        0; ``scores`` ``(batch, k)``, non-increasing along ``k``. A sentence with fewer than
        ``k`` tag sequences (``num_tags ** length < k``) has score ``-inf`` in the rows past
        them (their tags are 0).
    """
    num_tags = _check(emissions, transitions, mask)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    e = emissions.masked_fill(~mask.unsqueeze(-1), 0.0)
    batch, seq_len, _ = e.shape
    inner_w = transitions[:num_tags, :num_tags].reshape(1, num_tags, num_tags, 1)
    # delta[b, j, r]: score of the r-th best prefix ending in tag j (-inf: no such prefix)
    delta = e.new_full((batch, num_tags, k), float("-inf"))
    delta[:, :, 0] = transitions[num_tags, :num_tags] + e[:, 0]
    # a flat index j * k + r names prefix r of tag j; at padding each points to itself
    identity = torch.arange(num_tags * k, device=e.device).view(1, num_tags, k)
    identity = identity.expand(batch, -1, -1)
    backpointers = []
    for t in range(1, seq_len):
        # (batch, previous tag, next tag, rank) -> per next tag over (previous tag, rank)
        extended = (delta.unsqueeze(2) + inner_w).permute(0, 2, 1, 3)
        best, arg = extended.reshape(batch, num_tags, num_tags * k).topk(k, dim=-1)
        real = mask[:, t].view(batch, 1, 1)
        delta = torch.where(real, best + e[:, t].unsqueeze(-1), delta)
        backpointers.append(torch.where(real, arg, identity).reshape(batch, num_tags * k))
    final = delta + transitions[:num_tags, num_tags].view(1, num_tags, 1)
    scores, flat = final.reshape(batch, num_tags * k).topk(k, dim=-1)  # (batch, k)
    path = [flat // k]
    for bp in reversed(backpointers):
        flat = bp.gather(1, flat)
        path.append(flat // k)
    path.reverse()
    tags = torch.stack(path, dim=2)  # (batch, k, seq_len)
    none = torch.isneginf(scores).unsqueeze(-1) | ~mask.unsqueeze(1)
    return tags.masked_fill(none, 0), scores


def energies_against_viterbi(
    emissions: Tensor, transitions: Tensor, tags: Tensor, mask: Tensor
) -> tuple[Tensor, Tensor]:
    """The energy of the tag sequences ``tags`` and that of Viterbi's on the same chain.

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        tags: ``(batch, seq_len)`` long, the outputs (padded positions: any valid index).
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.

    Returns:
        ``(energy, viterbi_energy)``, each ``(batch,)``: ``−score(tags)`` and the minimum
        energy ``−score(viterbi)``; their difference, the search error, is ≥ 0 up to rounding
        and 0 for Viterbi's own output.
    """
    labels = one_hot(tags, emissions.shape[-1], dtype=emissions.dtype)
    _, best = viterbi(emissions, transitions, mask)
    return -sequence_score(emissions, transitions, labels, mask), -best
