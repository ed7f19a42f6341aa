"""A task's preprocessed directory: vocabularies, embeddings and the Arrow splits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spen.data.arrow import Split, read_split
from spen.data.sources import sha256_file
from spen.data.vocab import Vocabularies

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class PreparedTask:
    """What `spen preprocess` wrote for one task."""

    directory: Path
    vocabs: Vocabularies
    embeddings: np.ndarray

    def fingerprint(self) -> str:
        """A SHA-256 over every file of the directory a run reads, to tell data apart."""
        digest = hashlib.sha256()
        for name in (*(f"{s}.arrow" for s in SPLITS), "vocab.json", "embeddings.npy"):
            digest.update(name.encode())
            digest.update(sha256_file(self.directory / name).encode())
        return digest.hexdigest()

    def split(self, name: str, limit: int | None = None) -> Split:
        """Split `name` (train, dev or test), cut to its first `limit` sentences."""
        if name not in SPLITS:
            raise ValueError(f"unknown split '{name}'; allowed: {', '.join(SPLITS)}")
        return read_split(self.directory / f"{name}.arrow").head(limit)


def load_prepared(directory: str | Path) -> PreparedTask:
    """Open a task directory written by `spen preprocess`."""
    directory = Path(directory)
    vocab_path = directory / "vocab.json"
    if not vocab_path.is_file():
        raise FileNotFoundError(f"{vocab_path}: missing; run `spen preprocess` for this task first")
    return PreparedTask(
        directory=directory,
        vocabs=Vocabularies.load(vocab_path),
        embeddings=np.load(directory / "embeddings.npy"),
    )
