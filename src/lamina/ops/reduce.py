"""Reductions over dimensions: sum, mean, var, std, max, min, prod, logsumexp, cumsum, norm, ...

``dim`` may be None (all dimensions), an int or a tuple (negatives allowed; an empty tuple
means all dimensions, as in PyTorch); ``keepdim`` keeps reduced dimensions with size 1.
Backward reshapes the upstream gradient to the kept shape and lets it broadcast back over
the reduced dimensions. Every backward is made of Tensor ops, so second derivatives work.
"""
from __future__ import annotations

import builtins as _b
import math
import operator
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from . import return_types
from .broadcast import broadcast_to
from .elementwise import abs as _abs
from .elementwise import astype, clone, exp, mask_mul, maximum, minimum, sign, where
from .elementwise import pow as _pow

values_indices = namedtuple("values_indices", ["values", "indices"])  # kept for code that names it


def normalize_dims(dim, ndim: int, op: str = "reduce", shape=None) -> tuple:
    """``dim`` (None, int or sequence, negatives allowed) as a sorted tuple of axes.

    None and ``()`` mean every dimension. A 0-d tensor accepts dim 0 or -1 and has no axes.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if not isinstance(dim, (tuple, list)) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    n = _b.max(ndim, 1)
    out = []
    for d in dims:
        try:
            d = operator.index(d)
        except TypeError:
            raise TypeError(f"{op}(): dim must be an int or a tuple of ints, got {type(d).__name__}") from None
        if not -n <= d < n:
            where_ = f"shape {tuple(shape)}" if shape is not None else f"{ndim} dimensions"
            raise IndexError(f"{op}(): dimension {d} is out of range for a tensor of {where_} "
                             f"(expected to be in range of [{-n}, {n - 1}])")
        d %= n
        if d in out:
            raise RuntimeError(f"{op}(): dim {d} appears multiple times in the list of dims {dims}")
        out.append(d)
    return tuple(sorted(out)) if ndim else ()


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _out_shape(shape: tuple, axes: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return _kept_shape(shape, axes)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _count(shape: tuple, axes: tuple) -> int:
    return math.prod(shape[a] for a in axes)


def _arr(y, xp):
    """NumPy reductions to a scalar give a numpy scalar; tensors always hold arrays."""
    return y if isinstance(y, xp.ndarray) else xp.asarray(y)


def _kept(gy: Tensor, shape: tuple, axes: tuple) -> Tensor:
    """The gradient of a reduction's output, with the reduced dimensions back as size 1."""
    kept = _kept_shape(shape, axes)
    return gy if gy.shape == kept else gy.reshape(kept)


def _dims(x: Tensor, dim, op: str) -> tuple:
    return normalize_dims(dim, x.ndim, op, x.shape)


def _need_float(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}(): input dtype must be floating point, got {x.dtype}")


def _check_nonempty(x: Tensor, axes: tuple, op: str) -> None:
    if x.array.size == 0:
        for a in axes:
            if x.shape[a] == 0:
                raise IndexError(f"{op}(): expected reduction dim {a} to have non-zero size "
                                 f"(input shape {x.shape})")
        if not axes:
            raise RuntimeError(f"{op}(): cannot reduce an empty tensor (shape {x.shape}); specify dim")


# ---------------------------------------------------------------- sum / mean
class Sum(Function):
    """y = sum of x over ``axes``;  dx = dy broadcast back over ``axes``."""

    saves_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        acc = np.float32 if x.dtype == np.float16 else x.dtype  # float16 sums accumulate in float32, as torch
        y = x.sum(axis=self.axes, keepdims=self.keepdim, dtype=acc)  # (and int32 stays int32)
        return _arr(y.astype(x.dtype, copy=False), backend.array_module(x))

    def backward(self, gy):
        return broadcast_to(_kept(gy, self.in_shape, self.axes), self.in_shape)


def acc_dtype(x: Tensor, dtype) -> Tensor:
    """x cast to ``dtype`` if given, else bool/int widened to int64 (sum, prod, cumsum, cumprod, nansum)."""
    if dtype is not None:
        return astype(x, backend.as_dtype(dtype))
    return astype(x, np.int64) if x.dtype.kind in "bui" else x


