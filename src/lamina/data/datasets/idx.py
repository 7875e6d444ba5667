"""The IDX file format and the MNIST / Fashion-MNIST data sets stored in it.

IDX (LeCun's format): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a
big-endian uint32, then the values in C order, big-endian. Files may be gzip-compressed.

    images = read_idx("train-images-idx3-ubyte.gz")      # (60000, 28, 28) uint8
    train = MNIST("data", train=True, download=True)       # a TensorDataset: (N, 1, 28, 28), (N,)
    loader = DataLoader(train, batch_size=128, shuffle=True)
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ...io.atomic import atomic_write
from ...tensor import Tensor
from .labelled import LabelledImages
from ..download import DownloadError, check_file, download

__all__ = ["MNIST", "FashionMNIST", "SOURCES", "read_idx", "write_idx"]

_CODES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODE_OF = {dt.newbyteorder("="): code for code, dt in _CODES.items()}


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"read_idx: {path} is a corrupt or truncated gzip file ({e})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (plain or gzip), in native byte order.

    >>> read_idx("t10k-labels-idx1-ubyte").shape
    (10000,)
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file: bad magic number {raw[:4].hex() or '(empty file)'} "
                         "(expected 0000 followed by a type code and the number of dimensions)")
    code, ndim = raw[2], raw[3]
    if code not in _CODES:
        raise ValueError(f"read_idx: {path} has unknown IDX type code 0x{code:02x} "
                         f"(known: {', '.join(f'0x{c:02x}' for c in _CODES)})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated: its header declares {ndim} dimensions "
                         f"but the file has only {len(raw)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _CODES[code]
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have < need:
        raise ValueError(f"read_idx: {path} is truncated: shape {shape} of {dtype.newbyteorder('=')} needs "
                         f"{need} data bytes, found {have}")
    if have > need:
        raise ValueError(f"read_idx: {path} has {have - need} unexpected bytes after the data of shape {shape}")
    arr = np.frombuffer(raw, dtype=dtype, count=need // dtype.itemsize, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # a native-order, writable copy


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends with .gz), atomically."""
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=") if arr.dtype.byteorder not in "=|" else arr.dtype
    if native not in _CODE_OF:
        raise TypeError(f"write_idx: IDX cannot store dtype {arr.dtype} (uint8, int8, int16, int32, float32, float64)")
    code = _CODE_OF[native]
    data = (bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
            + np.ascontiguousarray(arr, dtype=_CODES[code]).tobytes())
    if os.fspath(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_write(path, "wb") as f:
        f.write(data)


_MNIST_CLASSES = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
                  "8 - eight", "9 - nine"]
_FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                    "Ankle boot"]

# Where MNIST(download=True) looks, and the published MD5 sums of the gzip files (as torchvision
# checks them). Entries are (algorithm, hex digest); edit or override to use another mirror.
SOURCES = {
    "mnist": {
        "folder": "MNIST",
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
        "checksums": {
            "train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            "train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
            "t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
            "t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
        },
        "classes": _MNIST_CLASSES,
    },
    "fashion": {
        "folder": "FashionMNIST",
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "checksums": {
            "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
            "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
            "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
        },
        "classes": _FASHION_CLASSES,
    },
}


def _checksum_kw(entry) -> dict:
    if entry is None:
        return {}
    algo, digest = entry
    if algo not in ("sha256", "md5"):
        raise ValueError(f"MNIST: unknown checksum algorithm {algo!r} (use 'sha256' or 'md5')")
    return {algo: digest}


