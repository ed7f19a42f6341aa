"""SPEN with inference networks: cost, hinges, energy identities, gradient routing, schedule.

The hand computations use plain Python loops over positions, written independently of
`spen.inference.linear_chain` and `spen.training.objectives`.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from spen.config import load_params
from spen.data.batches import Batch
from spen.data.vocab import Tagset, Vocab, Vocabularies
from spen.models.build import build_model, count_parameters
from spen.models.inference_networks import PARAMETERIZATIONS
from spen.models.local import LocalTagger
from spen.models.spen import EnergyInputs
from spen.run_config import RunConfig
from spen.training.build import build_learner
from spen.training.objectives import (
    compound_energy_loss,
    compound_inference_loss,
    cost,
    hinge,
    sentence_cross_entropy,
)
from spen.training.spen_learner import SpenLearner, SpenOptions

REPO = Path(__file__).resolve().parents[1]
NUM_TAGS = 3
VOCAB = 7


def vocabs(num_tags: int = NUM_TAGS, num_words: int = VOCAB) -> Vocabularies:
    return Vocabularies(
        words=Vocab(tuple(f"w{i}" for i in range(num_words))),
        chars=Vocab(("<pad>", "<unk>", "a")),
        tags=Tagset(tuple(f"T{i}" for i in range(num_tags))),
        normalize="none",
    )


def tiny_config(**overrides: object) -> RunConfig:
    """A small SPEN run's configuration; `overrides` as keys of a params level would."""
    config = {
        "task": "tiny",
        "model": "tiny",
        "setting": "paper",
        "seed": 1,
        "profile": "test",
        "batch_size": 10,
        "eval_batch_size": 10,
        "max_epochs": 1,
        "patience": 1,
        "optimizer": {"name": "adam", "lr": 0.01},
        "device": "cpu",
        "kind": "spen",
        "hidden": 4,
        "finetune_embeddings": False,
        "char_cnn": None,
        "objective": "compound",
        "parameterization": "separated",
        "compound_weight": 2.0,
        "inner_steps": 2,
        "zero_truncation": False,
        "ce": True,
        "ce_weight": 1.0,
        "energy_optimizer": {"name": "adam", "lr": 0.01},
        "inference_optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "grad_clip": None,
    }
    config.update(overrides)
    return RunConfig.from_dict(config)


def tiny_batch(seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    lengths = [5, 3, 1]
    width = max(lengths)
    mask = torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    words = torch.randint(2, VOCAB, (3, width), generator=gen) * mask
    tags = torch.randint(0, NUM_TAGS, (3, width), generator=gen) * mask
    return Batch(words, tags, mask, None, (0, 1, 2))


def build(config: RunConfig, seed: int = 0) -> SpenLearner:
    torch.manual_seed(seed)
    embeddings = torch.randn(VOCAB, 6)
    model = build_model(config, vocabs(), embeddings)
    learner = build_learner(config, model)
    assert isinstance(learner, SpenLearner)
    return learner


def snapshot(params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def changed(before: list[torch.Tensor], params: list[torch.nn.Parameter]) -> list[bool]:
    return [not torch.equal(b, p.detach()) for b, p in zip(before, params, strict=True)]


# ---------------------------------------------------------------------------------------
# Cost, cross-entropy and the hinges on fixed small tensors


def test_cost_is_masked_l1_sum() -> None:
    pred = torch.tensor(
        [
            [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]],
            [[0.0, 0.0, 1.0], [9.0, 9.0, 9.0], [0, 0, 0]],
        ]
    )
    gold = torch.tensor(
        [
            [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0, 0, 0]],
        ]
    )
    mask = torch.tensor([[True, True, True], [True, False, False]])
    # sentence 1: |0.5-1|+0.5+0 = 1.0; 0; 0.2+0.7+0.5 = 1.4 -> 2.4; sentence 2: 0+1+1 = 2
    assert torch.allclose(cost(pred, gold, mask), torch.tensor([2.4, 2.0]))


def test_sentence_cross_entropy_hand_value() -> None:
    logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0]], [[1.0, -1.0], [5.0, 5.0]]])
    tags = torch.tensor([[0, 1], [1, 0]])
    mask = torch.tensor([[True, True], [True, False]])
    log2 = torch.log(torch.tensor(2.0))
    first = log2 + torch.log1p(torch.exp(torch.tensor(2.0)))  # -log(1/2) - log(1/(1+e^2))
    second = torch.log1p(torch.exp(torch.tensor(2.0)))  # -log(e^-1/(e^1+e^-1))
    assert torch.allclose(sentence_cross_entropy(logits, tags, mask), torch.stack([first, second]))


