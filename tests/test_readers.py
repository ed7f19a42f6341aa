"""Tests for the raw-data readers, the tagset and BIOES checks, and token normalisation."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spen.data.normalize import normalize_token, normalize_twitter
from spen.data.readers import (
    DataFormatError,
    Sentence,
    bioes_to_iob2,
    check_bioes,
    check_tagset,
    read_conll2003,
    read_corpus,
    read_twitter_pos,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TWPOS_GOOD = "I\tO\npredict\tV\n\nGot\tV\nCliff\t^\n.\t,\n"
CONLL_GOOD = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP I-NP S-ORG\n"
    "rejects VBZ I-VP O\n"
    "\n"
    "Peter NNP I-NP B-PER\n"
    "Blackburn NNP I-NP E-PER\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "BRUSSELS NNP I-NP S-LOC\n"
)


def write(tmp_path: Path, content: str | bytes, name: str = "data.txt") -> Path:
    """Write `content` (text as UTF-8 with LF line ends, or raw bytes) to a file."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def expect_error(reader, path: Path, line: int | None) -> DataFormatError:
    """Run `reader` on `path`; assert it raises DataFormatError at `line` naming `path`."""
    with pytest.raises(DataFormatError) as info:
        reader(path)
    err = info.value
    assert err.line == line
    assert str(path) in str(err)
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(err).startswith(prefix)
    return err


# --- good files ----------------------------------------------------------------------------


def test_twitter_pos_good_file(tmp_path: Path) -> None:
    sentences = read_twitter_pos(write(tmp_path, TWPOS_GOOD))
    assert sentences == [
        Sentence(("I", "predict"), ("O", "V"), 1),
        Sentence(("Got", "Cliff", "."), ("V", "^", ","), 4),
    ]


def test_conll_good_file_drops_docstart(tmp_path: Path) -> None:
    sentences = read_conll2003(write(tmp_path, CONLL_GOOD))
    assert sentences == [
        Sentence(("EU", "rejects"), ("S-ORG", "O"), 3),
        Sentence(("Peter", "Blackburn"), ("B-PER", "E-PER"), 6),
        Sentence(("BRUSSELS",), ("S-LOC",), 11),
    ]
    assert all("-DOCSTART-" not in s.tokens for s in sentences)


def test_conll_docstart_without_blank_line_ends_sentence(tmp_path: Path) -> None:
    text = "A DT I-NP O\n-DOCSTART- -X- -X- O\nB NN I-NP O\n"
    sentences = read_conll2003(write(tmp_path, text))
    assert [s.tokens for s in sentences] == [("A",), ("B",)]
    assert [s.line for s in sentences] == [1, 3]


def test_file_without_final_newline(tmp_path: Path) -> None:
    sentences = read_twitter_pos(write(tmp_path, "a\tN\nb\tV"))
    assert sentences == [Sentence(("a", "b"), ("N", "V"), 1)]


def test_blank_line_runs_give_no_empty_sentences(tmp_path: Path) -> None:
    text = "\n\n  \na\tN\n\n\n\t\n \r\nb\tV\n\n\n"
    sentences = read_twitter_pos(write(tmp_path, text))
    assert sentences == [Sentence(("a",), ("N",), 4), Sentence(("b",), ("V",), 9)]


def test_trailing_whitespace_is_stripped(tmp_path: Path) -> None:
    sentences = read_conll2003(write(tmp_path, "EU NNP I-NP S-ORG  \t\nx NN I-NP O \n"))
    assert sentences == [Sentence(("EU", "x"), ("S-ORG", "O"), 1)]


def test_non_breaking_space_token_is_kept(tmp_path: Path) -> None:
    # The real oct27.traindev holds a token that is a lone U+00A0.
    sentences = read_twitter_pos(write(tmp_path, "a\tN\n\u00a0\tG\n"))
    assert sentences[0].tokens == ("a", "\u00a0")


