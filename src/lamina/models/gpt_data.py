"""Character-level text data for GPT: a tokenizer, a default corpus, random-window batches.

    text = default_text()                          # docstrings of Python's own stdlib, printable ASCII
    tok = CharTokenizer.ascii()                    # 96 symbols: '\\n' and ' '..'~'
    ids = tok.encode(text)                         # int64 array
    train, val = split_ids(ids, 0.1)
    batches = RandomWindowSampler(train, block_size=128, batch_size=32, generator=lamina.Generator().manual_seed(0))
    x, y = batches.sample()                        # (32, 128) int64 Tensors, y = x shifted by one

The default corpus needs no download: it is the triple-quoted strings (docstrings, mostly), in
source order, of a fixed list of standard-library modules read from ``sysconfig.get_paths()['stdlib']``,
tabs expanded and everything outside printable ASCII dropped, so the vocabulary is at most the
96 symbols of ``CharTokenizer.ascii()`` (the vocab size of the ``gpt`` benchmark). The exact
text depends on the Python version; the order is fixed.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import re
import sysconfig

import numpy as np

from .. import backend
from ..data.dataset import Dataset
from ..io.atomic import atomic_write_text
from ..tensor import Tensor

__all__ = ["ASCII_VOCAB", "CharDataset", "CharTokenizer", "RandomWindowSampler", "default_text", "load_text",
           "split_ids", "to_printable_ascii"]

ASCII_VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))     # 96 symbols
_NOT_PRINTABLE = re.compile(r"[^\n\x20-\x7e]")

# Modules whose docstrings make the default corpus, in this order (missing ones are skipped).
DEFAULT_MODULES = (
    "textwrap", "difflib", "argparse", "functools", "dataclasses", "inspect", "typing", "pydoc", "string",
    "random", "statistics", "fractions", "heapq", "bisect", "contextlib", "enum", "collections/__init__",
    "subprocess", "threading", "shutil", "tarfile", "json/__init__", "datetime", "_pydecimal", "calendar",
    "email/message", "http/client", "urllib/parse", "logging/__init__", "unittest/case", "doctest", "pickle",
    "csv", "configparser", "optparse", "tempfile", "locale", "gettext", "codecs", "_pyio", "os", "socket",
    "queue", "weakref", "copy", "pprint", "traceback", "warnings", "ast", "tokenize", "timeit", "pdb", "cmd",
    "shlex", "base64", "ipaddress", "mailbox", "smtplib", "ftplib", "imaplib", "turtle",
)


def to_printable_ascii(text: str) -> str:
    """Tabs -> spaces, '\\r\\n' -> '\\n', then only '\\n' and ' '..'~' kept."""
    text = text.replace("\r\n", "\n").expandtabs(4)
    return _NOT_PRINTABLE.sub("", text)


_TRIPLE = re.compile(r'[rRuU]?("""|\'\'\')(.*?)\1', re.DOTALL)


def _docstrings(source: str) -> list[str]:
    """The triple-quoted strings of ``source`` (its docstrings, mostly), dedented, in source order.

    A regular expression rather than ``ast``: parsing the stdlib costs seconds, this milliseconds.
    """
    return [inspect.cleandoc(m.group(2)) for m in _TRIPLE.finditer(source)]


def default_text(max_chars: int = 400_000, modules=DEFAULT_MODULES) -> str:
    """The default corpus: stdlib docstrings as printable ASCII, about ``max_chars`` characters.

    Docstrings (every triple-quoted string) are joined by blank lines, module after module, until
    ``max_chars`` is reached. The result is cached per process (a str, immutable).
    Raises a RuntimeError when the stdlib sources cannot be found (some minimal installs ship
    only bytecode): pass a text file instead.
    """
    return _default_text(int(max_chars), tuple(modules))


@functools.lru_cache(maxsize=4)
def _default_text(max_chars: int, modules: tuple) -> str:
    root = sysconfig.get_paths()["stdlib"]
    parts, total = [], 0
    for name in modules:
        path = os.path.join(root, name + ".py")
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                docs = _docstrings(f.read())
        except (OSError, UnicodeDecodeError):
            continue
        for doc in docs:
            doc = to_printable_ascii(doc).strip("\n")
            if not doc:
                continue
            parts.append(doc)
            total += len(doc) + 2
            if total >= max_chars:
                return "\n\n".join(parts)[:max_chars]
    if total < 10_000:
        raise RuntimeError(f"default_text: found only {total} characters of docstrings under {root}; "
                           "this Python install has no standard-library sources — pass a text file instead")
    return "\n\n".join(parts)


def load_text(path: str | None = None, ascii_only: bool = False) -> str:
    """The text of ``path`` (UTF-8), or ``default_text()`` when path is None."""
    if path is None:
        return default_text()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return to_printable_ascii(text) if ascii_only else text


