"""Shape ops: reshape, transpose/permute, squeeze, expand, cat/stack/split, flip, roll, pad, ...

Most are views in NumPy; their backward applies the inverse rearrangement to the gradient.
"""
from __future__ import annotations

import math

from ..autograd import Function
from ..tensor import Tensor


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def infer_shape(x_shape: tuple, shape: tuple, op: str = "reshape") -> tuple:
    """Resolve one -1 in ``shape`` and check the element count matches."""
    size = math.prod(x_shape)
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got {shape}")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or size % known:
            raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {x_shape} ({size} elements)")
        shape = tuple(size // known if n == -1 else n for n in shape)
    if math.prod(shape) != size:
        raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {x_shape} ({size} elements)")
    return shape


class Reshape(Function):
    """y = x with shape ``shape``;  dx = dy reshaped to x's shape."""

    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return Reshape(self.in_shape)(gy)


def reshape(x: Tensor, *shape) -> Tensor:
    shape = infer_shape(x.shape, tuple(int(n) for n in _shape_arg(shape)), "reshape")
    return x if shape == x.shape else Reshape(shape)(x)


def view(*args, **kwargs):
    raise NotImplementedError('shape.view')


def flatten(*args, **kwargs):
    raise NotImplementedError('shape.flatten')


def unflatten(*args, **kwargs):
    raise NotImplementedError('shape.unflatten')


def squeeze(*args, **kwargs):
    raise NotImplementedError('shape.squeeze')


def unsqueeze(*args, **kwargs):
    raise NotImplementedError('shape.unsqueeze')


def transpose(*args, **kwargs):
    raise NotImplementedError('shape.transpose')


def t(*args, **kwargs):
    raise NotImplementedError('shape.t')


def permute(*args, **kwargs):
    raise NotImplementedError('shape.permute')


def expand(*args, **kwargs):
    raise NotImplementedError('shape.expand')


def repeat(*args, **kwargs):
    raise NotImplementedError('shape.repeat')


def tile(*args, **kwargs):
    raise NotImplementedError('shape.tile')


def flip(*args, **kwargs):
    raise NotImplementedError('shape.flip')


def roll(*args, **kwargs):
    raise NotImplementedError('shape.roll')


def tril(*args, **kwargs):
    raise NotImplementedError('shape.tril')


def triu(*args, **kwargs):
    raise NotImplementedError('shape.triu')


def split(*args, **kwargs):
    raise NotImplementedError('shape.split')


def chunk(*args, **kwargs):
    raise NotImplementedError('shape.chunk')


def contiguous(*args, **kwargs):
    raise NotImplementedError('shape.contiguous')


def cat(*args, **kwargs):
    raise NotImplementedError('shape.cat')


def stack(*args, **kwargs):
    raise NotImplementedError('shape.stack')


def pad(*args, **kwargs):
    raise NotImplementedError('shape.pad')

