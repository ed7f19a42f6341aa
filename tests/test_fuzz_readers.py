"""Property-based: arbitrary bytes fed to every reader, through the command that reads them.

For each text input (POS data, NER data, embeddings text file, predictions file, `spen tag`
input) the command either succeeds with a valid result, or fails as a user error: exit
status 2, one line naming the file, no traceback, nothing written (an older output folder or
file is left byte for byte as it was; `spen tag` prints nothing). `EXAMPLES` inputs per reader:
a quarter raw bytes, the rest lines of the format with damage mixed in.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from spen.data.text import MAX_TOKEN_CHARS
from tests.test_bad_input import (
    GOOD_POS,
    OUTPUTS,
    make_project,
    run,
    snapshot,
    split_path,
    tag_sentences,
    write_split,
)

EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- inputs ------------------------------------------------------------------------------------

DAMAGE = [
    b"\x00",
    b"\r",
    b"\r\n",
    b"\xff",
    b"\xe9",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xef\xbb\xbf",
    b"\x0c",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b"\x1b[31m",
    b" ",
    b"\t",
    b"\n",
    b"\n\n",
    b"x" * (MAX_TOKEN_CHARS + 1),
]
TOKENS = st.one_of(
    st.sampled_from(
        [b"I", b"win", b"ok", b"caf\xc3\xa9", b"@Bob", b"http://t.co/x", b"<unk>", b"<pad>"]
        + [b"-DOCSTART-", b"\xc2\xa0", b"x\x1b[0m", b"\xe2\x80\x8b", b"x" * MAX_TOKEN_CHARS]
    ),
    st.text(min_size=1, max_size=4).map(str.encode),
)
POS_TAGS = st.sampled_from([b"O", b"V", b"N", b"!", b"^", b","])
NER_TAGS = st.one_of(
    st.sampled_from([b"O", b"S-ORG", b"S-LOC"]),
    st.sampled_from([b"B-PER", b"I-PER", b"E-PER", b"B-", b"X", b"o"]),
)
GOOD_NUMBERS = [b"0.1", b"-2", b"1e-3", b".5", b"3.", b"+0.25"]
BAD_NUMBERS = [b"nan", b"-inf", b"1e39", b"1_0", b"", b"0x1", b"\xd9\xa1"]
NUMBERS = st.one_of(st.sampled_from(GOOD_NUMBERS), st.sampled_from(BAD_NUMBERS))
SEPARATORS = st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b"", b"\t", b" "])


def damaged(line: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Files of `line`s, with blank lines and damage mixed in; or raw bytes."""
    piece = st.one_of(line, line, line, line, line, st.just(b""), st.sampled_from(DAMAGE))
    lines = st.lists(st.tuples(piece, SEPARATORS), max_size=12)
    files = lines.map(lambda ls: b"".join(p + s for p, s in ls))
    return st.one_of(st.binary(max_size=200), files, files, files)


def joined(*parts: st.SearchStrategy[bytes], sep: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(*parts).map(sep.join)


POS_FILES = damaged(joined(TOKENS, POS_TAGS, sep=b"\t"))
NER_FILES = damaged(joined(TOKENS, st.just(b"NN"), st.just(b"I-NP"), NER_TAGS, sep=b" "))
VECTOR_FILES = damaged(
    st.tuples(
        TOKENS,
        st.one_of(
            st.lists(st.sampled_from(GOOD_NUMBERS), min_size=3, max_size=3),
            st.lists(NUMBERS, max_size=4),
        ),
    ).map(lambda t: b" ".join([t[0], *t[1]]))
)
PREDICTION_FILES = damaged(
    joined(TOKENS, st.one_of(POS_TAGS, NER_TAGS), st.one_of(POS_TAGS, NER_TAGS), sep=b"\t")
)
WHITESPACE = st.sampled_from([b" ", b"  ", b"\t", b"\x0c", b"\xc2\x85", b"\xe2\x80\xa8", b"\x0b"])
TAG_FILES = damaged(
    st.lists(st.tuples(TOKENS, WHITESPACE), max_size=5).map(
        lambda ts: b"".join(t + w for t, w in ts)
    )
)

# --- the project, and checks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project with good data, its preprocessed folder (`old/pos`, the older output each
    example starts from) and a tiny trained model (`run/best.pt`). The params are loaded once
    (they are not what is fuzzed here)."""
    import spen.cli
    from spen.config import load_params

    root = make_project(tmp_path_factory.mktemp("fuzz") / "proj")
    for args in (
        ["preprocess", "pos", "--out", "old/pos"],
        ["preprocess", "pos"],
        ["train", "pos", "bilstm", "paper", "--profile", "smoke", "--out", "run"],
    ):
        result = run(root, *args)
        assert result.exit_code == 0, result.output
    params = load_params(root / "params")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spen.cli, "load_params", lambda params_dir: params)
        yield root


@contextlib.contextmanager
def example_dir(root: Path) -> Iterator[Path]:
    """A fresh folder inside the project for one example, removed afterwards."""
    path = Path(tempfile.mkdtemp(dir=root, prefix="example-"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def user_error(result, command: str, names: str) -> None:
    """The result is a one-line user error of `command` naming the file `names`."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.split("\n")
    assert len(lines) == 2 and lines[1] == "", result.stderr
    assert lines[0].startswith(f"spen {command}: error: {names}"), (lines[0], names)
    assert "Traceback" not in result.output


