"""Deterministic image preprocessing on whole batches: ToTensor, ConvertImageDtype, Normalize,
CenterCrop (torchvision names; a batch (N, C, H, W) or one image (C, H, W), Tensor or array)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._image_utils import _array, _as_batch, _pack, _pair
from .transform_base import Transform

__all__ = ["CenterCrop", "ConvertImageDtype", "Normalize", "ToTensor"]


class ToTensor(Transform):
    """Images as arrays -> a float Tensor in [0, 1]: ``y = x / 255`` for uint8 data.

    Takes (H, W, C), (N, H, W, C) or (H, W) arrays (or a Pillow image) and gives (C, H, W),
    (N, C, H, W) or (1, H, W) in the default float dtype. As torchvision, data that is not
    uint8 is only transposed (no scaling, dtype kept).

    >>> ToTensor()(np.zeros((28, 28, 1), np.uint8)).shape
    (1, 28, 28)
    """

    def __call__(self, pic):
        arr, _ = _array(pic)
        xp = backend.array_module(arr)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim == 3:
            out = arr.transpose(2, 0, 1)
        elif arr.ndim == 4:
            out = arr.transpose(0, 3, 1, 2)
        else:
            raise ValueError(f"ToTensor: expected (H, W), (H, W, C) or (N, H, W, C) data, got shape {tuple(arr.shape)}")
        if arr.dtype == np.uint8:
            dt = backend.get_default_dtype()
            out = out.astype(dt) / dt.type(255)
        return Tensor._wrap(xp.ascontiguousarray(out))


class ConvertImageDtype(Transform):
    """Convert image data to ``dtype``, rescaling values as torchvision does.

    integer -> float: ``y = x / max(int dtype)`` (uint8: / 255); float -> float: a cast;
    float -> integer: ``y = floor(x * (max + 1 - 1e-3))`` (so 1.0 maps to the maximum). Any shape.
    """

    def __init__(self, dtype):
        self.dtype = backend.as_dtype(dtype)

    def __call__(self, x):
        arr, is_tensor = _array(x)
        src, dst = arr.dtype, self.dtype
        if src.kind in "iu" and dst.kind == "f":
            out = arr.astype(dst) / dst.type(np.iinfo(src).max)
        elif src.kind == "f" and dst.kind == "f":
            out = arr.astype(dst)
        elif src.kind == "f" and dst.kind in "iu":
            out = (arr * (np.iinfo(dst).max + 1.0 - 1e-3)).astype(dst)
        elif src == dst:
            out = arr
        else:
            raise TypeError(f"ConvertImageDtype: cannot convert {src} images to {dst}")
        return Tensor._wrap(out) if is_tensor else out

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}"


class Normalize(Transform):
    """Per-channel standardisation of float images: ``y[c] = (x[c] - mean[c]) / std[c]``.

    ``mean`` and ``std`` have one value per channel (or one for all). Input (C, H, W) or
    (N, C, H, W), float; ``inplace=True`` overwrites the input's data.

    >>> Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])(images)
    """

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = tuple(float(m) for m in np.atleast_1d(np.asarray(mean, dtype=np.float64)))
        self.std = tuple(float(s) for s in np.atleast_1d(np.asarray(std, dtype=np.float64)))
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains a zero, leading to division by zero")
        self.inplace = inplace

    def __call__(self, x):
        arr, is_tensor, single = _as_batch(x, "Normalize")
        if arr.dtype.kind != "f":
            raise TypeError(f"Normalize: input should be float images, got dtype {arr.dtype} "
                            "(convert first with ToTensor() or ConvertImageDtype(lamina.float32))")
        c = arr.shape[1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if len(v) not in (1, c):
                raise ValueError(f"Normalize: {name} has {len(v)} values but the images have {c} channels "
                                 f"(input shape {tuple(arr.shape[1:] if single else arr.shape)})")
        xp = backend.array_module(arr)
        mean = xp.asarray(self.mean, dtype=arr.dtype).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=arr.dtype).reshape(-1, 1, 1)
        if self.inplace:
            arr -= mean
            arr /= std
            out = arr
        else:
            out = (arr - mean) / std
        return _pack(out, is_tensor, single)

    def extra_repr(self) -> str:
        return f"mean={list(self.mean)}, std={list(self.std)}"


class CenterCrop(Transform):
    """The central ``size`` window (h, w) of each image; (N, C, H, W) -> (N, C, h, w)."""

    def __init__(self, size):
        self.size = _pair(size, "size", "CenterCrop")

    def __call__(self, x):
        arr, is_tensor, single = _as_batch(x, "CenterCrop")
        (h, w), (hh, ww) = self.size, arr.shape[-2:]
        if h > hh or w > ww:
            raise ValueError(f"CenterCrop: crop size {(h, w)} is larger than the image size {(hh, ww)}")
        top, left = int(round((hh - h) / 2.0)), int(round((ww - w) / 2.0))
        return _pack(arr[..., top:top + h, left:left + w].copy(), is_tensor, single)

    def extra_repr(self) -> str:
        return f"size={self.size}"


# ------------------------------------------------------------------ random transforms