def sum(x: Tensor, dim=None, keepdim=False, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dimensions if None). Integer and bool tensors sum to int64."""
    x = acc_dtype(x, dtype)
    return Sum(_dims(x, dim, "sum"), keepdim)(x)


def sum_to_size(x: Tensor, *size) -> Tensor:
    """x summed down to ``size`` (which must broadcast to x's shape): the adjoint of expand."""
    from .broadcast import sum_to

    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    try:
        ok = np.broadcast_shapes(size, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"sum_to_size(): size {list(size)} is not expandable to size {list(x.shape)}")
    return sum_to(x, size)


def float_dtype_arg(x: Tensor, dtype, op: str) -> Tensor:
    """x cast to the floating ``dtype`` argument of mean-like ops (an int dtype is an error, as torch)."""
    dtype = backend.as_dtype(dtype)
    if dtype.kind != "f":
        raise RuntimeError(f"{op}(): could not infer output dtype. Optional dtype must be either a floating "
                           f"point or complex dtype. Got: {dtype}")
    return astype(x, dtype)


def mean(x: Tensor, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``: y = sum(x) / N;  dx = dy / N."""
    if dtype is not None:
        x = float_dtype_arg(x, dtype, "mean")
    if x.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype; input dtype must be floating point, got {x.dtype}")
    axes = _dims(x, dim, "mean")
    count = _count(x.shape, axes)
    return Sum(axes, keepdim)(x) * (1.0 / count if count else float("nan"))


# ---------------------------------------------------------------- var / std
class Var(Function):
    """y = sum((x - mean)**2) / (N - correction);  dx = dy * 2 (x - mean) / (N - correction)."""

    def __init__(self, axes, correction, keepdim):
        self.axes, self.correction, self.keepdim = axes, correction, keepdim

    def forward(self, x):
        xp = backend.array_module(x)
        axes, n = self.axes, _count(x.shape, self.axes)
        self.n = n
        out_shape = _out_shape(x.shape, axes, self.keepdim)
        if n == 0:
            return xp.full(out_shape, xp.nan, dtype=x.dtype)
        self.mu = _arr(x.mean(axis=axes, keepdims=True), xp)
        d = _arr(x - self.mu, xp)
        s = _arr(xp.multiply(d, d, out=d).sum(axis=axes, keepdims=self.keepdim), xp)
        denom = n - self.correction
        if denom <= 0:  # torch: divide by max(0, N - correction) -> inf, or nan where s == 0
            return xp.where(s > 0, xp.inf, xp.nan).astype(x.dtype)
        return _arr(s * x.dtype.type(1.0 / denom), xp)

    def _grad_of_var(self, g):
        """dx for an upstream gradient ``g`` on the variance, already in the kept shape."""
        (x,) = self.inputs
        denom = self.n - self.correction
        mu = mean(x, self.axes, keepdim=True) if is_grad_enabled() else Tensor._wrap(self.mu)
        return g * (x - mu) * (2.0 / denom if denom > 0 else float("inf"))

    def backward(self, gy):
        return self._grad_of_var(_kept(gy, self.inputs[0].shape, self.axes))


class Std(Var):
    """y = sqrt(var(x));  dx = dy / (2 y) * dvar/dx  (0 where y == 0, as in torch)."""

    keep_outputs = True

    def forward(self, x):
        y = super().forward(x)
        xp = backend.array_module(y)
        return _arr(xp.sqrt(y), xp)

    def backward(self, gy):
        shape = self.inputs[0].shape
        y = _kept(self.outputs[0], shape, self.axes)
        safe = y + Tensor._wrap((y.array == 0).astype(y.dtype))  # where y == 0, x - mean == 0 too
        return self._grad_of_var(_kept(gy, shape, self.axes) / (safe * 2.0))


def _correction(dim, correction, unbiased):
    if isinstance(dim, bool):  # legacy torch overload var(x, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return dim, correction


def var(x: Tensor, dim=None, *, correction=1, keepdim=False, unbiased=None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (1: unbiased, 0: population)."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"var(): std and var only support floating point dtypes, got {x.dtype}")
    dim, correction = _correction(dim, correction, unbiased)
    return Var(_dims(x, dim, "var"), correction, keepdim)(x)


def std(x: Tensor, dim=None, *, correction=1, keepdim=False, unbiased=None) -> Tensor:
    """Standard deviation over ``dim``: sqrt(var(x, dim, correction))."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"std(): std and var only support floating point dtypes, got {x.dtype}")
    dim, correction = _correction(dim, correction, unbiased)
    return Std(_dims(x, dim, "std"), correction, keepdim)(x)


# ---------------------------------------------------------------- max / min
class AMax(Function):
    """y = max (or min) of x over ``axes``;  dx = dy * [x == y] / #ties (ties share the gradient)."""

    def __init__(self, axes, keepdim, largest=True):
        self.axes, self.keepdim, self.largest = axes, keepdim, largest

    def forward(self, x):
        xp = backend.array_module(x)
        red = xp.max if self.largest else xp.min
        y = _arr(red(x, axis=self.axes, keepdims=True), xp)
        self.y = y
        return y if self.keepdim else y.reshape(_out_shape(x.shape, self.axes, False))

    def backward(self, gy):
        (x,) = self.inputs
        xd, y = x.array, self.y
        xp = x.xp
        hit = xd == y
        if xp.isnan(y).any():  # a NaN maximum comes from the NaN entries
            hit |= xp.isnan(xd) & xp.isnan(y)
        w = hit.astype(gy.dtype)
        w /= w.sum(axis=self.axes, keepdims=True)
        return broadcast_to(_kept(gy, x.shape, self.axes), x.shape) * Tensor._wrap(w)


class MaxDim(Function):
    """(values, indices) of the max (or min) along ``axis``;  dx = dy at the chosen index, 0 elsewhere."""

    saves_inputs = False

    def __init__(self, axis, keepdim, largest=True):
        self.axis, self.keepdim, self.largest = axis, keepdim, largest

    def forward(self, x):
        xp = backend.array_module(x)
        ax = self.axis
        idx = (xp.argmax if self.largest else xp.argmin)(x, axis=ax, keepdims=True).astype(np.int64)
        vals = xp.take_along_axis(x, idx, axis=ax)
        self.in_shape, self.idx = x.shape, idx
        if not self.keepdim:
            vals, idx = vals.squeeze(ax), idx.squeeze(ax)
        return vals, idx

    def backward(self, gy, _gidx):
        xp = backend.array_module(self.idx)
        shape, ax = self.in_shape, self.axis
        pos = xp.arange(shape[ax]).reshape((-1,) + (1,) * (len(shape) - ax - 1))
        onehot = pos == self.idx
        return mask_mul(broadcast_to(_kept(gy, shape, (ax,)), shape), onehot)


def _extremum(x: Tensor, dim, keepdim, largest: bool):
    op = "max" if largest else "min"
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if largest else minimum)(x, dim)
    if dim is None:
        _check_nonempty(x, (), op)
        return AMax(tuple(range(x.ndim)), False, largest)(x)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): dim must be a single int, got {dim}; use a{op}(x, dim) to reduce several dims")
    (axis,) = _dims(x, dim, op) or (None,)
    cls = return_types.max if largest else return_types.min
    if axis is None:  # 0-d tensor
        return cls(clone(x), Tensor._wrap(x.xp.zeros((), dtype=np.int64)))
    _check_nonempty(x, (axis,), op)
    return cls(*MaxDim(axis, keepdim, largest)(x))


