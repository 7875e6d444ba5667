"""Statistics: nansum, nanmean, var_mean, std_mean, aminmax, count_nonzero, quantile, nanquantile,
cov, corrcoef, bincount, histc, histogram.

The differentiable ones are compositions of differentiable ops (masked sums, sort + gather,
matmul), so they inherit exact first and second derivatives; the counting ones (count_nonzero,
bincount, histc, histogram) give no gradient, as in PyTorch.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import return_types as R
from .elementwise import astype, isnan, sqrt, where
from .index import Gather, masked_fill
from .linalg import matmul
from .reduce import _correction, _dims, acc_dtype, amax, amin, float_dtype_arg, mean, std, sum, var
from .shape import permute, reshape
from .sorting import sort


# ---------------------------------------------------------------- NaN-ignoring reductions
def nansum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` treating NaN as 0;  dx = dy where x is not NaN, 0 at NaNs."""
    x = acc_dtype(x, dtype)
    if x.dtype.kind == "f":
        x = masked_fill(x, isnan(x), 0)
    return sum(x, dim, keepdim)


def nanmean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of the non-NaN entries over ``dim``: nansum(x) / count(not NaN) (NaN if there are none)."""
    if dtype is not None:
        x = float_dtype_arg(x, dtype, "nanmean")
    if x.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {x.dtype}")
    axes = _dims(x, dim, "nanmean")
    count = x.xp.asarray((~x.xp.isnan(x.array)).sum(axis=axes, keepdims=keepdim))
    mean_ = nansum(x, axes, keepdim) / Tensor._wrap(x.xp.maximum(count, 1).astype(x.dtype))
    return where(Tensor._wrap(count == 0), float("nan"), mean_) if (count == 0).any() else mean_


def _moments(x: Tensor, dim, correction, keepdim, unbiased, fn, op):
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op} only support floating point and complex dtypes, got {x.dtype}")
    dim, correction = _correction(dim, correction, unbiased)
    return fn(x, dim, correction=correction, keepdim=keepdim), mean(x, dim, keepdim)


def var_mean(x: Tensor, dim=None, *, correction=1, keepdim: bool = False, unbiased=None):
    """(var, mean) over ``dim`` in one call (a plain tuple, as torch)."""
    return _moments(x, dim, correction, keepdim, unbiased, var, "var_mean")


def std_mean(x: Tensor, dim=None, *, correction=1, keepdim: bool = False, unbiased=None):
    """(std, mean) over ``dim`` in one call (a plain tuple, as torch)."""
    return _moments(x, dim, correction, keepdim, unbiased, std, "std_mean")


def aminmax(x: Tensor, *, dim=None, keepdim: bool = False):
    """(min, max) over ``dim`` (all entries if None); each gradient is split among its ties."""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"aminmax(): dim must be a single int, got {dim}")
    if dim is None and x.numel() == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has "
                           f"no identity (input shape {x.shape})")
    return R.aminmax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def count_nonzero(x: Tensor, dim=None) -> Tensor:
    """Number (int64) of nonzero entries over ``dim`` (int, tuple, or None for all)."""
    axes = _dims(x, dim, "count_nonzero")
    return Tensor._wrap(x.xp.asarray((x.array != 0).sum(axis=axes), dtype=np.int64))


# ---------------------------------------------------------------- quantiles
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_array(x: Tensor, q, op: str):
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape {q.shape}")
        if q.dtype != x.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor ({x.dtype}), got {q.dtype}")
        qa = backend.to_device(q.array, x.device)
    elif isinstance(q, numbers.Real):
        qa = x.xp.asarray(float(q), dtype=x.dtype)
    else:
        qa = x.xp.asarray(np.asarray(q, dtype=x.dtype))
        if qa.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape {qa.shape}")
    if qa.size and (bool((qa < 0).any()) or bool((qa > 1).any())):
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {qa.tolist()}")
    return qa


def _quantile(x: Tensor, q, dim, keepdim, interpolation, ignore_nan: bool, op: str) -> Tensor:
    if x.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got {x.dtype}")
    if x.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty (input shape {x.shape})")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    qa = _q_array(x, q, op)
    xp, nd = x.xp, x.ndim
    if dim is None:
        v, ax, out_kept = reshape(x, -1), 0, (1,) * nd
    else:
        ax = _dims(x, dim, op)
        ax = ax[0] if ax else 0
        v = reshape(x, 1) if nd == 0 else x
        out_kept = x.shape[:ax] + (1,) + x.shape[ax + 1:] if nd else ()
    perm = [d for d in range(v.ndim) if d != ax] + [ax]
    s = permute(sort(v, ax).values, *perm)  # sorted lines along the last axis (NaNs last)
    n = s.shape[-1]
    nans = xp.isnan(s.array).sum(axis=-1, keepdims=True)
    qs = qa.reshape(-1)
    if ignore_nan:  # rank among the non-NaN entries; an all-NaN line points at its (NaN) last entry
        rank = qs * (n - nans - 1).astype(x.dtype)
        rank = xp.where(nans == n, n - 1, rank)
    else:  # a NaN anywhere makes the line's quantile NaN: point at the last entry
        rank = xp.where(nans > 0, n - 1, qs * (n - 1)).astype(x.dtype)
    lo = xp.floor(rank).astype(np.int64)
    hi = xp.ceil(rank).astype(np.int64)
    if interpolation == "lower":
        out = Gather(s.ndim - 1, lo)(s)
    elif interpolation == "higher":
        out = Gather(s.ndim - 1, hi)(s)
    elif interpolation == "nearest":
        out = Gather(s.ndim - 1, xp.round(rank).astype(np.int64))(s)
    else:
        w = rank - lo if interpolation == "linear" else xp.where(hi > lo, 0.5, 0.0)
        below, above = Gather(s.ndim - 1, lo)(s), Gather(s.ndim - 1, hi)(s)
        out = below + (above - below) * Tensor._wrap(xp.asarray(w, dtype=x.dtype))
    # out: (other dims..., Q) -> (Q, kept or reduced shape)
    nq = qs.size
    out = permute(out, out.ndim - 1, *range(out.ndim - 1))
    if keepdim:
        shape = out_kept
    elif dim is None:
        shape = ()
    else:
        shape = out_kept[:ax] + out_kept[ax + 1:]
    return reshape(out, ((nq,) if qa.ndim else ()) + shape)


def quantile(x: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """q-th quantiles over ``dim`` (all entries if None): the sorted values at rank q (n - 1),
    interpolated between neighbours ('linear', 'lower', 'higher', 'midpoint', 'nearest').
    A 1-D ``q`` adds a leading dimension. The gradient flows to the neighbours (sort + gather).

    >>> lamina.tensor([1., 2., 3., 4.]).quantile(0.5)   # tensor(2.5000)
    """
    return _quantile(x, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(x: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """``quantile`` of the non-NaN entries (NaN only where a line is all NaN)."""
    return _quantile(x, q, dim, keepdim, interpolation, True, "nanquantile")


# ---------------------------------------------------------------- covariance
def cov(x: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the variables in the rows of ``x`` (observations in columns):
    C = (X - m) W (X - m)^T / (sum(w) - correction * ...), with frequency/analytic weights.

    >>> lamina.cov(lamina.tensor([[1., 2., 4.], [3., 3., 1.]]))   # (2, 2)
    """
    if x.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with {x.ndim} "
                           "dimensions")
    if x.dtype.kind != "f":
        x = astype(x, backend.get_default_dtype())
    x2 = reshape(x, 1, -1) if x.ndim < 2 else x
    n = x2.shape[1]
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        if wt.ndim > 1 or wt.numel() != n:
            raise RuntimeError(f"cov(): expected {name} to have one dimension and {n} elements (the number of "
                               f"observations), got shape {wt.shape}")
        if name == "fweights" and wt.dtype.kind not in "iu":
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with {wt.dtype} "
                               "dtype")
        if name == "aweights" and wt.dtype.kind != "f":
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got {wt.dtype}")
        if bool((wt.array < 0).any()):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        wt = astype(wt, x2.dtype)
        w = wt if w is None else w * wt
    if w is None:
        xm = x2 - mean(x2, 1, keepdim=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: inf / nan, as torch
            c = matmul(xm, xm.t()) / max(float(n - correction), 0.0)
    else:
        w_sum = sum(w)
        avg = sum(x2 * w, 1, keepdim=True) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * sum(w * astype(aweights, x2.dtype)) / w_sum
        norm = where(norm.array > 0, norm, 0.0)
        xm = x2 - avg
        with np.errstate(divide="ignore", invalid="ignore"):
            c = matmul(xm * w, xm.t()) / norm
    return reshape(c, ()) if x.ndim < 2 else c


def corrcoef(x: Tensor) -> Tensor:
    """Pearson correlation of the rows of ``x``: C_ij / sqrt(C_ii C_jj), clipped to [-1, 1]."""
    c = cov(x)
    if c.ndim == 0:
        return c / c
    d = sqrt(c[x.xp.arange(c.shape[0]), x.xp.arange(c.shape[0])])
    r = c / reshape(d, -1, 1) / reshape(d, 1, -1)
    return r.clamp(-1.0, 1.0)


# ---------------------------------------------------------------- counting
def bincount(x: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """Count of each value 0..max(x) in a 1-D non-negative int tensor (or the sum of ``weights``
    per value). int64 counts; weights give float64 sums (float32 for float32 weights). No gradient."""
    a = x.array
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and int(a.min()) < 0):
        if a.dtype.kind in "fb":
            raise NotImplementedError(f"\"bincount_cpu\" not implemented for {x.dtype}: expected an integer tensor")
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got shape {x.shape}, "
                           f"dtype {x.dtype})")
    minlength = operator.index(minlength)
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    xp = x.xp
    if weights is None:
        return Tensor._wrap(xp.bincount(a, minlength=minlength).astype(np.int64))
    wa = weights.array if isinstance(weights, Tensor) else xp.asarray(weights)
    if wa.ndim != 1 or wa.shape[0] != a.shape[0]:
        raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as input ({a.shape[0]}), "
                           f"got shape {wa.shape}")
    out = xp.bincount(a, weights=wa.astype(np.float64), minlength=minlength)
    return Tensor._wrap(out.astype(np.float32 if wa.dtype == np.float32 else np.float64))


