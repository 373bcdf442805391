"""The one way to write a file: a crash, a kill or a full disk leaves the previous file intact.

The data goes to a temporary file in the target's folder, is flushed and fsynced, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows). On any failure the temporary
file is removed and the target is untouched.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from vvipe_core.errors import VVIPEError


class WriteError(VVIPEError):
    """A file could not be written (full disk, no permission, not a folder...)."""


_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large for this system's limit",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such folder",
    errno.ENOTDIR: "a parent is not a folder",
    errno.EISDIR: "is a folder",
}


def _umask() -> int:
    """The process's umask. Linux reports it in /proc; elsewhere it can only be read by setting
    it, which briefly leaves other threads (the app writes from worker threads) with umask 0."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on a clean exit it replaces `path`.

    ``mode`` is ``"wb"`` or ``"w"`` (text; pass ``encoding=`` / ``newline=`` as for open).
    Any OSError, here or in the caller's block, becomes a WriteError naming `path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise WriteError(path, _reason(e, path)) from e
    try:
        # mkstemp makes 0600 files; a written file follows the umask like any other.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as e:
        raise WriteError(path, _reason(e, path)) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def check_writable(path: str | Path) -> Path:
    """Fail before the work, not after it: `path` is no folder and its folder (or, for a folder
    atomic_write will create, the nearest one that exists) takes new files. Creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise WriteError(path, _REASONS[errno.EISDIR])
    folder = next(p for p in path.absolute().parents if p.exists())
    try:
        if not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder")
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as e:
        raise WriteError(path, _reason(e, path)) from e
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_write(path, "w", encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def _reason(e: OSError, path: Path) -> str:
    if e.errno == errno.ENOENT and path.parent.is_dir():  # e.g. /proc: there, but takes no files
        return "this folder takes no new files"
    if e.errno is None:  # e.g. numpy's "15072 requested and 4064 written": a short write
        return "the write was cut short (a full disk or a file size limit?)"
    return _REASONS.get(e.errno, e.strerror or type(e).__name__)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); folders cannot be opened on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