def test_hinge_losses_by_hand() -> None:
    e_pred = torch.tensor([1.0, 4.0])
    e_gold = torch.tensor([2.0, 1.0])
    delta = torch.tensor([1.0, 2.0])
    h_f = hinge(e_pred, e_gold, delta)  # [1 - 1 + 2, 2 - 4 + 1] = [2, -1]
    assert torch.equal(h_f, torch.tensor([2.0, -1.0]))
    h_a = hinge(torch.tensor([5.0, 0.5]), e_gold)  # [2 - 5, 1 - 0.5] = [-3, 0.5]
    assert torch.equal(h_a, torch.tensor([-3.0, 0.5]))
    # Θ: mean([h_F]_+) + λ mean([h_A]_+) = (2 + 0)/2 + 10 (0 + 0.5)/2
    assert compound_energy_loss(h_f, h_a, 10.0).item() == pytest.approx(3.5)
    assert compound_energy_loss(h_f, None, 10.0).item() == pytest.approx(1.0)
    # Φ,Ψ untruncated: -(2 - 1)/2 - 10 (-3 + 0.5)/2 = -0.5 + 12.5
    assert compound_inference_loss(h_f, h_a, 10.0, False).item() == pytest.approx(12.0)
    # truncated: -(2 + 0)/2 - 10 (0 + 0.5)/2 = -1 - 2.5
    assert compound_inference_loss(h_f, h_a, 10.0, True).item() == pytest.approx(-3.5)


def hand_energy(
    emissions: torch.Tensor, transitions: torch.Tensor, y: torch.Tensor, n: int
) -> float:
    """-(Σ_t y_t·e_t + startᵀW y_1 + Σ_t y_{t-1}ᵀ W y_t + y_nᵀ W end), by loops on floats."""
    e, w, y = (x.detach().tolist() for x in (emissions, transitions, y))
    num_tags = len(e[0])
    start = end = num_tags
    total = 0.0
    for t in range(n):
        for j in range(num_tags):
            total += y[t][j] * e[t][j]
            if t == 0:
                total += w[start][j] * y[t][j]
            if t == n - 1:
                total += y[t][j] * w[j][end]
            if t > 0:
                for i in range(num_tags):
                    total += y[t - 1][i] * w[i][j] * y[t][j]
    return -total


@pytest.mark.parametrize(
    ("objective", "test_time_cost"),
    [("compound", False), ("compound", True), ("margin_rescaled", False), ("perceptron", False)],
)
def test_reported_energy_loss_is_hand_hinge(objective: str, test_time_cost: bool) -> None:
    """The Θ loss a step reports equals the truncated hinges computed by hand beforehand
    (with `test_time_cost`, A's hinge carries Δ(A, y) as in the authors' separated code)."""
    config = tiny_config(
        objective=objective,
        test_time_cost=test_time_cost,
        zero_truncation=objective != "compound",
        # lr 0: the inference networks stay as they are, so their outputs can be predicted
        inference_optimizer={"name": "sgd", "lr": 0.0},
    )
    learner = build(config)
    model = learner.model
    batch = tiny_batch(1)
    lam = config.compound_weight
    with torch.no_grad():
        em = model.energy.emissions(batch)
        w = model.energy.transitions
        gold = torch.nn.functional.one_hot(batch.tags, NUM_TAGS).float()
        a = model.inference.test_time_logits(batch).softmax(-1)
        f = model.inference.cost_augmented_logits(batch, gold).softmax(-1)
    expected = 0.0
    for b, n in enumerate(batch.lengths.tolist()):
        e_gold = hand_energy(em[b], w, gold[b], n)
        e_f = hand_energy(em[b], w, f[b], n)
        delta = sum(float((f[b, t] - gold[b, t]).abs().sum()) for t in range(n))
        if objective == "perceptron":
            delta = 0.0
        expected += max(delta - e_f + e_gold, 0.0)
        if objective == "compound":
            delta_a = sum(float((a[b, t] - gold[b, t]).abs().sum()) for t in range(n))
            margin_a = delta_a if test_time_cost else 0.0
            expected += lam * max(margin_a - hand_energy(em[b], w, a[b], n) + e_gold, 0.0)
    expected /= len(batch)
    losses = learner.train_step(batch)
    assert losses["energy_loss"].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


# ---------------------------------------------------------------------------------------
# The energy: minus the CRF score on one-hot outputs; Viterbi finds its minimum


