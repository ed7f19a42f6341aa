"""Inference networks of METHOD.md §2 and their joint parameterizations.

Two networks are trained with the energy:

- the *test-time* inference network ``A_Ψ(x)``: BiLSTM -> linear -> softmax per position (the
  :class:`~spen.models.local.LocalTagger` architecture); its per-position argmax is the
  prediction;
- the *cost-augmented* inference network ``F_Φ``, used in training only.

Joint parameterizations (each builds its own word encoder + BiLSTM through
:func:`spen.models.build.feature_network`, so the input setting applies to every network):

``separated``
    two independent BiLSTM taggers, ``F_Φ(x)`` and ``A_Ψ(x)``.
``shared``
    one BiLSTM feature network, two linear + softmax heads.
``stacked``
    ``F_Φ(x, y)_t = softmax(W_s [A_Ψ(x)_t ; y_t] + b_s)``: one linear layer over A's output
    distribution joined with the gold one-hot. F's gradients flow into A.
``stacked_bilstm``
    the authors' variant: a small BiLSTM (5 units per direction) over ``[A_Ψ(x)_t ; y_t]``,
    then linear + softmax.

Every network returns *logits*; softmax of them is the relaxed output. Logits (not
probabilities) are returned so that cross-entropy uses ``log_softmax`` (no ``log(p + eps)``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from spen.data.batches import Batch
from spen.models.encoders import BiLSTM, FeatureNetwork
from spen.models.local import LocalTagger

PARAMETERIZATIONS = ("separated", "shared", "stacked", "stacked_bilstm")
STACKED_BILSTM_HIDDEN = 5


class InferenceNetworks(nn.Module):
    """A pair (A_Ψ, F_Φ) of inference networks sharing some or none of their parameters."""

    parameterization: str
    #: whether F_Φ reads the gold labels (stacked) rather than the input alone
    conditions_on_gold: bool = False

    def test_time_logits(self, batch: Batch) -> torch.Tensor:
        """Logits of ``A_Ψ(x)``, `(batch, seq_len, num_tags)`."""
        raise NotImplementedError

    def forward(self, batch: Batch, gold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(A_Ψ(x), F_Φ(x[, y]))``, each `(batch, seq_len, num_tags)`.

        `gold` is the one-hot gold labels `(batch, seq_len, num_tags)`; only the stacked
        parameterizations read it.
        """
        raise NotImplementedError

    def cost_augmented_logits(self, batch: Batch, gold: torch.Tensor) -> torch.Tensor:
        """Logits of ``F_Φ`` alone."""
        return self.forward(batch, gold)[1]

    def test_time_modules(self) -> list[nn.Module]:
        """The modules that make up ``A_Ψ`` (what is kept at test time)."""
        raise NotImplementedError

    def cost_augmented_only_modules(self) -> list[nn.Module]:
        """The modules used by ``F_Φ`` and not by ``A_Ψ``."""
        raise NotImplementedError

    def test_time_parameter_count(self) -> int:
        """Trainable parameters of ``A_Ψ`` (the test-time model size)."""
        return _count(self.test_time_modules())


