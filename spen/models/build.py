"""Building a run's model from its configuration. Building never reads a file: a pretrained
global energy is loaded by the training step (`spen.training.tag_lm.load_pretrained_parts`),
and a checkpoint carries every weight, so a checkpoint alone rebuilds its model."""

from __future__ import annotations

import torch
from torch import nn

from spen.data.vocab import Vocabularies
from spen.models.encoders import FeatureNetwork, WordEncoder
from spen.models.energy import LinearChainEnergy
from spen.models.global_energy import GlobalEnergy, TagLanguageModel
from spen.models.inference_networks import build_inference_networks
from spen.models.local import LocalTagger
from spen.models.spen import SpenModel
from spen.run_config import GlobalEnergyConfig, InputSetting, RunConfig


def word_encoder(
    setting: InputSetting, vocabs: Vocabularies, embeddings: torch.Tensor
) -> WordEncoder:
    """A fresh word encoder (embeddings, optional character CNN, optional encoder features) of
    the input setting."""
    return WordEncoder(
        embeddings.clone(),
        finetune=setting.finetune_embeddings,
        num_chars=len(vocabs.chars),
        char_cnn=setting.char_cnn,
        features_dim=setting.features.dim if setting.features else None,
    )


def feature_network(
    config: RunConfig, vocabs: Vocabularies, embeddings: torch.Tensor
) -> FeatureNetwork:
    """A fresh word encoder + BiLSTM with the run's input setting and hidden size."""
    return FeatureNetwork(word_encoder(config.input_setting, vocabs, embeddings), config.hidden)


def build_model(config: RunConfig, vocabs: Vocabularies, embeddings: torch.Tensor) -> nn.Module:
    """The model of the run's `kind`, its parameters freshly initialised."""
    num_tags = len(vocabs.tags)
    kind = config.kind
    if kind == "local":
        return LocalTagger(feature_network(config, vocabs, embeddings), num_tags)
    if kind == "crf":
        return LinearChainEnergy(feature_network(config, vocabs, embeddings), num_tags)
    if kind == "spen":
        return build_spen(config, vocabs, embeddings)
    raise ValueError(f"unknown model kind '{kind}'; allowed: local, crf, spen")


def build_spen(config: RunConfig, vocabs: Vocabularies, embeddings: torch.Tensor) -> SpenModel:
    """Energy + inference networks (+ global energy term) of a `kind: spen` run."""
    num_tags = len(vocabs.tags)
    energy = LinearChainEnergy(feature_network(config, vocabs, embeddings), num_tags)
    inference = build_inference_networks(
        config.parameterization,
        lambda: feature_network(config, vocabs, embeddings),
        num_tags,
    )
    spec = config.global_energy
    global_energy = (
        build_global_energy(spec, config.input_setting, vocabs, embeddings) if spec else None
    )
    return SpenModel(energy, inference, global_energy)


def tag_language_model(
    kind: str,
    hidden: int,
    setting: InputSetting,
    vocabs: Vocabularies,
    embeddings: torch.Tensor,
) -> TagLanguageModel:
    """A fresh tag language model; the word-reading kinds get a word encoder of the setting."""
    words = word_encoder(setting, vocabs, embeddings) if kind != "tlm_a" else None
    return TagLanguageModel(kind, len(vocabs.tags), hidden, words)


def build_global_energy(
    spec: GlobalEnergyConfig,
    setting: InputSetting,
    vocabs: Vocabularies,
    embeddings: torch.Tensor,
) -> GlobalEnergy:
    """The weighted global energy term of `spec`, freshly initialised; its tag LM reads words
    as `setting` says."""
    model = tag_language_model(spec.kind, spec.hidden, setting, vocabs, embeddings)
    return GlobalEnergy(model, spec.weight, spec.trainable)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (frozen embeddings are not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_test_time_parameters(model: nn.Module) -> int:
    """Trainable parameters that tagging at test time uses (a SPEN's inference network A_Ψ)."""
    count = getattr(model, "test_time_parameter_count", None)
    return count() if callable(count) else count_parameters(model)
