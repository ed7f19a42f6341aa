"""A SPEN with its inference networks: the model a `kind: spen` run trains and saves.

- `energy`: the linear-chain energy of METHOD.md §1 (its own BiLSTM, ``U``, ``W``);
- `global_energy`: an optional weighted global term (a tag language model,
  :mod:`spen.models.global_energy`), added to the linear-chain energy;
- `inference`: the pair (``A_Ψ``, ``F_Φ``) of :mod:`spen.models.inference_networks`.

Test-time prediction is the per-position argmax of ``A_Ψ(x)``. Exact inference (Viterbi) is
available for the linear-chain part of the energy only (with a global term the full energy
has no exact decoder); it is a comparator of METHOD.md §5, with gradient-descent inference
on the full energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spen.data.batches import Batch
from spen.inference.gradient_descent import GradientDescentOptions, minimise_relaxed
from spen.inference.linear_chain import one_hot, sequence_score, viterbi
from spen.models.energy import LinearChainEnergy
from spen.models.global_energy import GlobalEnergy
from spen.models.inference_networks import InferenceNetworks


@dataclass(frozen=True)
class EnergyInputs:
    """What the full energy reads of one batch, computed once however many label tensors it
    scores: `mask` `(batch, seq_len)`, the linear chain's unary scores `emissions` `(batch,
    seq_len, num_tags)`, and the global term's word features `global_words` `(batch, seq_len,
    dim)` (None without a global term or when its tag LM reads no words)."""

    mask: Tensor
    emissions: Tensor
    global_words: Tensor | None = None

    def repeat(self, times: int) -> EnergyInputs:
        """The same inputs `times` over along the batch (`self` when `times` is 1)."""
        if times == 1:
            return self

        def join(x: Tensor) -> Tensor:
            return torch.cat([x] * times)

        words = None if self.global_words is None else join(self.global_words)
        return EnergyInputs(join(self.mask), join(self.emissions), words)


class SpenModel(nn.Module):
    """Energy (Θ) + inference networks (Φ, Ψ)."""

    def __init__(
        self,
        energy: LinearChainEnergy,
        inference: InferenceNetworks,
        global_energy: GlobalEnergy | None = None,
    ) -> None:
        super().__init__()
        self.energy = energy
        self.inference = inference
        self.global_energy = global_energy
        self.num_tags = energy.unary.out_features

    def energy_parameters(self) -> list[nn.Parameter]:
        """Θ: the trainable parameters of the energy (a frozen global term excluded)."""
        modules: list[nn.Module] = [self.energy]
        if self.global_energy is not None:
            modules.append(self.global_energy)
        return [p for m in modules for p in m.parameters() if p.requires_grad]

    def energy_modules(self) -> list[nn.Module]:
        """Every module of the energy, trainable or not."""
        return [m for m in (self.energy, self.global_energy) if m is not None]

    def gold(self, batch: Batch) -> Tensor:
        """The gold tags one-hot, `(batch, seq_len, num_tags)` (padding rows zeroed)."""
        labels = one_hot(batch.tags, self.num_tags, dtype=self.energy.transitions.dtype)
        return labels * batch.mask.unsqueeze(-1).to(labels.dtype)

    def linear_chain_energy(
        self, batch: Batch, labels: Tensor, emissions: Tensor | None = None
    ) -> Tensor:
        """The linear-chain part ``E_Θ(x, y)`` only, `(batch,)`."""
        if emissions is None:
            emissions = self.energy.emissions(batch)
        return -sequence_score(emissions, self.energy.transitions, labels, batch.mask)

    def energy_inputs(self, batch: Batch) -> EnergyInputs:
        """What the full energy reads of `batch` (the unary scores and the global term's word
        features), for scoring any number of label tensors."""
        words = None if self.global_energy is None else self.global_energy.word_features(batch)
        return EnergyInputs(batch.mask, self.energy.emissions(batch), words)

    def energies(self, inputs: EnergyInputs, *labels: Tensor) -> tuple[Tensor, ...]:
        """The full energy (linear chain + global term) of each relaxed or one-hot label tensor
        of `labels`, `(batch,)` each, on the batch of `inputs`: one call over the batch
        repeated once per label tensor."""
        inputs = inputs.repeat(len(labels))
        joined = torch.cat(labels) if len(labels) > 1 else labels[0]
        energy = -sequence_score(inputs.emissions, self.energy.transitions, joined, inputs.mask)
        if self.global_energy is not None:
            energy = energy + self.global_energy(joined, inputs.mask, inputs.global_words)
        return energy.chunk(len(labels))

    def predict(self, batch: Batch) -> Tensor:
        """Test-time prediction: argmax of ``A_Ψ(x)`` per position, `(batch, seq_len)`."""
        return self.inference.test_time_logits(batch).argmax(dim=-1)

    def viterbi(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Exact minimum of the linear-chain energy: tags `(batch, seq_len)`, energy `(batch,)`."""
        tags, score = viterbi(self.energy.emissions(batch), self.energy.transitions, batch.mask)
        return tags, -score

    @torch.no_grad()
    def gradient_descent(
        self, batch: Batch, options: GradientDescentOptions, from_test_time: bool = False
    ) -> Tensor:
        """Relaxed output `(batch, seq_len, num_tags)` minimising the full energy (global term
        included) by gradient descent, started from uniform outputs or from ``A_Ψ(x)``."""
        inputs = self.energy_inputs(batch)
        if from_test_time:
            start = self.inference.test_time_logits(batch)
        else:
            start = inputs.emissions.new_zeros(inputs.emissions.shape)
        return minimise_relaxed(lambda labels: self.energies(inputs, labels)[0], start, options)

    def cost_augmented_predict(self, batch: Batch) -> Tensor:
        """Argmax of ``F_Φ`` (the stacked ``F_Φ`` reads the batch's gold tags)."""
        return self.inference.cost_augmented_logits(batch, self.gold(batch)).argmax(dim=-1)

    @torch.no_grad()
    def energy_gap(self, batch: Batch) -> dict[str, Tensor]:
        """How far ``A_Ψ``'s output is above the exact minimum of the linear-chain energy.

        Returns per-sentence `(batch,)` tensors:

        - ``discrete``: ``E(x, onehot(argmax A_Ψ(x))) − E(x, viterbi(x))``, ≥ 0;
        - ``relaxed``: ``E(x, A_Ψ(x)) − E(x, viterbi(x))`` with A's distributions themselves,
          also ≥ 0 (the energy is multilinear in the positions' distributions, so its
          minimum over the relaxed outputs is reached at a one-hot vertex);
        - ``viterbi_energy``: ``E(x, viterbi(x))``.

        Only the linear-chain part of the energy is used (Viterbi is exact for it alone).
        """
        emissions = self.energy.emissions(batch)
        _, best = viterbi(emissions, self.energy.transitions, batch.mask)
        relaxed = self.inference.test_time_logits(batch).softmax(dim=-1)
        hard = one_hot(relaxed.argmax(dim=-1), self.num_tags, dtype=relaxed.dtype)
        e_relaxed = self.linear_chain_energy(batch, relaxed, emissions)
        e_hard = self.linear_chain_energy(batch, hard, emissions)
        return {
            "discrete": e_hard + best,
            "relaxed": e_relaxed + best,
            "viterbi_energy": -best,
        }

    def test_time_parameter_count(self) -> int:
        """Trainable parameters of ``A_Ψ`` alone (the model size at test time)."""
        return self.inference.test_time_parameter_count()
