"""Readers for the two raw corpora, and checks on what they hold.

Formats (see ``../shared/data/README.md``):

- Twitter POS (``twpos``): one ``token<TAB>tag`` per line, a blank line between tweets.
- CoNLL-2003 (``conll2003``): four space-separated columns ``token POS chunk tag``, a blank
  line between sentences, ``-DOCSTART-`` lines between documents (dropped).

Both read their lines through :mod:`spen.data.text`, the layer under every text input (strict
UTF-8, a byte-order mark and CRLF line ends accepted, lines ending at LF only, no lone CR, no
NUL, no token longer than ``MAX_TOKEN_CHARS``), strip trailing whitespace and treat
whitespace-only lines as blank. No column may be empty, and no CoNLL column may hold a tab (a
predictions file separates its columns with tabs). Anything else that does not fit the format
raises :class:`DataFormatError`, which names the file and the line.

Sentences are runs of consecutive non-blank lines, so token ``i`` of a sentence sits on
line ``sentence.line + i``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from spen.data.text import DataFormatError, PathLike, check_token, iter_lines, shown

DOCSTART = "-DOCSTART-"
_BIOES_TAG = re.compile(r"^([BIES])-(\S+)$")


@dataclass(frozen=True)
class Sentence:
    """One sentence (or tweet): its tokens, their gold tags, and the line of its first token."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.tags)} tags")


@dataclass(frozen=True)
class _Layout:
    """Column layout of one line format."""

    columns: tuple[str, ...]
    separator: str
    separator_name: str

    def describe(self) -> str:
        """Human-readable description, e.g. ``2 tab-separated columns (token<TAB>tag)``."""
        shown = {"\t": "<TAB>", " ": " "}[self.separator].join(self.columns)
        return f"{len(self.columns)} {self.separator_name}-separated columns ({shown})"


_TWPOS = _Layout(("token", "tag"), "\t", "tab")
_CONLL = _Layout(("token", "POS", "chunk", "tag"), " ", "space")


def read_lines(path: PathLike, missing: str | None = None) -> list[str]:
    """The lines of a text file (see :mod:`spen.data.text`), trailing whitespace stripped."""
    return [line.rstrip() for _, line in iter_lines(path, missing)]


def _split_line(line: str, lineno: int, layout: _Layout, path: PathLike) -> list[str]:
    """The fields of one non-blank line; checks their count and that none is empty."""
    fields = line.split(layout.separator)
    if len(fields) != len(layout.columns):
        found = f"{len(fields)} column(s) in line {shown(line)}"
        raise DataFormatError(path, lineno, found, layout.describe())
    for name, value in zip(layout.columns, fields, strict=True):
        if not value:
            found = f"empty {name} column in line {shown(line)}"
            raise DataFormatError(path, lineno, found, layout.describe() + ", none empty")
        if "\t" in value:
            found = f"a tab inside the {name} column in line {shown(line)}"
            raise DataFormatError(path, lineno, found, layout.describe() + ", no tab in any")
        check_token(value, path, lineno, f"{name} column")
    return fields


def _is_docstart(line: str) -> bool:
    """Whether a line is a CoNLL ``-DOCSTART-`` document separator."""
    return line.split(" ", 1)[0] == DOCSTART


def _group(
    lines: Sequence[str],
    path: PathLike,
    layout: _Layout,
    is_separator: Callable[[str], bool] | None = None,
) -> list[Sentence]:
    """Group non-blank lines into sentences, keeping the first and last column."""
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    for lineno, line in enumerate(lines, start=1):
        if not line or (is_separator is not None and is_separator(line)):
            if tokens:
                sentences.append(Sentence(tuple(tokens), tuple(tags), first))
                tokens, tags = [], []
            continue
        fields = _split_line(line, lineno, layout, path)
        if not tokens:
            first = lineno
        tokens.append(fields[0])
        tags.append(fields[-1])
    if tokens:
        sentences.append(Sentence(tuple(tokens), tuple(tags), first))
    return sentences


def _read(
    path: PathLike,
    layout: _Layout,
    is_separator: Callable[[str], bool] | None = None,
    missing: str | None = None,
) -> list[Sentence]:
    """Read one file in ``layout``; refuses a file without any sentence."""
    sentences = _group(read_lines(path, missing), path, layout, is_separator)
    if not sentences:
        found = "no sentences (the file is empty or holds only blank or -DOCSTART- lines)"
        raise DataFormatError(path, None, found, "sentences of " + layout.describe())
    return sentences


def read_twitter_pos(path: PathLike, missing: str | None = None) -> list[Sentence]:
    """Read a Twitter POS file (``token<TAB>tag`` per line, blank line between tweets).

    ``missing``: what the error for an absent file advises."""
    return _read(path, _TWPOS, missing=missing)


