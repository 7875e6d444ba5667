"""CIFAR-10 from its binary version (``cifar-10-binary.tar.gz``; never the pickled python one).

Each batch file (``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``) is a run of
3073-byte records: one label byte (0..9), then 3072 pixel bytes, the 32x32 red plane, then
green, then blue, each row-major. That is already NCHW.

    train = CIFAR10("data", train=True)            # (50000, 3, 32, 32) float32 in [0, 1], (50000,) int64
"""
from __future__ import annotations

import os
import tarfile

import numpy as np

from ...io.atomic import atomic_write
from ...tensor import Tensor
from .labelled import LabelledImages
from ..download import DownloadError, download

__all__ = ["CIFAR10", "SOURCE"]

_RECORD = 1 + 3 * 32 * 32
_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# The binary archive and its published MD5 (from the data set's page); override to use a mirror.
SOURCE = {"url": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
          "checksum": ("md5", "c32a1d4ab5d03f1284b67883e8d87530")}


def read_cifar_batch(path) -> tuple:
    """``(images (N, 3, 32, 32) uint8, labels (N,) uint8)`` of one binary batch file."""
    path = os.fspath(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _RECORD:
        raise ValueError(f"CIFAR10: {path} is truncated or not a CIFAR-10 binary batch: {raw.size} bytes is not a "
                         f"positive multiple of the {_RECORD}-byte record (1 label byte + 3072 pixel bytes)")
    records = raw.reshape(-1, _RECORD)
    labels = records[:, 0].copy()
    if labels.max() >= 10:
        raise ValueError(f"CIFAR10: {path} has label byte {int(labels.max())} (expected 0..9); "
                         "is it the CIFAR-100 binary format?")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


class CIFAR10(LabelledImages):
    """CIFAR-10 as a TensorDataset: ``tensors = (images, labels)``.

    Images (N, 3, 32, 32) float32 in [0, 1] (``x / 255``), or uint8 with ``as_uint8=True``;
    labels int64. The training set is the five ``data_batch_*.bin`` files in order (50000
    images), the test set ``test_batch.bin`` (10000). They are looked up in
    ``root/cifar-10-batches-bin`` (the archive's folder), then ``root``. ``download=True``
    fetches ``SOURCE['url']`` (or the mirror ``url``) into ``root``, checks it against
    ``SOURCE['checksum']`` (the published MD5) and extracts only the batch files and
    ``batches.meta.txt``. ``transform`` / ``target_transform`` apply per sample and, in the
    loader's fast path, per batch.

    >>> loader = DataLoader(CIFAR10("data", train=True), batch_size=128, shuffle=True)
    """

    base_folder = "cifar-10-batches-bin"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 as_uint8: bool = False, url: str | None = None):
        self.root, self.train = os.fspath(root), train
        self.transform, self.target_transform = transform, target_transform
        names = self.train_list if train else self.test_list
        if download and self._missing(names):
            self._download(url)
        missing = self._missing(names)
        if missing:
            raise FileNotFoundError(f"CIFAR10: {', '.join(missing)} not found in "
                                    f"{os.path.join(self.root, self.base_folder)} or {self.root}; pass download=True "
                                    f"or extract cifar-10-binary.tar.gz into {self.root}")
        parts = [read_cifar_batch(self._path(n)) for n in names]
        images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0].copy()
        labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
        if not as_uint8:
            images = images.astype(np.float32) / np.float32(255)
        self.classes = self._read_classes()
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        super().__init__(Tensor._wrap(images), Tensor._wrap(labels))

    # -------------------------------------------------------------- files
    def _path(self, name: str) -> str | None:
        for d in (os.path.join(self.root, self.base_folder), self.root):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                return p
        return None

    def _missing(self, names) -> list:
        return [n for n in names if self._path(n) is None]

    def _read_classes(self) -> list:
        meta = self._path("batches.meta.txt")
        if meta is None:
            return list(_CLASSES)
        with open(meta, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        return names if len(names) == 10 else list(_CLASSES)

    def _download(self, url: str | None) -> None:
        url = url or SOURCE["url"]
        checksum = SOURCE.get("checksum")  # a mirror serves the same archive: same checksum
        archive = os.path.join(self.root, "cifar-10-binary.tar.gz")
        download(url, archive, **({checksum[0]: checksum[1]} if checksum else {}))
        self.extract(archive, self.root)

    @classmethod
    def extract(cls, archive, root) -> None:
        """Extract the batch files (and ``batches.meta.txt``) of ``archive`` into ``root/cifar-10-batches-bin``.

        Only regular files with the expected names are written (atomically); nothing else in
        the archive is touched, so a crafted archive cannot write outside that folder.
        """
        wanted = set(cls.train_list + cls.test_list + ["batches.meta.txt"])
        out_dir = os.path.join(os.fspath(root), cls.base_folder)
        os.makedirs(out_dir, exist_ok=True)
        found = set()
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    name = os.path.basename(member.name)
                    if not member.isfile() or name not in wanted or name in found:
                        continue
                    src = tar.extractfile(member)
                    with atomic_write(os.path.join(out_dir, name), "wb") as f:
                        while block := src.read(1 << 20):
                            f.write(block)
                    found.add(name)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DownloadError(f"CIFAR10: cannot extract {archive}: {e}") from None
        missing = sorted(wanted - found - {"batches.meta.txt"})
        if missing:
            raise DownloadError(f"CIFAR10: {archive} lacks {', '.join(missing)}; is it cifar-10-binary.tar.gz?")

    # -------------------------------------------------------------- samples
    def __repr__(self):
        return f"CIFAR10({'train' if self.train else 'test'}, {len(self)} images, root={self.root!r})"