@pytest.mark.parametrize(
    ("reader", "text"), [(read_twitter_pos, TWPOS_GOOD), (read_conll2003, CONLL_GOOD)]
)
def test_crlf_and_bom_give_identical_sentences(tmp_path: Path, reader, text: str) -> None:
    plain = reader(write(tmp_path, text, "plain"))
    crlf = reader(write(tmp_path, text.replace("\n", "\r\n"), "crlf"))
    bom = reader(write(tmp_path, b"\xef\xbb\xbf" + text.encode(), "bom"))
    both = reader(write(tmp_path, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(), "both"))
    assert crlf == plain
    assert bom == plain
    assert both == plain


def test_read_corpus_dispatches(tmp_path: Path) -> None:
    assert read_corpus(write(tmp_path, TWPOS_GOOD), "twpos") == read_twitter_pos(
        tmp_path / "data.txt"
    )
    path = write(tmp_path, CONLL_GOOD, "ner")
    assert read_corpus(path, "conll2003") == read_conll2003(path)


def test_read_corpus_unknown_format_names_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'twpos', 'conll2003'") as info:
        read_corpus(write(tmp_path, TWPOS_GOOD), "conll")
    assert not isinstance(info.value, DataFormatError)


TOKEN = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cf", "Zs", "Zl", "Zp", "Cc")),
    min_size=1,
    max_size=6,
)
TAG = st.sampled_from(["O", "N", "V", "B-PER", "E-PER", "S-LOC"])
SENTENCES = st.lists(st.lists(st.tuples(TOKEN, TAG), min_size=1, max_size=5), min_size=1)


@settings(max_examples=50, deadline=None)
@given(SENTENCES, st.booleans())
def test_written_sentences_read_back(tmp_path_factory, sentences, crlf: bool) -> None:
    lines: list[str] = []
    for sentence in sentences:
        lines += [f"{token} POS CHUNK {tag}" for token, tag in sentence] + [""]
    text = ("\r\n" if crlf else "\n").join(lines)
    path = write(tmp_path_factory.mktemp("rt"), text)
    read = read_conll2003(path)
    assert [list(zip(s.tokens, s.tags, strict=True)) for s in read] == [
        [tuple(pair) for pair in sentence] for sentence in sentences
    ]


# --- bad files -----------------------------------------------------------------------------


def test_twpos_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path, "a\tN\n\nb\tV\textra\n")
    err = expect_error(read_twitter_pos, path, 3)
    assert "3 column" in str(err)
    assert "expected 2 tab-separated columns" in str(err)


def test_conll_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path, "EU NNP I-NP S-ORG\nrejects VBZ I-VP O extra\n")
    err = expect_error(read_conll2003, path, 2)
    assert "5 column" in str(err)
    assert "expected 4 space-separated columns" in str(err)


def test_conll_tab_separated_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "EU\tNNP\tI-NP\tS-ORG\n")
    err = expect_error(read_conll2003, path, 1)
    assert "1 column" in str(err)


def test_twpos_truncated_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a\tN\nGot\n")
    err = expect_error(read_twitter_pos, path, 2)
    assert "1 column" in str(err)
    assert "'Got'" in str(err)


def test_twpos_empty_tag_after_tab(tmp_path: Path) -> None:
    expect_error(read_twitter_pos, write(tmp_path, "a\tN\n\n\nb\t\n"), 4)


