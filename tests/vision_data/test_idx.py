"""IDX reader/writer and the MNIST / Fashion-MNIST datasets, on small generated files."""
import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

import lamina
from lamina.data import DataLoader
from lamina.data.datasets import idx
from lamina.data.datasets.idx import MNIST, FashionMNIST, read_idx, write_idx
from lamina.data.download import DownloadError
from lamina.data.vision_transforms import RandomHorizontalFlip

CODES = [(0x08, ">u1", np.uint8), (0x09, ">i1", np.int8), (0x0B, ">i2", np.int16), (0x0C, ">i4", np.int32),
         (0x0D, ">f4", np.float32), (0x0E, ">f8", np.float64)]


def _idx_bytes(arr, code, be):
    """The IDX encoding written out by hand from the format's definition."""
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(be).tobytes()


@pytest.mark.parametrize("code,be,dtype", CODES)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_every_type_code(tmp_path, code, be, dtype, compress):
    arr = (np.arange(2 * 3 * 4).reshape(2, 3, 4) * 7 - 20).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    data = _idx_bytes(arr, code, be)
    path = tmp_path / "file-idx3"  # gzip is detected by content, not by the name
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == dtype and out.dtype.isnative and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # a writable copy


def test_write_idx_round_trip_and_layout(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], np.uint8)
    write_idx(tmp_path / "labels-idx1", labels)
    assert (tmp_path / "labels-idx1").read_bytes() == b"\x00\x00\x08\x01\x00\x00\x00\x05" + labels.tobytes()
    x = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    write_idx(tmp_path / "x.gz", x)
    assert (tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), x)
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "y", np.zeros(3, np.int64))


def test_read_idx_errors_name_the_file(tmp_path):
    good = _idx_bytes(np.zeros((4, 3), np.uint8), 0x08, ">u1")
    cases = {
        "magic": (b"\x50\x4b\x03\x04" + good[4:], r"not an IDX file: bad magic number 504b0304"),
        "empty": (b"", r"bad magic number \(empty file\)"),
        "code": (b"\x00\x00\x07\x02" + good[4:], r"unknown IDX type code 0x07"),
        "header": (good[:6], r"truncated: its header declares 2 dimensions but the file has only 6 bytes"),
        "data": (good[:-5], r"truncated: shape \(4, 3\) of uint8 needs 12 data bytes, found 7"),
        "extra": (good + b"\x00\x01", r"2 unexpected bytes after the data"),
        "gzip": (gzip.compress(good)[:-8], r"corrupt or truncated gzip"),
    }
    for name, (data, msg) in cases.items():
        path = tmp_path / f"{name}-idx"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=msg) as info:
            read_idx(path)
        assert str(path) in str(info.value)


# ------------------------------------------------------------------ MNIST on generated files
def _fake_mnist(n=12, seed=0, classes=10):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, classes, n).astype(np.uint8)


def _write_split(folder, prefix, images, labels, gz=True):
    os.makedirs(folder, exist_ok=True)
    ext = ".gz" if gz else ""
    write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), images)
    write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), labels)


def test_mnist_torchvision_layout_values_and_fast_path(tmp_path):
    images, labels = _fake_mnist(12)
    _write_split(tmp_path / "MNIST" / "raw", "train", images, labels)
    test_images, test_labels = _fake_mnist(5, seed=1)
    _write_split(tmp_path / "MNIST" / "raw", "t10k", test_images, test_labels, gz=False)
    ds = MNIST(tmp_path)
    x, y = ds.tensors
    assert x.shape == (12, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64 and len(ds) == 12
    np.testing.assert_array_equal(x.numpy()[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y.numpy(), labels)
    assert ds.targets is y and ds.data is x and ds.classes[3] == "3 - three"
    x3, y3 = ds[3]
    assert x3.shape == (1, 28, 28) and int(y3.item()) == labels[3]
    batches = list(DataLoader(ds, batch_size=5))
    assert [b[0].shape[0] for b in batches] == [5, 5, 2]
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x.numpy())
    test = MNIST(tmp_path, train=False, as_uint8=True)
    assert test.data.dtype == np.uint8 and test.data.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(test.data.numpy()[:, 0], test_images)
    assert "test" in repr(test)


def test_mnist_flat_layout_fashion_and_transforms(tmp_path):
    images, labels = _fake_mnist(8)
    _write_split(tmp_path, "train", images, labels, gz=False)
    ds = FashionMNIST(tmp_path, transform=RandomHorizontalFlip(p=1.0), target_transform=lambda t: t + 100)
    assert ds.kind == "fashion" and ds.classes[9] == "Ankle boot"
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))  # fast path: the transform runs on the whole batch
    np.testing.assert_array_equal(xb.numpy()[:, 0], images[:, :, ::-1].astype(np.float32) / 255)
    assert yb.numpy().tolist() == (labels.astype(np.int64) + 100).tolist()
    x0, y0 = ds[0]
    np.testing.assert_array_equal(x0.numpy()[0], images[0, :, ::-1].astype(np.float32) / 255)
    assert MNIST(tmp_path, kind="fashion").classes == ds.classes
    with pytest.raises(ValueError, match="kind must be one of"):
        MNIST(tmp_path, kind="kmnist")


