"""Casts and copies: astype (dtype conversion), clone, to_device.

    y = x as dtype d;  dx = dy converted back to x's dtype (float dtypes only carry gradients)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor


class Identity(Function):
    """y = copy of x;  dx = dy."""

    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class Cast(Function):
    """y = x converted to ``dtype``;  dx = dy converted back to x's dtype."""

    saves_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return Cast(self.in_dtype)(gy)


class ToDevice(Function):
    """y = x on another device;  dx = dy moved back."""

    saves_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.in_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return ToDevice(self.in_device)(gy)


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own memory;  dx = dy."""
    return Identity()(x)


def astype(x: Tensor, dtype) -> Tensor:
    """``x`` converted to ``dtype``; gradients flow back (in x's dtype) between float dtypes."""
    dtype = np.dtype(dtype)
    if x.array.dtype == dtype:
        return x
    if x._requires_grad and dtype.kind == "f":
        return Cast(dtype)(x)
    return Tensor._wrap(x.array.astype(dtype))


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice(backend.Device(device))(x)
