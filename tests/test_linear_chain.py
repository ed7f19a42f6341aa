"""Linear-chain inference against brute-force enumeration (style of pytorch-struct's tests).

Hypothesis chooses the sizes (batch, seq_len, num_tags, per-sequence lengths) and a seed for
the float64 scores; every property is checked against plain-Python enumeration of all label
sequences, written independently of the module under test.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spen.inference.linear_chain import (
    crf_nll,
    log_partition,
    one_hot,
    sequence_score,
    viterbi,
)

SETTINGS = settings(max_examples=60, deadline=None)
TOL = {"rtol": 1e-9, "atol": 1e-9}


@st.composite
def problems(draw):
    """A random batched problem: float64 emissions, transitions, mask and lengths."""
    batch = draw(st.integers(1, 3))
    seq_len = draw(st.integers(1, 4))
    num_tags = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, seq_len), min_size=batch, max_size=batch))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, seq_len, num_tags, generator=gen, dtype=torch.float64)
    transitions = torch.randn(num_tags + 1, num_tags + 1, generator=gen, dtype=torch.float64)
    mask = torch.arange(seq_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return emissions, transitions, mask, lengths, gen


# ---------------------------------------------------------------------------------------
# Brute force, plain Python on lists of floats.


def brute_score(em: list[list[float]], tr: list[list[float]], path: tuple[int, ...]) -> float:
    """CRF score of one tag path; ``em`` holds the real positions only."""
    start = len(tr) - 1
    total = 0.0
    prev = start
    for t, tag in enumerate(path):
        total += em[t][tag] + tr[prev][tag]
        prev = tag
    return total + tr[prev][start]


def all_paths(n: int, num_tags: int):
    return itertools.product(range(num_tags), repeat=n)


def brute_logsumexp(values: list[float]) -> float:
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def real_emissions(emissions: torch.Tensor, b: int, n: int) -> list[list[float]]:
    return emissions[b, :n].tolist()


def brute_marginals(em: list[list[float]], tr: list[list[float]]) -> list[list[float]]:
    n, num_tags = len(em), len(em[0])
    paths = list(all_paths(n, num_tags))
    scores = [brute_score(em, tr, p) for p in paths]
    log_z = brute_logsumexp(scores)
    marg = [[0.0] * num_tags for _ in range(n)]
    for p, s in zip(paths, scores, strict=True):
        w = math.exp(s - log_z)
        for t, tag in enumerate(p):
            marg[t][tag] += w
    return marg


def relaxed_bilinear(em: list[list[float]], tr: list[list[float]], y: list[list[float]]) -> float:
    """Σ_t Σ_j y_tj e_tj + Σ_{t=1..T+1} y_{t-1}ᵀ W y_t with start/end symbols, plain loops."""
    n, num_tags = len(em), len(em[0])
    start = num_tags
    total = 0.0
    for t in range(n):
        for j in range(num_tags):
            total += y[t][j] * em[t][j]
    for j in range(num_tags):
        total += tr[start][j] * y[0][j]
        total += y[n - 1][j] * tr[j][start]
    for t in range(1, n):
        for i in range(num_tags):
            for j in range(num_tags):
                total += y[t - 1][i] * tr[i][j] * y[t][j]
    return total


def garbage_like(x: torch.Tensor, mask: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``x`` with its padded positions overwritten by large random values."""
    noise = 1e3 * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return torch.where(mask.unsqueeze(-1), x, noise)


def random_tags(mask: torch.Tensor, num_tags: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, num_tags, mask.shape, generator=gen)


# ---------------------------------------------------------------------------------------
# Properties.