def test_mnist_missing_and_inconsistent_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\[\.gz\] not found .*download=True"):
        MNIST(tmp_path)
    images, labels = _fake_mnist(6)
    _write_split(tmp_path, "train", images, labels[:5])
    with pytest.raises(ValueError, match=r"labels of shape \(5,\) for 6 images"):
        MNIST(tmp_path)
    _write_split(tmp_path, "train", images, np.full(6, 12, np.uint8))
    with pytest.raises(ValueError, match="label 12 but there are only 10 classes"):
        MNIST(tmp_path)


def test_known_checksum_tables():
    for kind in ("mnist", "fashion"):
        sums = idx.SOURCES[kind]["checksums"]
        assert len(sums) == 4 and all(a == "md5" and len(h) == 32 for a, h in sums.values())
    assert idx.SOURCES["mnist"]["checksums"]["train-images-idx3-ubyte.gz"][1] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


# ------------------------------------------------------------------ MNIST(download=True) from a local server
def _serve_fake_mnist(file_server, monkeypatch, n=10, corrupt=None):
    images, labels = _fake_mnist(n)
    files = {"train-images-idx3-ubyte.gz": gzip.compress(_idx_bytes(images, 0x08, ">u1")),
             "train-labels-idx1-ubyte.gz": gzip.compress(_idx_bytes(labels, 0x08, ">u1"))}
    for name, body in files.items():
        file_server.add("/mnist/" + name, body)
    sums = {name: ("sha256", hashlib.sha256(body).hexdigest()) for name, body in files.items()}
    if corrupt:
        sums[corrupt] = ("sha256", "f" * 64)
    monkeypatch.setitem(idx.SOURCES["mnist"], "checksums", sums)
    monkeypatch.setitem(idx.SOURCES["mnist"], "mirrors", [file_server.url + "/mnist/"])
    return images, labels


def test_mnist_download_then_load(file_server, monkeypatch, tmp_path):
    images, labels = _serve_fake_mnist(file_server, monkeypatch)
    ds = MNIST(tmp_path, download=True)
    np.testing.assert_array_equal(ds.data.numpy()[:, 0], images / np.float32(255))
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    assert sorted(os.listdir(tmp_path / "MNIST" / "raw")) == ["train-images-idx3-ubyte.gz",
                                                             "train-labels-idx1-ubyte.gz"]
    # files present and verified: no network needed the second time
    monkeypatch.setitem(idx.SOURCES["mnist"], "mirrors", ["http://127.0.0.1:9/unused/"])
    assert len(MNIST(tmp_path, download=True)) == 10


def test_mnist_download_checksum_mismatch_leaves_nothing(file_server, monkeypatch, tmp_path):
    _serve_fake_mnist(file_server, monkeypatch, corrupt="train-labels-idx1-ubyte.gz")
    with pytest.raises(DownloadError, match=r"(?s)train-labels-idx1-ubyte.gz.*checksum mismatch"):
        MNIST(tmp_path, download=True)
    assert os.listdir(tmp_path / "MNIST" / "raw") == ["train-images-idx3-ubyte.gz"]  # the good one stays


def test_mnist_download_tries_each_mirror(file_server, monkeypatch, tmp_path, closed_port_url):
    _serve_fake_mnist(file_server, monkeypatch)
    monkeypatch.setitem(idx.SOURCES["mnist"], "mirrors", [closed_port_url + "/", file_server.url + "/mnist/"])
    assert len(MNIST(tmp_path, download=True)) == 10  # the first mirror is down, the second works
    with pytest.raises(DownloadError, match=r"could not download t10k-images-idx3-ubyte.gz from any mirror"
                                            r":\n.*HTTP 404.*\nplace the file at"):
        MNIST(tmp_path, train=False, download=True, mirror=file_server.url + "/elsewhere/")
    assert not any(name.startswith("t10k") for name in os.listdir(tmp_path / "MNIST" / "raw"))


def test_mnist_dataset_trains_through_the_loader(tmp_path):
    images, labels = _fake_mnist(16)
    _write_split(tmp_path, "train", images, labels)
    lamina.manual_seed(0)
    seen = np.concatenate([b[1].numpy() for b in DataLoader(MNIST(tmp_path), batch_size=4, shuffle=True)])
    assert sorted(seen.tolist()) == sorted(labels.tolist())
