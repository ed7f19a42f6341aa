"""Joint training of a SPEN energy and its inference networks (METHOD.md §4).

One :class:`SpenLearner` (``kind: spen``) has up to three optimizers:

``energy``
    Θ: the linear-chain energy (and a trainable global term). Authors: Adam, lr 0.001.
``inference``
    Φ, Ψ: the inference networks trained jointly with Θ. Authors: SGD lr 0.05 momentum 0.9
    (separated, shared) or Adam lr 0.001 (stacked). For the Tu & Gimpel (2018) objectives
    this is ``F_Φ`` alone.
``retune``
    Ψ in the Tu & Gimpel (2018) retuning step (those objectives only).

Objectives (``objective``)
--------------------------

``compound`` (this paper, §4b). Per minibatch, ``inner_steps`` (k) updates of Φ, Ψ, then one
update of Θ:

- Φ, Ψ minimise ``−mean(h_F) − λ·mean(h_A) + ce_weight·mean(CE(F) + CE(A))`` with
  ``h_F = Δ(F, y) − E(F) + E(y)`` and ``h_A = −E(A) + E(y)``; with ``zero_truncation`` the
  hinges are clipped at zero first. ``ce: false`` drops the CE terms; the stacked
  parameterizations use CE on A only (F reads the gold labels). ``λ`` is ``compound_weight``.
- Θ minimises ``mean([h_F]_+) + λ·mean([h_A]_+)`` with F and A fixed (computed after the k
  inference updates). With ``test_time_cost`` A's hinge there carries the cost too,
  ``h_A = Δ(A, y) − E(A) + E(y)``, as the authors' separated code
  (``ADV_CRF_lstm_newInf_separate.py``) has it; the inference networks' loss never does.

``cross_entropy`` (the matched control of the fair protocol). The same networks and schedule
(``inner_steps`` updates per minibatch, the same optimizer) trained by the CE terms of
``compound`` alone: no hinge, so no energy gradient reaches A (through F or otherwise), and
no energy update (the energy is never read by A_Ψ's predictions). With ``shared`` F's head sits
on A's BiLSTM, so CE(F) trains that BiLSTM as it does in ``compound``: the control differs from
its compound row by the energy terms alone.

``margin_rescaled`` / ``perceptron`` (Tu & Gimpel 2018, §4a; perceptron drops Δ). Joint
epochs: ``inner_steps`` updates of ``F_Φ`` ascending the hinge (``[h_F]_+`` when
``zero_truncation``, as the ICLR-2018 code) plus ``ce_weight·CE(F)``, then Θ descends
``mean([h_F]_+)``. Retuning epochs: ``A_Ψ`` (same architecture as ``F_Φ``, the ``separated``
parameterization) starts as a copy of ``F_Φ`` and minimises ``mean(E(A)) + ce_weight·CE(A)``
with Θ frozen, using the ``retune`` optimizer (its state reset at each copy).

How retuning fits the training loop (**project choice**): the loop calls
:meth:`SpenLearner.start_epoch` before every epoch. Epochs run in cycles of
``joint_epochs`` joint epochs followed by ``retune_epochs`` retuning epochs; ``A_Ψ ← F_Φ`` is
copied at the first retuning epoch of each cycle. ``F_Φ`` is never touched by retuning, so
joint training resumes from where it stopped, exactly like the authors' ICLR-2018 code, which
after every joint epoch copies F, retunes the copy for one epoch, evaluates dev and restores
(``joint_epochs: 1, retune_epochs: 1``, the default). ``joint_epochs = J`` with
``max_epochs = J + R`` gives instead "train jointly, then retune" (METHOD.md's wording). The
loop's dev evaluation always decodes with ``A_Ψ``; after a joint epoch A has not changed,
its dev score repeats the previous one and, not being strictly better, never replaces the
best checkpoint, so the dev-based selection ranges over retuned networks (plus, at epoch 1,
the untrained A). The phase is a function of the epoch number alone, so resuming after any
epoch is exact.

Scales: every hinge, cost and CE is a per-sentence sum averaged over the batch, as in the
authors' code (``ce_weight: 1`` in the 2020 code, 5 in the 2018 code).

Every loss computed on a batch is returned (detached) so that the loop checks it for NaN/Inf.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spen.data.batches import Batch
from spen.inference.gradient_descent import GradientDescentOptions
from spen.models.inference_networks import SeparatedNetworks
from spen.models.spen import EnergyInputs, SpenModel
from spen.run_config import RETUNING_OBJECTIVES, OptimizerConfig, RunConfig
from spen.training.learners import Learner, make_optimizer
from spen.training.objectives import (
    compound_energy_loss,
    compound_inference_loss,
    cost,
    hinge,
    sentence_cross_entropy,
)

OBJECTIVES = ("compound", "cross_entropy", "margin_rescaled", "perceptron")


@dataclass(frozen=True)
class SpenOptions:
    """The training options of a `kind: spen` run (see the module docstring), checked; the
    run configuration (`spen.run_config.RunConfig`) holds their defaults."""

    objective: str
    compound_weight: float
    inner_steps: int
    zero_truncation: bool
    test_time_cost: bool
    ce: bool
    ce_weight: float
    joint_epochs: int
    retune_epochs: int

    @classmethod
    def from_config(cls, config: RunConfig) -> SpenOptions:
        """The options of a run's configuration; an objective this learner does not know, or
        the CE control without its CE terms, is a ValueError."""
        objective = config.objective
        if objective not in OBJECTIVES:
            raise ValueError(
                f"spen model needs 'objective' in: {', '.join(OBJECTIVES)} (got {objective!r})"
            )
        if objective == "cross_entropy" and not config.ce:
            raise ValueError(
                "objective 'cross_entropy' trains by the CE terms alone: it needs ce: true"
            )
        return cls(
            objective=objective,
            compound_weight=float(config.compound_weight),
            inner_steps=int(config.inner_steps),
            zero_truncation=bool(config.zero_truncation),
            test_time_cost=bool(config.test_time_cost),
            ce=bool(config.ce),
            ce_weight=float(config.ce_weight),
            joint_epochs=int(config.joint_epochs),
            retune_epochs=int(config.retune_epochs),
        )

    @property
    def retunes(self) -> bool:
        """Whether this objective trains A_Ψ by the retuning step (Tu & Gimpel 2018)."""
        return self.objective in RETUNING_OBJECTIVES

    @property
    def joint(self) -> bool:
        """Whether F_Φ and A_Ψ are trained together (compound and its CE control)."""
        return not self.retunes

    @property
    def hinges(self) -> bool:
        """Whether the energy's hinges train anything (all but the CE control)."""
        return self.objective != "cross_entropy"

    def phase(self, epoch: int) -> str:
        """``joint`` or ``retune`` for the 1-based `epoch`."""
        if not self.retunes:
            return "joint"
        position = (epoch - 1) % (self.joint_epochs + self.retune_epochs)
        return "joint" if position < self.joint_epochs else "retune"

    def starts_retuning(self, epoch: int) -> bool:
        """Whether `epoch` is the first retuning epoch of its cycle (when A ← F is copied)."""
        position = (epoch - 1) % (self.joint_epochs + self.retune_epochs)
        return self.retunes and position == self.joint_epochs


