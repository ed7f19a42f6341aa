"""Raw CoNLL files of one task -> Arrow splits, vocabularies and an embedding matrix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from spen.data.arrow import encode_sentences
from spen.data.embeddings import embedding_matrix, load_vectors
from spen.data.ipc import write_table
from spen.data.normalize import normalize_token
from spen.data.prepared import SPLITS
from spen.data.readers import Sentence, check_bioes, check_tagset, read_corpus
from spen.data.vocab import Tagset, Vocab, Vocabularies
from spen.io import atomic_dir, atomic_path, check_output_dir, write_json

#: what `preprocess` writes into its output folder
OUTPUTS = (*(f"{name}.arrow" for name in SPLITS), "vocab.json", "embeddings.npy", "summary.json")
MISSING_RAW = "the raw file here: run `spen fetch` for this task first"


def build_vocabularies(
    splits: dict[str, list[Sentence]], normalize: str, pretrained: set[str] | dict[str, int]
) -> Vocabularies:
    """Words: every training word, and every dev/test word that has a pretrained vector.

    Characters: every character of the training tokens. Tags: the training tagset, sorted.
    """
    norm = {
        name: [[normalize_token(t, normalize) for t in s.tokens] for s in sents]
        for name, sents in splits.items()
    }
    words = {w for sent in norm["train"] for w in sent}
    words |= {w for name in ("dev", "test") for sent in norm[name] for w in sent if w in pretrained}
    chars = {c for s in splits["train"] for t in s.tokens for c in t}
    tags = sorted({t for s in splits["train"] for t in s.tags})
    return Vocabularies(Vocab.build(words), Vocab.build(chars), Tagset(tuple(tags)), normalize)


def read_task(task: dict[str, Any], raw_dir: Path) -> dict[str, list[Sentence]]:
    """Read and check the three splits: dev/test tags inside the training tagset, BIOES valid."""
    splits: dict[str, list[Sentence]] = {}
    for name in SPLITS:
        path = raw_dir / task["splits"][name]
        splits[name] = read_corpus(path, task["format"], MISSING_RAW)
        if task["format"] == "conll2003":
            check_bioes(splits[name], path)
    tagset = {t for s in splits["train"] for t in s.tags}
    for name in ("dev", "test"):
        check_tagset(splits[name], tagset, raw_dir / task["splits"][name])
    return splits


def preprocess(
    task: dict[str, Any],
    raw_dir: Path,
    out_dir: Path,
    embeddings: str,
    base: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Write `out_dir/{train,dev,test}.arrow`, `vocab.json`, `embeddings.npy`, `summary.json`.

    `out_dir` is checked before any work and written as a whole (`spen.io.atomic_dir`): a
    failure leaves it as it was. A relative embeddings path is taken from `base` (default:
    the current directory). Returns the summary: sentence and token counts, vocabulary
    sizes, embedding coverage.
    """
    check_output_dir(out_dir, OUTPUTS, replace=True)
    splits = read_task(task, raw_dir)
    vectors = load_vectors(embeddings, base)
    vocabs = build_vocabularies(splits, task["normalize"], vectors.index)
    matrix, found = embedding_matrix(vocabs.words, vectors)
    summary = {
        "sentences": {name: len(s) for name, s in splits.items()},
        "tokens": {name: sum(len(x.tokens) for x in s) for name, s in splits.items()},
        "words": len(vocabs.words),
        "words_with_pretrained_vector": found,
        "chars": len(vocabs.chars),
        "tags": len(vocabs.tags),
        "embedding_dim": int(matrix.shape[1]),
        "embeddings": embeddings,
    }
    with atomic_dir(out_dir) as tmp:
        for name, sentences in splits.items():
            write_table(encode_sentences(sentences, vocabs), tmp / f"{name}.arrow")
        vocabs.save(tmp / "vocab.json")
        with atomic_path(tmp / "embeddings.npy") as path, open(path, "wb") as handle:
            np.save(handle, matrix)
        write_json(tmp / "summary.json", summary)
    return summary