def test_energy_on_one_hot_is_minus_crf_score_and_viterbi_is_the_minimum() -> None:
    learner = build(tiny_config())
    model = learner.model
    with torch.no_grad():
        model.energy.transitions.normal_()  # not the small initial values
    batch = tiny_batch(2)
    with torch.no_grad():
        em = model.energy.emissions(batch)
        w = model.energy.transitions
        tags, best = model.viterbi(batch)
        for b, n in enumerate(batch.lengths.tolist()):
            energies = {}
            for path in itertools.product(range(NUM_TAGS), repeat=n):
                y = torch.zeros(batch.mask.shape[1], NUM_TAGS)
                y[torch.arange(n), torch.tensor(path)] = 1.0
                score = em[b, 0, path[0]] + w[NUM_TAGS, path[0]] + w[path[-1], NUM_TAGS]
                score = score + sum(
                    em[b, t, path[t]] + w[path[t - 1], path[t]] for t in range(1, n)
                )
                row = Batch(
                    batch.words[b : b + 1], batch.tags[b : b + 1], batch.mask[b : b + 1], None, (0,)
                )
                (energy,) = model.energies(EnergyInputs(row.mask, em[b : b + 1]), y.unsqueeze(0))
                assert energy.item() == pytest.approx(-score.item(), abs=1e-5)
                energies[path] = energy.item()
            assert best[b].item() == pytest.approx(min(energies.values()), abs=1e-5)
            assert energies[tuple(tags[b, :n].tolist())] == pytest.approx(best[b].item(), abs=1e-5)


def test_energy_gap_is_non_negative_and_zero_when_a_is_viterbi() -> None:
    learner = build(tiny_config(parameterization="stacked"))
    batch = tiny_batch(3)
    gap = learner.energy_gap(batch)
    assert (gap["discrete"] >= -1e-5).all()
    assert (gap["relaxed"] >= -1e-5).all()
    # Make A output the Viterbi path with near-certainty: both gaps vanish.
    tags, _ = learner.model.viterbi(batch)
    tagger = learner.model.inference.test_time
    assert isinstance(tagger, LocalTagger)
    original = tagger.logits
    tagger.logits = lambda _b: 1e4 * torch.nn.functional.one_hot(tags, NUM_TAGS).float()  # type: ignore[method-assign]
    try:
        gap = learner.energy_gap(batch)
    finally:
        tagger.logits = original  # type: ignore[method-assign]
    assert torch.allclose(gap["discrete"], torch.zeros(3), atol=1e-4)
    assert torch.allclose(gap["relaxed"], torch.zeros(3), atol=1e-3)


# ---------------------------------------------------------------------------------------
# Which parameters each step updates


def energy_and_inference(learner: SpenLearner) -> tuple[list, list]:
    return learner.model.energy_parameters(), list(learner.model.inference.parameters())


@pytest.mark.parametrize("parameterization", PARAMETERIZATIONS)
def test_compound_steps_update_only_their_parameters(parameterization: str) -> None:
    learner = build(tiny_config(parameterization=parameterization))
    batch = tiny_batch(4)
    theta, phi_psi = energy_and_inference(learner)
    frozen_embeddings = [p for p in learner.model.parameters() if not p.requires_grad]
    assert frozen_embeddings, "paper setting: the word embeddings are frozen"
    before_theta, before_inf, before_frozen = (
        snapshot(theta),
        snapshot(phi_psi),
        snapshot(frozen_embeddings),
    )

    learner.inference_step(batch)
    assert not any(changed(before_theta, theta)), "the inference step moved Θ"
    assert all(p.grad is None for p in theta), "the inference step sent gradients into Θ"
    trainable_inf = [p.requires_grad for p in phi_psi]
    moved = changed(before_inf, phi_psi)
    assert all(m for m, t in zip(moved, trainable_inf, strict=True) if t), (
        "some of Φ,Ψ did not move"
    )

    before_inf = snapshot(phi_psi)
    for p in phi_psi:
        p.grad = None
    learner.energy_step(batch)
    assert all(changed(before_theta, theta)), "the energy step left part of Θ unchanged"
    assert not any(changed(before_inf, phi_psi)), "the energy step moved Φ,Ψ"
    assert all(p.grad is None for p in phi_psi), "the energy step sent gradients into Φ,Ψ"
    assert not any(changed(before_frozen, frozen_embeddings))


@pytest.mark.parametrize("parameterization", ["shared", "stacked"])
def test_ce_control_is_k_cross_entropy_updates_and_nothing_else(parameterization: str) -> None:
    """`cross_entropy` (the matched control): per batch, k plain CE updates of the networks
    (CE(F) + CE(A) for shared, whose F head sits on A's BiLSTM; CE(A) for stacked), the energy
    untouched."""
    config = tiny_config(parameterization=parameterization, objective="cross_entropy")
    learner, twin = build(config), build(config)
    batch = tiny_batch(2)
    theta = learner.model.energy_parameters()
    before_theta = snapshot(theta)
    losses = learner.train_step(batch)
    assert not any(changed(before_theta, theta)), "the control moved the energy"
    assert "energy_loss" not in losses
    inference = twin.model.inference
    params = [p for p in inference.parameters() if p.requires_grad]
    spec = config.inference_optimizer
    optimizer = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum)
    gold = torch.nn.functional.one_hot(batch.tags, NUM_TAGS).float()
    for _ in range(config.inner_steps):
        a_logits, f_logits = inference(batch, gold)
        loss = sentence_cross_entropy(a_logits, batch.tags, batch.mask).mean()
        if parameterization == "shared":
            loss = loss + sentence_cross_entropy(f_logits, batch.tags, batch.mask).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    trained = [p for p in learner.model.inference.parameters() if p.requires_grad]
    for ours, by_hand in zip(trained, params, strict=True):
        assert torch.allclose(ours, by_hand, atol=1e-6)


