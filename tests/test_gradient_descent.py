"""Gradient-descent inference on the linear-chain energy, against enumeration of all label
sequences and against hand-checkable cases."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spen.inference.gradient_descent import GradientDescentOptions, minimise_relaxed
from spen.inference.linear_chain import sequence_score


def _problem(seed: int, batch: int = 2, seq_len: int = 4, num_tags: int = 3):
    gen = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, seq_len, num_tags, generator=gen, dtype=torch.float64)
    transitions = torch.randn(num_tags + 1, num_tags + 1, generator=gen, dtype=torch.float64)
    mask = torch.ones(batch, seq_len, dtype=torch.bool)
    mask[0, seq_len - 1 :] = False
    return emissions, transitions, mask


def _brute_force_minimum(emissions, transitions, mask) -> torch.Tensor:
    """The least energy over every tag path, one sentence at a time, by enumeration."""
    best = []
    num_tags = emissions.shape[-1]
    for b in range(emissions.shape[0]):
        n = int(mask[b].sum())
        energies = []
        for path in itertools.product(range(num_tags), repeat=n):
            score = transitions[num_tags, path[0]] + transitions[path[-1], num_tags]
            score = score + sum(emissions[b, t, j] for t, j in enumerate(path))
            score = score + sum(transitions[i, j] for i, j in zip(path, path[1:], strict=False))
            energies.append(-float(score))
        best.append(min(energies))
    return torch.tensor(best, dtype=torch.float64)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(0, 40))
def test_never_below_the_exact_minimum_and_never_above_the_start(seed: int, steps: int) -> None:
    emissions, transitions, mask = _problem(seed)

    def energy(y: torch.Tensor) -> torch.Tensor:
        return -sequence_score(emissions, transitions, y, mask)

    start = torch.zeros_like(emissions)
    relaxed = minimise_relaxed(energy, start, GradientDescentOptions(steps=steps, lr=0.05))
    reached = energy(relaxed)
    # the energy is multilinear in the positions' distributions: its minimum is a path's
    assert torch.all(reached >= _brute_force_minimum(emissions, transitions, mask) - 1e-9)
    # small steps on a smooth function: no worse than where it started
    assert torch.all(reached <= energy(start.softmax(-1)) + 1e-9)


def test_without_transitions_it_reaches_the_per_position_argmax() -> None:
    emissions, _, mask = _problem(3)
    transitions = torch.zeros(4, 4, dtype=torch.float64)

    def energy(y: torch.Tensor) -> torch.Tensor:
        return -sequence_score(emissions, transitions, y, mask)

    relaxed = minimise_relaxed(
        energy, torch.zeros_like(emissions), GradientDescentOptions(steps=300, lr=5.0)
    )
    assert torch.equal(relaxed.argmax(-1)[mask], emissions.argmax(-1)[mask])
    assert torch.allclose(
        energy(relaxed), _brute_force_minimum(emissions, transitions, mask), atol=1e-2
    )


def test_zero_steps_return_the_start_and_parameters_get_no_gradient() -> None:
    emissions, transitions, mask = _problem(5)
    transitions.requires_grad_(True)
    start = torch.randn_like(emissions)

    def energy(y: torch.Tensor) -> torch.Tensor:
        return -sequence_score(emissions, transitions, y, mask)

    assert torch.equal(
        minimise_relaxed(energy, start, GradientDescentOptions(steps=0)), start.softmax(-1)
    )
    minimise_relaxed(energy, start, GradientDescentOptions(steps=5))
    assert transitions.grad is None


@pytest.mark.parametrize("options", [{"steps": -1}, {"lr": 0.0}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ValueError, match="gradient-descent"):
        GradientDescentOptions(**options)
