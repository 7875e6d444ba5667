"""Two augmented views per image, for contrastive self-supervision (SimCLR).

* ``RandomResizedCrop``: a random box of each image (area fraction ~ U(scale), aspect ratio
  ~ log-U(ratio)) resized to ``size`` by bilinear sampling; vectorised over the batch.
* ``TwoViews(transform)``: ``x -> (transform(x), transform(x))`` with independent draws.
* ``TwoViewDataset(dataset, transform)``: batches ``((view1, view2),)`` of the images only
  (labels dropped), which the Trainer hands to a model as ``model(view1, view2)`` and the
  loss as ``loss((z1, z2), None)``.
* ``simclr_augment(size)``: the default view pipeline for small grey digits: resized crop,
  small rotation and shift, pixel noise.

Random parameters come from ``generator=`` (a :class:`lamina.Generator`) or lamina's default
generator, so a seed repeats the views.

>>> views = TwoViewDataset(TensorDataset(x_unlabeled), simclr_augment(8))
>>> loader = DataLoader(views, batch_size=256, shuffle=True)     # ((v1, v2),) per batch
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ._image_utils import _as_batch, _pack, _pair
from .augment import GaussianNoise, RandomAffine, RandomTransform
from .dataset import Dataset, batch_fetcher
from .transform_base import Compose, Transform

__all__ = ["RandomResizedCrop", "TwoViewDataset", "TwoViews", "simclr_augment"]


def _bilinear(arr, py, px):
    """Sample (N, C, H, W) ``arr`` at float pixel coordinates py, px (N, h, w), edges clamped."""
    xp = backend.array_module(arr)
    n, c, hh, ww = arr.shape
    oh, ow = py.shape[1:]
    y0 = xp.floor(py)
    x0 = xp.floor(px)
    wy = (py - y0).astype(arr.dtype).reshape(n, 1, -1)
    wx = (px - x0).astype(arr.dtype).reshape(n, 1, -1)
    table = arr.reshape(-1)
    offsets = (xp.arange(n * c, dtype=np.int64) * (hh * ww)).reshape(n, c, 1)

    def take(yi, xi):
        rows = xp.clip(yi, 0, hh - 1).astype(np.int64)
        cols = xp.clip(xi, 0, ww - 1).astype(np.int64)
        return xp.take(table, offsets + (rows * ww + cols).reshape(n, 1, -1))

    top = take(y0, x0) * (1 - wx) + take(y0, x0 + 1) * wx
    bottom = take(y0 + 1, x0) * (1 - wx) + take(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy).reshape(n, c, oh, ow)


class RandomResizedCrop(RandomTransform):
    """Crop a random box of each image and resize it to ``size`` (torchvision's RandomResizedCrop).

    Per sample: area = U(scale) * H * W, aspect = exp(U(log ratio)), box h = sqrt(area / aspect),
    w = sqrt(area * aspect) (clipped to the image), top-left uniform; output pixel (i, j) is the
    bilinear sample at (top + (i + 1/2) h / oh - 1/2, left + (j + 1/2) w / ow - 1/2).
    Float images only; (N, C, H, W) or (C, H, W).

    >>> RandomResizedCrop(8, scale=(0.6, 1.0))(digits)      # (N, 1, 8, 8)
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), *, generator=None):
        super().__init__(generator)
        self.size = _pair(size, "size", "RandomResizedCrop")
        scale, ratio = tuple(float(s) for s in scale), tuple(float(r) for r in ratio)
        if len(scale) != 2 or len(ratio) != 2 or scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale and ratio should be (min, max) pairs, got {scale} and {ratio}")
        if scale[0] <= 0 or scale[1] > 1:
            raise ValueError(f"RandomResizedCrop: scale should lie in (0, 1], got {scale}")
        if ratio[0] <= 0:
            raise ValueError(f"RandomResizedCrop: ratio should be positive, got {ratio}")
        self.scale, self.ratio = scale, ratio

    def _params(self, shape, rng):
        n, (hh, ww) = shape[0], shape[-2:]
        area = hh * ww * rng.uniform(*self.scale, size=n)
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), size=n))
        h = np.minimum(np.sqrt(area / aspect), hh)
        w = np.minimum(np.sqrt(area * aspect), ww)
        top = rng.random(n) * (hh - h)
        left = rng.random(n) * (ww - w)
        return {"top": top, "left": left, "height": h, "width": w}

    def _apply(self, arr, params):
        if arr.dtype.kind != "f":
            raise TypeError(f"RandomResizedCrop: expected float images, got dtype {arr.dtype}")
        xp = backend.array_module(arr)
        oh, ow = self.size
        p = {k: v.astype(np.float64).reshape(-1, 1, 1) for k, v in params.items()}
        i = (xp.arange(oh, dtype=np.float64) + 0.5).reshape(1, -1, 1)
        j = (xp.arange(ow, dtype=np.float64) + 0.5).reshape(1, 1, -1)
        py = p["top"] + i * (p["height"] / oh) - 0.5 + 0 * j
        px = p["left"] + j * (p["width"] / ow) - 0.5 + 0 * i
        return _bilinear(arr, py, px).astype(arr.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}"


class TwoViews(Transform):
    """``x -> (t(x), t(x))``: two independently augmented views of the same batch."""

    def __init__(self, transform):
        if not callable(transform):
            raise TypeError(f"TwoViews: transform must be callable, got {type(transform).__name__}")
        self.transform = transform

    def __call__(self, x):
        return self.transform(x), self.transform(x)

    def __repr__(self):
        return f"TwoViews({self.transform!r})"


class TwoViewDataset(Dataset):
    """Unlabeled two-view batches of ``dataset``'s inputs (its first element; labels are dropped).

    A sample (or a batch fetched by the DataLoader's fast path) is ``((view1, view2),)``: the
    Trainer's default batch convention reads it as inputs ``(view1, view2)`` and no target.
    """

    def __init__(self, dataset, transform):
        self.dataset, self.views = dataset, TwoViews(transform)
        fetch = batch_fetcher(dataset)
        if fetch is not None:
            self.get_batch = lambda indices: (self.views(_first(fetch(indices))),)

    def __getitem__(self, index):
        x = _first(self.dataset[index])
        arr, is_tensor, single = _as_batch(x, "TwoViewDataset")
        v1, v2 = self.views(arr)
        return ((_pack(v1, is_tensor, single), _pack(v2, is_tensor, single)),)

    def __len__(self) -> int:
        return len(self.dataset)


def _first(sample):
    return sample[0] if isinstance(sample, (tuple, list)) else sample


def simclr_augment(size=8, crop_scale=(0.6, 1.0), degrees: float = 12.0, translate: float = 0.1,
                   noise: float = 0.05, generator=None) -> Compose:
    """The default SimCLR views for small grey images in [0, 1]: crop-and-resize, rotation/shift, noise."""
    return Compose([RandomResizedCrop(size, scale=crop_scale, ratio=(0.8, 1.25), generator=generator),
                    RandomAffine(degrees=degrees, translate=(translate, translate), interpolation="bilinear",
                                 generator=generator),
                    GaussianNoise(noise, clip=True, generator=generator)])

