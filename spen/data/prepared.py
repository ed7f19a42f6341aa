"""A task's preprocessed directory: vocabularies, embeddings and the Arrow splits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spen.data.arrow import Split, read_split
from spen.data.features import check_aligned, read_features
from spen.data.sources import sha256_file
from spen.data.vocab import Vocabularies

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class PreparedTask:
    """What `spen preprocess` wrote for one task."""

    directory: Path
    vocabs: Vocabularies
    embeddings: np.ndarray
    features: Path | None = None  # the encoder features the splits carry (`spen featurize`)

    def files(self) -> dict[str, Path]:
        """Every file a run reads, by a name that does not depend on where it lies."""
        names = [*(f"{s}.arrow" for s in SPLITS), "vocab.json", "embeddings.npy"]
        found = {name: self.directory / name for name in names}
        if self.features is not None:
            found.update({f"features/{s}.arrow": self.features / f"{s}.arrow" for s in SPLITS})
        return found

    def fingerprint(self) -> str:
        """A SHA-256 over every file of the directory a run reads, to tell data apart."""
        digest = hashlib.sha256()
        for name, path in self.files().items():
            digest.update(name.encode())
            digest.update(sha256_file(path).encode())
        return digest.hexdigest()

    def split(self, name: str, limit: int | None = None) -> Split:
        """Split `name` (train, dev or test), cut to its first `limit` sentences, with its
        encoder features when the task carries them."""
        if name not in SPLITS:
            raise ValueError(f"unknown split '{name}'; allowed: {', '.join(SPLITS)}")
        split = read_split(self.directory / f"{name}.arrow").head(limit)
        if self.features is None:
            return split
        path = self.features / f"{name}.arrow"
        features = read_features(path)
        check_aligned(features, [len(t) for t in split.tokens], path)
        return split.with_features(features.head(len(split)))


def load_prepared(directory: str | Path, features: Path | None = None) -> PreparedTask:
    """Open a task directory written by `spen preprocess`; with `features` (a folder written
    by `spen featurize`), its splits carry those encoder features."""
    directory = Path(directory)
    vocab_path = directory / "vocab.json"
    if not vocab_path.is_file():
        raise FileNotFoundError(f"{vocab_path}: missing; run `spen preprocess` for this task first")
    return PreparedTask(
        directory=directory,
        vocabs=Vocabularies.load(vocab_path),
        embeddings=np.load(directory / "embeddings.npy"),
        features=features,
    )
