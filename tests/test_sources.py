"""Tests for the raw-data search path: lookup order, SHA-256 checks, download, atomic copy."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import pytest

from spen.data.sources import (
    ChecksumError,
    MissingDataError,
    RawFile,
    find_and_fetch,
    resolve_search_path,
    sha256_file,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Example entries as params/data.yaml might hold them (the real ones live in params).
TWPOS_URL = "https://raw.githubusercontent.com/brendano/ark-tweet-nlp/master/data/twpos-data-v0.3/"
TWPOS_FILES = [
    RawFile(
        "oct27.traindev",
        "twpos-v0.3/oct27.traindev",
        "f1daf7281ca3236592c23befd0ce65ca01d5d6811a47bb0db392098c5c17d589",
        TWPOS_URL + "oct27.splits/oct27.traindev",
    ),
    RawFile(
        "oct27.test",
        "twpos-v0.3/oct27.test",
        "77f868fcd300d0acdd7bb8db28c961fcbe50d9cd0d48046e8fbec4b9f86bf814",
        TWPOS_URL + "oct27.splits/oct27.test",
    ),
    RawFile(
        "daily547.conll",
        "twpos-v0.3/daily547.conll",
        "581862c4a7a05b62cb5c4d44119f11fc1fe55489862c9470120628cca8e4b080",
        TWPOS_URL + "daily547.conll",
    ),
]

CONTENT = b"I\tO\npredict\tV\n"
DIGEST = hashlib.sha256(CONTENT).hexdigest()
BAD = b"I\tO\npredict\tN\n"


def raw(url: str | None = None) -> RawFile:
    """The test file's entry."""
    return RawFile("toy.conll", "toy-v1/toy.conll", DIGEST, url)