def no_crash(result) -> None:
    """Exit 0 or 2, no exception; the outcome is counted (`--hypothesis-show-statistics`)."""
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 0:
        event("valid result")
    else:  # what was wrong, in a word or three: "invalid UTF-8 byte", "3 column(s)", ...
        what = result.stderr.partition(": error: ")[2].split(": ", 1)[-1]
        event("refused: " + " ".join(what.split()[:3]))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def check_preprocess(root: Path, out: Path, result, names: str, before: dict) -> None:
    """Success: a whole, valid folder; failure: one line naming `names`, `out` untouched."""
    from spen.data.prepared import SPLITS, load_prepared

    no_crash(result)
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left
    if result.exit_code == 2:
        user_error(result, "preprocess", names)
        assert snapshot(out) == before
        return
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    summary = json.loads(result.stdout)
    assert json.loads((out / "summary.json").read_text()) == summary
    prepared = load_prepared(out)
    for split in SPLITS:
        rows = prepared.split(split)
        assert len(rows) == summary["sentences"][split] > 0
        for tokens in rows.tokens:
            assert tokens and all(0 < len(t) <= MAX_TOKEN_CHARS for t in tokens)
            assert not any(c in t for t in tokens for c in "\n\r\0")
    import numpy as np

    assert np.isfinite(prepared.embeddings).all()
    assert prepared.embeddings.shape[0] == len(prepared.vocabs.words)


def preprocess_example(root: Path, task: str, data: bytes) -> None:
    write_split(root, task, data)
    with example_dir(root) as where:
        out = where / task
        shutil.copytree(root / "old" / "pos", out)
        before = snapshot(out)
        result = run(root, "preprocess", task, "--out", str(out))
        check_preprocess(root, out, result, str(split_path(root, task)), before)


# --- one property per reader ---------------------------------------------------------------


@FUZZ
@given(POS_FILES)
def test_fuzz_pos_data_file(fuzz_project: Path, data: bytes) -> None:
    preprocess_example(fuzz_project, "pos", data)


@FUZZ
@given(NER_FILES)
def test_fuzz_ner_data_file(fuzz_project: Path, data: bytes) -> None:
    preprocess_example(fuzz_project, "ner", data)


@FUZZ
@given(VECTOR_FILES)
def test_fuzz_embeddings_text_file(fuzz_project: Path, data: bytes) -> None:
    write_split(fuzz_project, "pos", GOOD_POS * 5)
    vectors = fuzz_project / "vectors.txt"
    vectors.write_bytes(data)
    with example_dir(fuzz_project) as where:
        out = where / "pos"
        shutil.copytree(fuzz_project / "old" / "pos", out)
        before = snapshot(out)
        result = run(fuzz_project, "preprocess", "pos", "--out", str(out))
        check_preprocess(fuzz_project, out, result, str(vectors), before)


@FUZZ
@given(PREDICTION_FILES)
def test_fuzz_predictions_file(fuzz_project: Path, data: bytes) -> None:
    with example_dir(fuzz_project) as where:
        pred, out = where / "test.conll", where / "test.json"
        pred.write_bytes(data)
        out.write_text("older scores\n")
        result = run(fuzz_project, "score", str(pred), "--out", str(out))
        no_crash(result)
        assert sorted(p.name for p in where.iterdir()) == ["test.conll", "test.json"]
        if result.exit_code == 2:
            user_error(result, "score", str(pred))
            assert out.read_text() == "older scores\n"
            return
        scores = json.loads(out.read_text())
        assert json.loads(result.stdout) == scores
        assert 0 <= scores["accuracy"] <= 100 and scores["sentences"] > 0


def expected_lines(data: bytes) -> list[list[str]]:
    """The tokens of each line of valid `spen tag` input: lines end at LF only."""
    text = data.decode("utf-8").removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r").split() for line in lines]


@FUZZ
@given(TAG_FILES)
@example(b"\xef\xbb\xbf")  # found by CI-style fuzzing: the byte-order mark alone, no line
def test_fuzz_tag_input(fuzz_project: Path, data: bytes) -> None:
    model = fuzz_project / "run" / "best.pt"
    with example_dir(fuzz_project) as where:
        text = where / "in.txt"
        text.write_bytes(data)
        result = run(fuzz_project, "tag", str(model), str(text), "--device", "cpu")
        no_crash(result)
        if result.exit_code == 2:
            user_error(result, "tag", str(text))
            return
        sentences = tag_sentences(result.stdout)
        assert [[row.split("\t")[0] for row in s] for s in sentences] == expected_lines(data)
        assert all(len(row.split("\t")) == 2 for s in sentences for row in s)