@contextmanager
def frozen(params: Sequence[nn.Parameter]) -> Iterator[None]:
    """Stop gradients into `params` for the duration (they act as constants)."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def _unique_trainable(modules: Sequence[nn.Module]) -> list[nn.Parameter]:
    seen: set[int] = set()
    params = []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


class SpenLearner(Learner):
    """Alternating updates of the inference networks and the energy (module docstring)."""

    def __init__(self, model: SpenModel, config: RunConfig) -> None:
        if not isinstance(model, SpenModel):
            raise TypeError(f"a spen learner trains a SpenModel, not {type(model).__name__}")
        self.model = model
        self.options = SpenOptions.from_config(config)
        self.grad_clip = config.grad_clip
        inference = model.inference
        if self.options.retunes and not isinstance(inference, SeparatedNetworks):
            raise ValueError(
                f"objective '{self.options.objective}' retunes a copy of F_Φ; it needs "
                f"parameterization 'separated', not '{inference.parameterization}'"
            )
        self.energy_params = model.energy_parameters()
        self.all_energy_params = [p for m in model.energy_modules() for p in m.parameters()]
        if self.options.retunes:
            self.inference_params = _unique_trainable(inference.cost_augmented_only_modules())
            self.retune_params = _unique_trainable(inference.test_time_modules())
        else:
            self.inference_params = _unique_trainable([inference])
            self.retune_params = []
        self.optimizer_specs: dict[str, OptimizerConfig] = {
            "energy": config.energy_optimizer,
            "inference": config.inference_optimizer,
        }
        if self.options.retunes:
            assert config.retune_optimizer is not None  # RunConfig fills it for a spen run
            self.optimizer_specs["retune"] = config.retune_optimizer
        self.epoch = 1
        #: the `gradient_descent*` decoders' steps and step size (a comparator, not training)
        self.gradient_descent = GradientDescentOptions()

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        params = {
            "energy": self.energy_params,
            "inference": self.inference_params,
            "retune": self.retune_params,
        }
        return {
            name: make_optimizer(params[name], spec) for name, spec in self.optimizer_specs.items()
        }

    # ---------------------------------------------------------------------------------
    # Schedule

    def start_epoch(self, epoch: int) -> None:
        """Called by the loop before each epoch; enters the epoch's phase."""
        self.epoch = epoch
        if self.options.starts_retuning(epoch):
            inference = self.model.inference
            assert isinstance(inference, SeparatedNetworks)
            inference.copy_cost_augmented_to_test_time()
            self.optimizers["retune"].state.clear()

    @property
    def phase(self) -> str:
        """``joint`` or ``retune``: what :meth:`train_step` does now."""
        return self.options.phase(self.epoch)

    # ---------------------------------------------------------------------------------
    # Decoding

    @property
    def decoders(self) -> tuple[str, ...]:
        return (
            "test_time",
            "viterbi",
            "gradient_descent",
            "gradient_descent_from_test_time",
            "cost_augmented",
        )

    def predict(self, batch: Batch, decoder: str = "test_time") -> Tensor:
        """``test_time``: argmax of A_Ψ; ``viterbi``: exact minimum of the linear-chain energy;
        ``gradient_descent[_from_test_time]``: argmax of gradient-descent inference on the
        energy from uniform outputs [from A_Ψ(x)]; ``cost_augmented``: argmax of F_Φ (a
        diagnostic: the stacked F reads the gold tags)."""
        self._check_decoder(decoder)
        if decoder == "viterbi":
            return self.model.viterbi(batch)[0]
        if decoder.startswith("gradient_descent"):
            relaxed = self.model.gradient_descent(
                batch, self.gradient_descent, from_test_time=decoder.endswith("test_time")
            )
            return relaxed.argmax(dim=-1)
        if decoder == "cost_augmented":
            return self.model.cost_augmented_predict(batch)
        return self.model.predict(batch)

    def energy_gap(self, batch: Batch) -> dict[str, Tensor]:
        """Per-sentence gap between A_Ψ's output and the Viterbi minimum (see SpenModel)."""
        return self.model.energy_gap(batch)

    # ---------------------------------------------------------------------------------
    # Training

    def train_step(self, batch: Batch) -> dict[str, Tensor]:
        if self.phase == "retune":
            return self._retune_step(batch)
        return self._joint_step(batch)

    def _ce(self, logits: Tensor, batch: Batch) -> Tensor:
        return sentence_cross_entropy(logits, batch.tags, batch.mask)

    def _joint_step(self, batch: Batch) -> dict[str, Tensor]:
        losses = self.inference_step(batch)
        if self.options.hinges:
            losses.update(self.energy_step(batch))
        return losses

    def inference_step(self, batch: Batch) -> dict[str, Tensor]:
        """The ``inner_steps`` updates of the jointly trained inference networks (Θ frozen)."""
        model = self.model
        gold = model.gold(batch)
        margin = self.options.objective != "perceptron"
        losses: dict[str, Tensor] = {}
        with frozen(self.all_energy_params):
            with torch.no_grad():
                inputs = model.energy_inputs(batch)
                (e_gold,) = model.energies(inputs, gold)
            for _ in range(self.options.inner_steps):
                losses.update(self._inference_update(batch, gold, inputs, e_gold, margin))
        return losses

    def energy_step(self, batch: Batch) -> dict[str, Tensor]:
        """One update of Θ on the truncated hinges, the inference networks' outputs fixed."""
        opts = self.options
        model = self.model
        gold = model.gold(batch)
        margin = opts.objective != "perceptron"
        with torch.no_grad():
            if opts.joint:
                a_logits, f_logits = model.inference(batch, gold)
                test_time = a_logits.softmax(dim=-1)
            else:
                f_logits = model.inference.cost_augmented_logits(batch, gold)
                test_time = None
            cost_augmented = f_logits.softmax(dim=-1)
        h_f, h_a = self._hinges(
            batch,
            gold,
            model.energy_inputs(batch),
            None,
            cost_augmented,
            test_time,
            margin,
            opts.test_time_cost,
        )
        energy_loss = compound_energy_loss(h_f, h_a, opts.compound_weight)
        self.step("energy", energy_loss, self.energy_params)
        losses = {
            "energy_loss": energy_loss.detach(),
            "hinge_cost_augmented": h_f.detach().mean(),
        }
        if h_a is not None:
            losses["hinge_test_time"] = h_a.detach().mean()
        return losses

    def _hinges(
        self,
        batch: Batch,
        gold: Tensor,
        inputs: EnergyInputs,
        e_gold: Tensor | None,
        cost_augmented: Tensor,
        test_time: Tensor | None,
        margin: bool,
        test_time_cost: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Per-sentence hinges of F's output (with Δ when `margin`) and of A's, if given (with
        Δ when `test_time_cost`). The outputs' energies (and the gold one's, when `e_gold` is
        None) come from one call over the batch repeated."""
        outputs = (cost_augmented,) if test_time is None else (cost_augmented, test_time)
        if e_gold is None:
            e_gold, *energies = self.model.energies(inputs, gold, *outputs)
        else:
            energies = list(self.model.energies(inputs, *outputs))
        h_f = hinge(energies[0], e_gold, cost(cost_augmented, gold, batch.mask) if margin else None)
        if test_time is None:
            return h_f, None
        return h_f, hinge(
            energies[1],
            e_gold,
            cost(test_time, gold, batch.mask) if test_time_cost else None,
        )

    def _inference_update(
        self, batch: Batch, gold: Tensor, inputs: EnergyInputs, e_gold: Tensor, margin: bool
    ) -> dict[str, Tensor]:
        opts = self.options
        model = self.model
        inference = model.inference
        if opts.joint:
            a_logits, f_logits = inference(batch, gold)
        else:
            a_logits, f_logits = None, inference.cost_augmented_logits(batch, gold)
        if opts.hinges:
            test_time = None if a_logits is None else a_logits.softmax(dim=-1)
            h_f, h_a = self._hinges(
                batch, gold, inputs, e_gold, f_logits.softmax(dim=-1), test_time, margin
            )
            loss = compound_inference_loss(h_f, h_a, opts.compound_weight, opts.zero_truncation)
        else:
            loss = torch.zeros((), dtype=f_logits.dtype, device=f_logits.device)
        out: dict[str, Tensor] = {}
        if opts.ce:
            ce = torch.zeros((), dtype=loss.dtype, device=loss.device)
            if a_logits is not None:
                ce_a = self._ce(a_logits, batch).mean()
                out["ce_test_time"] = ce_a.detach()
                ce = ce + ce_a
            if not inference.conditions_on_gold:
                ce_f = self._ce(f_logits, batch).mean()
                out["ce_cost_augmented"] = ce_f.detach()
                ce = ce + ce_f
            loss = loss + opts.ce_weight * ce
        self.step("inference", loss, self.inference_params)
        out["inference_loss"] = loss.detach()
        return out

    def _retune_step(self, batch: Batch) -> dict[str, Tensor]:
        opts = self.options
        model = self.model
        with frozen(self.all_energy_params):
            with torch.no_grad():
                inputs = model.energy_inputs(batch)
            logits = model.inference.test_time_logits(batch)
            energy = model.energies(inputs, logits.softmax(dim=-1))[0].mean()
            loss = energy
            out: dict[str, Tensor] = {"retune_energy": energy.detach()}
            if opts.ce:
                ce = self._ce(logits, batch).mean()
                out["ce_test_time"] = ce.detach()
                loss = loss + opts.ce_weight * ce
            self.step("retune", loss, self.retune_params)
        out["retune_loss"] = loss.detach()
        return out