@SETTINGS
@given(problems())
def test_log_partition_matches_brute_force(problem):
    emissions, transitions, mask, lengths, _ = problem
    tr = transitions.tolist()
    got = log_partition(emissions, transitions, mask)
    assert got.shape == (emissions.shape[0],)
    for b, n in enumerate(lengths):
        em = real_emissions(emissions, b, n)
        expected = brute_logsumexp(
            [brute_score(em, tr, p) for p in all_paths(n, emissions.shape[2])]
        )
        assert got[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


@SETTINGS
@given(problems())
def test_viterbi_matches_brute_force(problem):
    emissions, transitions, mask, lengths, _ = problem
    tr = transitions.tolist()
    tags, score = viterbi(emissions, transitions, mask)
    assert tags.shape == mask.shape and tags.dtype == torch.long
    assert score.shape == (emissions.shape[0],)
    for b, n in enumerate(lengths):
        em = real_emissions(emissions, b, n)
        best = max(brute_score(em, tr, p) for p in all_paths(n, emissions.shape[2]))
        assert score[b].item() == pytest.approx(best, rel=1e-9, abs=1e-9)
        path = tuple(tags[b, :n].tolist())
        assert brute_score(em, tr, path) == pytest.approx(best, rel=1e-9, abs=1e-9)
        assert tags[b, n:].tolist() == [0] * (mask.shape[1] - n)


@SETTINGS
@given(problems())
def test_sequence_score_one_hot_matches_brute_force(problem):
    emissions, transitions, mask, lengths, gen = problem
    num_tags = emissions.shape[2]
    tr = transitions.tolist()
    tags = random_tags(mask, num_tags, gen)
    labels = one_hot(tags, num_tags, dtype=torch.float64)
    assert labels.shape == emissions.shape
    assert torch.equal(labels.argmax(-1), tags) and torch.all(labels.sum(-1) == 1)
    got = sequence_score(emissions, transitions, labels, mask)
    for b, n in enumerate(lengths):
        expected = brute_score(real_emissions(emissions, b, n), tr, tuple(tags[b, :n].tolist()))
        assert got[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


@SETTINGS
@given(problems())
def test_sequence_score_relaxed_matches_plain_loops(problem):
    emissions, transitions, mask, lengths, gen = problem
    logits = torch.randn(emissions.shape, generator=gen, dtype=torch.float64)
    labels = logits.softmax(-1)
    got = sequence_score(emissions, transitions, labels, mask)
    tr = transitions.tolist()
    for b, n in enumerate(lengths):
        expected = relaxed_bilinear(real_emissions(emissions, b, n), tr, labels[b, :n].tolist())
        assert got[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


@SETTINGS
@given(problems())
def test_padding_never_changes_results(problem):
    emissions, transitions, mask, _, gen = problem
    num_tags = emissions.shape[2]
    tags = random_tags(mask, num_tags, gen)
    labels = torch.randn(emissions.shape, generator=gen, dtype=torch.float64).softmax(-1)
    bad_emissions = garbage_like(emissions, mask, gen)
    bad_labels = garbage_like(labels, mask, gen)
    bad_tags = torch.where(mask, tags, random_tags(mask, num_tags, gen))

    torch.testing.assert_close(
        log_partition(bad_emissions, transitions, mask),
        log_partition(emissions, transitions, mask),
        **TOL,
    )
    torch.testing.assert_close(
        sequence_score(bad_emissions, transitions, bad_labels, mask),
        sequence_score(emissions, transitions, labels, mask),
        **TOL,
    )
    torch.testing.assert_close(
        crf_nll(bad_emissions, transitions, bad_tags, mask),
        crf_nll(emissions, transitions, tags, mask),
        **TOL,
    )
    good_path, good_score = viterbi(emissions, transitions, mask)
    bad_path, bad_score = viterbi(bad_emissions, transitions, mask)
    torch.testing.assert_close(bad_score, good_score, **TOL)
    # The path itself may differ only by ties; its score must not.
    torch.testing.assert_close(
        sequence_score(emissions, transitions, one_hot(bad_path, num_tags, torch.float64), mask),
        good_score,
        **TOL,
    )
    assert torch.all(bad_path[~mask] == 0) and torch.all(good_path[~mask] == 0)


@SETTINGS
@given(problems())
def test_crf_nll_is_a_normalised_distribution(problem):
    emissions, transitions, mask, lengths, _ = problem
    num_tags = emissions.shape[2]
    seq_len = mask.shape[1]
    for b, n in enumerate(lengths):
        paths = list(all_paths(n, num_tags))
        tags = torch.zeros(len(paths), seq_len, dtype=torch.long)
        tags[:, :n] = torch.tensor(paths, dtype=torch.long).view(len(paths), n)
        count = len(paths)
        nll = crf_nll(
            emissions[b : b + 1].expand(count, -1, -1),
            transitions,
            tags,
            mask[b : b + 1].expand(count, -1),
        )
        assert nll.shape == (count,)
        assert torch.all(nll >= -1e-9)
        total = torch.exp(-nll).sum().item()
        assert total == pytest.approx(1.0, rel=1e-9, abs=1e-9)


@SETTINGS
@given(problems())
def test_log_partition_gradient_is_marginals(problem):
    emissions, transitions, mask, lengths, _ = problem
    emissions = emissions.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_partition(emissions, transitions, mask).sum(), emissions)
    tr = transitions.tolist()
    for b, n in enumerate(lengths):
        expected = torch.tensor(
            brute_marginals(real_emissions(emissions.detach(), b, n), tr), dtype=torch.float64
        )
        torch.testing.assert_close(grad[b, :n], expected, **TOL)
        torch.testing.assert_close(grad[b, :n].sum(-1), torch.ones(n, dtype=torch.float64), **TOL)
        assert torch.all(grad[b, n:] == 0)


# ---------------------------------------------------------------------------------------
# Deterministic checks: gradcheck, NaN padding, dtypes, devices.


def _fixed_problem(dtype=torch.float64, device="cpu"):
    gen = torch.Generator().manual_seed(0)
    emissions = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    transitions = torch.randn(5, 5, generator=gen, dtype=torch.float64)
    labels = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64).softmax(-1)
    tags = torch.randint(0, 4, (3, 5), generator=gen)
    mask = torch.arange(5).unsqueeze(0) < torch.tensor([5, 2, 1]).unsqueeze(1)
    return (
        emissions.to(device=device, dtype=dtype),
        transitions.to(device=device, dtype=dtype),
        labels.to(device=device, dtype=dtype),
        tags.to(device),
        mask.to(device),
    )


def test_gradcheck():
    emissions, transitions, labels, _, mask = _fixed_problem()
    emissions.requires_grad_(True)
    transitions.requires_grad_(True)
    labels.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda e, w: log_partition(e, w, mask), (emissions, transitions)
    )
    assert torch.autograd.gradcheck(
        lambda e, w, y: sequence_score(e, w, y, mask), (emissions, transitions, labels)
    )


