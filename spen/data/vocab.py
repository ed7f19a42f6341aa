"""Word, character and tag vocabularies, stored as one JSON file beside the Arrow data."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spen.io import write_json

PAD = "<pad>"
UNK = "<unk>"


@dataclass(frozen=True)
class Vocab:
    """An indexed list of symbols; index 0 is padding and index 1 the unknown symbol."""

    symbols: tuple[str, ...]

    @classmethod
    def build(cls, symbols: Iterable[str]) -> Vocab:
        """Make a vocabulary of the distinct `symbols`, sorted, after `<pad>` and `<unk>`."""
        distinct = sorted(set(symbols) - {PAD, UNK})
        return cls((PAD, UNK, *distinct))

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def _lookup(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_lookup")
        if cached is None:
            cached = {s: i for i, s in enumerate(self.symbols)}
            object.__setattr__(self, "_cached_lookup", cached)
        return cached

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._lookup

    def index(self, symbol: str) -> int:
        """Index of `symbol`, or of `<unk>` when it is not in the vocabulary."""
        return self._lookup.get(symbol, 1)


@dataclass(frozen=True)
class Tagset:
    """The training set's tags in a fixed order; no padding entry."""

    tags: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.tags)

    def index(self, tag: str) -> int:
        """Index of `tag`; a tag outside the set raises KeyError."""
        return self.tags.index(tag)

    @property
    def is_bioes(self) -> bool:
        """Whether the tags are entity tags in the BIOES scheme (`O`, `B-X`, `S-X`, ...)."""
        return all(t == "O" or t[:2] in {"B-", "I-", "E-", "S-"} for t in self.tags)


@dataclass(frozen=True)
class Vocabularies:
    """Everything that maps text to ids for one task."""

    words: Vocab
    chars: Vocab
    tags: Tagset
    normalize: str

    def to_dict(self) -> dict[str, object]:
        """The JSON-serialisable form, as stored in `vocab.json` and in checkpoints."""
        return {
            "words": list(self.words.symbols),
            "chars": list(self.chars.symbols),
            "tags": list(self.tags.tags),
            "normalize": self.normalize,
        }

    def save(self, path: Path) -> None:
        """Write the vocabularies as JSON, atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, obj: dict) -> Vocabularies:
        """Rebuild from the form `save` and `to_dict` write."""
        return cls(
            words=Vocab(tuple(obj["words"])),
            chars=Vocab(tuple(obj["chars"])),
            tags=Tagset(tuple(obj["tags"])),
            normalize=str(obj["normalize"]),
        )

    @classmethod
    def load(cls, path: Path) -> Vocabularies:
        """Read the JSON file `save` wrote."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
