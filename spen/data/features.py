"""Per-word features from a pretrained encoder (the `xfmr` input setting), stored as Arrow IPC
files and read back memory-mapped: one row per sentence, one float16 vector per word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from spen.data.ipc import write_table
from spen.run_config import FeatureSpec

#: where `spen featurize` writes a task's features for an input SETTING (outside the task's
#: own folder, which `spen preprocess` replaces whole)
FEATURES_DIR = "data/features/{task}/{setting}"
COLUMN = "features"


def run_features_dir(task: str, setting: str, features: FeatureSpec | None) -> Path | None:
    """The features folder a run of input `setting` on `task` reads when the setting has
    `features`, else None."""
    if features is None:
        return None
    return Path(FEATURES_DIR.format(task=task, setting=setting))


@dataclass(frozen=True)
class FeatureTable:
    """The word features of one split: `values` `(words, dim)` float16 for every word of every
    sentence in order, `offsets` `(sentences + 1,)` where each sentence's words start."""

    values: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def dim(self) -> int:
        """Size of one word's vector."""
        return int(self.values.shape[1])

    def sentence(self, index: int) -> np.ndarray:
        """`(length, dim)` float16 vectors of sentence `index`."""
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> list[int]:
        """Words per sentence."""
        return np.diff(self.offsets).tolist()

    @classmethod
    def of(cls, sentences: Sequence[np.ndarray]) -> FeatureTable:
        """The table of one `(length, dim)` array per sentence, as float16."""
        if not sentences:
            raise ValueError("no sentences of features")
        dim = int(sentences[0].shape[1])
        values = np.concatenate([np.asarray(s, np.float16).reshape(-1, dim) for s in sentences])
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(s) for s in sentences])
        return cls(values, offsets)

    def head(self, limit: int | None) -> FeatureTable:
        """The first `limit` sentences (all of them when `limit` is None)."""
        if limit is None or limit >= len(self):
            return self
        offsets = self.offsets[: limit + 1]
        return FeatureTable(self.values[: offsets[-1]], offsets)


def features_table(sentences: Sequence[np.ndarray]) -> pa.Table:
    """An Arrow table of one `(length, dim)` array per sentence, stored as float16."""
    table = FeatureTable.of(sentences)
    words = pa.FixedSizeListArray.from_arrays(pa.array(table.values.reshape(-1)), table.dim)
    offsets = pa.array(table.offsets.astype(np.int32))
    return pa.table({COLUMN: pa.ListArray.from_arrays(offsets, words)})


def write_features(sentences: Sequence[np.ndarray], path: Path) -> None:
    """Write one split's features atomically."""
    write_table(features_table(sentences), path)


def read_features(path: Path) -> FeatureTable:
    """A split's features, memory-mapped (no copy of the vectors)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; the input setting reads encoder features: run `spen featurize`"
        )
    table = ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    if table.schema.names != [COLUMN] or not pa.types.is_list(table.schema.field(COLUMN).type):
        raise ValueError(f"{path}: not a features file (one list column '{COLUMN}')")
    column = table.column(COLUMN).combine_chunks()
    words = column.values
    dim = words.type.list_size
    values = words.values.to_numpy(zero_copy_only=True).reshape(-1, dim)
    offsets = column.offsets.to_numpy().astype(np.int64)
    return FeatureTable(values, offsets)


def check_aligned(features: FeatureTable, lengths: Sequence[int], path: Path) -> None:
    """Fail unless `features` hold one vector per word of the sentences of `lengths` (features
    may cover more sentences: a run can read a split's first sentences only)."""
    if len(features) < len(lengths):
        raise ValueError(
            f"{path}: features for {len(features)} sentences, the run reads {len(lengths)}; "
            "rerun `spen featurize` for this run profile"
        )
    for index, (ours, theirs) in enumerate(
        zip(features.lengths()[: len(lengths)], lengths, strict=True)
    ):
        if ours != theirs:
            raise ValueError(
                f"{path}: sentence {index + 1} has {ours} feature vectors for {theirs} words; "
                "rerun `spen featurize` after `spen preprocess`"
            )