def test_ce_control_needs_its_ce_terms() -> None:
    with pytest.raises(ValueError, match="needs ce: true"):
        SpenOptions.from_config(tiny_config(objective="cross_entropy", ce=False))


def test_stacked_cost_augmented_gradient_reaches_a() -> None:
    """Stacked: F's hinge alone (λ = 0, no CE) still moves A, through F's input."""
    learner = build(
        tiny_config(parameterization="stacked", compound_weight=0.0, ce=False, inner_steps=1)
    )
    a_params = list(learner.model.inference.test_time.parameters())
    a_params = [p for p in a_params if p.requires_grad]
    before = snapshot(a_params)
    learner.inference_step(tiny_batch(5))
    assert all(changed(before, a_params))


def test_margin_rescaled_joint_moves_f_only_and_retuning_moves_a_only() -> None:
    learner = build(tiny_config(objective="margin_rescaled", zero_truncation=False))
    inference = learner.model.inference
    f = [p for p in inference.cost_augmented.parameters() if p.requires_grad]
    a = [p for p in inference.test_time.parameters() if p.requires_grad]
    theta = learner.model.energy_parameters()
    batch = tiny_batch(6)
    before_f, before_a, before_t = snapshot(f), snapshot(a), snapshot(theta)
    learner.start_epoch(1)
    assert learner.phase == "joint"
    learner.train_step(batch)
    assert all(changed(before_f, f)) and all(changed(before_t, theta))
    assert not any(changed(before_a, a))

    learner.start_epoch(2)  # retuning: A <- copy of F, then A moves, nothing else
    assert learner.phase == "retune"
    for p_a, p_f in zip(a, f, strict=True):
        assert torch.equal(p_a, p_f)
    before_f, before_a, before_t = snapshot(f), snapshot(a), snapshot(theta)
    for p in theta:
        p.grad = None
    losses = learner.train_step(batch)
    assert set(losses) >= {"retune_loss", "retune_energy", "ce_test_time"}
    assert all(changed(before_a, a))
    assert not any(changed(before_f, f)) and not any(changed(before_t, theta))
    assert all(p.grad is None for p in theta)


def test_retune_schedule() -> None:
    opts = SpenOptions.from_config(
        tiny_config(
            objective="margin_rescaled", joint_epochs=2, retune_epochs=1, zero_truncation=None
        )
    )
    assert [opts.phase(e) for e in range(1, 7)] == ["joint", "joint", "retune"] * 2
    assert [e for e in range(1, 7) if opts.starts_retuning(e)] == [3, 6]
    compound = SpenOptions.from_config(tiny_config(zero_truncation=None))
    assert {compound.phase(e) for e in range(1, 5)} == {"joint"}
    assert not compound.zero_truncation and opts.zero_truncation
    with pytest.raises(ValueError, match="objective"):
        SpenOptions.from_config(tiny_config(objective="hinge"))


@pytest.mark.parametrize("objective", ["margin_rescaled", "perceptron", "compound"])
def test_the_joint_epoch_budget_counts_the_joint_phases_of_the_schedule(objective: str) -> None:
    """`RunConfig.joint_epoch_budget` equals the number of epochs the learner's schedule
    spends in its joint phase, for every budget and cycle shape (an independent count)."""
    for joint, retune, budget in itertools.product((1, 2, 3), (1, 2), range(1, 13)):
        config = tiny_config(
            objective=objective, joint_epochs=joint, retune_epochs=retune, max_epochs=budget
        )
        opts = SpenOptions.from_config(config)
        counted = sum(opts.phase(e) == "joint" for e in range(1, budget + 1))
        assert config.joint_epoch_budget == counted
    halved = tiny_config(objective="margin_rescaled", max_epochs=15)
    assert halved.joint_epoch_budget == 8  # NER: 8 joint epochs of 15
    assert tiny_config(objective="compound", max_epochs=15).joint_epoch_budget == 15


def test_retuning_needs_separated_networks() -> None:
    with pytest.raises(ValueError, match="separated"):
        build(tiny_config(objective="margin_rescaled", parameterization="shared"))


