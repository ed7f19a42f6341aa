"""The raw-data search path: find each raw file, verify its SHA-256, copy it into place.

Each :class:`RawFile` is looked for in every search-path root in order, first as
``root/relpath`` and then as ``root/name``. The first copy found must match the pinned
SHA-256: a mismatch is an error (never a reason to try the next root), because a corrupted
or different copy is something the user has to see. When no root holds the file and it has
a ``url``, it is downloaded (if allowed) and verified the same way. Files arrive in
``dest/name`` atomically (a ``dest/.name.tmp-<pid>`` file renamed into place); a verified
copy already in ``dest`` is left alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DOWNLOAD_TIMEOUT_S = 60


@dataclass
class RawFile:
    """One raw input file: its name in ``dest``, its place under a root, its pinned digest."""

    name: str
    relpath: str
    sha256: str
    url: str | None = None

    def __post_init__(self) -> None:
        self.sha256 = self.sha256.lower()
        if not _SHA256.match(self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 hex digits, got {self.sha256!r}")
        if not self.name or "/" in self.name or "\\" in self.name or self.name in {".", ".."}:
            raise ValueError(f"raw file name must be a plain file name, got {self.name!r}")


class MissingDataError(FileNotFoundError):
    """No search-path root holds a raw file, and it could not be downloaded."""

    def __init__(self, name: str, searched: Sequence[Path], put_at: Path | None, why: str = ""):
        self.name = name
        self.searched = list(searched)
        self.put_at = put_at
        self.why = why
        super().__init__(self._text(why))

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle support (the constructor's arguments differ from ``args``)."""
        return (type(self), (self.name, self.searched, self.put_at, self.why))

    def _text(self, why: str) -> str:
        """The error message: what is missing, where it was looked for, where to put it."""
        looked = ", ".join(str(p) for p in self.searched) or "nowhere (the search path is empty)"
        where = (
            f"put the file at {self.put_at}"
            if self.put_at is not None
            else "add a directory holding it to the search path"
        )
        extra = f" ({why})" if why else ""
        return f"raw file {self.name!r} not found{extra}; searched: {looked}; {where}"


class ChecksumError(ValueError):
    """A raw file's SHA-256 differs from the pinned one."""

    def __init__(self, name: str, source: str, expected: str, found: str) -> None:
        self.name = name
        self.source = source
        self.expected = expected
        self.found = found
        super().__init__(
            f"raw file {name!r} at {source} fails its SHA-256 check: expected {expected}, "
            f"found {found}; the copy is corrupted or a different version: replace it "
            f"(or, if the new file is intended, update the pinned checksum)"
        )

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle support (the constructor's arguments differ from ``args``)."""
        return (type(self), (self.name, self.source, self.expected, self.found))


def sha256_file(path: PathLike) -> str:
    """The SHA-256 of a file's contents, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_search_path(
    search_path: Iterable[PathLike], base: PathLike | None = None
) -> list[Path]:
    """Search-path entries as absolute paths: ``~`` and ``$VARS`` expanded, relative entries
    taken from ``base`` (default: the current directory), ``..`` and symlinks resolved."""
    root = Path.cwd() if base is None else Path(base)
    resolved = []
    for entry in search_path:
        path = Path(os.path.expanduser(os.path.expandvars(os.fspath(entry))))
        resolved.append((root / path).resolve())  # an absolute `path` replaces `root`
    return resolved


def candidates(file: RawFile, roots: Sequence[Path]) -> list[Path]:
    """The places ``file`` is looked for, in order: ``root/relpath`` then ``root/name``."""
    found = []
    for root in roots:
        for path in (root / file.relpath, root / file.name):
            if path not in found:
                found.append(path)
    return found


def _copy_verified(source: BinaryIO, tmp: Path, file: RawFile, origin: str) -> None:
    """Stream ``source`` into ``tmp`` while hashing it; raise ChecksumError on a mismatch."""
    digest = hashlib.sha256()
    with open(tmp, "wb") as sink:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
        sink.flush()
        os.fsync(sink.fileno())
    if digest.hexdigest() != file.sha256:
        raise ChecksumError(file.name, origin, file.sha256, digest.hexdigest())


def _install(file: RawFile, source: Path | str, dest: Path) -> Path:
    """Copy a local path or a URL into ``dest/name`` atomically, verifying it on the way."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / file.name
    tmp = dest / f".{file.name}.tmp-{os.getpid()}"
    try:
        if isinstance(source, Path):
            with open(source, "rb") as handle:
                _copy_verified(handle, tmp, file, str(source))
        else:
            with urllib.request.urlopen(source, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                _copy_verified(response, tmp, file, source)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _verify(file: RawFile, path: Path) -> None:
    """Raise ChecksumError unless ``path`` matches the pinned digest of ``file``."""
    found = sha256_file(path)
    if found != file.sha256:
        raise ChecksumError(file.name, str(path), file.sha256, found)


def _already_installed(file: RawFile, dest: Path) -> bool:
    """Whether ``dest/name`` exists and matches the pinned digest."""
    target = dest / file.name
    if not target.is_file():
        return False
    if sha256_file(target) == file.sha256:
        return True
    log.warning("%s: the copy in %s fails its checksum; replacing it", file.name, dest)
    return False


def _download(
    file: RawFile, url: str, roots: Sequence[Path], searched: list[Path], dest: Path
) -> Path:
    """Download ``file`` from ``url`` into ``dest``; MissingDataError if that fails."""
    log.info("downloading %s from %s", file.name, url)
    try:
        return _install(file, url, dest)
    except (urllib.error.URLError, OSError) as exc:
        put_at = roots[0] / file.relpath if roots else None
        why = f"download from {url} failed: {exc}"
        raise MissingDataError(file.name, searched, put_at, why) from exc


def fetch_one(file: RawFile, roots: Sequence[Path], dest: Path, allow_download: bool) -> Path:
    """Find, verify and install one raw file into ``dest``; return its path there."""
    if _already_installed(file, dest):
        log.info("%s: verified copy already in %s", file.name, dest)
        return dest / file.name
    searched = candidates(file, roots)
    for path in searched:
        if path.is_file():
            _verify(file, path)
            log.info("%s: using %s", file.name, path)
            return _install(file, path, dest)
    if file.url is not None and allow_download:
        return _download(file, file.url, roots, searched, dest)
    put_at = roots[0] / file.relpath if roots else None
    why = "" if file.url is None else f"downloads are disabled; it is available at {file.url}"
    raise MissingDataError(file.name, searched, put_at, why)


def find_and_fetch(
    files: Sequence[RawFile],
    search_path: Sequence[PathLike],
    dest: PathLike,
    allow_download: bool = True,
    base: PathLike | None = None,
) -> list[Path]:
    """Install each raw file, verified, into ``dest`` from the search path or its URL.

    Relative search-path entries are taken from ``base`` (default: the current directory).
    Raises ChecksumError for a copy that fails its check and MissingDataError for a file
    found nowhere. Returns the paths in ``dest``, in the order of ``files``.
    """
    roots = resolve_search_path(search_path, base)
    return [fetch_one(file, roots, Path(dest), allow_download) for file in files]
