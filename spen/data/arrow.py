"""Preprocessed splits as Arrow IPC files, read back memory-mapped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from spen.data.features import FeatureTable
from spen.data.normalize import normalize_token
from spen.data.readers import Sentence
from spen.data.vocab import Vocabularies

SCHEMA = pa.schema(
    [
        ("tokens", pa.list_(pa.string())),
        ("token_ids", pa.list_(pa.int32())),
        ("tags", pa.list_(pa.string())),
        ("tag_ids", pa.list_(pa.int32())),
        ("length", pa.int32()),
        ("line", pa.int32()),
    ]
)


@dataclass(frozen=True)
class Split:
    """One preprocessed split: original tokens, their ids, tags and tag ids, per sentence, and
    the words' encoder features where the input setting reads them."""

    tokens: list[list[str]]
    token_ids: list[list[int]]
    tags: list[list[str]]
    tag_ids: list[list[int]]
    features: FeatureTable | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_table(cls, table: pa.Table) -> Split:
        """The sentences of an Arrow table of `SCHEMA`."""
        return cls(
            tokens=table.column("tokens").to_pylist(),
            token_ids=table.column("token_ids").to_pylist(),
            tags=table.column("tags").to_pylist(),
            tag_ids=table.column("tag_ids").to_pylist(),
        )

    def head(self, limit: int | None) -> Split:
        """The first `limit` sentences (all of them when `limit` is None)."""
        if limit is None:
            return self
        return Split(
            self.tokens[:limit],
            self.token_ids[:limit],
            self.tags[:limit],
            self.tag_ids[:limit],
            None if self.features is None else self.features.head(limit),
        )

    def with_features(self, features: FeatureTable) -> Split:
        """The same sentences carrying `features` (one vector per word, checked by the caller)."""
        return replace(self, features=features)


def encode_sentences(sentences: Sequence[Sentence], vocab: Vocabularies) -> pa.Table:
    """Turn sentences into an Arrow table of `SCHEMA` (tags must be in the tagset)."""
    return pa.table(
        {
            "tokens": [list(s.tokens) for s in sentences],
            "token_ids": [
                [vocab.words.index(normalize_token(t, vocab.normalize)) for t in s.tokens]
                for s in sentences
            ],
            "tags": [list(s.tags) for s in sentences],
            "tag_ids": [[vocab.tags.index(t) for t in s.tags] for s in sentences],
            "length": [len(s.tokens) for s in sentences],
            "line": [s.line for s in sentences],
        },
        schema=SCHEMA,
    )


def read_split(path: Path) -> Split:
    """Read a split written by `write_table`, memory-mapped."""
    with pa.memory_map(str(path), "r") as source:
        return Split.from_table(ipc.open_file(source).read_all())