class SeparatedNetworks(InferenceNetworks):
    """Two independent BiLSTM taggers."""

    parameterization = "separated"

    def __init__(self, make_features: Callable[[], FeatureNetwork], num_tags: int) -> None:
        super().__init__()
        self.test_time = LocalTagger(make_features(), num_tags)
        self.cost_augmented = LocalTagger(make_features(), num_tags)

    def test_time_logits(self, batch: Batch) -> torch.Tensor:
        return self.test_time.logits(batch)

    def forward(self, batch: Batch, gold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.test_time.logits(batch), self.cost_augmented.logits(batch)

    def cost_augmented_logits(self, batch: Batch, gold: torch.Tensor) -> torch.Tensor:
        return self.cost_augmented.logits(batch)

    def test_time_modules(self) -> list[nn.Module]:
        return [self.test_time]

    def cost_augmented_only_modules(self) -> list[nn.Module]:
        return [self.cost_augmented]

    @torch.no_grad()
    def copy_cost_augmented_to_test_time(self) -> None:
        """``A_Ψ ← F_Φ`` (the start of the Tu & Gimpel (2018) retuning step)."""
        self.test_time.load_state_dict(self.cost_augmented.state_dict())


class SharedNetworks(InferenceNetworks):
    """One BiLSTM feature network, two linear + softmax heads."""

    parameterization = "shared"

    def __init__(self, make_features: Callable[[], FeatureNetwork], num_tags: int) -> None:
        super().__init__()
        self.features = make_features()
        self.test_time_head = nn.Linear(self.features.out_dim, num_tags)
        self.cost_augmented_head = nn.Linear(self.features.out_dim, num_tags)

    def test_time_logits(self, batch: Batch) -> torch.Tensor:
        return self.test_time_head(self.features(batch))

    def forward(self, batch: Batch, gold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(batch)
        return self.test_time_head(features), self.cost_augmented_head(features)

    def test_time_modules(self) -> list[nn.Module]:
        return [self.features, self.test_time_head]

    def cost_augmented_only_modules(self) -> list[nn.Module]:
        return [self.cost_augmented_head]


class StackedHead(nn.Module):
    """``F_Φ`` of the stacked parameterization: reads ``[A_Ψ(x)_t ; y_t]``."""

    def __init__(self, num_tags: int, bilstm_hidden: int | None) -> None:
        super().__init__()
        self.bilstm = BiLSTM(2 * num_tags, bilstm_hidden) if bilstm_hidden else None
        width = self.bilstm.out_dim if self.bilstm is not None else 2 * num_tags
        self.output = nn.Linear(width, num_tags)

    def forward(
        self, test_time_probs: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        joined = torch.cat([test_time_probs, gold], dim=-1)
        if self.bilstm is not None:
            joined = self.bilstm(joined, mask)
        return self.output(joined)


class StackedNetworks(InferenceNetworks):
    """``A_Ψ`` a BiLSTM tagger; ``F_Φ(x, y)`` a layer over A's output and the gold labels."""

    conditions_on_gold = True

    def __init__(
        self,
        make_features: Callable[[], FeatureNetwork],
        num_tags: int,
        bilstm_hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.parameterization = "stacked_bilstm" if bilstm_hidden else "stacked"
        self.test_time = LocalTagger(make_features(), num_tags)
        self.cost_augmented_head = StackedHead(num_tags, bilstm_hidden)

    def test_time_logits(self, batch: Batch) -> torch.Tensor:
        return self.test_time.logits(batch)

    def forward(self, batch: Batch, gold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a_logits = self.test_time.logits(batch)
        f_logits = self.cost_augmented_head(a_logits.softmax(dim=-1), gold, batch.mask)
        return a_logits, f_logits

    def test_time_modules(self) -> list[nn.Module]:
        return [self.test_time]

    def cost_augmented_only_modules(self) -> list[nn.Module]:
        return [self.cost_augmented_head]


def build_inference_networks(
    parameterization: str, make_features: Callable[[], FeatureNetwork], num_tags: int
) -> InferenceNetworks:
    """The pair of inference networks of `parameterization` (see the module docstring)."""
    if parameterization == "separated":
        return SeparatedNetworks(make_features, num_tags)
    if parameterization == "shared":
        return SharedNetworks(make_features, num_tags)
    if parameterization == "stacked":
        return StackedNetworks(make_features, num_tags)
    if parameterization == "stacked_bilstm":
        return StackedNetworks(make_features, num_tags, STACKED_BILSTM_HIDDEN)
    raise ValueError(
        f"unknown parameterization '{parameterization}'; allowed: {', '.join(PARAMETERIZATIONS)}"
    )


def _count(modules: list[nn.Module]) -> int:
    seen: set[int] = set()
    total = 0
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total