def read_conll2003(path: PathLike, missing: str | None = None) -> list[Sentence]:
    """Read a CoNLL-2003 file, keeping token and NER tag and dropping ``-DOCSTART-`` lines.

    ``missing``: what the error for an absent file advises."""
    return _read(path, _CONLL, _is_docstart, missing)


READERS: dict[str, Callable[..., list[Sentence]]] = {
    "twpos": read_twitter_pos,
    "conll2003": read_conll2003,
}


def read_corpus(path: PathLike, fmt: str, missing: str | None = None) -> list[Sentence]:
    """Read ``path`` in format ``fmt`` (one of ``READERS``: "twpos", "conll2003")."""
    try:
        reader = READERS[fmt]
    except KeyError:
        allowed = ", ".join(repr(name) for name in READERS)
        raise ValueError(f"unknown corpus format {fmt!r}; allowed: {allowed}") from None
    return reader(path, missing)


def check_tagset(sentences: Iterable[Sentence], tagset: Iterable[str], path: PathLike) -> None:
    """Raise DataFormatError at the first tag that is not in ``tagset`` (the training tags)."""
    known = set(tagset)
    for sentence in sentences:
        for i, (token, tag) in enumerate(zip(sentence.tokens, sentence.tags, strict=True)):
            if tag not in known:
                found = f"tag {tag!r} on token {token!r}, which the training tagset lacks"
                expected = f"one of the {len(known)} known tags: {', '.join(sorted(known))}"
                raise DataFormatError(path, sentence.line + i, found, expected)


def is_bioes_tag(tag: str) -> bool:
    """Whether ``tag`` is ``O`` or a BIOES prefix and an entity type (``B-PER``, ``S-LOC``)."""
    return _parse_bioes(tag) is not None


def _parse_bioes(tag: str) -> tuple[str, str] | None:
    """``(prefix, type)`` of a BIOES tag, ``("O", "")`` for ``O``, None if malformed."""
    if tag == "O":
        return "O", ""
    match = _BIOES_TAG.match(tag)
    return None if match is None else (match.group(1), match.group(2))


_OUTSIDE = ("O", "")


def _bioes_step(before: tuple[str, str], prev: str, tag: str) -> str | None:
    """Why ``prev -> tag`` is not a valid BIOES transition (None when it is valid).

    ``before`` is the parsed ``prev``; ``prev`` is ``<start>`` at the first token.
    """
    parsed = _parse_bioes(tag)
    if parsed is None:
        return "'O', or B-/I-/E-/S- and an entity type (e.g. 'B-PER')"
    prefix, kind = parsed
    if before[0] in "BI" and not (prefix in "IE" and kind == before[1]):
        return f"{prev} to be followed by I-{before[1]} or E-{before[1]}"
    if prefix in "IE" and before[0] not in "BI":
        return f"{tag} to follow B-{kind} or I-{kind}"
    return None


def _bioes_error(
    sentence: Sentence, i: int, prev: str, expected: str, path: PathLike
) -> DataFormatError:
    """Error for token ``i`` of ``sentence``, whose tag or transition from ``prev`` is bad."""
    token, tag = sentence.tokens[i], sentence.tags[i]
    if _parse_bioes(tag) is None:
        found = f"malformed BIOES tag {tag!r} on token {token!r}"
    else:
        found = f"invalid BIOES transition {prev} -> {tag} at token {token!r}"
    return DataFormatError(path, sentence.line + i, found, expected)


def _check_bioes_sentence(sentence: Sentence, path: PathLike) -> None:
    """Raise DataFormatError at the first invalid BIOES tag or transition of one sentence."""
    prev, before = "<start>", _OUTSIDE
    for i, tag in enumerate(sentence.tags):
        expected = _bioes_step(before, prev, tag)
        if expected is not None:
            raise _bioes_error(sentence, i, prev, expected, path)
        prev, before = tag, _parse_bioes(tag) or _OUTSIDE
    if before[0] in "BI":
        found = f"sentence ends inside an entity: {prev} -> <end> at token {sentence.tokens[-1]!r}"
        expected = f"the entity closed by E-{before[1]}"
        raise DataFormatError(path, sentence.line + len(sentence.tags) - 1, found, expected)


def check_bioes(sentences: Iterable[Sentence], path: PathLike) -> None:
    """Raise DataFormatError at the first ill-formed BIOES tag sequence among ``sentences``."""
    for sentence in sentences:
        _check_bioes_sentence(sentence, path)


def bioes_to_iob2(tags: Iterable[str]) -> list[str]:
    """The IOB2 form of BIOES tags: ``S-X`` becomes ``B-X``, ``E-X`` becomes ``I-X``."""
    mapping = {"S-": "B-", "E-": "I-"}
    return [mapping.get(tag[:2], tag[:2]) + tag[2:] for tag in tags]