def test_nan_padding_gives_finite_results_and_gradients():
    emissions, transitions, labels, tags, mask = _fixed_problem()
    pad = ~mask.unsqueeze(-1)
    emissions = emissions.masked_fill(pad, float("nan")).requires_grad_(True)
    labels = labels.masked_fill(pad, float("nan")).requires_grad_(True)
    transitions.requires_grad_(True)
    out = (
        log_partition(emissions, transitions, mask).sum()
        + sequence_score(emissions, transitions, labels, mask).sum()
        + crf_nll(emissions, transitions, tags, mask).sum()
        + viterbi(emissions, transitions, mask)[1].sum()
    )
    assert torch.isfinite(out)
    out.backward()
    for g in (emissions.grad, labels.grad, transitions.grad):
        assert torch.all(torch.isfinite(g))
    assert torch.all(emissions.grad[~mask] == 0) and torch.all(labels.grad[~mask] == 0)


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available"),
    ),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_and_devices(dtype, device):
    ref = _fixed_problem()
    emissions, transitions, labels, tags, mask = _fixed_problem(dtype, device)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else TOL
    results = {
        "log_partition": (
            log_partition(emissions, transitions, mask),
            log_partition(ref[0], ref[1], ref[4]),
        ),
        "sequence_score": (
            sequence_score(emissions, transitions, labels, mask),
            sequence_score(ref[0], ref[1], ref[2], ref[4]),
        ),
        "crf_nll": (
            crf_nll(emissions, transitions, tags, mask),
            crf_nll(ref[0], ref[1], ref[3], ref[4]),
        ),
        "viterbi": (
            viterbi(emissions, transitions, mask)[1],
            viterbi(ref[0], ref[1], ref[4])[1],
        ),
    }
    for name, (got, expected) in results.items():
        assert got.dtype == dtype and got.device.type == device, name
        torch.testing.assert_close(got.double().cpu(), expected, **tol)
    path, _ = viterbi(emissions, transitions, mask)
    assert path.device.type == device
    assert one_hot(tags, 4, dtype).dtype == dtype