def put(root: Path, relpath: str, content: bytes = CONTENT) -> Path:
    """Write `content` at `root/relpath`."""
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def files_in(folder: Path) -> list[str]:
    """Names of everything in `folder` (hidden files included); [] when it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_sha256_file_streams_whole_file(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    path = put(tmp_path, "big.bin", data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_found_in_second_root(tmp_path: Path) -> None:
    first, second, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    first.mkdir()
    put(second, "toy-v1/toy.conll")
    assert find_and_fetch([raw()], [first, second], dest) == [dest / "toy.conll"]
    assert (dest / "toy.conll").read_bytes() == CONTENT
    assert files_in(dest) == ["toy.conll"]


def test_found_by_bare_name(tmp_path: Path) -> None:
    root, dest = tmp_path / "flat", tmp_path / "dest"
    put(root, "toy.conll")
    assert find_and_fetch([raw()], [root], dest) == [dest / "toy.conll"]
    assert (dest / "toy.conll").read_bytes() == CONTENT


def test_relpath_is_tried_before_bare_name(tmp_path: Path) -> None:
    root, dest = tmp_path / "root", tmp_path / "dest"
    put(root, "toy-v1/toy.conll")
    put(root, "toy.conll", BAD)  # would fail its check if it were read
    find_and_fetch([raw()], [root], dest)
    assert (dest / "toy.conll").read_bytes() == CONTENT


def test_checksum_mismatch_is_refused_and_nothing_written(tmp_path: Path) -> None:
    first, second, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    corrupted = put(first, "toy-v1/toy.conll", BAD)
    put(second, "toy-v1/toy.conll")  # a good copy later on the path is not a way round it
    with pytest.raises(ChecksumError) as info:
        find_and_fetch([raw()], [first, second], dest)
    message = str(info.value)
    assert "toy.conll" in message
    assert str(corrupted) in message
    assert DIGEST in message
    assert hashlib.sha256(BAD).hexdigest() in message
    assert files_in(dest) == []


def test_missing_file_lists_roots_and_where_to_put_it(tmp_path: Path) -> None:
    first, second, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    first.mkdir()
    with pytest.raises(MissingDataError) as info:
        find_and_fetch([raw()], [first, second], dest)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    message = str(err)
    assert str(first / "toy-v1/toy.conll") in message
    assert str(second / "toy-v1/toy.conll") in message
    assert str(second / "toy.conll") in message
    assert f"put the file at {first / 'toy-v1/toy.conll'}" in message
    assert err.put_at == first / "toy-v1/toy.conll"
    assert files_in(dest) == []


def test_errors_pickle(tmp_path: Path) -> None:
    missing = MissingDataError("x", [tmp_path / "a" / "x"], tmp_path / "a" / "x", "why")
    checksum = ChecksumError("x", "/a/x", "0" * 64, "1" * 64)
    for err in (missing, checksum):
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is type(err)
        assert str(again) == str(err)


def test_missing_file_with_empty_search_path(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="search path is empty"):
        find_and_fetch([raw()], [], tmp_path / "dest")


def test_skip_when_dest_holds_verified_copy(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    target = put(dest, "toy.conll")
    os.utime(target, (1_000_000, 1_000_000))
    assert find_and_fetch([raw()], [tmp_path / "nowhere"], dest) == [target]
    assert target.stat().st_mtime == 1_000_000
    assert files_in(dest) == ["toy.conll"]


def test_stale_copy_in_dest_is_replaced(tmp_path: Path) -> None:
    root, dest = tmp_path / "root", tmp_path / "dest"
    put(root, "toy-v1/toy.conll")
    put(dest, "toy.conll", BAD)
    find_and_fetch([raw()], [root], dest)
    assert (dest / "toy.conll").read_bytes() == CONTENT


def test_download_from_file_url(tmp_path: Path) -> None:
    remote, dest = put(tmp_path / "remote", "toy.conll"), tmp_path / "dest"
    result = find_and_fetch([raw(remote.as_uri())], [tmp_path / "empty"], dest)
    assert result == [dest / "toy.conll"]
    assert (dest / "toy.conll").read_bytes() == CONTENT
    assert files_in(dest) == ["toy.conll"]


def test_local_copy_is_preferred_to_download(tmp_path: Path) -> None:
    remote = put(tmp_path / "remote", "toy.conll", BAD)
    root, dest = tmp_path / "root", tmp_path / "dest"
    put(root, "toy-v1/toy.conll")
    find_and_fetch([raw(remote.as_uri())], [root], dest)
    assert (dest / "toy.conll").read_bytes() == CONTENT


def test_download_disabled(tmp_path: Path) -> None:
    remote, dest = put(tmp_path / "remote", "toy.conll"), tmp_path / "dest"
    with pytest.raises(MissingDataError) as info:
        find_and_fetch([raw(remote.as_uri())], [tmp_path / "a"], dest, allow_download=False)
    assert remote.as_uri() in str(info.value)
    assert files_in(dest) == []


def test_download_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    remote, dest = put(tmp_path / "remote", "toy.conll", BAD), tmp_path / "dest"
    with pytest.raises(ChecksumError) as info:
        find_and_fetch([raw(remote.as_uri())], [tmp_path / "a"], dest)
    assert remote.as_uri() in str(info.value)
    assert hashlib.sha256(BAD).hexdigest() in str(info.value)
    assert files_in(dest) == []


def test_failed_download_leaves_nothing(tmp_path: Path) -> None:
    url, dest = (tmp_path / "remote" / "gone.conll").as_uri(), tmp_path / "dest"
    with pytest.raises(MissingDataError) as info:
        find_and_fetch([raw(url)], [tmp_path / "a"], dest)
    assert url in str(info.value)
    assert str(tmp_path / "a" / "toy-v1/toy.conll") in str(info.value)
    assert files_in(dest) == []


def test_good_files_before_a_failure_stay_installed(tmp_path: Path) -> None:
    root, dest = tmp_path / "root", tmp_path / "dest"
    put(root, "toy-v1/toy.conll")
    other = RawFile("other.conll", "toy-v1/other.conll", DIGEST)
    with pytest.raises(MissingDataError, match="other.conll"):
        find_and_fetch([raw(), other], [root], dest)
    assert files_in(dest) == ["toy.conll"]


def test_relative_entries_resolve_against_base(tmp_path: Path) -> None:
    base, dest = tmp_path / "project", tmp_path / "dest"
    put(tmp_path / "shared" / "data", "toy-v1/toy.conll")
    find_and_fetch([raw()], ["../shared/data"], dest, base=base)
    assert (dest / "toy.conll").read_bytes() == CONTENT


def test_relative_entries_default_to_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    put(tmp_path / "mirror", "toy-v1/toy.conll")
    find_and_fetch([raw()], ["mirror"], "dest")
    assert (tmp_path / "dest" / "toy.conll").read_bytes() == CONTENT


def test_search_path_expands_home_and_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPEN_TEST_DATA", str(tmp_path / "env"))
    roots = resolve_search_path(["~/data", "$SPEN_TEST_DATA/raw", "rel", "/abs"], base="/b")
    assert roots == [
        (tmp_path / "home" / "data").resolve(),
        (tmp_path / "env" / "raw").resolve(),
        Path("/b/rel").resolve(),
        Path("/abs").resolve(),
    ]


@pytest.mark.parametrize(
    ("name", "sha"),
    [("x", "abc"), ("x", "g" * 64), ("a/b", "0" * 64), ("", "0" * 64), ("..", "0" * 64)],
)
def test_raw_file_validates_its_fields(name: str, sha: str) -> None:
    with pytest.raises(ValueError):
        RawFile(name, "rel/x", sha)


def test_raw_file_accepts_uppercase_digest() -> None:
    assert RawFile("x", "rel/x", "AB" * 32).sha256 == "ab" * 32


@pytest.mark.skipif(not DATA.is_dir(), reason=f"raw data not at {DATA}")
def test_real_twitter_pos_files_verify(tmp_path: Path) -> None:
    dest = tmp_path / "raw" / "pos"
    paths = find_and_fetch(TWPOS_FILES, [tmp_path / "none", DATA], dest, allow_download=False)
    assert paths == [dest / f.name for f in TWPOS_FILES]
    assert all(sha256_file(p) == f.sha256 for p, f in zip(paths, TWPOS_FILES, strict=True))
