"""Marginals, k-best Viterbi and search errors against brute-force enumeration of every tag
sequence (the plain-Python helpers of test_linear_chain, written independently of spen)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_linear_chain import (
    SETTINGS,
    TOL,
    all_paths,
    brute_marginals,
    brute_score,
    garbage_like,
    problems,
    random_tags,
    real_emissions,
)

from spen.chain_inference import energies_against_viterbi, k_best, marginals
from spen.inference.linear_chain import viterbi


@SETTINGS
@given(problems())
def test_marginals_are_distributions_equal_to_brute_force(problem) -> None:
    emissions, transitions, mask, lengths, gen = problem
    got = marginals(garbage_like(emissions, mask, gen), transitions, mask)
    assert got.shape == emissions.shape and not got.requires_grad
    tr = transitions.tolist()
    for b, n in enumerate(lengths):
        expected = brute_marginals(real_emissions(emissions, b, n), tr)
        torch.testing.assert_close(got[b, :n], torch.tensor(expected, dtype=torch.float64), **TOL)
        torch.testing.assert_close(got[b, :n].sum(-1), torch.ones(n, dtype=torch.float64), **TOL)
        assert torch.all(got[b, n:] == 0)


@SETTINGS
@given(problems(), st.integers(1, 260))
def test_k_best_is_the_top_k_of_the_enumeration(problem, k: int) -> None:
    emissions, transitions, mask, lengths, gen = problem
    num_tags = emissions.shape[2]
    tags, scores = k_best(garbage_like(emissions, mask, gen), transitions, mask, k)
    assert tags.shape == (len(lengths), k, mask.shape[1]) and scores.shape == (len(lengths), k)
    tr = transitions.tolist()
    for b, n in enumerate(lengths):
        em = real_emissions(emissions, b, n)
        enumerated = sorted((brute_score(em, tr, p) for p in all_paths(n, num_tags)), reverse=True)
        found = min(k, len(enumerated))
        # the scores are the enumeration's top k (ties may swap paths, never scores)
        assert scores[b, :found].tolist() == pytest.approx(enumerated[:found], rel=1e-9, abs=1e-9)
        assert torch.all(torch.isneginf(scores[b, found:]))
        paths = [tuple(row[:n]) for row in tags[b, :found].tolist()]
        assert len(set(paths)) == found, "a sequence came twice"
        for path, score in zip(paths, scores[b, :found].tolist(), strict=True):
            assert brute_score(em, tr, path) == pytest.approx(score, rel=1e-9, abs=1e-9)
        assert torch.all(tags[b, :, n:] == 0) and torch.all(tags[b, found:] == 0)


@SETTINGS
@given(problems())
def test_the_best_of_k_best_is_viterbi(problem) -> None:
    emissions, transitions, mask, _, _ = problem
    tags, scores = k_best(emissions, transitions, mask, 3)
    best_tags, best = viterbi(emissions, transitions, mask)
    torch.testing.assert_close(scores[:, 0], best, **TOL)
    # the same path up to ties: its energy is the minimum
    energy, minimum = energies_against_viterbi(emissions, transitions, tags[:, 0], mask)
    torch.testing.assert_close(energy, minimum, **TOL)
    assert tags[:, 0].shape == best_tags.shape


@SETTINGS
@given(problems())
def test_search_error_is_nonnegative_brute_force_and_zero_for_viterbi(problem) -> None:
    emissions, transitions, mask, lengths, gen = problem
    num_tags = emissions.shape[2]
    tags = random_tags(mask, num_tags, gen)
    energy, minimum = energies_against_viterbi(emissions, transitions, tags, mask)
    assert torch.all(energy - minimum >= -1e-9)
    tr = transitions.tolist()
    for b, n in enumerate(lengths):
        em = real_emissions(emissions, b, n)
        best = max(brute_score(em, tr, p) for p in all_paths(n, num_tags))
        path = tuple(tags[b, :n].tolist())
        assert energy[b].item() == pytest.approx(-brute_score(em, tr, path), rel=1e-9, abs=1e-9)
        assert minimum[b].item() == pytest.approx(-best, rel=1e-9, abs=1e-9)
    exact, _ = viterbi(emissions, transitions, mask)
    energy, minimum = energies_against_viterbi(emissions, transitions, exact, mask)
    torch.testing.assert_close(energy - minimum, torch.zeros_like(energy), **TOL)


def test_k_below_one_is_refused() -> None:
    emissions = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        k_best(emissions, torch.zeros(4, 4), torch.ones(1, 2, dtype=torch.bool), 0)
