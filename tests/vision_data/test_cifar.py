"""CIFAR-10 binary batches, on small generated files (never the pickled version)."""
import hashlib
import io
import os
import tarfile

import numpy as np
import pytest

from lamina.data import DataLoader
from lamina.data.datasets import cifar
from lamina.data.datasets.cifar import CIFAR10, read_cifar_batch
from lamina.data.download import DownloadError
from lamina.data.vision_transforms import RandomCrop

SIZES = {"data_batch_1.bin": 3, "data_batch_2.bin": 2, "data_batch_3.bin": 4, "data_batch_4.bin": 1,
         "data_batch_5.bin": 2, "test_batch.bin": 5}


def _records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return labels, pixels, np.concatenate([labels[:, None], pixels], axis=1).tobytes()


def _write_cifar(folder):
    os.makedirs(folder, exist_ok=True)
    out = {}
    for i, (name, n) in enumerate(SIZES.items()):
        labels, pixels, data = _records(n, i)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
        out[name] = (labels, pixels)
    return out


def _expected(files, names):
    labels = np.concatenate([files[n][0] for n in names])
    pixels = np.concatenate([files[n][1] for n in names])
    return labels, pixels


def test_record_layout_red_green_blue_planes(tmp_path):
    labels, pixels, data = _records(2, 0)
    (tmp_path / "b.bin").write_bytes(data)
    images, got = read_cifar_batch(tmp_path / "b.bin")
    assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(got, labels)
    # pixel (row 5, column 7) of image 1: red at 5*32+7, green 1024 later, blue 2048 later
    assert images[1, :, 5, 7].tolist() == [pixels[1, 167], pixels[1, 1024 + 167], pixels[1, 2048 + 167]]


def test_train_and_test_sets_values_and_loader(tmp_path):
    files = _write_cifar(tmp_path / "cifar-10-batches-bin")
    train = CIFAR10(tmp_path, train=True)
    labels, pixels = _expected(files, [f"data_batch_{i}.bin" for i in range(1, 6)])
    x, y = train.tensors
    assert x.shape == (12, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), pixels.reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y.numpy(), labels)
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    test = CIFAR10(tmp_path, train=False, as_uint8=True)
    assert test.data.dtype == np.uint8 and len(test) == 5
    np.testing.assert_array_equal(test.targets.numpy(), files["test_batch.bin"][0])
    xb, yb = next(iter(DataLoader(train, batch_size=12)))
    np.testing.assert_array_equal(xb.numpy(), x.numpy())


def test_flat_layout_meta_file_and_transform(tmp_path):
    _write_cifar(tmp_path)
    (tmp_path / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n\n")
    ds = CIFAR10(tmp_path, train=False, transform=RandomCrop(28))
    assert ds.classes[4] == "class4"
    assert ds[0][0].shape == (3, 28, 28)
    xb, _ = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 3, 28, 28)


def test_errors_truncated_bad_label_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1.bin, data_batch_2.bin.* download=True"):
        CIFAR10(tmp_path)
    _write_cifar(tmp_path)
    with open(tmp_path / "test_batch.bin", "ab") as f:
        f.write(b"\x01\x02")
    with pytest.raises(ValueError, match=r"test_batch.bin is truncated or not a CIFAR-10 binary batch: 15367 bytes"):
        CIFAR10(tmp_path, train=False)
    (tmp_path / "test_batch.bin").write_bytes(bytes([42]) + bytes(3072))
    with pytest.raises(ValueError, match="label byte 42"):
        CIFAR10(tmp_path, train=False)


def _archive(tmp_path, extra=()):
    src = tmp_path / "src" / "cifar-10-batches-bin"
    files = _write_cifar(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in SIZES:
            tar.add(src / name, arcname=f"cifar-10-batches-bin/{name}")
        for arcname, data in extra:
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return files, buf.getvalue()


def test_download_verifies_and_extracts_only_the_batches(file_server, monkeypatch, tmp_path):
    files, body = _archive(tmp_path, extra=[("../evil.bin", b"x"), ("cifar-10-batches-bin/readme.html", b"<p>")])
    url = file_server.add("/cifar-10-binary.tar.gz", body)
    monkeypatch.setitem(cifar.SOURCE, "url", url)
    monkeypatch.setitem(cifar.SOURCE, "checksum", ("sha256", hashlib.sha256(body).hexdigest()))
    root = tmp_path / "root"
    ds = CIFAR10(root, train=False, download=True)
    np.testing.assert_array_equal(ds.targets.numpy(), files["test_batch.bin"][0])
    assert sorted(os.listdir(root / "cifar-10-batches-bin")) == sorted(SIZES)
    assert not (tmp_path / "evil.bin").exists() and not (root / "evil.bin").exists()


def test_download_checksum_mismatch(file_server, monkeypatch, tmp_path):
    _, body = _archive(tmp_path)
    monkeypatch.setitem(cifar.SOURCE, "url", file_server.add("/c.tar.gz", body))
    monkeypatch.setitem(cifar.SOURCE, "checksum", ("md5", "0" * 32))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        CIFAR10(tmp_path / "root", download=True)
    assert os.listdir(tmp_path / "root") == []


def test_extract_rejects_an_archive_without_the_batches(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "a.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(DownloadError, match=r"lacks data_batch_1.bin.*cifar-10-binary.tar.gz"):
        CIFAR10.extract(tmp_path / "a.tar.gz", tmp_path)