def test_decoders_and_losses_are_finite() -> None:
    learner = build(tiny_config(parameterization="stacked_bilstm"))
    batch = tiny_batch(7)
    losses = learner.train_step(batch)
    assert {"energy_loss", "inference_loss", "hinge_cost_augmented", "hinge_test_time"} <= set(
        losses
    )
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    assert learner.decoders[0] == "test_time"
    for decoder in learner.decoders:
        pred = learner.predict(batch, decoder)
        assert pred.shape == batch.tags.shape and pred.dtype == torch.long
    with pytest.raises(ValueError, match="unknown decoder"):
        learner.predict(batch, "beam")


# ---------------------------------------------------------------------------------------
# Configuration and sizes


def test_every_spen_entry_of_params_resolves_and_builds(tmp_path: Path) -> None:
    from spen.models.build import tag_language_model
    from spen.training.tag_lm import save_tag_lm

    params = load_params(REPO / "params")
    names = [n for n, m in params.models["models"].items() if m["kind"] == "spen"]
    assert {"margin_rescaled", "perceptron", "compound_separated", "compound_shared"} <= set(names)
    assert {"compound_stacked", "compound_stacked_truncated", "compound_stacked_no_ce"} <= set(
        names
    )
    assert "compound_stacked_ge_a" in names
    torch.manual_seed(0)
    embeddings = torch.randn(VOCAB, 5)
    for name in names:
        config = params.run_config("pos", name, "paper", 1, "smoke")
        spec = config.global_energy
        if spec and spec.pretrained:  # stand in for `spen pretrain-tlm`
            path = tmp_path / f"{name}.pt"
            words = config.input_setting
            tlm = tag_language_model(spec.kind, spec.hidden, words, vocabs(), embeddings)
            save_tag_lm(path, tlm, {})
            config = replace(config, global_energy=replace(spec, pretrained=str(path)))
        config = replace(config, hidden=3)
        learner = build_learner(config, build_model(config, vocabs(), embeddings))
        assert isinstance(learner, SpenLearner)


@pytest.mark.parametrize(
    ("parameterization", "training", "paper_training"),
    [("separated", 500_526, 500_000), ("shared", 338_926, 339_000), ("stacked", 335_176, 335_000)],
)
def test_pos_parameter_counts_match_the_paper(
    parameterization: str, training: int, paper_training: int
) -> None:
    """POS layout (H = 100, 25 tags, 100-d frozen input): METHOD.md §7's counts."""
    config = tiny_config(parameterization=parameterization, hidden=100)
    model = build_model(config, vocabs(num_tags=25, num_words=10), torch.zeros(10, 100))
    assert count_parameters(model) == training
    assert abs(training - paper_training) / paper_training < 0.01
    assert model.test_time_parameter_count() == 166_625  # paper: 166K
    local = build_model(
        replace(config, kind="local"), vocabs(num_tags=25, num_words=10), torch.zeros(10, 100)
    )
    assert count_parameters(local) == 166_625


# ---------------------------------------------------------------------------------------
# A synthetic task whose labels depend on their neighbours


CYCLE = 3  # labels
SYNTH_WORDS = 12


