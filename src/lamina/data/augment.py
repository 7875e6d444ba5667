"""Random image augmentation on whole batches (torchvision names).

Every transform takes a batch ``(N, C, H, W)`` or a single image ``(C, H, W)`` (a lamina Tensor
or an array) and returns the same kind and layout. Random transforms draw different
parameters for each sample of a batch, all at once (no Python loop over samples or pixels),
from their ``generator=`` (a :class:`lamina.Generator`) or the default generator, so
``lamina.manual_seed(s)`` repeats them. ``t.get_params(x)`` draws the parameters for ``x`` and
``t.apply(x, params)`` applies them: ``t(x) == t.apply(x, t.get_params(x))``.

Augmentation belongs to the training data only; validation and test data get the
deterministic preprocessing alone:

    augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip(), Normalize([0.1307], [0.3081])])
    train_loader = AugmentedLoader(DataLoader(train_ds, 128, shuffle=True), augment)
    val_loader = AugmentedLoader(DataLoader(val_ds, 512), Normalize([0.1307], [0.3081]))

(``TransformDataset(train_ds, augment)`` does the same at the dataset level and keeps the
DataLoader's fast path: batches are fetched with one fancy index, then transformed at once.)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._image_utils import _array, _as_batch, _fill_value, _pack, _pair, _range, _to_xp
from .transform_base import Transform

__all__ = ["GaussianNoise", "RandomAffine", "RandomCrop", "RandomErasing", "RandomHorizontalFlip",
           "RandomTransform", "RandomVerticalFlip", "affine_inverse_matrices"]


class RandomTransform(Transform):
    """Base of the random transforms: ``__call__(x) = apply(x, get_params(x))``.

    Subclasses define ``_params(shape, rng)`` -> dict of per-sample NumPy arrays (length N) and
    ``_apply(batch, params)`` on an (N, C, H, W) array.
    """

    def __init__(self, generator=None):
        self.generator = generator

    def get_params(self, x) -> dict:
        """Random parameters for every sample of ``x`` (a batch, or a single image as a batch of 1)."""
        arr, _, _ = _as_batch(x, type(self).__name__)
        return self._params(tuple(arr.shape), backend.rng(self.generator))

    def apply(self, x, params: dict):
        """Apply the transform with the given parameters (deterministic)."""
        arr, is_tensor, single = _as_batch(x, type(self).__name__)
        xp = backend.array_module(arr)
        return _pack(self._apply(arr, {k: _to_xp(v, xp) for k, v in params.items()}), is_tensor, single)

    def __call__(self, x):
        return self.apply(x, self.get_params(x))


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability ``p`` (independently per sample): ``y[..., j] = x[..., W-1-j]``."""

    _axis = -1

    def __init__(self, p: float = 0.5, *, generator=None):
        super().__init__(generator)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p should be in [0, 1], got {p}")
        self.p = float(p)

    def _params(self, shape, rng):
        return {"flip": rng.random(shape[0]) < self.p}

    def _apply(self, arr, params):
        out = arr.copy()
        m = params["flip"]
        out[m] = arr[m][..., ::-1] if self._axis == -1 else arr[m][..., ::-1, :]
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability ``p``: ``y[..., i, :] = x[..., H-1-i, :]``."""

    _axis = -2


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


class RandomCrop(RandomTransform):
    """A random ``size`` (h, w) window of each image, after optional padding.

    ``padding``: int (all sides), (left/right, top/bottom) or (left, top, right, bottom);
    ``padding_mode``: 'constant' (with ``fill``, a number or one per channel), 'edge',
    'reflect' or 'symmetric'; ``pad_if_needed`` pads images smaller than ``size``. Output
    ``y[n] = pad(x)[n, :, i_n : i_n + h, j_n : j_n + w]`` with offsets (i_n, j_n) uniform per sample.

    >>> RandomCrop(32, padding=4)(cifar_batch).shape     # (N, 3, 32, 32)
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant",
                 *, generator=None):
        super().__init__(generator)
        self.size = _pair(size, "size", "RandomCrop")
        if padding is None:
            self.padding = (0, 0, 0, 0)
        elif isinstance(padding, numbers.Number):
            self.padding = (int(padding),) * 4
        else:
            p = tuple(int(v) for v in padding)
            if len(p) not in (1, 2, 4):
                raise ValueError(f"RandomCrop: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding}")
            self.padding = p * 4 if len(p) == 1 else (p * 2 if len(p) == 2 else p)
        if min(self.padding) < 0:
            raise ValueError(f"RandomCrop: padding must be non-negative, got {padding}")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {_PAD_MODES}, got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def _total_padding(self, hh: int, ww: int) -> tuple:
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed and ww + left + right < w:  # as torchvision: the difference on both sides
            d = w - (ww + left + right)
            left, right = left + d, right + d
        if self.pad_if_needed and hh + top + bottom < h:
            d = h - (hh + top + bottom)
            top, bottom = top + d, bottom + d
        if hh + top + bottom < h or ww + left + right < w:
            raise ValueError(f"RandomCrop: required crop size {(h, w)} is larger than the (padded) image size "
                             f"{(hh + top + bottom, ww + left + right)}")
        return left, top, right, bottom

    def _params(self, shape, rng):
        left, top, right, bottom = self._total_padding(*shape[-2:])
        hh, ww = shape[-2] + top + bottom, shape[-1] + left + right
        return {"top": rng.integers(0, hh - self.size[0] + 1, size=shape[0]),
                "left": rng.integers(0, ww - self.size[1] + 1, size=shape[0])}

    def _pad(self, arr):
        left, top, right, bottom = self._total_padding(*arr.shape[-2:])
        if not (left or top or right or bottom):
            return arr
        xp = backend.array_module(arr)
        n, c, hh, ww = arr.shape
        if self.padding_mode == "constant":
            out = xp.empty((n, c, hh + top + bottom, ww + left + right), dtype=arr.dtype)
            out[...] = _fill_value(self.fill, c, arr.dtype, xp, "RandomCrop")
            out[:, :, top:top + hh, left:left + ww] = arr
            return out
        return xp.pad(arr, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=self.padding_mode)

    def _apply(self, arr, params):
        padded = self._pad(arr)
        xp = backend.array_module(arr)
        h, w = self.size
        # windows[n, c, i, j] is the (h, w) view at offset (i, j); one fancy index picks each sample's
        windows = xp.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        return windows[xp.arange(padded.shape[0]), :, params["top"], params["left"]]

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r}"


