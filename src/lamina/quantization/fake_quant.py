"""Fake quantization: quantize then dequantize in float, with the straight-through estimator.

    q = clamp(round(x / s) + z, q_min, q_max);   y = (q - z) * s
    dx = dy * [q_min <= round(x / s) + z <= q_max]     (straight-through inside the range, 0 outside)

``round`` is half-to-even and ``x / s`` is computed as ``x * (1 / s)``, as PyTorch's
``torch.fake_quantize_per_tensor_affine`` / ``per_channel_affine`` do, so values and gradients
match them. The STE gradient is the derivative of the surrogate ``clamp(x, (q_min - z) s, (q_max - z) s)``.

    >>> y = fake_quantize_per_tensor_affine(lamina.randn(4, 3), 0.1, 0, -128, 127)
    >>> y = fake_quantize_per_channel_affine(w, scales, zero_points, 0, -128, 127)   # w: (C, ...)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..ops.unary import mask_mul

__all__ = ["FakeQuantizeFn", "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine", "quantize_array"]


def _broadcast(xp, values, ndim: int, axis: int | None, dtype):
    v = xp.asarray(values, dtype=dtype)
    if axis is None:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def quantize_array(x, scale, zero_point, quant_min: int, quant_max: int, axis: int | None = None):
    """The integer codes ``round(x * (1/s)) + z`` (unclamped, float) of an xp array; the shared core."""
    xp = backend.array_module(x)
    s = _broadcast(xp, scale, x.ndim, axis, x.dtype)
    z = _broadcast(xp, zero_point, x.ndim, axis, x.dtype)
    inv = (1.0 / s).astype(x.dtype)
    return xp.round(x * inv) + z, s, z


class FakeQuantizeFn(Function):
    """y = (clamp(round(x/s) + z, q_min, q_max) - z) * s;  dx = dy * [q_min <= round(x/s) + z <= q_max]."""

    saves_inputs = False

    def __init__(self, scale, zero_point, quant_min: int, quant_max: int, axis: int | None = None):
        self.scale, self.zero_point, self.axis = scale, zero_point, axis
        self.quant_min, self.quant_max = quant_min, quant_max

    def forward(self, x):
        q, s, z = quantize_array(x, self.scale, self.zero_point, self.quant_min, self.quant_max, self.axis)
        self.mask = (q >= self.quant_min) & (q <= self.quant_max)
        xp = backend.array_module(x)
        return ((xp.clip(q, self.quant_min, self.quant_max) - z) * s).astype(x.dtype, copy=False)

    def backward(self, gy):
        return mask_mul(gy, self.mask)


def _check(x, quant_min, quant_max, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating point input, got {x.dtype}")
    if not quant_min <= quant_max:
        raise RuntimeError(f"{name}: quant_min ({quant_min}) must not be greater than quant_max ({quant_max})")


def _host(v):
    v = getattr(v, "array", v)
    return np.asarray(v.get() if hasattr(v, "get") else v)


def fake_quantize_per_tensor_affine(x: Tensor, scale, zero_point, quant_min: int, quant_max: int) -> Tensor:
    """Per-tensor fake quantization (one scale ``s`` and zero point ``z``); see the module docstring.

    x: any shape, float. Same arguments as ``torch.fake_quantize_per_tensor_affine``.
    """
    _check(x, quant_min, quant_max, "fake_quantize_per_tensor_affine")
    s, z = float(_host(scale)), int(np.round(float(_host(zero_point))))
    if not s > 0:
        raise RuntimeError(f"fake_quantize_per_tensor_affine: scale must be positive, got {s}")
    if not quant_min <= z <= quant_max:
        raise RuntimeError(f"fake_quantize_per_tensor_affine: zero_point must be between quant_min ({quant_min}) "
                           f"and quant_max ({quant_max}), got {z}")
    return FakeQuantizeFn(s, z, int(quant_min), int(quant_max))(x)


def fake_quantize_per_channel_affine(x: Tensor, scale, zero_point, axis: int, quant_min: int,
                                     quant_max: int) -> Tensor:
    """Per-channel fake quantization along ``axis`` (scale, zero_point: (x.shape[axis],)).

    Same arguments as ``torch.fake_quantize_per_channel_affine``.
    """
    name = "fake_quantize_per_channel_affine"
    _check(x, quant_min, quant_max, name)
    s, z = _host(scale).astype(np.float64).reshape(-1), np.round(_host(zero_point).astype(np.float64)).reshape(-1)
    axis = int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise RuntimeError(f"{name}: axis {axis} is out of range for an input of {x.ndim} dimensions")
    axis %= x.ndim
    c = x.shape[axis]
    if s.size != c or z.size != c:
        raise RuntimeError(f"{name}: expected {c} scales and zero points (x.shape[{axis}]), "
                           f"got {s.size} and {z.size}")
    if not np.all(s > 0):
        raise RuntimeError(f"{name}: every scale must be positive")
    if np.any(z < quant_min) or np.any(z > quant_max):
        raise RuntimeError(f"{name}: zero points must be between quant_min ({quant_min}) and quant_max ({quant_max})")
    xp = backend.array_module(x.array)
    return FakeQuantizeFn(xp.asarray(s), xp.asarray(z), int(quant_min), int(quant_max), axis)(x)
