"""Linear-chain scores, partition function and Viterbi decoding (METHOD.md §1).

Tensor conventions (docs/DESIGN.md):

- ``emissions``: ``(batch, seq_len, num_tags)`` float, the unary scores ``e_{t,j}``.
- ``transitions``: ``(num_tags + 1, num_tags + 1)``; entry ``[i, j]`` scores ``i -> j``;
  row ``num_tags`` is the start symbol ``y_0``, column ``num_tags`` the end symbol
  ``y_{T+1}``. Entry ``[num_tags, num_tags]`` (start -> end) is never used.
- ``mask``: ``(batch, seq_len)`` bool, a left-aligned prefix of ``True``; every sequence
  has at least one real position.
- Relaxed labels ``y``: ``(batch, seq_len, num_tags)``, each real position a distribution.

Scores are *higher is better*; the SPEN energy is minus :func:`sequence_score`.
Everything is batched; the only Python loops run over positions, inside the two dynamic
programs. Padded positions are masked out before any arithmetic, so whatever values they
hold (even NaN) change neither results nor gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["crf_nll", "log_partition", "one_hot", "sequence_score", "viterbi"]


def _check(emissions: Tensor, transitions: Tensor, mask: Tensor) -> int:
    """Validate shapes; return ``num_tags``."""
    if emissions.dim() != 3:
        raise ValueError(
            f"emissions must be (batch, seq_len, num_tags), got {tuple(emissions.shape)}"
        )
    batch, seq_len, num_tags = emissions.shape
    if transitions.shape != (num_tags + 1, num_tags + 1):
        raise ValueError(
            f"transitions must be ({num_tags + 1}, {num_tags + 1}), got {tuple(transitions.shape)}"
        )
    if mask.shape != (batch, seq_len):
        raise ValueError(f"mask must be ({batch}, {seq_len}), got {tuple(mask.shape)}")
    if seq_len < 1:
        raise ValueError("seq_len must be at least 1")
    return num_tags


def _masked(x: Tensor, mask: Tensor) -> Tensor:
    """Zero the padded positions of a ``(batch, seq_len, k)`` tensor (gradient 0 there)."""
    return x.masked_fill(~mask.unsqueeze(-1), 0.0)


def one_hot(tags: Tensor, num_tags: int, dtype: torch.dtype | None = None) -> Tensor:
    """One-hot encode integer tags.

    Args:
        tags: ``(batch, seq_len)`` long, values in ``[0, num_tags)`` at every position
            (padded positions may hold any valid index; callers mask them).
        num_tags: number of tags ``L``.
        dtype: float dtype of the result (default: ``torch.get_default_dtype()``).

    Returns:
        ``(batch, seq_len, num_tags)`` float tensor on ``tags.device``.
    """
    dtype = torch.get_default_dtype() if dtype is None else dtype
    return torch.nn.functional.one_hot(tags.long(), num_tags).to(dtype)


def sequence_score(emissions: Tensor, transitions: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Linear-chain score of (relaxed) label sequences, fully vectorised.

    ``score = Σ_t Σ_j y_{t,j} e_{t,j} + Σ_{t=1..T+1} y_{t-1}ᵀ W y_t`` with ``y_0`` the start
    symbol, ``y_{T+1}`` the end symbol and ``T`` each sequence's own length. For one-hot
    labels this is the CRF score of the tag path; for relaxed labels it is the same bilinear
    formula (minus the SPEN energy).

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        labels: ``(batch, seq_len, num_tags)`` float; padded positions are ignored.
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.

    Returns:
        ``(batch,)`` scores (higher is better), differentiable in all float inputs.
    """
    num_tags = _check(emissions, transitions, mask)
    if labels.shape != emissions.shape:
        raise ValueError(
            f"labels must have shape {tuple(emissions.shape)}, got {tuple(labels.shape)}"
        )
    y = _masked(labels, mask)
    e = _masked(emissions, mask)
    inner_w = transitions[:num_tags, :num_tags]
    start_w = transitions[num_tags, :num_tags]
    end_w = transitions[:num_tags, num_tags]

    unary = (y * e).sum(dim=(1, 2))
    start = y[:, 0] @ start_w
    # y_{t-1}ᵀ W y_t for t = 2..T; masked y is zero past T so those pairs add nothing,
    # but mask explicitly as well to keep the contract obvious.
    pair = ((y[:, :-1] @ inner_w) * y[:, 1:]).sum(dim=-1)
    inner = (pair * mask[:, 1:].to(pair.dtype)).sum(dim=1)
    last = mask.long().sum(dim=1) - 1
    y_last = y.gather(1, last.view(-1, 1, 1).expand(-1, 1, num_tags)).squeeze(1)
    end = y_last @ end_w
    return unary + start + inner + end


