"""Building a run's model from its configuration."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spen.data.vocab import Vocabularies
from spen.models.encoders import CharCNNConfig, FeatureNetwork, WordEncoder
from spen.models.energy import LinearChainEnergy
from spen.models.local import LocalTagger


def feature_network(
    config: dict[str, Any], vocabs: Vocabularies, embeddings: torch.Tensor
) -> FeatureNetwork:
    """A fresh word encoder + BiLSTM with the run's input setting and hidden size."""
    char_cnn = CharCNNConfig(**config["char_cnn"]) if config.get("char_cnn") else None
    words = WordEncoder(
        embeddings.clone(),
        finetune=config["finetune_embeddings"],
        num_chars=len(vocabs.chars),
        char_cnn=char_cnn,
    )
    return FeatureNetwork(words, config["hidden"])


def build_model(
    config: dict[str, Any], vocabs: Vocabularies, embeddings: torch.Tensor
) -> nn.Module:
    """The model of `config["kind"]`, its parameters freshly initialised."""
    num_tags = len(vocabs.tags)
    kind = config["kind"]
    if kind == "local":
        return LocalTagger(feature_network(config, vocabs, embeddings), num_tags)
    if kind == "crf":
        return LinearChainEnergy(feature_network(config, vocabs, embeddings), num_tags)
    raise ValueError(f"unknown model kind '{kind}'; allowed: local, crf")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (frozen embeddings are not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
