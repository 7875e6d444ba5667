"""Scans along one dimension: cumprod, cummax, cummin, logcumsumexp; differences (diff, gradient)
and trapezoidal integrals (trapezoid, cumulative_trapezoid).

``cumsum`` lives in reduce.py. Every backward is made of Tensor ops, so second derivatives work
(cumprod's too at zeros of the input, through a division-free form).
"""
from __future__ import annotations

import operator

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from . import return_types as R
from .elementwise import astype, clone, exp, log, mask_mul, ne, where
from .index import Gather
from .reduce import CumSum, acc_dtype
from .shape import cat, flip, norm_dim, permute, reshape, unsqueeze
from .sorting import axis_of


def _scan_axis(x: Tensor, dim, op: str):
    if dim is None or isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): dim must be a single int, got {dim!r}")
    return axis_of(x, dim, op)


def _rev_cumsum(t: Tensor, axis: int) -> Tensor:
    return CumSum(axis, reverse=True)(t)


# ---------------------------------------------------------------- cumprod
class CumProd(Function):
    """y_i = prod_{j <= i} x_j along ``axis``;  dx_i = sum_{k >= i} dy_k y_k / x_i.

    With a zero at z (the first one of its line): dx_i as above for i < z (y_k = 0 for k >= z
    drops those terms), dx_z = sum_{k >= z} dy_k prod_{j <= k, j != z} x_j, and dx_i = 0 for i > z.
    """

    keep_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return backend.array_module(x).cumprod(x, axis=self.axis, dtype=x.dtype)

    def backward(self, gy):
        (x,) = self.inputs
        ax, y = self.axis, self.outputs[0]
        zero = x.array == 0
        if not zero.any():
            return _rev_cumsum(gy * y, ax) / x
        if is_grad_enabled():  # a second derivative is wanted: the division-free O(n^2) form
            return _cumprod_grad_polynomial(x, gy, ax)
        xp = x.xp
        seen = xp.cumsum(zero, axis=ax)
        before, first = seen == 0, zero & (seen == 1)
        x_safe = where(Tensor._wrap(before), x, 1.0)
        g_before = mask_mul(_rev_cumsum(gy * y, ax) / x_safe, before)
        y_without_first = CumProd(ax)(where(Tensor._wrap(first), 1.0, x))
        return g_before + mask_mul(_rev_cumsum(gy * y_without_first, ax), first)


def _cumprod_grad_polynomial(x: Tensor, gy: Tensor, ax: int) -> Tensor:
    """dx_k = y_{k-1} * sum_{i >= k} dy_i prod_{k < j <= i} x_j, with no division, so that it is
    exactly differentiable at zeros (an (n, n) matrix per line: used only for second derivatives)."""
    xp, n = x.xp, x.shape[ax]
    perm = [d for d in range(x.ndim) if d != ax] + [ax]
    inv = [perm.index(d) for d in range(x.ndim)]
    xt, gt = permute(x, *perm), permute(gy, *perm)
    k, i = xp.arange(n)[:, None], xp.arange(n)[None, :]
    rows = where(Tensor._wrap(i > k), unsqueeze(xt, -2), 1.0)  # rows[.., k, i] = x_i if i > k else 1
    m = mask_mul(CumProd(xt.ndim)(rows), i >= k)  # m[.., k, i] = prod_{k < j <= i} x_j for i >= k
    inner = (unsqueeze(gt, -2) * m).sum(-1)
    ones = Tensor._wrap(xp.ones(xt.shape[:-1] + (1,), dtype=x.dtype))
    before = cat([ones, CumProd(xt.ndim - 1)(xt[..., :-1])], -1) if n > 1 else ones  # y_{k-1}
    return permute(before * inner, *inv)