def cyclic_sentences(n: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Random words; labels follow the cycle 0 -> 1 -> 2 -> 0 from a random first label.

    ``y_t = y_{t-1} + 1 (mod 3)``, ``y_1`` uniform and independent of the words: every label
    is determined by its neighbour, none by the input.
    """
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        length = int(torch.randint(4, 9, (1,), generator=gen))
        first = int(torch.randint(0, CYCLE, (1,), generator=gen))
        words = torch.randint(2, SYNTH_WORDS, (length,), generator=gen).tolist()
        out.append((words, [(first + t) % CYCLE for t in range(length)]))
    return out


def to_batches(sentences: list[tuple[list[int], list[int]]], size: int) -> list[Batch]:
    batches = []
    for start in range(0, len(sentences), size):
        chunk = sentences[start : start + size]
        width = max(len(w) for w, _ in chunk)
        words = torch.zeros(len(chunk), width, dtype=torch.long)
        tags = torch.zeros_like(words)
        mask = torch.zeros(len(chunk), width, dtype=torch.bool)
        for b, (w, y) in enumerate(chunk):
            words[b, : len(w)], tags[b, : len(y)], mask[b, : len(w)] = (
                torch.tensor(w),
                torch.tensor(y),
                True,
            )
        batches.append(Batch(words, tags, mask, None, tuple(range(len(chunk)))))
    return batches


def sentence_scores(learner, batches: list[Batch]) -> tuple[float, float]:
    """(exact-match accuracy, share of predicted sequences that follow the cycle)."""
    exact = cyclic = total = 0
    with torch.no_grad():
        for batch in batches:
            pred = learner.predict(batch)
            exact += ((pred == batch.tags) | ~batch.mask).all(dim=1).sum().item()
            follows = (pred[:, :1] + torch.arange(pred.shape[1])) % CYCLE
            cyclic += ((pred == follows) | ~batch.mask).all(dim=1).sum().item()
            total += len(batch)
    return exact / total, cyclic / total


def test_spen_inference_network_beats_local_bilstm_on_neighbour_dependent_labels() -> None:
    """Labels determined by their neighbours, not by the words (`cyclic_sentences`).

    No tagger can beat 1/3 token accuracy here: the first label is a coin toss. What tells
    the two apart is whether the predicted *sequence* is coherent. The local BiLSTM predicts
    each position on its own (≈ uniform marginals, argmax by noise) and rarely outputs a whole
    cycle, so its exact-match accuracy is far below 1/3; the SPEN's test-time network, trained
    against an energy whose transition scores learn the cycle, commits to one coherent cycle
    per sentence and gets about 1/3 of the sentences exactly right.
    """
    train = to_batches(cyclic_sentences(200, seed=1), 10)
    test = to_batches(cyclic_sentences(200, seed=101), 100)
    vocab = vocabs(num_tags=CYCLE, num_words=SYNTH_WORDS)
    base = {"hidden": 8, "finetune_embeddings": True, "char_cnn": None, "grad_clip": 5.0}
    local_config = tiny_config(**base, kind="local", optimizer={"name": "adam", "lr": 0.01})
    spen_config = tiny_config(
        **base,
        parameterization="stacked",
        compound_weight=10.0,
        inner_steps=2,
        energy_optimizer={"name": "adam", "lr": 0.01},
        inference_optimizer={"name": "adam", "lr": 0.01},
    )
    results = {}
    for name, config in (("local", local_config), ("spen", spen_config)):
        torch.manual_seed(1)
        learner = build_learner(config, build_model(config, vocab, torch.randn(SYNTH_WORDS, 8)))
        for _ in range(10):  # 200 minibatch steps
            for batch in train:
                learner.train_step(batch)
        results[name] = sentence_scores(learner, test)
    (local_exact, local_cyclic), (spen_exact, spen_cyclic) = results["local"], results["spen"]
    assert spen_cyclic > 0.85, results
    assert local_cyclic < 0.5, results
    assert spen_exact > local_exact + 0.1, results


# ---------------------------------------------------------------------------------------
# Whole training steps replayed by hand: the objective, λ, truncation and the update order


def torch_energy(
    emissions: torch.Tensor, transitions: torch.Tensor, y: torch.Tensor, n: int
) -> torch.Tensor:
    """`hand_energy` in differentiable torch ops, one sentence, position by position."""
    start = end = transitions.shape[0] - 1
    score = y[0] @ transitions[start, :-1] + y[n - 1] @ transitions[:-1, end]
    for t in range(n):
        score = score + y[t] @ emissions[t]
        if t > 0:
            score = score + y[t - 1] @ transitions[:-1, :-1] @ y[t]
    return -score


def hand_hinges(
    em: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor,
    a: torch.Tensor | None,
    gold: torch.Tensor,
    lengths: list[int],
    test_time_cost: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sentence [Δ(F, y) − E(F) + E(y)] and [(Δ(A, y)) − E(A) + E(y)] by positions."""
    h_f, h_a = [], []
    for b, n in enumerate(lengths):
        e_gold = torch_energy(em[b], w, gold[b], n)
        delta_f = (f[b, :n] - gold[b, :n]).abs().sum()
        h_f.append(delta_f - torch_energy(em[b], w, f[b], n) + e_gold)
        if a is not None:
            delta_a = (a[b, :n] - gold[b, :n]).abs().sum() if test_time_cost else 0.0
            h_a.append(delta_a - torch_energy(em[b], w, a[b], n) + e_gold)
    return torch.stack(h_f), torch.stack(h_a) if a is not None else None


def hand_ce(logits: torch.Tensor, tags: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """Mean over sentences of the summed token cross-entropy, by positions."""
    log_p = logits.log_softmax(-1)
    return torch.stack(
        [-sum(log_p[b, t, tags[b, t]] for t in range(n)) for b, n in enumerate(lengths)]
    ).mean()


@pytest.mark.parametrize(
    ("parameterization", "truncate", "test_time_cost"),
    [("separated", False, True), ("shared", True, False), ("stacked", False, False)],
)
def test_a_compound_step_is_k_inference_updates_then_one_energy_update_by_hand(
    parameterization: str, truncate: bool, test_time_cost: bool
) -> None:
    """One compound training step replayed by hand on a twin: k = 2 SGD updates of Φ,Ψ on
    −mean(h_F) − λ·mean(h_A) + CE (truncated hinges with zero truncation; CE(A) only for the
    stacked F, which reads the gold tags), then one Adam update of Θ on mean([h_F]_+) +
    λ·mean([h_A]_+) at the outputs of the updated networks. λ = 2 tells λ from 1."""
    config = tiny_config(
        parameterization=parameterization,
        zero_truncation=truncate,
        test_time_cost=test_time_cost,
        compound_weight=2.0,
        inner_steps=2,
    )
    learner, twin = build(config), build(config)
    batch = tiny_batch(8)
    lengths, lam = batch.lengths.tolist(), config.compound_weight
    model = twin.model
    gold = model.gold(batch)
    inference_params = [p for p in model.inference.parameters() if p.requires_grad]
    theta = model.energy_parameters()
    spec = config.inference_optimizer
    by_hand = torch.optim.SGD(inference_params, lr=spec.lr, momentum=spec.momentum)
    with torch.no_grad():
        em, w = model.energy.emissions(batch), model.energy.transitions.clone()
    for _ in range(config.inner_steps):
        a_logits, f_logits = model.inference(batch, gold)
        a, f = a_logits.softmax(-1), f_logits.softmax(-1)
        h_f, h_a = hand_hinges(em, w, f, a, gold, lengths, test_time_cost=False)
        if truncate:
            h_f, h_a = h_f.clamp(min=0), h_a.clamp(min=0)
        inference_loss = -h_f.mean() - lam * h_a.mean() + hand_ce(a_logits, batch.tags, lengths)
        if parameterization != "stacked":
            inference_loss = inference_loss + hand_ce(f_logits, batch.tags, lengths)
        by_hand.zero_grad(set_to_none=True)
        inference_loss.backward()
        by_hand.step()
    spec = config.energy_optimizer
    energy_by_hand = torch.optim.Adam(theta, lr=spec.lr)
    with torch.no_grad():
        a_logits, f_logits = model.inference(batch, gold)
    emissions = model.energy.emissions(batch)
    a, f = a_logits.softmax(-1), f_logits.softmax(-1)
    h_f, h_a = hand_hinges(emissions, model.energy.transitions, f, a, gold, lengths, test_time_cost)
    energy_loss = h_f.clamp(min=0).mean() + lam * h_a.clamp(min=0).mean()
    energy_by_hand.zero_grad(set_to_none=True)
    energy_loss.backward()
    energy_by_hand.step()

    losses = learner.train_step(batch)
    assert losses["inference_loss"].item() == pytest.approx(inference_loss.item(), rel=1e-5)
    assert losses["energy_loss"].item() == pytest.approx(energy_loss.item(), rel=1e-5)
    ours = learner.model
    for mine, theirs in zip(ours.inference.parameters(), model.inference.parameters(), strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)
    for mine, theirs in zip(ours.energy_parameters(), theta, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_a_retuning_step_lowers_the_energy_of_a_by_hand() -> None:
    """Retuning (Tu & Gimpel 2018) replayed by hand: A ← F, then one update of A alone on
    mean(E(A)) + ce_weight·CE(A) with Θ fixed (ce_weight 5, as in the 2018 code)."""
    config = tiny_config(objective="margin_rescaled", zero_truncation=True, ce_weight=5.0)
    learner, twin = build(config), build(config)
    batch = tiny_batch(9)
    lengths = batch.lengths.tolist()
    for each in (learner, twin):
        each.start_epoch(2)  # the first retuning epoch: A_Ψ starts as a copy of F_Φ
    model = twin.model
    a_params = [p for p in model.inference.test_time.parameters() if p.requires_grad]
    spec = config.retune_optimizer
    assert spec is not None and spec.name == "sgd"  # the inference networks' optimizer
    optimizer = torch.optim.SGD(a_params, lr=spec.lr, momentum=spec.momentum)
    with torch.no_grad():
        em, w = model.energy.emissions(batch), model.energy.transitions.clone()
    logits = model.inference.test_time_logits(batch)
    a = logits.softmax(-1)
    energy = torch.stack([torch_energy(em[b], w, a[b], n) for b, n in enumerate(lengths)]).mean()
    loss = energy + config.ce_weight * hand_ce(logits, batch.tags, lengths)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()

    losses = learner.train_step(batch)
    assert losses["retune_energy"].item() == pytest.approx(energy.item(), rel=1e-5)
    assert losses["retune_loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    for mine, theirs in zip(
        learner.model.inference.parameters(), model.inference.parameters(), strict=True
    ):
        assert torch.allclose(mine, theirs, atol=1e-6)


# ---------------------------------------------------------------------------------------
# The other decoders and the exact-versus-amortised analysis


def test_gradient_descent_starts_where_it_says_and_descends_the_full_energy() -> None:
    """0 steps return the start (uniform, or A_Ψ's distributions); one step of size 0.5 on
    the logits equals one taken by hand on the linear chain (by positions) plus the global
    term, from A_Ψ's logits."""
    from spen.inference.gradient_descent import GradientDescentOptions

    config = tiny_config(global_energy={"kind": "tlm_a", "weight": 0.5, "hidden": 4})
    model = build(config).model
    batch = tiny_batch(10)
    with torch.no_grad():
        model.energy.transitions.normal_()
    mask = batch.mask
    still = GradientDescentOptions(steps=0)
    uniform = model.gradient_descent(batch, still)
    assert torch.allclose(uniform[mask], torch.full((int(mask.sum()), NUM_TAGS), 1 / NUM_TAGS))
    start = model.inference.test_time_logits(batch).detach()
    from_a = model.gradient_descent(batch, still, from_test_time=True)
    assert torch.allclose(from_a[mask], start.softmax(-1)[mask])

    assert model.global_energy is not None
    with torch.no_grad():
        em, w = model.energy.emissions(batch), model.energy.transitions.clone()
    logits = start.clone().requires_grad_(True)
    y = logits.softmax(-1)
    lengths = batch.lengths.tolist()
    energy = sum(torch_energy(em[b], w, y[b], n) for b, n in enumerate(lengths))
    energy = energy + 0.5 * model.global_energy.model(batch, y).sum()
    (grad,) = torch.autograd.grad(energy, logits)
    expected = (start - 0.5 * grad).softmax(-1)
    stepped = model.gradient_descent(batch, GradientDescentOptions(1, 0.5), from_test_time=True)
    assert torch.allclose(stepped[mask], expected[mask], atol=1e-6)


def test_cost_augmented_decoder_reads_f_not_a() -> None:
    learner = build(tiny_config())
    batch = tiny_batch(11)
    with torch.no_grad():
        learner.model.inference.cost_augmented.output.bias.copy_(torch.tensor([0.0, 0.0, 1e3]))
        learner.model.inference.test_time.output.bias.copy_(torch.tensor([1e3, 0.0, 0.0]))
    assert (learner.predict(batch, "cost_augmented")[batch.mask] == 2).all()
    assert (learner.predict(batch, "test_time")[batch.mask] == 0).all()


def test_exact_vs_amortised_gaps_and_agreement_by_enumeration() -> None:
    """Each decoder's energy gap per token and its share of sentences equal to the exact
    minimum, and the gap of A_Ψ's distributions themselves, recomputed from the outputs with
    energies by positions and the minimum by enumerating every path."""
    from spen.data.arrow import Split
    from spen.evaluation.analysis import COMPARED, exact_vs_amortised

    learner = build(tiny_config())
    model = learner.model
    with torch.no_grad():
        model.energy.transitions.normal_()
    batch = tiny_batch(12)
    lengths = batch.lengths.tolist()
    ids = [batch.words[b, :n].tolist() for b, n in enumerate(lengths)]
    tag_ids = [batch.tags[b, :n].tolist() for b, n in enumerate(lengths)]
    tags = vocabs().tags.tags
    split = Split(
        tokens=[[f"w{i}" for i in s] for s in ids],
        token_ids=ids,
        tags=[[tags[i] for i in s] for s in tag_ids],
        tag_ids=tag_ids,
    )
    result = exact_vs_amortised(learner, split, vocabs(), 10, torch.device("cpu"), uses_chars=False)
    with torch.no_grad():
        em, w = model.energy.emissions(batch), model.energy.transitions
        best_paths, best_energies = [], []
        for b, n in enumerate(lengths):
            energies = {}
            for path in itertools.product(range(NUM_TAGS), repeat=n):
                y = torch.nn.functional.one_hot(torch.tensor(path), NUM_TAGS).float()
                energies[path] = hand_energy(em[b, :n], w, y, n)
            best = min(energies, key=energies.__getitem__)
            best_paths.append(best)
            best_energies.append(energies[best])
        for name in COMPARED:
            pred = learner.predict(batch, name)
            gap, same = 0.0, 0
            for b, n in enumerate(lengths):
                path = tuple(pred[b, :n].tolist())
                y = torch.nn.functional.one_hot(torch.tensor(path), NUM_TAGS).float()
                gap += hand_energy(em[b, :n], w, y, n) - best_energies[b]
                same += path == best_paths[b]
            found = result["decoders"][name]
            assert "per_sentence" not in found["scores"]  # test.json alone keeps them
            assert found["energy_gap_per_token"] == pytest.approx(gap / sum(lengths), abs=1e-5)
            assert found["same_output_as_viterbi"] == pytest.approx(same / len(lengths))
        relaxed = model.inference.test_time_logits(batch).softmax(-1)
        relaxed_gaps = [
            hand_energy(em[b, :n], w, relaxed[b, :n], n) - best_energies[b]
            for b, n in enumerate(lengths)
        ]
    assert result["energy_gap_relaxed_mean"] == pytest.approx(
        sum(relaxed_gaps) / len(lengths), abs=1e-5
    )
    assert result["decoders"]["viterbi"]["same_output_as_viterbi"] == 1.0