def test_conll_truncated_line(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP I-NP S-ORG\nrejects VBZ I-VP\n")
    err = expect_error(read_conll2003, path, 4)
    assert "3 column" in str(err)


def test_twpos_empty_token(tmp_path: Path) -> None:
    err = expect_error(read_twitter_pos, write(tmp_path, "a\tN\n\tV\n"), 2)
    assert "empty token" in str(err)


def test_conll_empty_field(tmp_path: Path) -> None:
    err = expect_error(read_conll2003, write(tmp_path, "EU NNP I-NP S-ORG\nx  I-NP O\n"), 2)
    assert "empty POS" in str(err)


def test_invalid_utf8_names_line_and_byte_offset(tmp_path: Path) -> None:
    data = b"a\tN\n\nb\tV\ncaf\xe9\tN\n"
    path = write(tmp_path, data)
    err = expect_error(read_twitter_pos, path, 4)
    offset = data.index(b"\xe9")
    assert f"byte offset {offset}" in str(err)
    assert "0xe9" in str(err)


def test_invalid_utf8_offset_counts_the_bom(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfa\tN\n\xff\tV\n"
    err = expect_error(read_twitter_pos, write(tmp_path, data), 2)
    offset = data.index(b"\xff")
    assert f"byte offset {offset}" in str(err)


@pytest.mark.parametrize("reader", [read_twitter_pos, read_conll2003])
@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf", b"\r\n\r\n"])
def test_empty_file(tmp_path: Path, reader, content: bytes) -> None:
    err = expect_error(reader, write(tmp_path, content), None)
    assert "no sentences" in str(err)


def test_conll_only_docstart_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\n-DOCSTART- -X- -X- O\n\n")
    expect_error(read_conll2003, path, None)


def test_lone_cr_is_refused_naming_the_line(tmp_path: Path) -> None:
    err = expect_error(read_twitter_pos, write(tmp_path, "a\tN\r\nb\tV\rc\tN\n"), 2)
    assert "carriage return (CR) inside the line, at character 4" in str(err)
    assert "expected LF or CRLF line ends" in str(err)


@pytest.mark.parametrize("reader", [read_twitter_pos, read_conll2003])
def test_nul_is_refused_naming_the_line(tmp_path: Path, reader) -> None:
    text = "a\tN\n\nb\x00\tV\n" if reader is read_twitter_pos else "a N N O\n\nb\x00 N N O\n"
    err = expect_error(reader, write(tmp_path, text), 3)
    assert "a NUL character at character 2 of the line" in str(err)


@pytest.mark.parametrize("sep", ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"])
def test_only_lf_ends_a_line(tmp_path: Path, sep: str) -> None:
    """str.splitlines() would end a line at each of these; the readers keep them in the token."""
    sentences = read_twitter_pos(write(tmp_path, f"a{sep}b\tN\nc\tV\n"))
    assert sentences == [Sentence((f"a{sep}b", "c"), ("N", "V"), 1)]
    sentences = read_conll2003(write(tmp_path, f"a{sep}b NN I-NP O\n", "ner"))
    assert sentences[0].tokens == (f"a{sep}b",)


def test_tab_inside_a_conll_column_is_refused(tmp_path: Path) -> None:
    err = expect_error(read_conll2003, write(tmp_path, "EU NNP I-NP S-ORG\na\tb NN I-NP O\n"), 2)
    assert "a tab inside the token column" in str(err)


def test_token_length_limit(tmp_path: Path) -> None:
    from spen.data.text import MAX_TOKEN_CHARS

    longest = "x" * MAX_TOKEN_CHARS
    assert read_twitter_pos(write(tmp_path, f"{longest}\tN\n"))[0].tokens == (longest,)
    err = expect_error(read_twitter_pos, write(tmp_path, f"a\tN\n{longest}y\tN\n"), 2)
    assert "a token column of 1,001 characters" in str(err)
    err = expect_error(read_conll2003, write(tmp_path, f"a NN I-NP {longest}y\n"), 1)
    assert "a tag column of 1,001 characters" in str(err)


def test_line_length_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import spen.data.text

    monkeypatch.setattr(spen.data.text, "MAX_LINE_BYTES", 16)
    assert read_twitter_pos(write(tmp_path, "a\tN\n" + "b" * 14 + "\tV\n"))  # 16 bytes
    err = expect_error(read_twitter_pos, write(tmp_path, "a\tN\n" + "b" * 15 + "\tV\n"), 2)
    assert "a line longer than 16 bytes" in str(err)


def test_a_file_that_cannot_be_read_is_named_with_its_reason(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    assert "is a folder; expected a file" in str(expect_error(read_twitter_pos, folder, None))
    missing = tmp_path / "missing"
    err = expect_error(read_twitter_pos, missing, None)
    assert "missing (No such file or directory)" in str(err)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert "symbolic-link loop" in str(expect_error(read_twitter_pos, loop, None))
    with pytest.raises(DataFormatError, match="run spen fetch"):
        read_corpus(missing, "twpos", "run spen fetch")


def test_error_is_a_value_error_and_pickles(tmp_path: Path) -> None:
    err = DataFormatError(tmp_path / "f", 7, "found x", "y")
    assert isinstance(err, ValueError)
    assert str(err) == f"{tmp_path / 'f'}:7: found x; expected y"
    assert (err.path, err.line, err.expected) == (str(tmp_path / "f"), 7, "y")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
    assert str(DataFormatError("f", None, "all wrong")) == "f: all wrong"


# --- tagset and BIOES checks ---------------------------------------------------------------


def test_tag_outside_tagset(tmp_path: Path) -> None:
    path = write(tmp_path, "a\tN\n\nb\tV\nc\tQ\n")
    sentences = read_twitter_pos(path)
    check_tagset(sentences[:1], {"N", "V"}, path)
    with pytest.raises(DataFormatError) as info:
        check_tagset(sentences, {"N", "V"}, path)
    assert info.value.line == 4
    assert str(path) in str(info.value)
    assert "'Q'" in str(info.value)
    assert "N, V" in str(info.value)


def ner_file(tmp_path: Path, tags: list[str]) -> Path:
    """A CoNLL file: one good sentence on lines 1-2, then `tags` from line 4 on."""
    lines = ["A NN I-NP S-PER", "b NN I-NP O", ""]
    lines += [f"w{i} NN I-NP {tag}" for i, tag in enumerate(tags)]
    return write(tmp_path, "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("tags", "bad", "shown"),
    [
        (["B-PER", "O"], 1, "B-PER -> O"),
        (["O", "I-PER", "E-PER"], 1, "O -> I-PER"),
        (["B-PER", "E-LOC"], 1, "B-PER -> E-LOC"),
        (["O", "B-MISC"], 1, "B-MISC -> <end>"),
        (["B-PER", "I-PER"], 1, "I-PER -> <end>"),
        (["E-ORG"], 0, "<start> -> E-ORG"),
        (["B-PER", "S-PER"], 1, "B-PER -> S-PER"),
        (["B-PER", "B-PER", "E-PER"], 1, "B-PER -> B-PER"),
        (["S-LOC", "I-LOC", "E-LOC"], 1, "S-LOC -> I-LOC"),
        (["B-PER", "E-PER", "E-PER"], 2, "E-PER -> E-PER"),
        (["B-PER", "I-PER", "I-LOC", "E-LOC"], 2, "I-PER -> I-LOC"),
    ],
)
def test_invalid_bioes_transition(tmp_path: Path, tags: list[str], bad: int, shown: str) -> None:
    path = ner_file(tmp_path, tags)
    sentences = read_conll2003(path)
    with pytest.raises(DataFormatError) as info:
        check_bioes(sentences, path)
    assert info.value.line == 4 + bad
    assert str(path) in str(info.value)
    assert shown in str(info.value)


@pytest.mark.parametrize("tag", ["B_PER", "X-PER", "B-", "o", "PER", "I-", "O-PER", "b-PER"])
def test_malformed_bioes_tag(tmp_path: Path, tag: str) -> None:
    path = ner_file(tmp_path, ["O", tag, "O"])
    with pytest.raises(DataFormatError) as info:
        check_bioes(read_conll2003(path), path)
    assert info.value.line == 5
    assert "malformed" in str(info.value)
    assert repr(tag) in str(info.value)


def test_valid_bioes_passes(tmp_path: Path) -> None:
    tags = ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-ORG", "E-ORG", "S-ORG", "B-X", "E-X"]
    path = ner_file(tmp_path, tags)
    check_bioes(read_conll2003(path), path)


def test_bioes_to_iob2() -> None:
    tags = ["S-LOC", "O", "B-PER", "I-PER", "E-PER", "B-ORG", "E-ORG"]
    assert bioes_to_iob2(tags) == ["B-LOC", "O", "B-PER", "I-PER", "I-PER", "B-ORG", "I-ORG"]
    assert bioes_to_iob2([]) == []


# --- normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "normal"),
    [
        ("Hello", "hello"),
        ("LOL", "lol"),
        ("@Bob", "<@MENTION>"),
        ("@bob_99's", "<@MENTION>"),
        ("@", "@"),
        ("me@example.com", "me@example.com"),
        ("http://bit.ly/9Dv5sQ", "<URL>"),
        ("HTTPS://Example.org/x?y=1", "<URL>"),
        ("www.Google.com", "<URL>"),
        ("bit.ly/xyz", "<URL>"),
        ("4sq.com/", "<URL>"),
        ("hotels.com", "<URL>"),
        ("NYTimes.com", "<URL>"),
        ("U.S.", "u.s."),
        ("e.g.", "e.g."),
        ("a.m.", "a.m."),
        ("3.5", "3.5"),
        ("http", "http"),
        ("#Hashtag", "#hashtag"),
        (":)", ":)"),
    ],
)
def test_normalize_twitter(token: str, normal: str) -> None:
    assert normalize_twitter(token) == normal
    assert normalize_token(token, "twitter") == normal


def test_normalize_token_schemes() -> None:
    assert normalize_token("@Bob", "lower") == "@bob"
    assert normalize_token("http://X.com", "lower") == "http://x.com"
    assert normalize_token("Hello", "none") == "Hello"
    with pytest.raises(ValueError, match="'twitter', 'lower', 'none'"):
        normalize_token("x", "upper")


# --- the real files ------------------------------------------------------------------------

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"raw data not at {DATA}")


@needs_data
def test_real_twitter_pos_counts() -> None:
    train = read_twitter_pos(DATA / "twpos-v0.3" / "oct27.traindev")
    tagset = {tag for s in train for tag in s.tags}
    assert len(train) == 1327
    assert len(tagset) == 25
    for name, count in [("oct27.test", 500), ("daily547.conll", 547)]:
        path = DATA / "twpos-v0.3" / name
        sentences = read_corpus(path, "twpos")
        assert len(sentences) == count
        check_tagset(sentences, tagset, path)


@needs_data
def test_real_conll2003_counts() -> None:
    paths = {s: DATA / "conll2003" / f"eng.{s}.bioes.conll" for s in ("train", "dev", "test")}
    splits = {s: read_corpus(p, "conll2003") for s, p in paths.items()}
    tagset = {tag for s in splits["train"] for tag in s.tags}
    assert len(tagset) == 17
    assert {s: len(v) for s, v in splits.items()} == {"train": 14041, "dev": 3250, "test": 3453}
    for split, sentences in splits.items():
        check_tagset(sentences, tagset, paths[split])
        check_bioes(sentences, paths[split])
    entities = sum(tag[:2] in ("B-", "S-") for s in splits["test"] for tag in s.tags)
    assert entities == 5648


def test_a_file_of_the_byte_order_mark_alone_has_no_line(tmp_path: Path) -> None:
    """The mark is no content: like an empty file, no line (not one empty line)."""
    from spen.data.text import iter_lines, read_token_lines

    alone = write(tmp_path, b"\xef\xbb\xbf", "bom-only")
    assert list(iter_lines(alone)) == [] and read_token_lines(alone) == []
    assert read_token_lines(write(tmp_path, b"\xef\xbb\xbf\n", "bom-lf")) == [[]]