class MNIST(LabelledImages):
    """MNIST (or Fashion-MNIST with ``kind='fashion'``) from its IDX files, as a TensorDataset.

    ``tensors = (images, labels)``: images (N, 1, 28, 28) float32 in [0, 1] (``x / 255``), or
    the raw uint8 pixels with ``as_uint8=True``; labels int64 in 0..9. The DataLoader batches
    it by fancy indexing. Files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    ``t10k-...`` for ``train=False``) are looked up in ``root/MNIST/raw`` (torchvision's layout;
    ``root/FashionMNIST/raw`` for Fashion-MNIST), then ``root`` itself. ``download=True`` fetches
    missing ones into ``root/<folder>/raw`` from ``mirror`` (default: ``SOURCES[kind]['mirrors']``)
    and checks them against ``SOURCES[kind]['checksums']``. ``transform`` / ``target_transform``
    apply to each sample and, in the loader's fast path, to each whole batch (lamina's transforms
    accept both).

    >>> train = MNIST("data", train=True, download=True)
    >>> x, y = train[0]            # (1, 28, 28) float32, () int64
    """

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 kind: str = "mnist", as_uint8: bool = False, mirror: str | None = None):
        if kind not in SOURCES:
            raise ValueError(f"{type(self).__name__}: kind must be one of {sorted(SOURCES)}, got {kind!r}")
        self.root, self.train, self.kind = os.fspath(root), train, kind
        self.transform, self.target_transform = transform, target_transform
        source = SOURCES[kind]
        self.classes = list(source["classes"])
        self.raw_folder = os.path.join(self.root, source["folder"], "raw")
        prefix = "train" if train else "t10k"
        names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        if download:
            for name in names:
                self._download(name + ".gz", source, mirror)
        images = read_idx(self._find(names[0]))
        labels = read_idx(self._find(names[1]))
        self._check(images, labels, names)
        images = images[:, None]
        if not as_uint8:
            images = images.astype(np.float32) / np.float32(255)
        super().__init__(Tensor._wrap(images), Tensor._wrap(labels.astype(np.int64)))

    # -------------------------------------------------------------- files
    def _find(self, name: str) -> str:
        dirs = [self.raw_folder, os.path.dirname(self.raw_folder), self.root]
        for d in dirs:
            for candidate in (name, name + ".gz"):
                p = os.path.join(d, candidate)
                if os.path.isfile(p):
                    return p
        raise FileNotFoundError(f"{type(self).__name__}: {name}[.gz] not found in {', '.join(dirs)}; "
                                "pass download=True or place the file there")

    def _download(self, filename: str, source: dict, mirror: str | None) -> None:
        expected = _checksum_kw(source["checksums"].get(filename))
        target = os.path.join(self.raw_folder, filename)
        try:
            self._find(filename[:-3])
            if not os.path.isfile(target) or check_file(target, **expected):
                return  # already there (an uncompressed copy, or a verified .gz)
        except FileNotFoundError:
            pass
        mirrors = [mirror] if mirror is not None else list(source["mirrors"])
        errors = []
        for base in mirrors:
            try:
                download(base.rstrip("/") + "/" + filename, target, **expected)
                return
            except DownloadError as e:
                errors.append(str(e))
        raise DownloadError(f"{type(self).__name__}: could not download {filename} from any mirror:\n  "
                            + "\n  ".join(errors) + f"\nplace the file at {target} by hand")

    def _check(self, images, labels, names) -> None:
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{type(self).__name__}: {names[0]} should hold uint8 images (N, H, W), "
                             f"got {images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"{type(self).__name__}: {names[1]} holds labels of shape {labels.shape} for "
                             f"{images.shape[0]} images")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{type(self).__name__}: {names[1]} has label {int(labels.max())} but there are "
                             f"only {len(self.classes)} classes")

    # -------------------------------------------------------------- samples
    def __repr__(self):
        split = "train" if self.train else "test"
        shape = tuple(self.data.shape[1:])
        return f"{type(self).__name__}({split}, {len(self)} images of shape {shape}, root={self.root!r})"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): MNIST's format and sizes, 10 clothing classes. See :class:`MNIST`."""

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 as_uint8: bool = False, mirror: str | None = None):
        super().__init__(root, train, transform, target_transform, download, kind="fashion", as_uint8=as_uint8,
                         mirror=mirror)
