"""Encoder features (the `xfmr` input setting): storage, alignment, WordPiece pooling and
windows checked by hand or brute force, batched encoding against one sentence at a time on a
tiny random BERT, and the model reading them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import given
from hypothesis import strategies as st

from spen.data.arrow import Split
from spen.data.batches import make_batches
from spen.data.features import FeatureTable, check_aligned, read_features, write_features
from spen.data.featurize import Encoder, FeatureSpec, featurize_task, pool, windows
from spen.layout import FEATURE_FILES
from spen.models.encoders import WordEncoder

REPO = Path(__file__).resolve().parents[1]

SPEC = FeatureSpec("all-minilm-l6-v2", (1, 2), "mean", 16)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat", "##s", "un", "##der"]


def _sentences(rng: np.random.Generator, lengths: list[int], dim: int = 4) -> list[np.ndarray]:
    return [rng.normal(size=(n, dim)).astype(np.float32) for n in lengths]


def test_features_round_trip_through_arrow(tmp_path: Path) -> None:
    sentences = _sentences(np.random.default_rng(0), [3, 1, 5])
    write_features(sentences, tmp_path / "train.arrow")
    table = read_features(tmp_path / "train.arrow")
    assert len(table) == 3 and table.dim == 4 and table.lengths() == [3, 1, 5]
    for index, expected in enumerate(sentences):
        np.testing.assert_array_equal(table.sentence(index), expected.astype(np.float16))
    head = table.head(2)
    assert head.lengths() == [3, 1] and len(head.values) == 4


def test_misaligned_features_name_the_file_and_sentence(tmp_path: Path) -> None:
    path = tmp_path / "dev.arrow"
    table = FeatureTable.of(_sentences(np.random.default_rng(1), [2, 3]))
    check_aligned(table, [2, 3], path)
    check_aligned(table, [2], path)  # a run may read the first sentences only
    with pytest.raises(ValueError, match=r"dev\.arrow: features for 2 sentences, the run reads 3"):
        check_aligned(table, [2, 3, 1], path)
    with pytest.raises(ValueError, match=r"dev\.arrow: sentence 2 has 3 feature vectors for 4"):
        check_aligned(table, [2, 4], path)


def test_missing_features_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `spen featurize`"):
        read_features(tmp_path / "missing.arrow")


def test_an_arrow_file_that_is_not_features_is_refused(tmp_path: Path) -> None:
    """Another Arrow file at the features' path (here a split's word ids) is named, not read."""
    import pyarrow as pa

    from spen.data.ipc import write_table

    path = tmp_path / "train.arrow"
    write_table(pa.table({"words": pa.array([[1, 2], [3]], pa.list_(pa.int32()))}), path)
    with pytest.raises(ValueError, match=r"train\.arrow: not a features file"):
        read_features(path)


@given(st.lists(st.integers(1, 7), min_size=1, max_size=30), st.integers(7, 20))
def test_windows_cover_every_word_once_within_the_limit(counts: list[int], limit: int) -> None:
    ranges = windows(counts, limit)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(counts)
    for (_, stop), (start, _) in zip(ranges, ranges[1:], strict=False):
        assert stop == start
    for start, stop in ranges:
        assert stop > start and sum(counts[start:stop]) <= limit
    # greedy: no window could have taken the next word too
    for (start, stop), _ in zip(ranges, ranges[1:], strict=False):
        assert sum(counts[start : stop + 1]) > limit


def test_pooling_by_hand() -> None:
    pieces = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    owner = [0, 0, 1, 2]
    mean = pool(pieces, owner, 3, SPEC)
    np.testing.assert_allclose(mean, [[2.0, 3.0], [5.0, 6.0], [7.0, 8.0]])
    first = pool(pieces, owner, 3, FeatureSpec("all-minilm-l6-v2", (1,), "first", 2))
    np.testing.assert_allclose(first, [[1.0, 2.0], [5.0, 6.0], [7.0, 8.0]])


@pytest.fixture
def tiny_encoder(tmp_path: Path) -> Encoder:
    """A 2-layer, 16-d random BERT with a 12-piece vocabulary (no download); the tests that
    take it skip without the xfmr extra."""
    transformers = pytest.importorskip("transformers", reason="the xfmr extra is not installed")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    tokenizer = transformers.BertTokenizerFast(str(vocab), do_lower_case=True)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    return Encoder(tokenizer, transformers.BertModel(config), SPEC, "cpu")


def _one_at_a_time(encoder: Encoder, words: list[str]) -> np.ndarray:
    """A sentence's word vectors straight from the encoder: one unpadded pass."""
    pieces = encoder.pieces(words)
    ids = [encoder.tokenizer.cls_token_id, *[p for w in pieces for p in w]]
    ids.append(encoder.tokenizer.sep_token_id)
    owner = [index for index, w in enumerate(pieces) for _ in w]
    with torch.no_grad():
        states = encoder.model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    mixed = torch.stack([states[layer][0] for layer in SPEC.layers]).mean(0)
    return pool(mixed[1:-1], owner, len(words), SPEC)


def test_batched_encoding_equals_one_sentence_at_a_time(tiny_encoder: Encoder) -> None:
    sentences = [["The", "cats", "sat"], ["on", "the", "mat", "under", "the", "cat"], ["cat"]]
    batched = tiny_encoder.sentences(sentences, batch_size=2)
    for words, got in zip(sentences, batched, strict=True):
        np.testing.assert_allclose(got, _one_at_a_time(tiny_encoder, words), atol=1e-5)