class CharTokenizer:
    """Characters <-> integer ids: ``stoi`` maps each symbol to its index in ``itos``.

    >>> tok = CharTokenizer.from_text("hello")      # itos = ['e', 'h', 'l', 'o']
    >>> tok.decode(tok.encode("hole"))              # 'hole'
    """

    def __init__(self, chars):
        chars = list(chars)
        if not chars:
            raise ValueError("CharTokenizer: the vocabulary is empty")
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: the symbols must be distinct")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer: every symbol must be a single character")
        self.itos = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        points = np.array([ord(c) for c in chars], dtype=np.uint32)
        order = np.argsort(points, kind="stable")
        self._codes = (points[order], order)            # sorted code points -> their ids

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """The sorted set of characters of ``text``."""
        return cls(sorted(set(text)))

    @classmethod
    def ascii(cls) -> "CharTokenizer":
        """The fixed 96-symbol vocabulary: '\\n' (id 0) then ' '..'~' (ids 1..95)."""
        return cls(ASCII_VOCAB)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids of ``text`` (vectorized); a character outside the vocabulary is a KeyError naming it."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got {type(text).__name__}")
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        codes, order = self._codes
        pos = np.minimum(np.searchsorted(codes, points), len(codes) - 1)
        bad = codes[pos] != points
        if bad.any():
            ch = chr(int(points[np.argmax(bad)]))
            raise KeyError(f"CharTokenizer.encode: character {ch!r} is not in the vocabulary of "
                           f"{self.vocab_size} symbols")
        return order[pos].astype(np.int64)

    def decode(self, ids) -> str:
        """The text of ids (a Tensor, array or list of ints, 1-D)."""
        if isinstance(ids, Tensor):
            ids = ids.numpy()
        arr = np.asarray(backend.to_device(ids, backend.cpu) if not isinstance(ids, (list, tuple)) else ids)
        if arr.ndim != 1:
            raise ValueError(f"CharTokenizer.decode: expected a 1-D sequence of ids, got shape {arr.shape}")
        n = self.vocab_size
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(f"CharTokenizer.decode: ids must be in [0, {n}), got {int(arr.min())}..{int(arr.max())}")
        return "".join(self.itos[i] for i in arr.tolist())

    def save(self, path: str) -> None:
        """Write the vocabulary as JSON ({"itos": [...]}), atomically."""
        atomic_write_text(path, json.dumps({"type": "CharTokenizer", "itos": self.itos}, ensure_ascii=True))

    @classmethod
    def load(cls, path: str) -> "CharTokenizer":
        with open(path, encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"CharTokenizer.load: {path} is not valid JSON ({e})") from None
        if not isinstance(d, dict) or not isinstance(d.get("itos"), list):
            raise ValueError(f"CharTokenizer.load: {path} has no 'itos' list (not a saved CharTokenizer)")
        return cls(d["itos"])

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def split_ids(ids: np.ndarray, val_fraction: float = 0.1):
    """(train, val): the first 1 - val_fraction of ``ids`` and the rest (contiguous, no shuffling)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"split_ids: val_fraction must be in [0, 1), got {val_fraction}")
    n = int(round(len(ids) * (1.0 - val_fraction)))
    return ids[:n], ids[n:]


def _windows(ids: np.ndarray, starts: np.ndarray, block_size: int):
    w = ids[starts[:, None] + np.arange(block_size + 1)]
    return Tensor._wrap(np.ascontiguousarray(w[:, :-1])), Tensor._wrap(np.ascontiguousarray(w[:, 1:]))


class RandomWindowSampler:
    """Batches of random windows of a token stream: x = ids[s:s+T], y = ids[s+1:s+T+1] per row.

    Window starts are drawn uniformly from [0, len(ids) - block_size - 1] by ``generator`` (a
    lamina Generator), so a seed repeats the batches exactly. ``sample()`` gives one batch;
    iterating gives batches forever.
    """

    def __init__(self, ids, block_size: int, batch_size: int, generator=None):
        self.ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
        if self.ids.ndim != 1:
            raise ValueError(f"RandomWindowSampler: ids must be 1-D, got shape {self.ids.shape}")
        if block_size <= 0 or batch_size <= 0:
            raise ValueError(f"RandomWindowSampler: block_size and batch_size must be positive, got {block_size}, "
                             f"{batch_size}")
        if len(self.ids) < block_size + 1:
            raise ValueError(f"RandomWindowSampler: {len(self.ids)} tokens are too few for windows of "
                             f"block_size + 1 = {block_size + 1}")
        self.block_size, self.batch_size, self.generator = block_size, batch_size, generator

    def sample(self, batch_size: int | None = None):
        """(x, y): two (batch, block_size) int64 Tensors, y the next token of each x position."""
        n = batch_size or self.batch_size
        hi = len(self.ids) - self.block_size          # starts in [0, hi)
        starts = backend.rng(self.generator).integers(0, hi, n)
        return _windows(self.ids, starts, self.block_size)

    def __iter__(self):
        while True:
            yield self.sample()


class CharDataset(Dataset):
    """Map-style dataset of windows: item i = (ids[i*stride : +T], ids[i*stride+1 : +T+1]) as int64 arrays,
    for a DataLoader (``stride`` defaults to block_size: non-overlapping windows)."""

    def __init__(self, ids, block_size: int, stride: int | None = None):
        self.ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
        self.block_size, self.stride = block_size, stride or block_size
        if len(self.ids) < block_size + 1:
            raise ValueError(f"CharDataset: {len(self.ids)} tokens are too few for one window of {block_size + 1}")

    def __len__(self) -> int:
        return (len(self.ids) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, i):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"CharDataset: index {i} out of range for {n} windows")
        s = (i % n) * self.stride
        return self.ids[s:s + self.block_size], self.ids[s + 1:s + self.block_size + 1]