def cumprod(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim``: y_i = x_0 x_1 ... x_i. Bool and int tensors give int64.

    >>> lamina.tensor([1., 2., 3.]).cumprod(0)   # tensor([1., 2., 6.])
    """
    x = acc_dtype(x, dtype)
    ax = _scan_axis(x, dim, "cumprod")
    return clone(x) if ax is None else CumProd(ax)(x)


# ---------------------------------------------------------------- cummax / cummin
def _cum_extreme(x: Tensor, dim, largest: bool):
    op = "cummax" if largest else "cummin"
    cls = R.cummax if largest else R.cummin
    ax = _scan_axis(x, dim, op)
    if ax is None:
        return cls(clone(x), Tensor._wrap(x.xp.zeros((), dtype=np.int64)))
    xp, a = x.xp, x.array
    acc = (xp.maximum if largest else xp.minimum).accumulate(a, axis=ax)
    hit = a == acc  # x_j is the running extreme at j; a NaN is, and stays it
    if a.dtype.kind == "f":
        hit |= xp.isnan(a)
    pos = xp.arange(a.shape[ax]).reshape((-1,) + (1,) * (a.ndim - ax - 1))
    # the index of the running extreme is the last j <= i where it was hit (ties: the later one, as torch)
    idx = xp.maximum.accumulate(xp.where(hit, pos, 0), axis=ax).astype(np.int64)
    return cls(Gather(ax, idx)(x), Tensor._wrap(idx))


def cummax(x: Tensor, dim: int):
    """(values, indices): values_i = max_{j <= i} x_j along ``dim``, indices where it was taken
    (the later one on ties);  dx = dy scattered back to indices.

    >>> lamina.tensor([1., 3., 2.]).cummax(0)    # cummax(values=[1, 3, 3], indices=[0, 1, 1])
    """
    return _cum_extreme(x, dim, True)


def cummin(x: Tensor, dim: int):
    """(values, indices): values_i = min_{j <= i} x_j along ``dim``, as ``cummax``."""
    return _cum_extreme(x, dim, False)


# ---------------------------------------------------------------- logcumsumexp
class LogCumSumExp(Function):
    """y_i = log sum_{j <= i} exp(x_j) (a running logaddexp, stable);
    dx_j = sum_{k >= j} dy_k exp(x_j - y_k), summed in log space for positive and negative dy apart."""

    keep_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = backend.array_module(x)
        with np.errstate(invalid="ignore"):
            return xp.logaddexp.accumulate(x, axis=self.axis)

    def backward(self, gy):
        (x,) = self.inputs
        ax, y = self.axis, self.outputs[0]

        def part(g):  # log(g_k) - y_k where g_k > 0, else -inf (masked after the subtraction: no NaN
            pos = Tensor._wrap(g.array > 0)  # from -inf - (-inf) can reach the gradient of y)
            return where(pos, log(where(pos, g, 1.0)) - y, float("-inf"))

        def rev_lcse(t):
            return flip(LogCumSumExp(ax)(flip(t, ax)), ax)

        with np.errstate(invalid="ignore", over="ignore"):
            return exp(x + rev_lcse(part(gy))) - exp(x + rev_lcse(part(-gy)))


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """y_i = log(exp(x_0) + ... + exp(x_i)) along ``dim``, computed without overflow.

    >>> lamina.tensor([0., 0.]).logcumsumexp(0)  # tensor([0.0000, 0.6931])
    """
    if x.dtype.kind != "f":
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for {x.dtype}: expected a floating "
                                  "point tensor")
    ax = _scan_axis(x, dim, "logcumsumexp")
    return clone(x) if ax is None else LogCumSumExp(ax)(x)


# ---------------------------------------------------------------- diff
def diff(x: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """n-th forward difference along ``dim``: out_i = x_{i+1} - x_i, applied ``n`` times, after
    concatenating ``prepend`` / ``append``. Bool tensors give x_{i+1} != x_i.

    >>> lamina.tensor([1, 4, 9]).diff()          # tensor([3, 5])
    """
    if x.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional (got a 0-d tensor)")
    n = operator.index(n)
    if n < 0:
        raise RuntimeError(f"diff(): order must be non-negative but got {n}")
    d = norm_dim(dim, x.shape, "diff")
    parts = []
    for name, t in (("prepend", prepend), ("append", append)):
        if t is not None and (not isinstance(t, Tensor) or t.ndim != x.ndim):
            got = f"{t.ndim}-d" if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"diff expects {name} to be the same dimension as input ({x.ndim}-d), got {got}")
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, x, append) if t is not None]
        x = cat(parts, d)
    lead = (slice(None),) * d
    for _ in range(n):
        if x.shape[d] == 0:
            break
        hi, lo = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        x = ne(hi, lo) if x.dtype.kind == "b" else hi - lo
    return x


# ---------------------------------------------------------------- integration and numerical derivatives
def _float(t: Tensor) -> Tensor:
    return t if t.dtype.kind == "f" else astype(t, backend.get_default_dtype())


def _spacing_along(y: Tensor, x, d: int, op: str):
    """dx between samples along d: a tensor broadcasting against y's differences, or a number."""
    if not isinstance(x, Tensor):
        return float(x)
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point (got {x.shape[0]} x values "
                               f"for {y.shape[d]} samples along dim {d})")
        return reshape(diff(_float(x)), (-1,) + (1,) * (y.ndim - d - 1))
    return diff(_float(x), dim=d - y.ndim if x.ndim == y.ndim else -1)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Trapezoidal rule along ``dim``: sum_i (y_i + y_{i+1}) / 2 * (x_{i+1} - x_i), with sample
    points ``x`` (1-D, or y's shape) or a constant spacing ``dx`` (default 1).

    >>> lamina.trapezoid(lamina.tensor([1., 2., 4.]))   # tensor(4.5000)
    """
    y = _float(y)
    d = norm_dim(dim, y.shape, "trapezoid")
    if x is not None and dx is not None:
        raise RuntimeError("trapezoid: pass either x or dx, not both")
    lead = (slice(None),) * d
    if y.shape[d] == 0:
        return y.sum(d) * 0.0
    mid = y[lead + (slice(1, None),)] + y[lead + (slice(None, -1),)]
    h = _spacing_along(y, x if x is not None else (1.0 if dx is None else dx), d, "trapezoid")
    return (mid * h).sum(d) * 0.5


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """``trapezoid`` (the older name)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Running trapezoidal integral along ``dim`` (one element shorter than y there)."""
    y = _float(y)
    d = norm_dim(dim, y.shape, "cumulative_trapezoid")
    lead = (slice(None),) * d
    mid = y[lead + (slice(1, None),)] + y[lead + (slice(None, -1),)]
    h = _spacing_along(y, x if x is not None else (1.0 if dx is None else dx), d, "cumulative_trapezoid")
    return (mid * h).cumsum(d) * 0.5


def _gradient_along(f: Tensor, d: int, h, edge_order: int) -> Tensor:
    """np.gradient along d: second-order central differences inside, one-sided ones at the ends."""
    n = f.shape[d]
    sl = lambda a, b: f[(slice(None),) * d + (slice(a, b),)]  # noqa: E731
    if not isinstance(h, Tensor):  # uniform spacing
        inner = (sl(2, None) - sl(None, -2)) / (2.0 * h)
        if edge_order == 1:
            first, last = (sl(1, 2) - sl(0, 1)) / h, (sl(n - 1, n) - sl(n - 2, n - 1)) / h
        else:
            first = (sl(0, 1) * -3.0 + sl(1, 2) * 4.0 - sl(2, 3)) / (2.0 * h)
            last = (sl(n - 1, n) * 3.0 - sl(n - 2, n - 1) * 4.0 + sl(n - 3, n - 2)) / (2.0 * h)
        return cat([first, inner, last], d)
    xp = f.xp
    c = h.array.astype(f.dtype) if h.dtype != f.dtype else h.array
    shape = (-1,) + (1,) * (f.ndim - d - 1)
    k = lambda a: Tensor._wrap(xp.asarray(a).reshape(shape))  # noqa: E731  (constant coefficients)
    dx = xp.diff(c)
    hd, hs = dx[:-1], dx[1:]
    inner = (sl(2, None) * k(hd ** 2) - sl(None, -2) * k(hs ** 2) + sl(1, -1) * k(hs ** 2 - hd ** 2)) \
        / k(hs * hd * (hd + hs))
    if edge_order == 1:
        first, last = (sl(1, 2) - sl(0, 1)) / float(dx[0]), (sl(n - 1, n) - sl(n - 2, n - 1)) / float(dx[-1])
    else:
        a1, a2 = float(dx[0]), float(dx[1])
        first = (sl(0, 1) * (-(2 * a1 + a2) / (a1 * (a1 + a2))) + sl(1, 2) * ((a1 + a2) / (a1 * a2))
                 + sl(2, 3) * (-a1 / (a2 * (a1 + a2))))
        b1, b2 = float(dx[-2]), float(dx[-1])
        last = (sl(n - 3, n - 2) * (b2 / (b1 * (b1 + b2))) + sl(n - 2, n - 1) * (-(b2 + b1) / (b1 * b2))
                + sl(n - 1, n) * ((2 * b2 + b1) / (b2 * (b1 + b2))))
    return cat([first, inner, last], d)


def gradient(f: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """Numerical derivative of sampled values along each of ``dim`` (all dims if None), one tensor
    per dim: central differences inside, first- or second-order (``edge_order``) differences at
    the ends. ``spacing``: a number, one number per dim, or one coordinate tensor per dim.

    >>> lamina.gradient(lamina.tensor([1., 2., 4., 8.]))   # (tensor([1.0, 1.5, 3.0, 4.0]),)
    """
    f = _float(f)
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got {edge_order}")
    dims = tuple(range(f.ndim)) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(norm_dim(d, f.shape, "gradient") for d in dims)
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or a list of length "
                               f"{len(dims)} (one per dim), got a list of length {len(spacing)}")
        hs = list(spacing)
    else:
        hs = [spacing] * len(dims)
    out = []
    for d, h in zip(dims, hs):
        if f.shape[d] < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least edge_order+1 "
                               f"({edge_order + 1}), got size {f.shape[d]} along dim {d}")
        if isinstance(h, Tensor):
            if h.ndim != 1 or h.shape[0] != f.shape[d]:
                raise RuntimeError(f"torch.gradient expected each tensor in spacing to be 1-D with {f.shape[d]} "
                                   f"coordinates (the size of dim {d}), got shape {h.shape}")
        else:
            h = float(h)
        out.append(_gradient_along(f, d, h, edge_order))
    return tuple(out)
