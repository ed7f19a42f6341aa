"""`spen calibrate` and `spen bench-inference` on tiny untrained models.

The ECE is checked on a small example computed by hand; a model's calibration figures against
those recomputed here, token by token in plain Python, from what `spen.Tagger` reports (its
exact marginals are checked against the enumeration of every tag sequence in
tests/test_tagger.py); the benchmark's decoders against the same decoders run through the
tagger; and bad input against the one-line error that names the file, exit status 2, nothing
written.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from test_spen import VOCAB, vocabs
from test_tagger import KINDS
from test_tagging import tiny_checkpoint
from typer.testing import CliRunner

from spen.calibration import bin_index, calibrate, reliability
from spen.cli import app
from spen.data.arrow import encode_sentences
from spen.data.ipc import write_table
from spen.data.readers import Sentence
from spen.evaluation.analysis import COMPARED
from spen.inference_bench import inference_benchmark
from spen.measured import load_measured

TOL = {"rel": 1e-6, "abs": 1e-6}


def tiny_sentences(count: int = 14) -> list[Sentence]:
    """Gold-tagged sentences of the tiny vocabulary, 1 to 6 tokens, fixed."""
    rng = random.Random(3)
    tags = vocabs().tags.tags
    found = []
    for line in range(count):
        n = rng.randint(1, 6)
        words = tuple(f"w{rng.randrange(2, VOCAB)}" for _ in range(n))
        found.append(Sentence(words, tuple(rng.choice(tags) for _ in range(n)), line + 1))
    return found


@pytest.fixture
def task(tmp_path: Path) -> Path:
    """A preprocessed folder of the tiny task (`data/tiny`): its vocabularies, embeddings and a
    test split."""
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    vocabs().save(folder / "vocab.json")
    np.save(folder / "embeddings.npy", np.zeros((VOCAB, 6), dtype=np.float32))
    write_table(encode_sentences(tiny_sentences(), vocabs()), folder / "test.arrow")
    return folder


def checkpoint(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pt"
    torch.save(tiny_checkpoint(**KINDS[kind]), path)
    return path


# ---------------------------------------------------------------------------------------
# The expected calibration error.


def test_ece_of_a_small_example_computed_by_hand() -> None:
    # 5 bins (0, .2], (.2, .4], ...: 0.1 alone in the first (wrong), 0.3 and 0.35 in the
    # second (one right), 0.9, 0.95 and 1.0 in the last (two right)
    confidence = torch.tensor([0.1, 0.3, 0.35, 0.9, 0.95, 1.0], dtype=torch.float64)
    correct = torch.tensor([False, True, False, True, True, False])
    found = reliability(confidence, correct, bins=5)
    # (1·|0 − 0.1| + 2·|0.5 − 0.325| + 3·|2/3 − 0.95|) / 6 = (0.1 + 0.35 + 0.85) / 6
    assert found["ece"] == pytest.approx(1.3 / 6, **TOL)
    assert found["bin_counts"] == [1, 2, 0, 0, 3]
    assert found["bin_accuracy"] == pytest.approx([0.0, 0.5, None, None, 2 / 3])
    assert found["bin_confidence"] == pytest.approx([0.1, 0.325, None, None, 0.95])
    assert found["mean_confidence"] == pytest.approx(3.6 / 6, **TOL)
    assert found["accuracy"] == pytest.approx(0.5, **TOL)
    assert found["tokens"] == 6
    assert found["bin_edges"] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_a_calibrated_set_has_no_error_and_bins_close_on_the_right() -> None:
    confidence = torch.tensor([0.5, 0.5, 1.0, 1.0], dtype=torch.float64)
    assert reliability(confidence, torch.tensor([1, 0, 1, 1]), bins=15)["ece"] == 0.0
    edges = torch.tensor([0.0, 0.2, 0.2 + 1e-9, 0.4, 1.0], dtype=torch.float64)
    assert bin_index(edges, 5).tolist() == [0, 0, 1, 1, 4]


@pytest.mark.parametrize(
    ("confidence", "correct", "bins", "words"),
    [([0.5], [True], 0, "bins must be at least 1, got 0"), ([], [], 15, "at least one")],
)
def test_reliability_refuses_what_it_cannot_bin(
    confidence: list[float], correct: list[bool], bins: int, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        reliability(torch.tensor(confidence), torch.tensor(correct), bins)


# ---------------------------------------------------------------------------------------
# A model's calibration, against the tagger's distributions token by token.


@pytest.mark.parametrize("kind", ["local", "crf", "spen"])
def test_calibration_recomputed_from_the_taggers_distributions(
    tmp_path: Path, task: Path, kind: str
) -> None:
    measured = load_measured(checkpoint(tmp_path, kind), "test", task)
    found = calibrate(measured, bins=4, batch_size=3)
    expected_names = {"local": ["inference_network"], "crf": ["exact_marginals"]}
    names = expected_names.get(kind, ["inference_network", "exact_marginals"])
    assert list(found["distributions"]) == names
    gold = tiny_sentences()
    tagged = measured.tagger.predict([list(s.tokens) for s in gold], batch_size=5)
    for name in names:
        confidences, correct, log_gold = [], [], []
        for sentence, output in zip(gold, tagged, strict=True):
            for tag, token in zip(sentence.tags, output.tokens, strict=True):
                probs = token.distribution if name == "inference_network" else token.marginals
                assert probs is not None
                best = max(probs, key=probs.__getitem__)
                confidences.append(probs[best])
                correct.append(best == tag)
                log_gold.append(math.log(probs[tag]))
        figures = found["distributions"][name]
        assert figures["tokens"] == len(confidences) == found["tokens"]
        assert figures["accuracy"] == pytest.approx(sum(correct) / len(correct), **TOL)
        assert figures["mean_confidence"] == pytest.approx(
            sum(confidences) / len(confidences), rel=1e-5
        )
        assert figures["nll_per_token"] == pytest.approx(-sum(log_gold) / len(log_gold), rel=1e-5)
        counts = [0] * 4
        for c in confidences:
            counts[min(max(math.ceil(c * 4) - 1, 0), 3)] += 1
        assert figures["bin_counts"] == counts
        assert 0.0 <= figures["ece"] <= 1.0
    assert found["run"] == "tiny/tiny-paper/seed1" and found["split"] == "test"


# ---------------------------------------------------------------------------------------
# The benchmark of inference methods.


def test_the_benchmark_decoders_are_the_taggers(tmp_path: Path, task: Path) -> None:
    measured = load_measured(checkpoint(tmp_path, "spen"), "test", task)
    result = inference_benchmark([measured], [1, 4], repeats=1)
    assert result["batch_sizes"] == [1, 4] and result["sentences"] == len(tiny_sentences())
    (row,) = result["rows"]
    assert list(row["decoders"]) == list(COMPARED)
    gold = tiny_sentences()
    tokens = [list(s.tokens) for s in gold]
    viterbi = [s.tags for s in measured.tagger.predict(tokens, decoder="viterbi")]
    for name, figures in row["decoders"].items():
        tags = [s.tags for s in measured.tagger.predict(tokens, decoder=name)]
        pairs = [
            (t, g) for s, o in zip(gold, tags, strict=True) for t, g in zip(o, s.tags, strict=True)
        ]
        right = sum(t == g for t, g in pairs)
        assert figures["scores"]["accuracy"] == pytest.approx(100 * right / row["tokens"])
        differs = sum(t != v for t, v in zip(tags, viterbi, strict=True)) / len(gold)
        assert figures["differs_from_viterbi"] == pytest.approx(differs)
        assert figures["energy_gap_mean"] >= -1e-5
        for key in ("sentences_per_second", "sentences_per_cpu_second"):
            assert set(figures[key]) == {"1", "4"} and min(figures[key].values()) > 0
    assert row["decoders"]["viterbi"]["energy_gap_mean"] == pytest.approx(0.0, abs=1e-5)
    assert row["decoders"]["viterbi"]["differs_from_viterbi"] == 0
    # A_Ψ exported to TorchScript decodes as the tagger's A_Ψ does, at the same score
    exported = row["exported"]
    assert exported["format"] == "torchscript" and exported["argmax_agreement"] == 1.0
    assert exported["max_abs_diff_from_pytorch"] < 1e-5
    assert exported["scores"] == row["decoders"]["test_time"]["scores"]
    assert set(exported["sentences_per_cpu_second"]) == {"1", "4"}


def test_the_benchmark_times_on_a_head_of_the_split_and_scores_on_all_of_it(
    tmp_path: Path, task: Path
) -> None:
    measured = load_measured(checkpoint(tmp_path, "spen"), "test", task)
    whole = inference_benchmark([measured], [1], repeats=1)
    head = inference_benchmark([measured], [1], repeats=1, timed_sentences=1)
    assert whole["timed_sentences"] == whole["sentences"] > 1 and head["timed_sentences"] == 1
    (row,), (head_row,) = whole["rows"], head["rows"]
    for name, figures in head_row["decoders"].items():
        assert figures["scores"] == row["decoders"][name]["scores"]
    assert head_row["exported"]["scores"] == row["exported"]["scores"]
    assert head["sentences"] == whole["sentences"]


@pytest.mark.parametrize("kind", ["local", "crf"])
def test_the_benchmark_refuses_a_model_without_energy_and_network(
    tmp_path: Path, task: Path, kind: str
) -> None:
    measured = load_measured(checkpoint(tmp_path, kind), "test", task)
    with pytest.raises(ValueError, match=f"{kind}.pt: a {kind} model .*expected a SPEN"):
        inference_benchmark([measured], [1], repeats=1)


# ---------------------------------------------------------------------------------------
# The command line: results, and bad input.


def test_calibrate_and_bench_inference_write_their_json(tmp_path: Path, task: Path) -> None:
    path = str(checkpoint(tmp_path, "spen"))
    out = tmp_path / "calibration.json"
    args = ["calibrate", path, "--data", str(task), "--out", str(out), "--bins", "6"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["distributions"]["inference_network"]["bins"] == 6
    bench = tmp_path / "inference-tiny.json"
    args = ["bench-inference", path, path, "--data", str(task), "--out", str(bench)]
    result = CliRunner().invoke(app, [*args, "--batch-size", "2", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    written = json.loads(bench.read_text())
    assert written["task"] == "tiny" and len(written["rows"]) == 2
    assert written["threads"] == 1 and written["batch_sizes"] == [2]


@pytest.mark.parametrize("command", ["calibrate", "bench-inference"])
def test_bad_checkpoints_are_one_line_errors_writing_nothing(
    tmp_path: Path, task: Path, command: str
) -> None:
    notes = tmp_path / "notes.pt"
    notes.write_text("not a checkpoint\n")
    other = tmp_path / "other.pt"
    torch.save([1, 2], other)
    out = tmp_path / "out.json"
    cases = [
        (tmp_path / "missing.pt", "missing.pt: no such checkpoint"),
        (notes, "notes.pt: not a readable spen checkpoint"),
        (other, "other.pt: not a spen checkpoint"),
    ]
    if command == "bench-inference":
        cases.append((checkpoint(tmp_path, "local"), "expected a SPEN checkpoint"))
    for path, words in cases:
        args = [command, str(path), "--data", str(task), "--out", str(out)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(f"spen {command}: error: {path}"), result.stderr
        assert words in result.stderr and result.stderr.count("\n") == 1
        assert not out.exists()


@pytest.mark.parametrize(
    ("command", "option", "words"),
    [
        ("bench-inference", ["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        ("bench-inference", ["--repeats", "0"], "--repeats must be at least 1, got 0"),
        (
            "bench-inference",
            ["--timed-sentences", "0"],
            "--timed-sentences must be at least 1, got 0",
        ),
        ("calibrate", ["--bins", "0"], "--bins must be at least 1, got 0"),
        ("calibrate", ["--split", "valid"], "unknown split 'valid'"),
    ],
)
def test_bad_options_are_one_line_errors_writing_nothing(
    tmp_path: Path, task: Path, command: str, option: list[str], words: str
) -> None:
    out = tmp_path / "out.json"
    path = str(checkpoint(tmp_path, "spen"))
    result = CliRunner().invoke(
        app, [command, path, "--data", str(task), "--out", str(out), *option]
    )
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"spen {command}: error: ") and words in result.stderr
    assert result.stderr.count("\n") == 1 and not out.exists()


def test_a_task_folder_of_other_vocabularies_is_refused(tmp_path: Path, task: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    vocabs(num_words=VOCAB + 1).save(other / "vocab.json")
    np.save(other / "embeddings.npy", np.zeros((VOCAB + 1, 6), dtype=np.float32))
    path = checkpoint(tmp_path, "spen")
    with pytest.raises(ValueError, match=f"{path}: trained on other vocabularies than {other}"):
        load_measured(path, "test", other)
