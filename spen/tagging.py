"""Tagging raw text with a trained model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spen.data.arrow import Split, encode_sentences
from spen.data.features import FeatureTable
from spen.data.featurize import Encoder
from spen.data.readers import Sentence
from spen.device import choose_device
from spen.evaluation.decode import predict_split
from spen.training.checkpoint import checkpoint_config, load_checkpoint, restore_learner


def tag_lines(
    checkpoint: Path, lines: Sequence[str], decoder: str = "test_time", device: str = "auto"
) -> list[list[tuple[str, str]]]:
    """Tag each line (whitespace-separated tokens); an empty line gives an empty sentence.

    Words outside the model's vocabulary are read as `<unk>` (their characters still reach
    a character CNN when the model has one); a model of an input setting with encoder features
    gets them from the encoder here (the `xfmr` extra must be installed).
    """
    torch_device = choose_device(device)
    state = load_checkpoint(checkpoint)
    config = checkpoint_config(state)
    learner, vocabs = restore_learner(state, torch_device)
    tokens = [line.split() for line in lines]
    nonempty = [i for i, t in enumerate(tokens) if t]
    placeholder = vocabs.tags.tags[0]
    sentences = [
        Sentence(tuple(tokens[i]), (placeholder,) * len(tokens[i]), i + 1) for i in nonempty
    ]
    result: list[list[tuple[str, str]]] = [[] for _ in tokens]
    if not sentences:
        return result
    split = Split.from_table(encode_sentences(sentences, vocabs))
    if config.features:  # the setting reads encoder features: computed here, as `spen featurize`
        encoder = Encoder.load(config.features, str(torch_device))
        split = split.with_features(FeatureTable.of(encoder.sentences(split.tokens)))
    predicted = predict_split(
        learner, split, vocabs, 64, torch_device, decoder, uses_chars=config.uses_chars
    )
    for i, tags in zip(nonempty, predicted, strict=True):
        result[i] = list(zip(tokens[i], tags, strict=True))
    return result
