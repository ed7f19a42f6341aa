"""The test-time inference network of a trained model, exported to ONNX or TorchScript.

The exported network maps a batch of sentences, as tensors, to per-token tag distributions:

- ``words``: ``(batch, seq_len)`` int64 word ids of the checkpoint's vocabulary
  (`Tagger.vocabs.words`; 0 at padding);
- ``mask``: ``(batch, seq_len)`` bool, a left-aligned prefix of ``True`` per sentence;
- ``chars``: ``(batch, seq_len, word_len)`` int64 character ids, for a model with a character
  CNN only (0 pads);
- ``features``: ``(batch, seq_len, dim)`` float32 encoder features, for an input setting that
  reads them only (`spen featurize` computes them);

giving ``probabilities`` ``(batch, seq_len, num_tags)`` in the order of the tagset (its rows
at padded positions mean nothing). Batch size, sentence length and word length are free. A
CRF has no inference network (its output needs Viterbi), so it has nothing to export.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from spen.data.batches import Batch
from spen.data.featurize import MissingExtraError
from spen.io import atomic_path
from spen.models.encoders import WordEncoder
from spen.models.spen import SpenModel
from spen.tagger import Tagger, inference_network

#: the ONNX operator set the exported graph uses
OPSET = 17


class ExportableNetwork(nn.Module):
    """A trained model's test-time inference network on plain tensors (module docstring), its
    inputs named by `input_names`. ValueError for a CRF, which has none."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        network = inference_network(tagger.learner.model)
        if network is None:
            raise ValueError(
                "a CRF has no test-time inference network to export (its output needs Viterbi)"
            )
        model = tagger.learner.model
        # A's modules alone are registered: their weights are the exported module's, those of
        # the energy and of F_Φ are not
        parts = model.inference.test_time_modules() if isinstance(model, SpenModel) else [model]
        self.parts = nn.ModuleList(parts)
        self.network = network
        words = next(m for m in self.parts.modules() if isinstance(m, WordEncoder))
        self.features_dim = words.features_dim
        self.num_chars = len(tagger.vocabs.chars)
        self.num_words = len(tagger.vocabs.words)
        self.uses_chars = tagger.uses_chars
        self.input_names = (
            ("words", "mask")
            + (("chars",) if tagger.uses_chars else ())
            + (("features",) if self.features_dim is not None else ())
        )

    def forward(self, *inputs: Tensor) -> Tensor:
        """Tag probabilities `(batch, seq_len, num_tags)` of the tensors of `input_names`."""
        named = dict(zip(self.input_names, inputs, strict=True))
        words = named["words"]
        batch = Batch(
            words=words,
            tags=torch.zeros_like(words),
            mask=named["mask"],
            chars=named.get("chars"),
            index=(),
            features=named.get("features"),
        )
        return self.network(batch).softmax(dim=-1)

    def inputs(self, batch: Batch) -> tuple[Tensor, ...]:
        """The tensors of a batch of the tagger's sentences, in the order of `input_names`."""
        values = {
            "words": batch.words,
            "mask": batch.mask,
            "chars": batch.chars,
            "features": batch.features,
        }
        found = []
        for name in self.input_names:
            value = values[name]
            if value is None:
                raise ValueError(f"the batch has no '{name}', which the network reads")
            found.append(value)
        return tuple(found)

    def example(self, lengths: tuple[int, ...] = (4, 2), word_len: int = 3) -> tuple[Tensor, ...]:
        """Random inputs of sentences of `lengths` (`word_len` characters a word), in the order
        of `input_names`: what tracing runs and a parity check compares."""
        gen = torch.Generator().manual_seed(0)
        seq_len = max(lengths)
        mask = torch.arange(seq_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
        shape = (len(lengths), seq_len)
        values = {
            "words": torch.randint(1, self.num_words, shape, generator=gen) * mask,
            "mask": mask,
            "chars": torch.randint(1, self.num_chars, (*shape, word_len), generator=gen)
            * mask.unsqueeze(-1),
            "features": torch.randn(*shape, self.features_dim or 0, generator=gen),
        }
        return tuple(values[name] for name in self.input_names)


def trace(network: ExportableNetwork) -> torch.jit.ScriptModule:
    """`network` as a TorchScript module, traced on its example inputs (on the device its
    weights are on)."""
    device = next(network.parameters()).device
    with torch.no_grad():
        return torch.jit.trace(network, tuple(t.to(device) for t in network.example()))


def export_torchscript(network: ExportableNetwork, path: str | os.PathLike[str]) -> Path:
    """Trace `network` on its example inputs and save the TorchScript module at `path`;
    returns the path."""
    traced = trace(network)
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp))
    return Path(path)


def export_onnx(network: ExportableNetwork, path: str | os.PathLike[str]) -> Path:
    """Save `network` as an ONNX graph at `path`, its batch, sentence and word lengths dynamic
    (the `export` extra: onnx); returns the path."""
    try:
        importlib.import_module("onnx")
    except ImportError as err:
        raise MissingExtraError(
            f"ONNX export needs the optional extra: pip install -e '.[export]' ({err})"
        ) from None
    axes = {"batch": 0, "seq_len": 1}
    dynamic = {name: {i: axis for axis, i in axes.items()} for name in network.input_names}
    if "chars" in dynamic:
        dynamic["chars"][2] = "word_len"
    dynamic["probabilities"] = {i: axis for axis, i in axes.items()}
    with torch.no_grad(), warnings.catch_warnings(), atomic_path(path) as tmp:
        # the LSTMs start from zero states of the input's own batch size: any batch size runs
        # (tests/test_export.py checks another one), whatever this warning fears
        warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size other")
        torch.onnx.export(
            network,
            network.example(),
            str(tmp),
            input_names=list(network.input_names),
            output_names=["probabilities"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )
    return Path(path)
