"""Pooling and resampling layers (PyTorch's modules) over (N, C, L), (N, C, H, W) and (N, C, D, H, W).

MaxPool: y = max over each window (dx = dy at the argmax); AvgPool: y = window sum / divisor
(dx = dy / divisor spread over the window); the adaptive versions choose the windows from the
output size (window o spans [floor(o n / m), ceil((o + 1) n / m))); GlobalAvgPool2d averages each
channel to one number, (N, C, H, W) -> (N, C); Upsample resizes. LPPool takes (sum x^p)^(1/p) over each
window, FractionalMaxPool max-pools pseudo-random windows, MaxUnpool puts pooled maxima back at their
indices. Unbatched inputs (C, L) / (C, H, W) / (C, D, H, W) are accepted, as torch. The math lives in
``ops/pool.py``, ``ops/pool_variants.py`` and ``ops/interpolate.py``.

>>> nn.MaxPool2d(2)(lamina.randn(64, 32, 28, 28)).shape     # (64, 32, 14, 14)
"""
from __future__ import annotations

from ...ops import pool as P
from ...ops import pool_variants as V
from ...ops.conv import _ntuple
from ...ops.interpolate import interpolate
from ...tensor import Tensor
from ..module import Module

_LAYOUT = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)", 3: "(C, D, H, W) or (N, C, D, H, W)"}


def _batched(module, input, nd: int):
    """(input as (N, C, *spatial), was_unbatched), after checking its rank."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{type(module).__name__}: input must be a lamina Tensor, got {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{type(module).__name__}: expected a {nd + 1}-D or {nd + 2}-D input {_LAYOUT[nd]}, "
                         f"got shape {tuple(input.shape)}")
    return (input.unsqueeze(0), True) if input.ndim == nd + 1 else (input, False)


def _unbatch(out, unbatched: bool):
    if not unbatched:
        return out
    if isinstance(out, tuple):
        return tuple(o.squeeze(0) for o in out)
    return out.squeeze(0)


# ---------------------------------------------------------------- max pooling
class _MaxPoolNd(Module):
    _nd, _fn = 2, None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor):
        x, unbatched = _batched(self, input, self._nd)
        out = type(self)._fn(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                             self.return_indices)
        return _unbatch(out, unbatched)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """y[n, c, l] = max_{i < k} x[n, c, l s + i d - p] (padding counts as -inf);  dx = dy routed to the argmax.

    stride defaults to kernel_size; L_out = (L + 2p - d(k-1) - 1) // s + 1 (rounded up with ceil_mode).
    """

    _nd, _fn = 1, staticmethod(P.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """y[n, c, h, w] = max over the kH x kW window at (h s - p, w s - p);  dx = dy routed to the argmax.

    stride defaults to kernel_size; ``return_indices=True`` also gives the flat argmax ``r * W + q``
    (what MaxUnpool2d takes).

    >>> nn.MaxPool2d(2)(lamina.randn(8, 16, 32, 32)).shape      # (8, 16, 16, 16)
    """

    _nd, _fn = 2, staticmethod(P.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """y[n, c, z, h, w] = max over the kD x kH x kW window at (z s - p, h s - p, w s - p);  dx = dy at the argmax.

    stride defaults to kernel_size; ``return_indices=True`` also gives the flat argmax ``(z H + r) W + q``
    (what MaxUnpool3d takes).

    >>> nn.MaxPool3d(2)(lamina.randn(2, 4, 8, 16, 16)).shape      # (2, 4, 4, 8, 8)
    """

    _nd, _fn = 3, staticmethod(P.max_pool3d)


# ---------------------------------------------------------------- average pooling
class AvgPool1d(Module):
    """y[n, c, l] = (1/k) sum_{i < k} x[n, c, l s + i - p] (zero padding; excluded from the divisor
    if not count_include_pad);  dx = dy / k spread back over each window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        x, unbatched = _batched(self, input, 1)
        out = P.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)
        return _unbatch(out, unbatched)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPool(Module):
    _nd, _fn = 2, None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        x, unbatched = _batched(self, input, self._nd)
        out = type(self)._fn(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                             self.divisor_override)
        return _unbatch(out, unbatched)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPool):
    """y[n, c, h, w] = (sum of the kH x kW window) / divisor;  dx = dy / divisor spread back over each window.

    divisor = divisor_override, else the window area (zero padding included when count_include_pad).

    >>> nn.AvgPool2d(2)(lamina.randn(8, 16, 32, 32)).shape      # (8, 16, 16, 16)
    """

    _nd, _fn = 2, staticmethod(P.avg_pool2d)


