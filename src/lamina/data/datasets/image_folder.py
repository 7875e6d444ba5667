"""ImageFolder: a labelled image data set from a directory tree, one subfolder per class.

    root/cat/001.png
    root/cat/nested/002.jpg
    root/dog/003.jpeg

Class names are the subfolder names, sorted; labels are their positions in that list. Images
are decoded with Pillow, the optional extra ``lamina[vision]``.

    ds = ImageFolder("photos/train", transform=RandomHorizontalFlip())
    x, y = ds[0]                 # x: (3, H, W) float32 in [0, 1], y: int
"""
from __future__ import annotations

import os

import numpy as np

from ..dataset import Dataset

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "load_image"]

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("ImageFolder needs Pillow to decode images, which is not installed: "
                          "pip install lamina[vision]  (or: pip install pillow)") from e
    return Image


def load_image(path, mode: str = "RGB") -> np.ndarray:
    """Decode an image file to a (C, H, W) float32 array in [0, 1] (``mode`` 'RGB': 3 channels, 'L': 1)."""
    image_mod = _pil()
    try:
        with image_mod.open(path) as img:
            arr = np.asarray(img.convert(mode))
    except (OSError, ValueError, SyntaxError) as e:
        raise OSError(f"ImageFolder: cannot decode image {path}: {e}") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.ascontiguousarray(arr.transpose(2, 0, 1)).astype(np.float32) / np.float32(255)


class ImageFolder(Dataset):
    """Images under ``root/<class>/**`` with labels from sorted class folder names (torchvision's ImageFolder).

    ``samples`` lists ``(path, label)`` (files sorted within each class, found recursively);
    ``classes``, ``class_to_idx`` and ``targets`` describe the labels. ``ds[i]`` is
    ``(image, label)``: image a (C, H, W) float32 array in [0, 1] (C = 3 for ``mode='RGB'``,
    1 for ``'L'``), then ``transform(image)``; label an int, then ``target_transform(label)``.
    Only files whose names end in ``extensions`` (case-insensitive) are used, or those
    accepted by ``is_valid_file(path)`` when given.
    """

    def __init__(self, root, transform=None, target_transform=None, extensions=IMG_EXTENSIONS,
                 is_valid_file=None, mode: str = "RGB", allow_empty: bool = False):
        self.root = os.fspath(root)
        self.transform, self.target_transform, self.mode = transform, target_transform, mode
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ImageFolder: root {self.root} is not a directory")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder: couldn't find any class folder in {self.root}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        exts = tuple(e.lower() for e in ((extensions,) if isinstance(extensions, str) else extensions or ()))
        valid = is_valid_file or (lambda p: p.lower().endswith(exts))
        self.samples = []
        for cls in self.classes:
            found = []
            for dirpath, _, files in os.walk(os.path.join(self.root, cls), followlinks=True):
                found.extend(os.path.join(dirpath, f) for f in files if valid(os.path.join(dirpath, f)))
            if not found and not allow_empty:
                raise FileNotFoundError(f"ImageFolder: found no valid file for the class {cls!r} in "
                                        f"{os.path.join(self.root, cls)} (supported extensions: {', '.join(exts)})")
            self.samples.extend((p, self.class_to_idx[cls]) for p in sorted(found))
        self.imgs = self.samples
        self.targets = [label for _, label in self.samples]
        _pil()  # fail now, not at the first batch, when Pillow is missing

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = load_image(path, self.mode)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self):
        return f"ImageFolder({self.root!r}, {len(self)} images, {len(self.classes)} classes)"
