"""Reductions over dimensions: sum, mean, var, std, max, min, prod, logsumexp, cumsum, norm, ...

``dim`` may be None (all dimensions), an int or a tuple; ``keepdim`` keeps reduced dimensions
with size 1. Backward broadcasts the upstream gradient back over the reduced dimensions.
"""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor
from .broadcast import broadcast_to


def normalize_dims(dim, ndim: int, op: str = "reduce") -> tuple:
    """``dim`` (None, int or sequence, negatives allowed) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dimension {d} is out of range for a tensor of {ndim} dimensions")
        out.append(d % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axes``;  dx = dy broadcast back over ``axes``."""

    saves_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        if not self.keepdim:
            gy = gy.reshape(_kept_shape(self.in_shape, self.axes))
        return broadcast_to(gy, self.in_shape)


def sum(x: Tensor, dim=None, keepdim=False, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dimensions if None). Integer and bool tensors sum to int64."""
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "bui":
        x = x.to("int64")
    return Sum(normalize_dims(dim, x.ndim, "sum"), keepdim)(x)


def mean(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Arithmetic mean over ``dim``: sum / count."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype; input dtype must be floating point, got {x.dtype}")
    axes = normalize_dims(dim, x.ndim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    return Sum(axes, keepdim)(x) * (1.0 / count if count else float("nan"))


def var(*args, **kwargs):
    raise NotImplementedError('reduce.var')


def std(*args, **kwargs):
    raise NotImplementedError('reduce.std')


def max(*args, **kwargs):
    raise NotImplementedError('reduce.max')


def min(*args, **kwargs):
    raise NotImplementedError('reduce.min')


def amax(*args, **kwargs):
    raise NotImplementedError('reduce.amax')


def amin(*args, **kwargs):
    raise NotImplementedError('reduce.amin')


def argmax(*args, **kwargs):
    raise NotImplementedError('reduce.argmax')


def argmin(*args, **kwargs):
    raise NotImplementedError('reduce.argmin')


def prod(*args, **kwargs):
    raise NotImplementedError('reduce.prod')


def logsumexp(*args, **kwargs):
    raise NotImplementedError('reduce.logsumexp')


def cumsum(*args, **kwargs):
    raise NotImplementedError('reduce.cumsum')


def norm(*args, **kwargs):
    raise NotImplementedError('reduce.norm')


def all(*args, **kwargs):
    raise NotImplementedError('reduce.all')


def any(*args, **kwargs):
    raise NotImplementedError('reduce.any')

