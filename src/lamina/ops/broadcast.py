"""Broadcasting primitives: broadcast_to and its adjoint sum_to.

Every binary elementwise op uses ``sum_to`` in backward to undo NumPy broadcasting:
if ``y = f(a, b)`` broadcast ``a`` from shape ``s`` to ``y.shape``, then
``da = sum_to(dy * df/da, s)`` sums over the broadcast dimensions.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import array_module


def _sum_axes(from_shape: tuple, to_shape: tuple) -> tuple:
    lead = len(from_shape) - len(to_shape)
    axes = list(range(lead))
    for i, n in enumerate(to_shape):
        if n == 1 and from_shape[lead + i] != 1:
            axes.append(lead + i)
    return tuple(axes)


class BroadcastTo(Function):
    """y = broadcast(x) to ``shape``;  dx = sum_to(dy, x.shape)."""

    saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        return array_module(x).broadcast_to(x, self.shape)  # a read-only view: no copy

    def backward(self, gy):
        return sum_to(gy, self.in_shape)


class SumTo(Function):
    """y = x summed over the dimensions that ``shape`` broadcasts;  dx = broadcast_to(dy, x.shape)."""

    saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        axes = _sum_axes(x.shape, self.shape)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        lead = len(x.shape) - len(self.shape)
        return y.reshape(self.shape) if lead or y.shape != self.shape else y

    def backward(self, gy):
        return broadcast_to(gy, self.in_shape)


def self_xp(x):
    return array_module(x)


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (NumPy rules); the gradient is summed back to x's shape."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        ok = np.broadcast_shapes(x.shape, shape) == shape  # shape arithmetic only
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"broadcast_to: shape {x.shape} cannot be broadcast to {shape}")
    return BroadcastTo(shape)(x)


def sum_to(x, shape):
    """``x`` summed over the dimensions that broadcasting ``shape`` to x's shape added or stretched."""
    shape = tuple(shape)
    return x if x.shape == shape else SumTo(shape)(x)
