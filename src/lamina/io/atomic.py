"""Atomic file writes: a crash mid-save never leaves a half-written file behind.

The recipe (the one databases use): write to a temporary file in the *same* directory,
flush and ``os.fsync`` it, ``os.replace`` it over the target (atomic on POSIX and Windows),
then fsync the directory so the rename itself survives a power cut. If anything raises
before the rename, the temporary file is removed and the old file at ``path`` is untouched.

    with atomic_write("runs/a/metrics.json", "w") as f:
        f.write(text)
    with atomic_path("model.safetensors") as tmp:   # for writers that want a file name
        some_library.save_file(tensors, tmp)
"""
from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text", "fsync_dir"]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; a saved file should get the usual permissions (0666 minus umask).
_FILE_MODE = 0o666 & ~_read_umask()


def fsync_dir(directory: str) -> None:
    """Flush a directory entry (a rename) to disk; a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; its rename is already durable
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chmod(path: str) -> None:
    try:
        os.chmod(path, _FILE_MODE)
    except OSError:  # pragma: no cover - filesystems without permissions
        pass


def _temp_name(path: str) -> tuple[str, str]:
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    _chmod(tmp)
    return path, tmp


def _commit(tmp: str, path: str) -> None:
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def _discard(tmp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary file name next to ``path``; on success fsync it and rename it to ``path``.

    The caller's writer creates/overwrites the temporary file by name. On any exception the
    temporary file is deleted and ``path`` keeps its previous content.
    """
    path, tmp = _temp_name(path)
    try:
        yield tmp
        _chmod(tmp)  # a writer that recreated the file (safetensors writes 0600) gets the usual mode back
        _fsync_file(tmp)
        _commit(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None):
    """Open a temporary file for writing (``mode`` 'w' or 'wb'); it replaces ``path`` on success."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    path, tmp = _temp_name(path)
    try:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> None:
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)