def max(x: Tensor, dim=None, keepdim=False):
    """max(x) -> the largest value;  max(x, dim) -> (values, indices) along ``dim``.

    The full reduction splits the gradient evenly among ties; along a dim it flows to ``indices``.
    ``max(x, other_tensor)`` is the elementwise maximum.
    """
    return _extremum(x, dim, keepdim, True)


def min(x: Tensor, dim=None, keepdim=False):
    """min(x) -> the smallest value;  min(x, dim) -> (values, indices) along ``dim``."""
    return _extremum(x, dim, keepdim, False)


def amax(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Largest value over ``dim`` (int or tuple); the gradient is split evenly among ties."""
    axes = _dims(x, dim, "amax")
    _check_nonempty(x, axes, "amax")
    return AMax(axes, keepdim, True)(x)


def amin(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Smallest value over ``dim`` (int or tuple); the gradient is split evenly among ties."""
    axes = _dims(x, dim, "amin")
    _check_nonempty(x, axes, "amin")
    return AMax(axes, keepdim, False)(x)


def _arg(x: Tensor, dim, keepdim, largest: bool) -> Tensor:
    op = "argmax" if largest else "argmin"
    if x.dtype.kind == "b":
        raise RuntimeError(f'"{op}_cpu" not implemented for \'Bool\' (convert with .int() or .float() first)')
    xp, fn = x.xp, (x.xp.argmax if largest else x.xp.argmin)
    if dim is None:
        _check_nonempty(x, (), op)
        i = xp.asarray(fn(x.array), dtype=np.int64)
        return Tensor._wrap(i.reshape((1,) * x.ndim) if keepdim else i)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): dim must be a single int, got {dim}")
    axes = _dims(x, dim, op)
    if not axes:
        return Tensor._wrap(xp.zeros((), dtype=np.int64))
    _check_nonempty(x, axes, op)
    return Tensor._wrap(_arr(fn(x.array, axis=axes[0], keepdims=keepdim), xp).astype(np.int64, copy=False))