def test_a_long_sentence_goes_through_in_windows(tiny_encoder: Encoder) -> None:
    words = ["the", "cats", "sat", "on", "the", "mat"]  # 7 pieces
    whole = tiny_encoder.sentences([words])[0]
    split = tiny_encoder.sentences([words], window=4)[0]
    np.testing.assert_allclose(split[:3], _one_at_a_time(tiny_encoder, words[:3]), atol=1e-5)
    np.testing.assert_allclose(split[3:], _one_at_a_time(tiny_encoder, words[3:]), atol=1e-5)
    assert not np.allclose(whole, split, atol=1e-3)  # the context differs, as it should


@dataclass
class _Split:
    tokens: list[list[str]]

    def __len__(self) -> int:
        return len(self.tokens)


class _Task:
    """Three tiny splits, as `PreparedTask.split` gives them."""

    def split(self, name: str, limit: int | None = None) -> _Split:
        sentences = {"train": [["the", "cats", "sat"]], "dev": [["on", "the", "mat"]]}
        return _Split(sentences.get(name, [["cat"], ["the", "cat"]])[:limit])


def test_featurizing_twice_writes_the_same_bytes(
    tiny_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `spen featurize` writes is a function of its inputs (DVC hashes the folder): the
    cost (seconds, memory) is returned apart, for the log."""
    monkeypatch.setattr(Encoder, "load", staticmethod(lambda spec, device: tiny_encoder))
    written = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        summary, cost = featurize_task(_Task(), SPEC, tmp_path / name, {}, progress=False)
        files = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
        written.append((summary, files))
        assert set(cost["seconds"]) == {"train", "dev", "test"} and cost["peak_rss_mb"] > 0
    assert written[0] == written[1]
    assert written[0][0]["splits"]["test"] == {
        "sentences": 2,
        "words": 3,
        "bytes": len(written[0][1]["test.arrow"]),
    }


def test_a_word_without_pieces_reads_as_unknown(tiny_encoder: Encoder) -> None:
    assert tiny_encoder.pieces(["cat", "\u200b"]) == [[5], [1]]
    assert tiny_encoder.sentences([["cat", "\u200b"]])[0].shape == (2, 16)


def test_the_word_encoder_joins_the_features_to_the_word_vectors() -> None:
    split = Split(
        tokens=[["a", "b"], ["c"]],
        token_ids=[[1, 2], [3]],
        tags=[["X", "X"], ["X"]],
        tag_ids=[[0, 0], [0]],
        features=FeatureTable.of(_sentences(np.random.default_rng(2), [2, 1], dim=6)),
    )
    batch = make_batches(split, 2)[0]
    assert batch.features is not None and batch.features.shape == (2, 2, 6)
    encoder = WordEncoder(torch.randn(4, 3), finetune=False, features_dim=6)
    out = encoder(batch)
    assert out.shape == (2, 2, 9)
    row = batch.index.index(0)
    expected = split.features.sentence(0).astype(np.float32)
    np.testing.assert_array_equal(out[row, :, 3:].numpy(), expected)
    with pytest.raises(ValueError, match="6-d encoder features"):
        encoder(make_batches(Split(split.tokens, split.token_ids, split.tags, split.tag_ids), 2)[0])


def test_spen_featurize_writes_its_cost_apart_from_the_features(
    tiny_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--cost` gets the sizes and what they cost (the report's table reads it); the features'
    folder gets neither the seconds nor the memory, so its bytes stay a function of the inputs."""
    from typer.testing import CliRunner

    from spen.cli import app
    from spen.data import prepared

    params = tmp_path / "params"
    shutil.copytree(REPO / "params", params)
    models = yaml.safe_load((params / "models.yaml").read_text())
    models["settings"]["xfmr"]["features"].update(layers=list(SPEC.layers), dim=SPEC.dim)
    (params / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    monkeypatch.setattr(Encoder, "load", staticmethod(lambda spec, device: tiny_encoder))
    monkeypatch.setattr(prepared, "load_prepared", lambda path: _Task())
    out, cost = tmp_path / "features", tmp_path / "results/bench/featurize-pos-xfmr.json"
    args = ["featurize", "pos", "--setting", "xfmr", "--params", str(params), "--profile", "paper"]
    done = CliRunner().invoke(app, [*args, "--out", str(out), "--cost", str(cost)])
    assert done.exit_code == 0, done.output
    measured = json.loads(cost.read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert measured["task"] == "pos" and measured["setting"] == "xfmr"
    assert measured["profile"] == "paper" and measured["limits"]["train"] is None
    assert measured["splits"] == summary["splits"] and summary["splits"]["train"]["words"] == 3
    assert set(measured["cost"]["seconds"]) == {"train", "dev", "test"}
    assert measured["cost"]["peak_rss_mb"] > 0 and "cost" not in summary
    assert measured["cost"]["seconds_total"] >= sum(measured["cost"]["seconds"].values())
    assert sorted(p.name for p in out.iterdir()) == sorted(FEATURE_FILES)
    inside = CliRunner().invoke(app, [*args, "--out", str(out), "--cost", str(out / "c.json")])
    assert inside.exit_code == 2, (inside.output, inside.exception)
