"""ImageFolder on small PNG/JPEG files written with Pillow."""
import sys

import numpy as np
import pytest

from lamina.data import DataLoader
from lamina.data.datasets.image_folder import ImageFolder, load_image
from lamina.data.vision_transforms import Normalize

Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install lamina[vision])")


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _tree(root):
    rng = np.random.default_rng(0)
    pics = {
        "dog/b.png": rng.integers(0, 256, (4, 5, 3), dtype=np.uint8),
        "dog/a.PNG": rng.integers(0, 256, (4, 5, 3), dtype=np.uint8),
        "cat/nested/c.png": rng.integers(0, 256, (4, 5, 3), dtype=np.uint8),
        "cat/gray.png": rng.integers(0, 256, (4, 5), dtype=np.uint8),
    }
    for rel, arr in pics.items():
        _png(root / rel, arr)
    (root / "cat" / "notes.txt").write_text("not an image")
    Image.fromarray(np.full((4, 5, 3), 200, np.uint8)).save(root / "bird.jpg")  # a file at the top: no class
    (root / "fish").mkdir()
    _png(root / "fish" / "f.jpg", np.full((4, 5, 3), 100, np.uint8))
    return pics


def test_classes_samples_and_values(tmp_path):
    pics = _tree(tmp_path)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog", "fish"] and ds.class_to_idx == {"cat": 0, "dog": 1, "fish": 2}
    names = [path[len(str(tmp_path)) + 1:] for path, _ in ds.samples]
    assert names == ["cat/gray.png", "cat/nested/c.png", "dog/a.PNG", "dog/b.png", "fish/f.jpg"]
    assert ds.targets == [0, 0, 1, 1, 2] and len(ds) == 5
    x, y = ds[3]
    assert x.shape == (3, 4, 5) and x.dtype == np.float32 and y == 1
    np.testing.assert_array_equal(x, pics["dog/b.png"].transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    gray, _ = ds[0]  # converted to RGB, as torchvision's loader does
    np.testing.assert_array_equal(gray[0], gray[2])
    np.testing.assert_allclose(gray[0], pics["cat/gray.png"] / 255.0, rtol=1e-6)
    jpeg, _ = ds[4]
    assert abs(float(jpeg.mean()) - 100 / 255) < 0.02  # lossy, but close
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 3, 4, 5) and yb.numpy().tolist() == [0, 0, 1, 1, 2]


def test_mode_transform_extensions_and_is_valid_file(tmp_path):
    _tree(tmp_path)
    ds = ImageFolder(tmp_path, transform=Normalize(0.5, 0.5), target_transform=lambda t: -t, mode="L",
                     extensions=(".png",), allow_empty=True)
    assert len(ds) == 4 and ds.targets == [0, 0, 1, 1]
    x, y = ds[2]
    assert x.shape == (1, 4, 5) and y == -1 and x.min() >= -1.0 and x.max() <= 1.0
    only_b = ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith("b.png"), allow_empty=True)
    assert [s[1] for s in only_b.samples] == [1]


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="couldn't find any class folder"):
        ImageFolder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"found no valid file for the class 'empty'.*\.png, \.jpg, \.jpeg"):
        ImageFolder(tmp_path)
    (tmp_path / "empty" / "bad.png").write_bytes(b"not really a png")
    ds = ImageFolder(tmp_path)
    with pytest.raises(OSError, match=r"cannot decode image .*bad.png"):
        ds[0]


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    _png(tmp_path / "a" / "x.png", np.zeros((2, 2, 3), np.uint8))
    monkeypatch.setitem(sys.modules, "PIL", None)  # makes `from PIL import Image` fail
    with pytest.raises(ImportError, match=r"pip install lamina\[vision\]"):
        ImageFolder(tmp_path)
    with pytest.raises(ImportError, match="pillow"):
        load_image(tmp_path / "a" / "x.png")
