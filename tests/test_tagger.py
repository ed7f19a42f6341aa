"""`spen.Tagger` on every kind of model, and `spen tag --format/--k/--batch-size`.

Checkpoints are those of tiny untrained models (`tiny_checkpoint`): what is checked is what
the results must be for any weights. The exact outputs are checked against the enumeration of
every tag sequence (a k-best list as long as the number of sequences), whose own agreement with
plain-Python enumeration tests/test_chain_inference.py checks.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
from test_spen import NUM_TAGS
from test_tagging import tiny_checkpoint
from typer.testing import CliRunner

from spen import Tagger
from spen.cli import app
from spen.tagger import TaggedSentence

GLOBAL = {"global_energy": {"kind": "tlm_a", "weight": 1.0, "hidden": 4}}
KINDS = {
    "local": {"kind": "local"},
    "crf": {"kind": "crf"},
    "spen": {},
    "spen-global": GLOBAL,
}
SENTENCES = [["w3", "w4", "zz"], "w2  w5 w6 w1", [], "w6", ["w1", "w2"]]
TOL = {"rel": 1e-4, "abs": 1e-5}


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def checkpoint_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.pt"
    torch.save(tiny_checkpoint(**KINDS[name]), path)
    return path


@pytest.fixture
def tagger(tmp_path: Path, kind: str) -> Tagger:
    return Tagger.load(checkpoint_file(tmp_path, kind), device="cpu")


def test_each_kind_fills_the_fields_of_its_parts(tagger: Tagger, kind: str) -> None:
    tagged = tagger.predict(SENTENCES, k=2)
    assert [s.words for s in tagged] == [
        ["w3", "w4", "zz"],
        ["w2", "w5", "w6", "w1"],
        [],
        ["w6"],
        ["w1", "w2"],
    ]
    assert tagged[2] == TaggedSentence(())
    network, chain = kind != "crf", kind != "local"
    for sentence in (s for s in tagged if s.tokens):
        assert set(sentence.tags) <= set(tagger.tag_names)
        for token in sentence.tokens:
            assert (token.distribution is not None) == network
            assert (token.marginals is not None) == chain
            for probs in (token.distribution, token.marginals):
                if probs is not None:
                    assert list(probs) == list(tagger.tag_names)
                    assert sum(probs.values()) == pytest.approx(1.0, **TOL)
            # the model's own output: A's argmax, or Viterbi's tags for a CRF
            chosen = token.distribution if network else token.marginals
            assert chosen is not None
            assert token.confidence == pytest.approx(chosen[token.tag], **TOL)
            if network:
                assert token.confidence == pytest.approx(max(chosen.values()), **TOL)
        assert (sentence.k_best is not None) == chain
        assert (sentence.energy is not None) == chain
        assert (sentence.search_error is not None) == chain
        assert (sentence.full_energy is not None) == (kind == "spen-global")
        if chain:
            assert sentence.k_best is not None and len(sentence.k_best) == 2
            assert sentence.search_error is not None and sentence.search_error >= -1e-5
        if kind == "crf":  # its output is Viterbi's
            assert sentence.search_error == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["crf", "spen", "spen-global"])
def test_exact_outputs_agree_with_the_enumeration_of_every_sequence(
    tagger: Tagger, kind: str
) -> None:
    words = ["w3", "w4", "zz", "w1"]
    count = NUM_TAGS ** len(words)
    (sentence,) = tagger.predict([words], k=count + 5)
    assert sentence.k_best is not None and len(sentence.k_best) == count
    sequences = {s.tags: s for s in sentence.k_best}
    assert set(sequences) == set(itertools.product(tagger.tag_names, repeat=len(words)))
    energies = [s.energy for s in sentence.k_best]
    assert energies == sorted(energies)
    assert sum(math.exp(s.log_probability) for s in sentence.k_best) == pytest.approx(1.0, **TOL)
    for t, token in enumerate(sentence.tokens):
        assert token.marginals is not None
        for tag, value in token.marginals.items():
            enumerated = sum(
                math.exp(s.log_probability) for s in sentence.k_best if s.tags[t] == tag
            )
            assert value == pytest.approx(enumerated, **TOL)
    output = sequences[tuple(sentence.tags)]
    assert sentence.energy == pytest.approx(output.energy, **TOL)
    assert sentence.viterbi_energy == pytest.approx(energies[0], **TOL)
    assert sentence.search_error == pytest.approx(output.energy - energies[0], **TOL)
    assert sentence.search_error is not None and sentence.search_error >= -1e-5


@pytest.mark.parametrize("kind", ["spen", "spen-global"])
def test_the_viterbi_decoder_has_no_search_error(tagger: Tagger, kind: str) -> None:
    for sentence in tagger.predict(SENTENCES, decoder="viterbi"):
        if sentence.tokens:
            assert sentence.search_error == pytest.approx(0.0, abs=1e-5)
            assert sentence.k_best is not None and sentence.tags == list(sentence.k_best[0].tags)
            for token in sentence.tokens:
                assert token.marginals is not None
                assert token.confidence == pytest.approx(token.marginals[token.tag], **TOL)


@pytest.mark.parametrize("kind", ["spen-global"])
def test_the_full_energy_adds_the_global_term(tagger: Tagger, kind: str) -> None:
    from spen.data.batches import Batch
    from spen.inference.linear_chain import one_hot

    model = tagger.learner.model
    (sentence,) = tagger.predict([["w3", "w4"]])
    ids = torch.tensor([[tagger.vocabs.words.index(w) for w in ("w3", "w4")]])
    tags = torch.tensor([[tagger.tag_names.index(t) for t in sentence.tags]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    labels = one_hot(tags, NUM_TAGS)
    term = model.global_energy(
        labels, mask, model.global_energy.word_features(Batch(ids, tags, mask, None, (0,)))
    )
    assert sentence.energy is not None and sentence.full_energy is not None
    assert sentence.full_energy - sentence.energy == pytest.approx(float(term), **TOL)
    assert float(term) != pytest.approx(0.0)


def test_results_do_not_depend_on_the_batching(tagger: Tagger) -> None:
    one = tagger.predict(SENTENCES, batch_size=1, k=3)
    all_at_once = tagger.predict(SENTENCES, batch_size=64, k=3)
    for a, b in zip(one, all_at_once, strict=True):
        assert a.tags == b.tags
        assert a.confidences == pytest.approx(b.confidences, **TOL)
        assert (a.energy is None) == (b.energy is None)
        if a.energy is not None:
            assert a.energy == pytest.approx(b.energy, **TOL)


@pytest.mark.parametrize(
    ("sentences", "options", "error", "words"),
    [
        ("w1 w2", {}, TypeError, "not one string"),
        (None, {}, TypeError, "not NoneType"),
        ([["w1", 3]], {}, TypeError, "sentence 1, token 2: expected a string, not int"),
        ([["w1"], 5], {}, TypeError, "sentence 2: expected a list of token strings"),
        ([["w1", ""]], {}, ValueError, "sentence 1, token 2: '' is empty"),
        ([["w1", "a b"]], {}, ValueError, "holds whitespace"),
        ([["w1"]], {"batch_size": 0}, ValueError, "batch_size must be at least 1, got 0"),
        ([["w1"]], {"batch_size": True}, TypeError, "batch_size must be an integer"),
        ([["w1"]], {"k": 0}, ValueError, "k must be at least 1, got 0"),
        ([["w1"]], {"decoder": "beam"}, ValueError, "unknown decoder 'beam'"),
    ],
)
@pytest.mark.parametrize("kind", ["spen"])
def test_bad_input_is_refused_clearly(
    tagger: Tagger, sentences: object, options: dict, error: type, words: str
) -> None:
    with pytest.raises(error, match=words):
        tagger.predict(sentences, **options)  # type: ignore[arg-type]


def test_a_file_that_is_no_spen_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        Tagger.load(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a spen checkpoint"):
        Tagger.load(other)


# ---------------------------------------------------------------------------------------
# The command line.


def run(*args: str, input: str = "w3 w4\n\nw1\n") -> str:
    result = CliRunner().invoke(app, ["tag", *args, "--device", "cpu"], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_tag_formats(tmp_path: Path) -> None:
    path = str(checkpoint_file(tmp_path, "spen"))
    tagged = Tagger.load(path, "cpu").predict(["w3 w4", "", "w1"], k=2)
    conll = run(path)
    assert conll == run(path, "--format", "conll")
    expected = "".join(
        "".join(f"{w}\t{t}\n" for w, t in zip(s.words, s.tags, strict=True)) + "\n" for s in tagged
    )
    assert conll == expected  # today's output: token<TAB>tag lines, a blank line after each
    text = run(path, "--format", "text").splitlines()
    assert text == [f"w3/{tagged[0].tags[0]} w4/{tagged[0].tags[1]}", "", f"w1/{tagged[2].tags[0]}"]
    rows = [json.loads(line) for line in run(path, "--format", "json", "--k", "2").splitlines()]
    assert [r["tokens"] for r in rows] == [["w3", "w4"], [], ["w1"]]
    assert rows[0]["tags"] == tagged[0].tags
    assert rows[0]["confidences"] == pytest.approx(tagged[0].confidences)
    assert rows[0]["marginals"][0] == pytest.approx(tagged[0].tokens[0].marginals)
    assert len(rows[0]["k_best"]) == 2 and len(rows[2]["k_best"]) == 2
    assert rows[1]["k_best"] is None and rows[1]["marginals"] is None


def test_tag_json_of_a_bilstm_has_no_exact_fields(tmp_path: Path) -> None:
    path = str(checkpoint_file(tmp_path, "local"))
    row = json.loads(run(path, "--format", "json", input="w3 w4\n"))
    assert row["marginals"] is None and row["k_best"] is None and row["search_error"] is None
    assert [sum(d.values()) for d in row["distributions"]] == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--format", "xml"], "--format: 'xml' is none of conll, text, json"),
        (["--k", "0"], "--k must be at least 1, got 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--batch-size", ""], "Invalid value for '--batch-size': Input should be a valid integer"),
    ],
)
def test_tag_refuses_bad_options_writing_nothing(
    tmp_path: Path, args: list[str], words: str
) -> None:
    path = str(checkpoint_file(tmp_path, "spen"))
    result = CliRunner().invoke(app, ["tag", path, *args], input="w3\n")
    assert result.exit_code == 2 and result.stdout == ""
    assert words in " ".join(result.stderr.replace("│", " ").split())
    assert "Traceback" not in result.output


def test_tag_refuses_a_file_that_is_no_checkpoint_writing_nothing(tmp_path: Path) -> None:
    notes = tmp_path / "notes.pt"
    notes.write_text("not a checkpoint\n")
    other = tmp_path / "other.pt"
    torch.save([1, 2], other)
    for path, words in (
        (tmp_path / "missing.pt", "missing.pt: no such checkpoint"),
        (notes, "notes.pt: not a readable spen checkpoint"),
        (other, "other.pt: not a spen checkpoint"),
    ):
        result = CliRunner().invoke(app, ["tag", str(path)], input="w3\n")
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(f"spen tag: error: {path}") and words in result.stderr
        assert result.stderr.count("\n") == 1