def argmax(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Index (int64) of the largest value, in the flattened tensor if ``dim`` is None. No gradient."""
    return _arg(x, dim, keepdim, True)


def argmin(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Index (int64) of the smallest value, in the flattened tensor if ``dim`` is None. No gradient."""
    return _arg(x, dim, keepdim, False)


# ---------------------------------------------------------------- prod
class Prod(Function):
    """y = prod(x) over ``axes``;  dx_i = dy * prod_{j != i} x_j (= dy * y / x_i without zeros).

    With zeros in a slice, Q = product of its nonzero entries and m = its number of zeros:
    dx_i = dy * Q / x_i if m == 0;  dy * Q at the zero if m == 1;  0 otherwise. The zero entries
    enter that formula as variables, so the second derivative is exact too.
    """

    keep_outputs = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return _arr(x.prod(axis=self.axes, keepdims=self.keepdim, dtype=x.dtype), backend.array_module(x))

    def backward(self, gy):
        (x,) = self.inputs
        axes = self.axes
        gy = _kept(gy, x.shape, axes)
        zero = x.array == 0
        if not zero.any():
            return (gy * _kept(self.outputs[0], x.shape, axes)) / x
        dt = x.dtype
        m = zero.sum(axis=axes, keepdims=True)
        rest = m - zero  # zeros in the slice other than x_i
        z = Tensor._wrap(zero.astype(dt))
        x_safe = where(zero, 1.0, x)
        q = Prod(axes, True)(x_safe)
        # T_i = product of the other zeros, exact to first order: 1 (none), their sum (one), 0 (more)
        other_zeros = sum(x * z, axes, keepdim=True) - x * z
        t = Tensor._wrap((rest == 0).astype(dt)) + Tensor._wrap((rest == 1).astype(dt)) * other_zeros
        return (gy * q) / x_safe * t


def prod(x: Tensor, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Product over ``dim`` (all if None). Integer and bool tensors multiply in int64."""
    x = acc_dtype(x, dtype)
    return Prod(_dims(x, dim, "prod"), keepdim)(x)


# ---------------------------------------------------------------- logsumexp / cumsum
class LogSumExp(Function):
    """y = m + log(sum(exp(x - m))) with m = max(x) (stable);  dx = dy * exp(x - y) = dy * softmax(x)."""

    keep_outputs = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        xp = backend.array_module(x)
        axes = self.axes
        if _count(x.shape, axes) == 0:
            return xp.full(_out_shape(x.shape, axes, self.keepdim), -xp.inf, dtype=x.dtype)
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)  # all -inf (or an inf): no shift
        e = xp.exp(x - m)
        with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for all -inf
            y = xp.log(e.sum(axis=axes, keepdims=True)) + m
        return _arr(y if self.keepdim else y.reshape(_out_shape(x.shape, axes, False)), xp)

    def backward(self, gy):
        (x,) = self.inputs
        return _kept(gy, x.shape, self.axes) * exp(x - _kept(self.outputs[0], x.shape, self.axes))


def logsumexp(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed without overflow."""
    if x.dtype.kind != "f":
        x = astype(x, backend.get_default_dtype())
    return LogSumExp(_dims(x, dim, "logsumexp"), keepdim)(x)


class CumSum(Function):
    """y_i = sum_{j <= i} x_j along ``axis`` (from the end if ``reverse``);  dx = reverse cumsum of dy."""

    saves_inputs = False

    def __init__(self, axis, reverse=False):
        self.axis, self.reverse = axis, reverse

    def forward(self, x):
        xp = backend.array_module(x)
        if not self.reverse:
            return xp.cumsum(x, axis=self.axis, dtype=x.dtype)
        return xp.ascontiguousarray(xp.flip(xp.cumsum(xp.flip(x, self.axis), axis=self.axis, dtype=x.dtype), self.axis))

    def backward(self, gy):
        return CumSum(self.axis, not self.reverse)(gy)


def cumsum(x: Tensor, dim, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim``. Integer and bool tensors sum in int64."""
    x = acc_dtype(x, dtype)
    if isinstance(dim, (tuple, list)) or dim is None:
        raise TypeError(f"cumsum(): dim must be a single int, got {dim}")
    axes = _dims(x, dim, "cumsum")
    return CumSum(axes[0])(x) if axes else clone(x)


# ---------------------------------------------------------------- norms
class Norm2(Function):
    """y = sqrt(sum(x**2)) over ``axes``;  dx = dy * x / y  (0 where y == 0, a subgradient)."""

    keep_outputs = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        xp = backend.array_module(x)
        return _arr(xp.sqrt((x * x).sum(axis=self.axes, keepdims=self.keepdim)), xp)

    def backward(self, gy):
        (x,) = self.inputs
        y = _kept(self.outputs[0], x.shape, self.axes)
        safe = y + Tensor._wrap((y.array == 0).astype(y.dtype))  # y == 0 means x == 0 there
        return x * (_kept(gy, x.shape, self.axes) / safe)


class PNorm(Function):
    """y = (sum |x|**p)**(1/p);  dx = dy * sign(x) |x|**(p-1) / y**(p-1)  (0 at x == 0 and where y == 0)."""

    keep_outputs = True

    def __init__(self, p, axes, keepdim):
        self.p, self.axes, self.keepdim = float(p), axes, keepdim

    def forward(self, x):
        xp = backend.array_module(x)
        p = x.dtype.type(self.p)
        s = (xp.abs(x) ** p).sum(axis=self.axes, keepdims=self.keepdim)
        return _arr(s ** (1 / p), xp)

    def backward(self, gy):
        (x,) = self.inputs
        p = self.p
        y = _kept(self.outputs[0], x.shape, self.axes)
        zero_y = Tensor._wrap((y.array == 0).astype(y.dtype))
        a = _abs(x)
        a_safe = a + Tensor._wrap((x.array == 0).astype(x.dtype))  # avoids 0 ** negative
        scale = _kept(gy, x.shape, self.axes) / _pow(y + zero_y, p - 1.0) * (1.0 - zero_y)
        return sign(x) * _pow(a_safe, p - 1.0) * scale


def norm(x: Tensor, p="fro", dim=None, keepdim=False, dtype=None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements if None), as ``torch.norm``.

    p: 'fro' or 2 (Euclidean / Frobenius), 1, inf (max |x|), -inf (min |x|), 0 (count of
    nonzeros), any other float: (sum |x|**p)**(1/p). 'nuc' is not supported. ``dtype`` casts x first.
    """
    if x.dtype.kind != "f":
        raise RuntimeError(f"norm(): input dtype should be floating point, got {x.dtype}")
    if dtype is not None:
        x = astype(x, backend.as_dtype(dtype))
    axes = _dims(x, dim, "norm")
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm(): the nuclear norm (p='nuc') is not supported")
        if p != "fro":
            raise ValueError(f"norm(): unknown norm type p={p!r}; expected 'fro', 'nuc' or a number")
        if dim is not None and len(axes) > 2:
            raise RuntimeError(f"norm(): the Frobenius norm takes one or two dims, got dim={dim} "
                               f"for input shape {x.shape}")
        p = 2
    if p is None:
        p = 2
    p = float(p)
    if p == 2:
        return Norm2(axes, keepdim)(x)
    if p == 1:
        return sum(_abs(x), axes, keepdim)
    if p == math.inf:
        _check_nonempty(x, axes, "norm")
        return AMax(axes, keepdim, True)(_abs(x))
    if p == -math.inf:
        _check_nonempty(x, axes, "norm")
        return AMax(axes, keepdim, False)(_abs(x))
    if p == 0:
        return Tensor._wrap(_arr((x.array != 0).sum(axis=axes, keepdims=keepdim), x.xp).astype(x.dtype))
    return PNorm(p, axes, keepdim)(x)


# ---------------------------------------------------------------- logical
def all(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """True where every element over ``dim`` is nonzero (bool; uint8 for uint8 input, as torch)."""
    axes = _dims(x, dim, "all")
    y = _arr(x.xp.all(x.array, axis=axes, keepdims=keepdim), x.xp)
    return Tensor._wrap(y.astype(np.uint8) if x.dtype == np.uint8 else y)  # torch keeps uint8


def any(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """True where some element over ``dim`` is nonzero (bool, no gradient)."""
    axes = _dims(x, dim, "any")
    y = _arr(x.xp.any(x.array, axis=axes, keepdims=keepdim), x.xp)
    return Tensor._wrap(y.astype(np.uint8) if x.dtype == np.uint8 else y)
