"""Reading and atomically writing files: every file, and every folder of outputs, appears
whole or not at all.

Writes fail as one :class:`OutputError` naming the path and the cause (`OSError.strerror`: a
full disk, a read-only mount, a missing permission), whatever raised it. Commands check their
output paths first (`check_output_file`, `check_output_dir`): a file where a folder should be,
a folder where a file should be, or a place that cannot be written is refused before any work.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike[str]

# torch.save's C++ writer reports a failed write as a RuntimeError, without the errno
_WRITE_FAILURE = re.compile(r"PytorchStreamWriter|inline_container|unexpected pos|write failed")
_ERRNO_IN_TEXT = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)
_FULL_BELOW = 1 << 20  # free bytes under which a write failure is put down to a full disk


class OutputError(Exception):
    """An output path cannot be written: ``path`` and why (``reason``, e.g. "No space left on
    device"), or what should be there instead (``expected``)."""

    def __init__(self, path: PathLike, reason: str, expected: str | None = None) -> None:
        super().__init__(path, reason, expected)
        self.path = os.fspath(path)
        self.reason = reason
        self.expected = expected

    def __str__(self) -> str:
        if self.expected is None:
            return f"{self.path}: cannot write ({self.reason})"
        return f"{self.path}: {self.reason}; expected {self.expected}"

    def moved(self, old: Path, new: Path) -> OutputError:
        """The same error with a path under the folder ``old`` put under ``new``."""
        path = Path(self.path)
        if path == old or old in path.parents:
            path = new / path.relative_to(old)
        return OutputError(path, self.reason, self.expected)


def os_reason(err: OSError) -> str:
    """What went wrong, as the OS says it ("No space left on device")."""
    if isinstance(err.errno, int) and err.errno > 0:
        return os.strerror(err.errno)  # pyarrow's strerror holds a whole sentence around it
    found = _ERRNO_IN_TEXT.search(str(err))
    if found:
        return os.strerror(int(found.group(1)))
    if err.strerror:
        return err.strerror
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _write_failure(err: BaseException, path: Path, tmp: Path) -> OutputError | None:
    """The OutputError for an exception raised while writing ``path`` through ``tmp`` (None:
    not a failure to write there; let it through)."""
    if isinstance(err, OSError):
        if err.filename not in (None, os.fspath(tmp), os.fspath(path)):
            return None  # some other file (one being read, say): not ours to name
        return OutputError(path, os_reason(err))
    if isinstance(err, RuntimeError) and _WRITE_FAILURE.search(str(err)):
        try:
            stats = os.statvfs(path.parent)
            full = stats.f_bavail * stats.f_frsize < _FULL_BELOW
        except (OSError, AttributeError):
            full = False
        first = str(err).splitlines()[0] if str(err) else "write failed"
        return OutputError(path, os.strerror(errno.ENOSPC) if full else first)
    return None


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds.

    A write that fails (an OSError, or torch.save's RuntimeError) becomes an OutputError
    naming `path` and the cause; `path` is then left as it was.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as err:
        raise _collision(target.parent, "folder") or OutputError(target, os_reason(err)) from err
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.chmod(0o666 & ~_umask())
        if target.is_dir() and not target.is_symlink():
            raise OutputError(target, "is a folder", "a file (or nothing) at this path")
        os.replace(tmp_path, target)
    except (OSError, RuntimeError) as err:
        failure = _write_failure(err, target, tmp_path)
        if failure is None:
            raise
        raise failure from err
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` for writing; rename it onto `path` on success."""
    encoding = None if "b" in mode else "utf-8"
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def read_json(path: Path) -> Any:
    """The JSON value in `path`; a malformed file is an error naming it and the line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err.msg}, line {err.lineno})") from err


def write_json(path: PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON to `path`, atomically."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, sort_keys=True)
        handle.write("\n")


# --- checking output paths before the work ------------------------------------------------


def _collision(path: Path, want: str) -> OutputError | None:
    """The error if ``path`` or a folder above it is in the way of a ``want`` ("file" or
    "folder") at ``path``; None when nothing is."""
    for above in reversed(path.parents):
        if above.exists() and not above.is_dir():
            return OutputError(above, "is a file", "a folder (or nothing), to hold " + str(path))
    if want == "file" and path.is_dir():
        return OutputError(path, "is a folder", "a file (or nothing) at this path")
    if want == "folder" and path.exists() and not path.is_dir():
        return OutputError(path, "is a file", "a folder (or nothing) at this path")
    return None


def _existing(path: Path) -> Path:
    """``path`` or its nearest folder above that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(folder: Path, shown: Path) -> None:
    """Create and remove a file in ``folder``: OutputError (naming ``shown``) if that fails."""
    try:
        fd, name = tempfile.mkstemp(prefix=".spen-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as err:
        raise OutputError(shown, os_reason(err)) from err


def check_output_file(path: PathLike) -> None:
    """Refuse, before any work, an output file path that cannot be written: a folder in its
    place, a file in place of a folder above it, or a folder that cannot be written."""
    target = Path(path)
    problem = _collision(target, "file")
    if problem is not None:
        raise problem
    _probe(_existing(target.parent), target)


def check_output_dir(path: PathLike, files: Iterable[str] = (), replace: bool = False) -> None:
    """Refuse, before any work, an output folder that cannot be written: a file in its place
    (or above it), a folder where one of `files` (paths inside it) should go, or no right to
    write there. `replace`: the folder is replaced whole (`atomic_dir`), so its parent must be
    writable too."""
    target = Path(path)
    problem = _collision(target, "folder")
    for name in files:
        problem = problem or _collision(target / name, "file")
    if problem is not None:
        raise problem
    if target.is_dir():
        _probe(target, target)
    if replace or not target.is_dir():
        real = Path(os.path.realpath(target)) if target.is_symlink() else target
        _probe(_existing(real.parent), target)


# --- a folder of outputs, whole or not at all ---------------------------------------------


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a new temporary folder beside `path`; when the block succeeds, it takes the place
    of `path` (the old folder, if any, is replaced only then, and removed).

    Entries of the old folder that the block did not write (a `.gitignore`, notes) are carried
    over, hard-linked. On Linux the swap is one atomic exchange (`renameat2`); elsewhere the
    old folder is renamed aside and the new one renamed into place. A failure, or a kill
    before the swap, leaves `path` as it was (and at worst a hidden `.NAME.*.tmp` sibling).
    """
    shown = Path(path)
    target = Path(os.path.realpath(shown)) if shown.is_symlink() else shown  # keep a link
    problem = _collision(target, "folder")
    if problem is not None:
        raise problem
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as err:
        raise OutputError(shown, os_reason(err)) from err
    try:
        try:
            yield tmp
        except OutputError as err:
            raise err.moved(tmp, shown) from err
        try:
            tmp.chmod(0o777 & ~_umask())
            if target.is_dir():
                _carry_over(target, tmp)
            _swap(tmp, target)
        except OSError as err:
            raise OutputError(shown, os_reason(err)) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # after an exchange: the old folder


def _carry_over(old: Path, new: Path) -> None:
    """Hard-link (or copy) into ``new`` the entries of ``old`` it does not have."""
    for entry in old.iterdir():
        dest = new / entry.name
        if dest.exists() or dest.is_symlink() or _is_temporary(entry.name):
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry), dest)
        elif entry.is_dir():
            shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, dest)


def _is_temporary(name: str) -> bool:
    """Whether ``name`` is one of the temporary names this module gives."""
    return name.startswith(".") and name.endswith(".tmp")


def _link_or_copy(src: PathLike, dst: PathLike) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _swap(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``; the old ``target`` (if any) ends up at ``new``."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    aside = new.with_name(new.name[: -len(".tmp")] + ".old.tmp")
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(aside, target)
        raise
    os.rename(aside, new)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2; False where it is unavailable."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError, TypeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    code = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if code == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # the filesystem or kernel cannot exchange: rename aside instead
    raise OSError(err, os.strerror(err), os.fspath(b))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