class AvgPool3d(_AvgPool):
    """y[n, c, z, h, w] = (sum of the kD x kH x kW window) / divisor;  dx = dy / divisor spread back over each window.

    divisor = divisor_override, else the window volume (zero padding included when count_include_pad).

    >>> nn.AvgPool3d(2)(lamina.randn(2, 4, 8, 16, 16)).shape      # (2, 4, 4, 8, 8)
    """

    _nd, _fn = 3, staticmethod(P.avg_pool3d)


# ---------------------------------------------------------------- LP pooling
class _LPPoolNd(Module):
    _nd, _fn = 2, None

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        x, unbatched = _batched(self, input, self._nd)
        return _unbatch(type(self)._fn(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode), unbatched)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """y[n, c, l] = (sum_{i < k} x[n, c, l s + i]^p)^(1/p) over (N, C, L) (p = norm_type; stride defaults to k)."""

    _nd, _fn = 1, staticmethod(V.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """y = (sum over each kH x kW window of x^p)^(1/p) over (N, C, H, W): p = 1 is sum pooling, p -> inf max pooling.

    >>> nn.LPPool2d(2, 3, stride=2)(lamina.randn(1, 16, 50, 32)).shape    # (1, 16, 24, 15)
    """

    _nd, _fn = 2, staticmethod(V.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """y = (sum over each kD x kH x kW window of x^p)^(1/p) over (N, C, D, H, W)."""

    _nd, _fn = 3, staticmethod(V.lp_pool3d)


# ---------------------------------------------------------------- fractional max pooling
class _FractionalMaxPoolNd(Module):
    _nd, _fn = 2, None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices: bool = False,
                 _random_samples=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = _ntuple(kernel_size, nd, "kernel_size", name, 1)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        self.output_size = None if output_size is None else _ntuple(output_size, nd, "output_size", name, 1)
        self.output_ratio = None
        if output_ratio is not None:
            ratio = (output_ratio,) * nd if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
            if len(ratio) != nd or not all(0 < r < 1 for r in ratio):
                raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")
            self.output_ratio = ratio

    def forward(self, input: Tensor):
        x, unbatched = _batched(self, input, self._nd)
        out = type(self)._fn(x, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                             _random_samples=self._random_samples)
        return _unbatch(out, unbatched)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Max pooling of (N, C, H, W) over kernel_size windows at pseudo-random starts (Graham, 2014), down to
    ``output_size`` or ``output_ratio`` of the input. Windows start at int((i + u) a) - int(u a),
    a = (H - kH) / (Ho - 1), u ~ U[0, 1) per (n, c) (fixed by ``_random_samples`` (N, C, 2), a buffer, as torch).

    >>> nn.FractionalMaxPool2d(3, output_ratio=0.5)(lamina.randn(2, 4, 32, 32)).shape   # (2, 4, 16, 16)
    """

    _nd, _fn = 2, staticmethod(V.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling of (N, C, D, H, W) (see FractionalMaxPool2d); ``_random_samples`` (N, C, 3)."""

    _nd, _fn = 3, staticmethod(V.fractional_max_pool3d)


# ---------------------------------------------------------------- max unpooling
class _MaxUnpoolNd(Module):
    _nd, _fn = 2, None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = _ntuple(kernel_size, nd, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else _ntuple(stride, nd, "stride", name, 1)
        self.padding = _ntuple(padding, nd, "padding", name, 0)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        x, unbatched = _batched(self, input, self._nd)
        if unbatched and isinstance(indices, Tensor):
            indices = indices.unsqueeze(0)
        out = type(self)._fn(x, indices, self.kernel_size, self.stride, self.padding, output_size)
        return _unbatch(out, unbatched)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: y (N, C, L_out) = zeros with y[n, c, indices] = x;  dx = dy at indices.
    L_out = (L - 1) s - 2p + k, or ``forward(x, indices, output_size=...)``."""

    _nd, _fn = 1, staticmethod(V.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d: y[n, c].flat[indices] = x[n, c], zeros elsewhere;  dx = dy at indices.

    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> y, i = pool(x);  unpool(y, i, output_size=x.shape).shape == x.shape
    """

    _nd, _fn = 2, staticmethod(V.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d over (N, C, D, H, W) (flat indices (z H + r) W + q)."""

    _nd, _fn = 3, staticmethod(V.max_unpool3d)


# ---------------------------------------------------------------- adaptive pooling
class _AdaptivePool(Module):
    _nd, _fn, _has_indices = 2, None, False

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        x, unbatched = _batched(self, input, self._nd)
        fn = type(self)._fn
        out = fn(x, self.output_size, self.return_indices) if self._has_indices else fn(x, self.output_size)
        return _unbatch(out, unbatched)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over L_out adaptive windows: (N, C, L) -> (N, C, L_out)."""

    _nd, _fn = 1, staticmethod(P.adaptive_avg_pool1d)

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over adaptive windows: (N, C, H, W) -> (N, C, *output_size); window o covers
    [floor(o H / H_out), ceil((o + 1) H / H_out)) (likewise in W). A None in output_size keeps that size.

    >>> nn.AdaptiveAvgPool2d((1, 1))(lamina.randn(8, 64, 7, 7)).shape   # (8, 64, 1, 1)
    """

    _nd, _fn = 2, staticmethod(P.adaptive_avg_pool2d)

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max over L_out adaptive windows: (N, C, L) -> (N, C, L_out);  dx = dy at the argmax."""

    _nd, _fn, _has_indices = 1, staticmethod(P.adaptive_max_pool1d), True


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max over adaptive windows: (N, C, H, W) -> (N, C, *output_size);  dx = dy at the argmax."""

    _nd, _fn, _has_indices = 2, staticmethod(P.adaptive_max_pool2d), True


class AdaptiveAvgPool3d(_AdaptivePool):
    """Mean over adaptive windows: (N, C, D, H, W) -> (N, C, *output_size); window o covers
    [floor(o n / m), ceil((o + 1) n / m)) in each dimension. A None in output_size keeps that size."""

    _nd, _fn = 3, staticmethod(P.adaptive_avg_pool3d)

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveMaxPool3d(_AdaptivePool):
    """Max over adaptive windows: (N, C, D, H, W) -> (N, C, *output_size);  dx = dy at the argmax."""

    _nd, _fn, _has_indices = 3, staticmethod(P.adaptive_max_pool3d), True


class GlobalAvgPool2d(Module):
    """y[n, c] = mean_{h, w} x[n, c, h, w]: (N, C, H, W) -> (N, C), i.e. AdaptiveAvgPool2d(1) + flatten;
    dx = dy / (H W) at every pixel. The usual head of a ResNet (an unbatched (C, H, W) gives (C,)).
    """

    def forward(self, input: Tensor) -> Tensor:
        x, unbatched = _batched(self, input, 2)
        if any(n == 0 for n in x.shape[2:]):
            raise ValueError(f"GlobalAvgPool2d: input has an empty spatial dimension (shape {tuple(input.shape)})")
        return _unbatch(x.mean((2, 3)), unbatched)


# ---------------------------------------------------------------- resampling
class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by ``scale_factor`` with ``mode``
    'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' / 'bicubic' (4-D), 'trilinear' (5-D) or 'area'
    (torch's F.interpolate; the backward is the transposed resampling).

    bilinear, align_corners=False: src = max((dst + 0.5) in/out - 0.5, 0);  True: src = dst (in-1)/(out-1).

    >>> nn.Upsample(scale_factor=2, mode='bilinear')(lamina.randn(1, 3, 8, 8)).shape   # (1, 3, 16, 16)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: exactly one of size or scale_factor should be given")
        self.size = size
        self.scale_factor = (float(scale_factor) if isinstance(scale_factor, (int, float)) else
                             tuple(float(f) for f in scale_factor) if scale_factor is not None else None)
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"Upsample: input must be a lamina Tensor, got {type(input).__name__}")
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"size={self.size}" if self.scale_factor is None else f"scale_factor={self.scale_factor}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W): Upsample(mode='nearest')."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) with align_corners=True (torch's legacy layer)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
