"""The one reader layer under every text input spen reads.

Raw data files (``spen.data.readers``), embeddings text files (``spen.data.embeddings``),
prediction files (``spen score``) and the text ``spen tag`` tags all go through
:func:`iter_lines`, so they get the same checks and every fault the same error shape,
``FILE:LINE: what is wrong; expected ...`` (:class:`DataFormatError`):

- the file must open and read: a missing file, a folder, a symbolic-link loop or an unreadable
  file is named with its reason;
- strict UTF-8; a byte-order mark at the start of the file is dropped; an invalid byte is named
  by its line and its byte offset;
- a line ends at LF (``\\n``) and nowhere else; a CR right before the LF (CRLF) is dropped. A CR
  anywhere else (the lone-CR line ends of old Mac files) and a NUL character (binary data) are
  refused. Every other character belongs to its line: form feed, NEL (U+0085) and U+2028 are
  not line ends here, unlike in ``str.splitlines()``;
- no line longer than :data:`MAX_LINE_BYTES`, and no token (a column of a data or predictions
  file, a whitespace-separated word of ``spen tag`` input) longer than
  :data:`MAX_TOKEN_CHARS` characters.

What a line must hold is the format's business (columns, tags, numbers); what a line is, is
decided here once.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
from collections.abc import Iterator
from typing import BinaryIO

PathLike = str | os.PathLike[str]

#: the longest token any reader accepts: the real corpora's longest is 87 characters; a longer
#: "token" is a broken file, and the character CNN would embed every one of its characters
MAX_TOKEN_CHARS = 1000
#: the longest line any reader accepts (a memory guard against a file without line ends)
MAX_LINE_BYTES = 16 * 1024 * 1024
_MAX_SHOWN = 80


class DataFormatError(ValueError):
    """An input file does not have the expected format, or cannot be read.

    ``path`` is the file, ``line`` the 1-based line at fault (None when the fault is the
    file as a whole), ``expected`` what should have been there (None when ``message``
    already says so). ``message`` says what was found and what was expected.
    """

    def __init__(
        self, path: PathLike, line: int | None, found: str, expected: str | None = None
    ) -> None:
        super().__init__(path, line, found, expected)
        self.path = os.fspath(path)
        self.line = line
        self.found = found
        self.expected = expected
        self.message = found if expected is None else f"{found}; expected {expected}"

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


def shown(text: str) -> str:
    """``repr`` of a line or token, shortened for error messages."""
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    return repr(text)


def unreadable(path: PathLike, err: OSError, missing: str | None = None) -> DataFormatError:
    """The error for a file that cannot be opened or read; ``missing``: what to do if absent."""
    reason = err.strerror or str(err)
    if isinstance(err, FileNotFoundError):
        if os.path.islink(path):
            found = f"a symbolic link to {os.readlink(path)!r}, which is missing"
            return DataFormatError(path, None, found, missing)
        return DataFormatError(path, None, f"missing ({reason})", missing)
    if isinstance(err, IsADirectoryError):
        return DataFormatError(path, None, "is a folder", missing or "a file")
    if err.errno == errno.ELOOP:
        return DataFormatError(path, None, f"a symbolic-link loop ({reason})", missing or "a file")
    return DataFormatError(path, None, f"cannot read ({reason})", missing or "a readable file")


@contextlib.contextmanager
def open_input(path: PathLike, missing: str | None = None) -> Iterator[BinaryIO]:
    """``path`` opened for reading bytes; an OSError while opening or reading it becomes a
    DataFormatError naming the file and the reason (``missing``: the advice for an absent one)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, errors mapped on the way
    except OSError as err:
        raise unreadable(path, err, missing) from None
    with handle:
        try:
            yield handle
        except OSError as err:
            raise unreadable(path, err, missing) from None


def _decode_error(path: PathLike, raw: bytes, line: int, offset: int, pos: int) -> DataFormatError:
    """Error for an invalid UTF-8 byte at ``raw[pos]``; ``raw`` starts at file ``offset``."""
    found = (
        f"invalid UTF-8 byte 0x{raw[pos]:02x} at byte offset {offset + pos} of the file "
        f"(byte {pos + 1} of the line)"
    )
    return DataFormatError(path, line, found, "a UTF-8 encoded text file")


def decode_line(raw: bytes, path: PathLike, line: int, offset: int = 0) -> str:
    """One line's text: ``raw`` (its bytes, LF removed; at file byte ``offset``) checked.

    A final CR (CRLF) is dropped; invalid UTF-8, any other CR and NUL are DataFormatErrors.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _decode_error(path, raw, line, offset, err.start) from None
    if text.endswith("\r"):
        text = text[:-1]
    if "\r" in text:
        at = text.index("\r") + 1
        found = f"a carriage return (CR) inside the line, at character {at}: {shown(text)}"
        raise DataFormatError(path, line, found, "LF or CRLF line ends (a lone CR ends no line)")
    if "\0" in text:
        at = text.index("\0") + 1
        found = f"a NUL character at character {at} of the line (binary data?)"
        raise DataFormatError(path, line, found, "text")
    return text


def iter_stream(handle: BinaryIO, path: PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line of an open binary stream (see the module doc).

    A file ending in LF has no empty last line; an empty file (or one holding only the UTF-8
    byte-order mark) has no line at all.
    """
    offset = 0
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        start = offset
        offset += len(raw)
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
            start += len(codecs.BOM_UTF8)
            if not raw:  # the mark alone: an empty file
                return
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        elif len(raw) > MAX_LINE_BYTES:
            found = f"a line longer than {MAX_LINE_BYTES:,} bytes"
            raise DataFormatError(path, number, found, "text lines (is this a text file?)")
        yield number, decode_line(raw, path, number, start)


def iter_lines(path: PathLike, missing: str | None = None) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line of the file ``path`` (see the module doc)."""
    with open_input(path, missing) as handle:
        yield from iter_stream(handle, path)


def check_token(token: str, path: PathLike, line: int, what: str = "token") -> None:
    """Refuse a token (or other field) longer than :data:`MAX_TOKEN_CHARS` characters."""
    if len(token) > MAX_TOKEN_CHARS:
        found = f"a {what} of {len(token):,} characters ({shown(token)})"
        raise DataFormatError(path, line, found, f"at most {MAX_TOKEN_CHARS:,} characters")


def read_token_lines(
    path: PathLike | None = None, stream: BinaryIO | None = None
) -> list[list[str]]:
    """Whitespace-separated tokens of each line of ``spen tag`` input: one list per line.

    ``path`` None reads ``stream`` (standard input, named ``<stdin>`` in errors). Lines split
    at LF only, so the output stays one sentence per input line; a whitespace-only line is
    an empty sentence.
    """
    if path is None:
        if stream is None:
            raise ValueError("read_token_lines: give a path or a stream")
        lines = iter_stream(stream, "<stdin>")
        name: PathLike = "<stdin>"
    else:
        lines = iter_lines(path)
        name = path
    sentences = []
    for number, text in lines:
        tokens = text.split()
        for token in tokens:
            check_token(token, name, number)
        sentences.append(tokens)
    return sentences