def _edges(x: Tensor, bins: int, lo, hi, op: str):
    xp, a = x.xp, x.array
    if bins <= 0:
        raise RuntimeError(f"{op}(): bins must be > 0, but got {bins}")
    if lo is None or lo == hi:  # the data's range (torch widens a constant range by 0.5 each side)
        finite = a[xp.isfinite(a)] if a.dtype.kind == "f" else a
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
    if lo > hi:
        raise RuntimeError(f"{op}(): max must be larger than min, got min={lo}, max={hi}")
    return xp.linspace(lo, hi, bins + 1).astype(a.dtype)


def _hist(a, edges, weight=None, uniform=False):
    """Counts of ``a`` in [e_i, e_{i+1}) (the last bin closed), values outside ignored."""
    xp = backend.array_module(a)
    a = a.reshape(-1)
    nb = edges.size - 1
    keep = (a >= edges[0]) & (a <= edges[-1])
    v = a[keep]
    if uniform and nb > 1:  # equal bins: the bin by arithmetic, then one step to respect the edges
        lo, hi = float(edges[0]), float(edges[-1])
        idx = xp.clip(((v - lo) * (nb / (hi - lo))).astype(np.int64), 0, nb - 1)
        idx -= v < edges[idx]
        idx += (v >= edges[xp.minimum(idx + 1, nb)]) & (idx < nb - 1)
    else:
        idx = xp.minimum(xp.searchsorted(edges, v, side="right") - 1, nb - 1)
    w = None if weight is None else weight.reshape(-1)[keep].astype(np.float64)
    return xp.bincount(idx, weights=w, minlength=nb)[:nb]


