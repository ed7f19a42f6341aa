"""The training loop reads the losses off the device in blocks of batches, not once a batch:
the same per-epoch records as per-batch reads, a NaN still named by its batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_spen import tiny_config

from spen.data.batches import Batch
from spen.training import loop
from spen.training.faults import NumericalFaultError
from spen.training.learners import Learner


class ScriptedLearner(Learner):
    """Returns preset losses, one dict a batch; counts its steps."""

    def __init__(self, losses: list[dict[str, torch.Tensor]]) -> None:
        self.model = torch.nn.Linear(1, 1)
        self.grad_clip = None
        self.losses = losses
        self.steps = 0

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.steps += 1
        return self.losses[self.steps - 1]


class NoBatch:
    def to(self, device: torch.device) -> NoBatch:
        return self


BATCHES = 2 * loop.LOSS_READ_EVERY + 7


def run_epoch(learner: ScriptedLearner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    monkeypatch.setattr(loop, "make_batches", lambda *_: [NoBatch()] * BATCHES)
    record, _ = loop._run_epoch(
        learner,
        tiny_config(),
        [None] * BATCHES,
        None,
        1,
        loop.RunPaths.under(tmp_path),
        torch.device("cpu"),
    )
    return record


def scripted_losses() -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [
        {"a": torch.rand((), generator=gen), "b": 1e3 * torch.rand((), generator=gen)}
        for _ in range(BATCHES)
    ]


def test_epoch_records_are_the_per_batch_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    losses = scripted_losses()
    record = run_epoch(ScriptedLearner(losses), monkeypatch, tmp_path)
    expected: dict[str, float] = {}
    for step in losses:  # the loop before: one float() per loss per batch, summed in order
        for name, value in step.items():
            expected[name] = expected.get(name, 0.0) + float(value)
    assert record == {"epoch": 1, **{f"train_{k}": v / BATCHES for k, v in expected.items()}}


def test_a_nan_is_named_by_its_batch_at_the_end_of_its_block(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    losses = scripted_losses()
    bad = loop.LOSS_READ_EVERY + 3
    losses[bad - 1]["b"] = torch.tensor(float("nan"))
    losses[bad]["a"] = torch.tensor(float("inf"))
    learner = ScriptedLearner(losses)
    with pytest.raises(NumericalFaultError, match=f"epoch 1, batch {bad}: loss 'b' is nan"):
        run_epoch(learner, monkeypatch, tmp_path)
    assert learner.steps == 2 * loop.LOSS_READ_EVERY  # found when its block was read
