"""Downloading data files: streamed, checksummed, atomic.

``download(url, path, sha256=...)`` streams the response into a temporary file next to
``path``, hashing as it goes, checks the byte count against Content-Length and the digest
against the expected one, and only then renames the file into place. Any failure raises
:class:`DownloadError` with the reason (HTTP status, unreachable host, truncated transfer,
checksum mismatch) and leaves no partial file behind; a file already at ``path`` is untouched.

    from lamina.data.download import download
    download("https://example.org/train.gz", "data/train.gz", sha256="9f86d0...")
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.parse
import urllib.request

from ..io.atomic import atomic_path

__all__ = ["DownloadError", "check_file", "download", "file_digest"]

_CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed (network, HTTP status, truncated transfer or checksum mismatch)."""


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _expected(sha256: str | None, md5: str | None) -> tuple:
    if sha256 is not None:
        return "sha256", sha256.lower()
    if md5 is not None:
        return "md5", md5.lower()
    return None, None


def check_file(path, sha256: str | None = None, md5: str | None = None) -> bool:
    """True when ``path`` exists and matches the given checksum (any existing file when none is given)."""
    if not os.path.isfile(path):
        return False
    algo, want = _expected(sha256, md5)
    return algo is None or file_digest(path, algo) == want


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or url


def download(url: str, path, sha256: str | None = None, timeout: float = 30, *, md5: str | None = None) -> str:
    """Fetch ``url`` into ``path`` atomically and return ``path``.

    ``sha256`` (or ``md5``, for data sets that only publish MD5 sums) is the expected hex digest
    of the file; ``timeout`` is in seconds, per connection attempt and per read. Missing parent
    directories are created. Raises :class:`DownloadError` on any failure, leaving no file.
    """
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    algo, want = _expected(sha256, md5)
    hasher = hashlib.new(algo) if algo else None
    request = urllib.request.Request(url, headers={"User-Agent": "lamina-download/1"})
    offline = f"you may be offline; place the file at {path} by hand"
    with atomic_path(path) as tmp:
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as e:
            raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
        except urllib.error.URLError as e:
            raise DownloadError(f"cannot reach {_host(url)} ({e.reason}): {offline}") from None
        except (OSError, http.client.HTTPException) as e:  # timeouts, resets before the headers
            raise DownloadError(f"cannot reach {_host(url)} ({e}): {offline}") from None
        received = 0
        with response:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            expected_len = int(length) if length and length.strip().isdigit() else None
            try:
                with open(tmp, "wb") as f:
                    while True:
                        block = response.read(_CHUNK)
                        if not block:
                            break
                        f.write(block)
                        received += len(block)
                        if hasher is not None:
                            hasher.update(block)
            except http.client.IncompleteRead as e:
                received += len(e.partial)
                raise DownloadError(f"download of {url} was cut off after {received} bytes"
                                    + (f" of {expected_len}" if expected_len else "")) from None
            except (socket.timeout, TimeoutError) as e:
                raise DownloadError(f"download of {url} timed out after {received} bytes ({e}): {offline}") from None
            except (OSError, http.client.HTTPException) as e:
                raise DownloadError(f"download of {url} failed after {received} bytes: {e}") from None
        if expected_len is not None and received != expected_len:
            raise DownloadError(f"download of {url} is truncated: received {received} of {expected_len} bytes "
                                "(the connection closed early); nothing was saved")
        if hasher is not None and hasher.hexdigest() != want:
            raise DownloadError(f"checksum mismatch for {url}: expected {algo} {want}, got {hasher.hexdigest()} "
                                f"({received} bytes); the file was not saved")
    return path