def affine_inverse_matrices(angle, translate, scale, shear, center=(0.0, 0.0)):
    """Per-sample inverse affine maps (N, 2, 3), output -> input pixel coordinates about the centre.

    Forward map (torchvision's ``_get_inverse_affine_matrix``): ``M = T C R(a) S(s) Sh(sx, sy) C^-1``
    with the angle in degrees, clockwise on screen (y points down); returned is ``M^-1``.
    ``angle, scale``: (N,); ``translate, shear``: (N, 2) (pixels, degrees); ``center``
    relative to the image centre.
    """
    rot = np.radians(np.asarray(angle, np.float64))
    sx, sy = np.radians(np.asarray(shear, np.float64)).T
    tx, ty = np.asarray(translate, np.float64).T
    scale = np.asarray(scale, np.float64)
    cx, cy = center
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    m = np.stack([np.stack([d, -b, np.zeros_like(a)], -1), np.stack([-c, a, np.zeros_like(a)], -1)], -2)
    m /= scale[:, None, None]
    m[:, :, 2] = m[:, :, 0] * (-cx - tx)[:, None] + m[:, :, 1] * (-cy - ty)[:, None]
    m[:, 0, 2] += cx
    m[:, 1, 2] += cy
    return m


class RandomAffine(RandomTransform):
    """Random rotation, translation, scaling and shear of each image, by inverse-mapped sampling.

    Per sample: angle ~ U(degrees) (clockwise, degrees), translation ~ round(U(-a W, a W)),
    round(U(-b H, b H)) pixels for ``translate=(a, b)``, scale ~ U(scale), shear ~ U(shear) (x,
    and y when 4 values are given). Output pixel (i, j) takes the input at ``M_n^-1 (j, i)``
    (coordinates about the image centre), with 'nearest' or 'bilinear' ``interpolation``;
    points outside the input get ``fill`` (0; a number or one per channel), which bilinear
    sampling blends with the image at its border. Same conventions as torchvision's RandomAffine
    (and torch's ``grid_sample(align_corners=False)``).

    >>> RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))(mnist_batch)
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation: str = "nearest", fill=0,
                 center=None, *, generator=None):
        super().__init__(generator)
        op = "RandomAffine"
        self.degrees = _range(degrees, "degrees", op)
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"{op}: translate should be a pair of fractions in [0, 1], got {translate}")
        self.translate = translate
        if scale is not None:
            scale = _range(scale, "scale", op)
            if scale[0] <= 0:
                raise ValueError(f"{op}: scale values should be positive, got {scale}")
        self.scale = scale
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range(shear, "shear", op) + (0.0, 0.0)
            else:
                shear = tuple(float(s) for s in shear)
                if len(shear) == 2:
                    shear += (0.0, 0.0)
                if len(shear) != 4:
                    raise ValueError(f"{op}: shear should be a number or 2 or 4 numbers, got {shear}")
        self.shear = shear
        interpolation = str(getattr(interpolation, "value", interpolation)).lower()
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"{op}: interpolation should be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation, self.fill, self.center = interpolation, fill, center

    def _params(self, shape, rng):
        n, (hh, ww) = shape[0], shape[-2:]
        angle = rng.uniform(*self.degrees, size=n)
        translate = np.zeros((n, 2))
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * ww, self.translate[1] * hh
            translate = np.rint(np.stack([rng.uniform(-max_dx, max_dx, n), rng.uniform(-max_dy, max_dy, n)], -1))
        scale = rng.uniform(*self.scale, size=n) if self.scale is not None else np.ones(n)
        shear = np.zeros((n, 2))
        if self.shear is not None:
            shear = np.stack([rng.uniform(*self.shear[:2], size=n), rng.uniform(*self.shear[2:], size=n)], -1)
        return {"angle": angle, "translate": translate, "scale": scale, "shear": shear}

    def _apply(self, arr, params):
        xp = backend.array_module(arr)
        n, c, hh, ww = arr.shape
        center = (0.0, 0.0) if self.center is None else (self.center[0] - ww * 0.5, self.center[1] - hh * 0.5)
        cpu = {k: backend.to_device(v, backend.cpu) for k, v in params.items()}
        m = affine_inverse_matrices(cpu["angle"], cpu["translate"], cpu["scale"], cpu["shear"], center)
        m = _to_xp(m.astype(np.float32), xp)[:, :, :, None, None]
        xs = (xp.arange(ww, dtype=np.float32) + np.float32(0.5 - ww * 0.5))[None, None, :]
        ys = (xp.arange(hh, dtype=np.float32) + np.float32(0.5 - hh * 0.5))[None, :, None]
        px = m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2] + np.float32(ww * 0.5 - 0.5)  # (N, H, W)
        py = m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2] + np.float32(hh * 0.5 - 0.5)
        # A copy with a one-pixel border of `fill`: every sample point clipped to [-1, W] x [-1, H]
        # reads either the image or the fill, so no masks are needed; one flat gather per corner.
        dt = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
        padded = xp.empty((n, c, hh + 2, ww + 2), dtype=dt)
        padded[...] = _fill_value(self.fill, c, dt, xp, "RandomAffine")
        padded[:, :, 1:-1, 1:-1] = arr
        table = padded.reshape(-1)
        offsets = (xp.arange(n * c, dtype=np.int64) * ((hh + 2) * (ww + 2))).reshape(n, c, 1)

        def take(yi, xi):  # (N, H, W) float coordinates -> (N, C, H*W) values
            rows = (xp.clip(yi, -1, hh) + 1).astype(np.int32)  # int32: float->int64 casts are far slower
            cols = (xp.clip(xi, -1, ww) + 1).astype(np.int32)
            return xp.take(table, offsets + (rows * (ww + 2) + cols).reshape(n, 1, -1))

        if self.interpolation == "nearest":
            out = take(xp.rint(py), xp.rint(px))
        else:
            x0, y0 = xp.floor(px), xp.floor(py)
            wx = (px - x0).astype(dt, copy=False).reshape(n, 1, -1)
            wy = (py - y0).astype(dt, copy=False).reshape(n, 1, -1)
            top = take(y0, x0) * (1 - wx) + take(y0, x0 + 1) * wx
            bottom = take(y0 + 1, x0) * (1 - wx) + take(y0 + 1, x0 + 1) * wx
            out = top * (1 - wy) + bottom * wy
        out = out.reshape(n, c, hh, ww)
        if arr.dtype.kind in "iub":
            out = xp.rint(out)
        return out.astype(arr.dtype, copy=False)

    def extra_repr(self) -> str:
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}, "
                f"interpolation={self.interpolation!r}")


class GaussianNoise(RandomTransform):
    """Add Gaussian noise: ``y = x + mean + std * eps``, eps ~ N(0, 1) per element; ``clip`` to [0, 1].

    Works on float data of any shape (images, feature vectors, sequences).
    """

    def __init__(self, std: float = 0.1, mean: float = 0.0, clip: bool = False, *, generator=None):
        super().__init__(generator)
        if std < 0:
            raise ValueError(f"GaussianNoise: std should be non-negative, got {std}")
        self.std, self.mean, self.clip = float(std), float(mean), clip

    def _check(self, x):
        arr, is_tensor = _array(x)
        if arr.dtype.kind != "f":
            raise TypeError(f"GaussianNoise: input should be float data, got dtype {arr.dtype}")
        return arr, is_tensor

    def get_params(self, x) -> dict:
        arr, _ = self._check(x)
        return {"noise": backend.rng(self.generator).standard_normal(arr.shape, dtype=np.float32)}

    def apply(self, x, params: dict):
        arr, is_tensor = self._check(x)
        xp = backend.array_module(arr)
        noise = _to_xp(params["noise"], xp)
        if noise.size != arr.size:
            raise ValueError(f"GaussianNoise: noise of shape {tuple(noise.shape)} does not fit input of shape "
                             f"{tuple(arr.shape)}")
        out = arr + (noise.reshape(arr.shape) * self.std + self.mean).astype(arr.dtype)
        if self.clip:
            out = xp.clip(out, 0, 1)
        return Tensor._wrap(out) if is_tensor else out

    def __call__(self, x):
        return self.apply(x, self.get_params(x))

    def extra_repr(self) -> str:
        return f"std={self.std}, mean={self.mean}, clip={self.clip}"


class RandomErasing(RandomTransform):
    """Erase a random rectangle of each image with probability ``p`` (Zhong et al. 2017, torchvision semantics).

    Per selected sample: area ~ U(scale) * H * W, aspect ratio ~ exp(U(log ratio)),
    ``h = round(sqrt(area * ratio))``, ``w = round(sqrt(area / ratio))``; up to 10 draws until
    ``h < H and w < W`` (else the sample is left as is); top-left uniform. The rectangle gets
    ``value``: a number, one per channel, or 'random' (N(0, 1) noise). Use after ToTensor/Normalize.
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace: bool = False,
                 *, generator=None):
        super().__init__(generator)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: probability p should be between 0 and 1, got {p}")
        scale, ratio = tuple(float(s) for s in scale), tuple(float(r) for r in ratio)
        if len(scale) != 2 or len(ratio) != 2 or scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomErasing: scale and ratio should be (min, max) pairs, got {scale} and {ratio}")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError(f"RandomErasing: scale should lie in [0, 1], got {scale}")
        if ratio[0] <= 0:
            raise ValueError(f"RandomErasing: ratio should be positive, got {ratio}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value should be a number, a sequence or 'random', got {value!r}")
        self.p, self.scale, self.ratio, self.value, self.inplace = float(p), scale, ratio, value, inplace

    def _params(self, shape, rng):
        n, (hh, ww), tries = shape[0], shape[-2:], 10
        erase = rng.random(n) < self.p
        area = hh * ww * rng.uniform(*self.scale, size=(n, tries))
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), size=(n, tries)))
        h = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        w = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        ok = (h < hh) & (w < ww)
        first = ok.argmax(axis=1)
        erase &= ok.any(axis=1)
        h = np.where(erase, h[np.arange(n), first], 0)
        w = np.where(erase, w[np.arange(n), first], 0)
        top = np.floor(rng.random(n) * (hh - h + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (ww - w + 1)).astype(np.int64)
        params = {"top": top, "left": left, "height": h, "width": w}
        if self.value == "random":
            params["noise"] = rng.standard_normal(shape, dtype=np.float32)
        return params

    def _apply(self, arr, params):
        xp = backend.array_module(arr)
        n, c, hh, ww = arr.shape
        top, left = params["top"][:, None], params["left"][:, None]
        rows = (xp.arange(hh)[None] >= top) & (xp.arange(hh)[None] < top + params["height"][:, None])
        cols = (xp.arange(ww)[None] >= left) & (xp.arange(ww)[None] < left + params["width"][:, None])
        mask = (rows[:, :, None] & cols[:, None, :])[:, None]  # (N, 1, H, W)
        if self.value == "random":
            value = params["noise"].astype(arr.dtype)
        else:
            value = _fill_value(self.value, c, arr.dtype, xp, "RandomErasing")
        if self.inplace:
            xp.copyto(arr, xp.broadcast_to(xp.asarray(value, dtype=arr.dtype), arr.shape), where=mask)
            return arr
        return xp.where(mask, xp.asarray(value, dtype=arr.dtype), arr)

    def extra_repr(self) -> str:
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value!r}"