def log_partition(emissions: Tensor, transitions: Tensor, mask: Tensor) -> Tensor:
    """Log partition function ``log Σ_y exp(score(y))`` by the forward algorithm.

    Works in log space (logsumexp). Positions past a sequence's length carry the previous
    alpha forward unchanged.

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.

    Returns:
        ``(batch,)`` log partition values, differentiable; the gradient with respect to
        ``emissions`` is the matrix of tag marginals (zero at padded positions).
    """
    num_tags = _check(emissions, transitions, mask)
    e = _masked(emissions, mask)
    inner_w = transitions[:num_tags, :num_tags].unsqueeze(0)
    alpha = transitions[num_tags, :num_tags].unsqueeze(0) + e[:, 0]  # (batch, L)
    for t in range(1, e.shape[1]):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + inner_w, dim=1) + e[:, t]
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    return torch.logsumexp(alpha + transitions[:num_tags, num_tags], dim=1)


def viterbi(emissions: Tensor, transitions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Best tag sequence under the linear-chain score (Viterbi).

    Backpointers are computed for the whole batch at each position; the backtrace runs over
    positions, vectorised over the batch. Ties are broken by ``torch.max``.

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.

    Returns:
        ``(tags, score)``: ``tags`` is ``(batch, seq_len)`` long with padded positions set
        to 0; ``score`` is ``(batch,)``, the score of that path (the maximum score).
    """
    num_tags = _check(emissions, transitions, mask)
    e = _masked(emissions, mask)
    batch, seq_len, _ = e.shape
    inner_w = transitions[:num_tags, :num_tags].unsqueeze(0)
    identity = torch.arange(num_tags, device=e.device).expand(batch, num_tags)
    delta = transitions[num_tags, :num_tags].unsqueeze(0) + e[:, 0]  # (batch, L)
    backpointers = []
    for t in range(1, seq_len):
        best, arg = (delta.unsqueeze(2) + inner_w).max(dim=1)  # over the previous tag
        real = mask[:, t].unsqueeze(1)
        delta = torch.where(real, best + e[:, t], delta)
        # At padded positions point every tag to itself so the backtrace passes through.
        backpointers.append(torch.where(real, arg, identity))
    score, tag = (delta + transitions[:num_tags, num_tags]).max(dim=1)

    path = [tag]
    for bp in reversed(backpointers):
        tag = bp.gather(1, tag.unsqueeze(1)).squeeze(1)
        path.append(tag)
    path.reverse()
    tags = torch.stack(path, dim=1).masked_fill(~mask, 0)
    return tags, score


def crf_nll(emissions: Tensor, transitions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
    """CRF negative log-likelihood of gold tag sequences.

    Args:
        emissions: ``(batch, seq_len, num_tags)`` float.
        transitions: ``(num_tags + 1, num_tags + 1)`` float.
        tags: ``(batch, seq_len)`` long gold tags (padded positions: any valid index).
        mask: ``(batch, seq_len)`` bool, left-aligned prefix of ``True``.

    Returns:
        ``(batch,)`` values ``log Z − score(tags)`` (non-negative), differentiable.
    """
    labels = one_hot(tags, emissions.shape[-1], dtype=emissions.dtype)
    return log_partition(emissions, transitions, mask) - sequence_score(
        emissions, transitions, labels, mask
    )