def histc(x: Tensor, bins: int = 100, min=0, max=0) -> Tensor:
    """Histogram of ``x`` in ``bins`` equal bins over [min, max] (the data's range when min == max);
    values outside are ignored. Same dtype as x, no gradient.

    >>> lamina.histc(lamina.tensor([1., 2., 1.]), bins=4, min=0, max=3)   # tensor([0., 2., 1., 0.])
    """
    if x.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_histc_cpu\" not implemented for {x.dtype}: expected a floating "
                                  "point tensor")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min, got min={lo}, max={hi}")
    edges = _edges(x, operator.index(bins), None if lo == hi else lo, hi, "histc")
    return Tensor._wrap(_hist(x.array, edges, uniform=True).astype(x.dtype))


def histogram(x: Tensor, bins=100, *, range=None, weight=None, density: bool = False):
    """(hist, bin_edges): counts (or summed ``weight``) of ``x`` per bin; ``bins`` is a count
    (equal bins over ``range`` or the data's range) or a 1-D tensor of increasing edges.
    ``density=True`` divides by the total and the bin widths. No gradient."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, got "
                           f"input {x.dtype}: expected a floating point tensor")
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.numel() < 1:
            raise RuntimeError(f"histogram(): bins tensor should have one dimension and at least 1 element, "
                               f"got shape {bins.shape}")
        edges = bins.array.astype(x.dtype)
    else:
        lo, hi = (None, None) if range is None else (float(range[0]), float(range[1]))
        edges = _edges(x, operator.index(bins), lo, hi, "histogram")
    if weight is not None and tuple(weight.shape) != x.shape:
        raise RuntimeError(f"histogram(): weight should have the same shape as input {x.shape}, got {weight.shape}")
    h = _hist(x.array, edges, None if weight is None else weight.array, uniform=not isinstance(bins, Tensor))
    if density:
        with np.errstate(invalid="ignore", divide="ignore"):
            h = h / (h.sum() * (edges[1:] - edges[:-1]))
    return R.histogram(Tensor._wrap(h.astype(x.dtype)), Tensor._wrap(edges))


def histogramdd(x: Tensor, bins=10, *, range=None, weight=None, density: bool = False):
    """(hist, bin_edges) of N points in D dimensions (x of shape (N, D), or (..., D)): ``bins`` is
    a count, one count per dimension, or one 1-D tensor of edges per dimension; ``range`` is
    [min_0, max_0, min_1, max_1, ...]. No gradient."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"histogramdd(): expected a floating point input, got {x.dtype}")
    a = x.array.reshape(-1, x.shape[-1]) if x.ndim else x.array.reshape(1, 1)
    xp, nd = x.xp, a.shape[1]
    if isinstance(bins, (int, np.integer)):
        bins = [int(bins)] * nd
    if len(bins) != nd:
        raise RuntimeError(f"histogramdd(): expected {nd} sequences of bin edges or bin counts, got {len(bins)}")
    if range is not None and len(range) != 2 * nd:
        raise RuntimeError(f"histogramdd(): expected range to have {2 * nd} elements (min and max per dimension), "
                           f"got {len(range)}")
    edges, pos, keep = [], [], xp.ones(a.shape[0], dtype=bool)
    for k, b in enumerate(bins):
        col = a[:, k]
        if isinstance(b, Tensor):
            e = b.array.astype(a.dtype)
        else:
            lo_hi = (None, None) if range is None else (float(range[2 * k]), float(range[2 * k + 1]))
            e = _edges(Tensor._wrap(col), operator.index(b), *lo_hi, "histogramdd")
        nb = e.size - 1
        keep &= (col >= e[0]) & (col <= e[-1])
        pos.append(xp.clip(xp.searchsorted(e, col, side="right") - 1, 0, nb - 1))
        edges.append(e)
    sizes = tuple(e.size - 1 for e in edges)
    lin = xp.zeros(a.shape[0], dtype=np.int64)
    for p, n in zip(pos, sizes):
        lin = lin * n + p
    w = None if weight is None else weight.array.reshape(-1)[keep].astype(np.float64)
    h = xp.bincount(lin[keep], weights=w, minlength=int(np.prod(sizes))).reshape(sizes)
    if density:
        vol = 1.0
        for k, e in enumerate(edges):
            vol = vol * (e[1:] - e[:-1]).reshape((1,) * k + (-1,) + (1,) * (nd - k - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            h = h / (h.sum() * vol)
    return R.histogramdd(Tensor._wrap(h.astype(x.dtype)), tuple(Tensor._wrap(e) for e in edges))
