"""Global energy terms (tag language models) and their pretraining."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from test_spen import NUM_TAGS, VOCAB, snapshot, tiny_batch, tiny_config, vocabs

from spen.data.batches import Batch
from spen.data.prepared import PreparedTask
from spen.inference.linear_chain import sequence_score
from spen.models.build import build_model
from spen.models.encoders import reverse_padded
from spen.models.global_energy import DirectionalTagLM, TagLanguageModel
from spen.models.spen import EnergyInputs, SpenModel
from spen.run_config import RunConfig
from spen.training.build import build_learner
from spen.training.tag_lm import (
    load_pretrained_parts,
    load_tag_lm_state,
    pretrain_tag_lm,
    save_tag_lm,
)
from tests.conftest import needs_shared_data


def one_hot(tags: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(tags, NUM_TAGS).float()


def test_reverse_padded() -> None:
    x = torch.tensor([[1, 2, 3], [4, 5, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert torch.equal(reverse_padded(x, mask), torch.tensor([[3, 2, 1], [5, 4, 0]]))
    y = torch.arange(12.0).view(2, 3, 2)
    assert torch.equal(reverse_padded(reverse_padded(y, mask), mask), y)


def gather_nll(tlm: TagLanguageModel, tags: list[int]) -> float:
    """-Σ log p(y_t | y_<t) - log p(end | y), by feeding the LSTM one step at a time."""
    lm = tlm.forward_lm
    state = None
    inputs = [lm.start.detach()] + [one_hot(torch.tensor(t)) for t in tags]
    targets = [*tags, NUM_TAGS]
    total = 0.0
    for x, target in zip(inputs, targets, strict=True):
        out, state = lm.lstm(x.view(1, 1, -1), state)
        total -= torch.log_softmax(lm.output(out), dim=-1)[0, 0, target].item()
    return total


def test_tag_lm_energy_on_one_hot_is_the_sequence_nll_and_ignores_padding() -> None:
    torch.manual_seed(0)
    tlm = TagLanguageModel("tlm_a", NUM_TAGS, hidden=5)
    batch = tiny_batch(0)
    garbage = one_hot(batch.tags).clone()
    garbage[~batch.mask] = 7.0  # padded positions hold junk
    with torch.no_grad():
        energy = tlm(batch, garbage)
    for b, n in enumerate(batch.lengths.tolist()):
        expected = gather_nll(tlm, batch.tags[b, :n].tolist())
        assert energy[b].item() == pytest.approx(expected, rel=1e-5)


def built_tag_lm(kind: str) -> TagLanguageModel:
    """The tag LM of a tiny SPEN with a global energy of `kind` (its word encoder included)."""
    torch.manual_seed(0)
    config = tiny_config(global_energy={"kind": kind, "weight": 1.0, "hidden": 4})
    model = build_model(config, vocabs(), torch.randn(VOCAB, 6))
    assert isinstance(model, SpenModel) and model.global_energy is not None
    return model.global_energy.model


@pytest.mark.parametrize("kind", ["tlm_b", "tlm_c"])
def test_word_reading_tag_lms_are_padding_independent(kind: str) -> None:
    tlm = built_tag_lm(kind)
    batch = tiny_batch(1)
    labels = torch.softmax(torch.randn(*batch.tags.shape, NUM_TAGS), dim=-1)
    with torch.no_grad():
        together = tlm(batch, labels)
        for b, n in enumerate(batch.lengths.tolist()):
            alone = Batch(
                batch.words[b : b + 1, :n],
                batch.tags[b : b + 1, :n],
                batch.mask[b : b + 1, :n],
                None,
                (0,),
            )
            assert tlm(alone, labels[b : b + 1, :n]).item() == pytest.approx(
                together[b].item(), rel=1e-5
            )


def stepwise_energy(lm: DirectionalTagLM, y: torch.Tensor, words: torch.Tensor | None) -> float:
    """−Σ_{t=1..n+1} log(ỹ_tᵀ ȳ_t) for one sentence's relaxed tags `y` (n, L), feeding the
    LSTM one step at a time: at step t the tags (and words) of step t − 1, the start vectors
    at t = 1; ỹ_{n+1} is the end symbol."""
    n, state, total = y.shape[0], None, 0.0
    previous_y, previous_w = lm.start.detach(), lm.start_word
    for t in range(n + 1):
        x = previous_y if words is None else torch.cat([previous_y, previous_w.detach()])
        out, state = lm.lstm(x.view(1, 1, -1), state)
        probs = lm.output(out).softmax(dim=-1)[0, 0]
        target = torch.cat([y[t], torch.zeros(1)]) if t < n else one_hot_end()
        total -= torch.log(target @ probs).item()
        if t < n:
            previous_y = y[t]
            previous_w = None if words is None else words[t]
    return total


def one_hot_end() -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(NUM_TAGS), NUM_TAGS + 1).float()


@pytest.mark.parametrize("kind", ["tlm_a", "tlm_b", "tlm_c"])
def test_tag_lm_energy_step_by_step(kind: str) -> None:
    """On relaxed tags, each kind's energy equals its terms fed one step at a time: GE(b) reads
    the previous word beside the previous tags; GE(c) adds a second LM over the reversed
    sentence (tags and words reversed, its own start vectors)."""
    tlm = built_tag_lm(kind)
    batch = tiny_batch(2)
    labels = torch.softmax(3 * torch.randn(*batch.tags.shape, NUM_TAGS), dim=-1)
    with torch.no_grad():
        energy = tlm(batch, labels)
        words = tlm.word_features(batch)
        for b, n in enumerate(batch.lengths.tolist()):
            w = None if words is None else words[b, :n]
            expected = stepwise_energy(tlm.forward_lm, labels[b, :n], w)
            if kind == "tlm_c":
                assert tlm.backward_lm is not None
                back = None if w is None else w.flip(0)
                expected += stepwise_energy(tlm.backward_lm, labels[b, :n].flip(0), back)
            assert energy[b].item() == pytest.approx(expected, rel=1e-5)


def test_frozen_global_term_is_added_and_never_trained(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tlm = TagLanguageModel("tlm_a", NUM_TAGS, hidden=4)
    path = tmp_path / "tlm.pt"
    save_tag_lm(path, tlm, {"note": "untrained"})
    spec = {"kind": "tlm_a", "weight": 0.5, "hidden": 4, "pretrained": str(path)}
    config = tiny_config(global_energy=spec)
    # building reads no file: a missing pretrained path is no obstacle to building
    missing = {**spec, "pretrained": str(tmp_path / "missing.pt")}
    build_model(tiny_config(global_energy=missing), vocabs(), torch.randn(VOCAB, 6))
    model = build_model(config, vocabs(), torch.randn(VOCAB, 6))
    load_pretrained_parts(model, config)
    learner = build_learner(config, model)
    loaded = model.global_energy.model
    pairs = zip(loaded.state_dict().values(), tlm.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not any(p.requires_grad for p in loaded.parameters())
    batch = tiny_batch(2)
    gold = model.gold(batch)
    with torch.no_grad():
        (full,) = model.energies(model.energy_inputs(batch), gold)
        chain = model.linear_chain_energy(batch, gold)
        assert torch.allclose(full - chain, 0.5 * tlm(batch, gold), atol=1e-5)
    before = snapshot(list(loaded.parameters()))
    losses = learner.train_step(batch)
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(torch.equal(b, p) for b, p in zip(before, loaded.parameters(), strict=True))

    with pytest.raises(ValueError, match="does not match"):
        load_tag_lm_state(path, {**tlm.spec(), "hidden": 5})
    with pytest.raises(FileNotFoundError, match="pretrain-tlm"):
        load_tag_lm_state(tmp_path / "missing.pt", tlm.spec())


@pytest.fixture
def pos_task(project: Path) -> PreparedTask:
    """POS preprocessed from the raw-data mirror into a scratch project."""
    from typer.testing import CliRunner

    from spen.cli import app
    from spen.data.prepared import load_prepared

    for step in (["fetch", "pos"], ["preprocess", "pos"]):
        result = CliRunner().invoke(app, step)
        assert result.exit_code == 0, result.output
    return load_prepared(project / "data" / "pos")


@needs_shared_data()
def test_pretraining_lowers_dev_cross_entropy_below_uniform(pos_task: PreparedTask) -> None:
    task = pos_task
    model, summary = pretrain_tag_lm(
        task,
        "tlm_a",
        hidden=16,
        epochs=3,
        patience=3,
        batch_size=16,
        lr=0.01,
        train_limit=200,
        dev_limit=50,
    )
    uniform = torch.log(torch.tensor(len(task.vocabs.tags) + 1.0)).item()
    assert summary["dev_nll"] < uniform - 0.5
    assert summary["best_epoch"] >= 1 and len(summary["history"]) == summary["epochs"]
    assert not model.training


@needs_shared_data()
def test_pretraining_twice_saves_the_same_bytes(pos_task: PreparedTask, tmp_path: Path) -> None:
    """A tag LM file is a function of its data and settings (DVC hashes it; no wall clock)."""
    for name in ("a.pt", "b.pt"):
        model, summary = pretrain_tag_lm(
            pos_task, "tlm_a", hidden=8, epochs=2, batch_size=16, train_limit=60, dev_limit=20
        )
        save_tag_lm(tmp_path / name, model, summary)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def plus_ge_c_config(**overrides: object) -> RunConfig:
    """The slowest model in small: stacked + frozen GE(c), fine-tuned embeddings and a
    character CNN (the `plus` setting), Adam for both optimizers."""
    adam = {"name": "adam", "lr": 0.01}
    settings: dict[str, object] = {
        "parameterization": "stacked",
        "inner_steps": 3,
        "finetune_embeddings": True,
        "char_cnn": {"char_dim": 3, "filters": 4, "width": 3},
        "global_energy": {"kind": "tlm_c", "weight": 0.5, "hidden": 4},
        "energy_optimizer": adam,
        "inference_optimizer": adam,
    }
    return tiny_config(**{**settings, **overrides})


def batch_with_chars(seed: int) -> Batch:
    batch = tiny_batch(seed)
    gen = torch.Generator().manual_seed(100 + seed)
    chars = torch.randint(1, 3, (*batch.words.shape, 4), generator=gen)
    chars[..., 3] = 0  # every word shorter than the longest
    return replace(batch, chars=chars * batch.mask.unsqueeze(-1))


def test_global_word_features_are_computed_once_per_phase_bit_identically() -> None:
    """The frozen tag LM's word features (its char CNN included) are computed once for the k
    inner updates and once for the energy update, not at every energy call: three training
    steps give exactly the parameters of recomputing them at every call (as before the
    cache), and a stale cache (another batch's features) would not."""
    config = plus_ge_c_config()
    torch.manual_seed(0)
    cached = build_learner(config, build_model(config, vocabs(), torch.randn(VOCAB, 6)))
    torch.manual_seed(0)
    reference = build_learner(config, build_model(config, vocabs(), torch.randn(VOCAB, 6)))
    current: list[Batch] = []

    def recomputing(labels: torch.Tensor, mask: torch.Tensor, words: object) -> torch.Tensor:
        """The energy before the cache: the word features computed again at every call."""
        batch = current[-1]
        fresh = tlm.words(batch).repeat(labels.shape[0] // len(batch), 1, 1)
        return tlm.energy(labels, mask, fresh) * reference.model.global_energy.weight

    tlm = reference.model.global_energy.model
    reference.model.global_energy.forward = recomputing
    calls = []
    cached.model.global_energy.model.words.register_forward_hook(lambda *_: calls.append(1))
    for seed in range(3):
        batch = batch_with_chars(seed)
        current.append(batch)
        reference.train_step(batch)
        calls.clear()
        cached.train_step(batch)
        assert len(calls) == 2, "word features: once for the k inner updates, once for Θ's"
    pairs = zip(cached.model.parameters(), reference.model.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """The largest absolute difference between two models' parameters."""
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max(float((p - q).detach().abs().max()) for p, q in pairs)


@pytest.mark.parametrize("global_energy", [True, False])
def test_energies_of_several_outputs_in_one_call_are_the_separate_calls(
    global_energy: bool,
) -> None:
    """F's and A's outputs (and gold, in Θ's update) scored in one call over the repeated
    batch: the energies of separate calls, and three training steps within 4e-6 of them."""
    config = plus_ge_c_config(**({} if global_energy else {"global_energy": None}))

    def separate_calls(model: SpenModel, inputs: EnergyInputs, *labels: torch.Tensor) -> tuple:
        """The computation before: one energy call per label tensor."""
        energies = []
        for y in labels:
            energy = -sequence_score(inputs.emissions, model.energy.transitions, y, inputs.mask)
            if model.global_energy is not None:
                tlm = model.global_energy.model
                words = tlm.energy(y, inputs.mask, inputs.global_words)
                energy = energy + model.global_energy.weight * words
            energies.append(energy)
        return tuple(energies)

    torch.manual_seed(0)
    joined = build_learner(config, build_model(config, vocabs(), torch.randn(VOCAB, 6)))
    torch.manual_seed(0)
    reference = build_learner(config, build_model(config, vocabs(), torch.randn(VOCAB, 6)))
    reference.model.energies = lambda inputs, *labels: separate_calls(
        reference.model, inputs, *labels
    )
    batch = batch_with_chars(0)
    outputs = [torch.softmax(torch.randn(*batch.tags.shape, NUM_TAGS), -1) for _ in range(2)]
    with torch.no_grad():
        inputs = joined.model.energy_inputs(batch)
        together = joined.model.energies(inputs, joined.model.gold(batch), *outputs)
        apart = separate_calls(joined.model, inputs, joined.model.gold(batch), *outputs)
    for a, b in zip(together, apart, strict=True):
        assert a.shape == (len(batch),) and torch.allclose(a, b, atol=1e-5)
    for seed in range(3):
        joined.train_step(batch_with_chars(seed))
        reference.train_step(batch_with_chars(seed))
    difference = max_difference(joined.model, reference.model)
    print(f"max parameter difference after 3 steps: {difference:.3g}")
    assert difference <= 4e-6


def test_fused_adam_trains_as_the_plain_one() -> None:
    """Every Adam of a run is the fused one (on the CPU too): three training steps of the
    slowest model in small stay within 4e-6 of the same steps with the plain Adam."""
    config = plus_ge_c_config(grad_clip=5.0)
    torch.manual_seed(0)
    fused = build_learner(config, build_model(config, vocabs(), torch.randn(VOCAB, 6)))
    torch.manual_seed(0)
    plain = build_learner(config, build_model(config, vocabs(), torch.randn(VOCAB, 6)))
    assert set(fused.optimizers) == {"energy", "inference"}
    for name, optimizer in plain.optimizers.items():
        assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"]
        group = optimizer.param_groups[0]
        plain.optimizers[name] = torch.optim.Adam(group["params"], lr=group["lr"], fused=False)
    for seed in range(3):
        fused.train_step(batch_with_chars(seed))
        plain.train_step(batch_with_chars(seed))
    difference = max_difference(fused.model, plain.model)
    print(f"max parameter difference after 3 steps: {difference:.3g}")
    assert 0 < difference <= 4e-6  # not zero: the fused kernel really ran


def energy_before(lm: DirectionalTagLM, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`DirectionalTagLM.energy` as it was, its end symbol a one-hot tensor made on the host
    (a copy to the device, and a wait for it, at every call on a GPU)."""
    batch, seq_len, num_tags = labels.shape
    y = labels.masked_fill(~mask.unsqueeze(-1), 0.0)
    hidden, _ = lm.lstm(torch.cat([lm.start.expand(batch, 1, num_tags), y], dim=1))
    probs = lm.output(hidden).softmax(dim=-1)
    lengths = mask.long().sum(dim=1)
    targets = torch.cat(
        [
            torch.cat([y, y.new_zeros(batch, seq_len, 1)], dim=-1),
            y.new_zeros(batch, 1, num_tags + 1),
        ],
        dim=1,
    )
    end = torch.nn.functional.one_hot(lengths, seq_len + 1).to(y.dtype)
    targets = targets + end.unsqueeze(-1) * torch.nn.functional.one_hot(
        torch.tensor(num_tags, device=y.device), num_tags + 1
    ).to(y.dtype)
    agreement = (targets * probs).sum(dim=-1)
    valid = torch.arange(seq_len + 1).unsqueeze(0) <= lengths.unsqueeze(1)
    return -torch.where(valid, agreement.clamp_min(1e-30).log(), 0.0).sum(dim=1)


def test_tag_lm_energy_is_bit_identical_to_the_host_made_end_symbol() -> None:
    torch.manual_seed(0)
    lm = DirectionalTagLM(NUM_TAGS, hidden=5)
    batch = tiny_batch(3)
    labels = torch.softmax(torch.randn(*batch.tags.shape, NUM_TAGS), dim=-1)
    with torch.no_grad():
        assert torch.equal(lm.energy(labels, batch.mask), energy_before(lm, labels, batch.mask))
