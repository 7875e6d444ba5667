"""Writing along a dimension: index_add, index_copy, index_fill, index_put, index_reduce, scatter
with ``reduce=``, scatter_reduce.

In-place forms (``x.index_add_(...)``) are these ops run through ``ops.inplace``. Reductions
address the flattened output with linear indices; large sums use a weighted histogram
(bincount), large products / extrema one sort and ``ufunc.reduceat``, never a Python loop.

scatter_reduce gradients (as PyTorch): sum  dx = dy (where x takes part), dsrc = dy[target];
mean  the same divided by the count;  amax/amin  dy split evenly among every entry equal to the
result;  prod  dy times the product of the other entries (exact at zeros to first order).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .broadcast import broadcast_to
from .elementwise import astype, mask_mul, where
from .index import IndexAdd, IndexOutOfRange, IndexPut, _check_scatter_index, _coords, _int_index, _src, scatter_add
from .index import scatter as _scatter
from .select import PutFlat, Take, add_at
from .shape import norm_dim, reshape

_SMALL = 4096
# NumPy 1.25 made ufunc.at fast (tens of ms per million values, quicker than a sort); older
# versions loop slowly, so they sort the targets and reduce each run with ufunc.reduceat
_FAST_UFUNC_AT = np.lib.NumpyVersion(np.__version__) >= "1.25.0"
_REDUCE = {"sum": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum", "mean": "add"}


def reduce_at(flat, lin, vals, op: str):
    """flat[lin] = op(flat[lin], vals) with repeated indices all reduced (in place; 1-D arrays)."""
    xp = backend.array_module(flat)
    if op == "add":
        return add_at(flat, lin, vals)
    uf = getattr(xp, op)
    if vals.size <= _SMALL or xp is not np or _FAST_UFUNC_AT:
        uf.at(flat, lin, vals)
        return flat
    order = xp.argsort(lin)  # sort once, then reduce each run of equal targets
    s = lin[order]
    starts = xp.flatnonzero(xp.concatenate([xp.ones(1, dtype=bool), s[1:] != s[:-1]]))
    t = s[starts]
    flat[t] = uf(flat[t], uf.reduceat(vals[order], starts))
    return flat


def _identity(dtype, op: str):
    dt = np.dtype(dtype)
    if op in ("add", "mean"):
        return 0
    if op == "multiply":
        return 1
    big = np.inf if dt.kind == "f" else (np.iinfo(dt).max if dt.kind in "iu" else True)
    small = -np.inf if dt.kind == "f" else (np.iinfo(dt).min if dt.kind in "iu" else False)
    return small if op == "maximum" else big


# ---------------------------------------------------------------- scatter_reduce
class ScatterReduce(Function):
    """y = x with y_t = reduce({x_t if include_self} and {src_j : lin_j = t}) at every target t."""

    keep_outputs = True

    def __init__(self, lin, reduce, include_self):
        self.lin, self.reduce, self.include_self = lin, reduce, include_self

    def forward(self, x, src):
        xp = backend.array_module(x)
        out = xp.array(x, order="C", copy=True)
        flat, lin, v = out.reshape(-1), self.lin.reshape(-1), src.reshape(-1)
        hit = xp.zeros(flat.size, dtype=bool)
        hit[lin] = True
        self.hit = hit.reshape(x.shape)
        op = _REDUCE[self.reduce]
        if not self.include_self:
            flat[lin] = _identity(x.dtype, op)
        reduce_at(flat, lin, v, op)
        if self.reduce == "mean":
            count = xp.bincount(lin, minlength=flat.size) + (1 if self.include_self else 0)
            count = xp.maximum(count, 1).reshape(x.shape)  # untouched entries keep x (count 1)
            self.count = count
            if x.dtype.kind == "f":
                out /= count.astype(x.dtype)
            else:
                out //= count.astype(x.dtype)
        return out

    def backward(self, gy):
        x, src = self.inputs
        nx, ns = self.needs_input_grad
        xp, lin, red, hit = gy.xp, self.lin, self.reduce, self.hit
        x_in = xp.ones(x.shape, dtype=bool) if self.include_self else ~hit  # x_t enters y_t
        if red in ("sum", "mean"):
            g = gy / Tensor._wrap(self.count.astype(gy.dtype)) if red == "mean" else gy
            return (mask_mul(g, x_in) if nx else None), (Take(lin)(g) if ns else None)
        y = self.outputs[0]
        if red in ("amax", "amin"):
            ya, xa, sa = y.array, x.array, src.array
            xs = (xa == ya) | (xp.isnan(xa) & xp.isnan(ya))
            y_at = ya.reshape(-1)[lin]
            ss = (sa == y_at) | (xp.isnan(sa) & xp.isnan(y_at))
            # as torch, an x entry equal to the result counts among the ties even when include_self=False
            cnt = xs.reshape(-1).astype(gy.dtype)
            add_at(cnt, lin.reshape(-1), ss.reshape(-1).astype(gy.dtype))
            g = gy / Tensor._wrap(cnt.reshape(x.shape))
            return (mask_mul(g, xs & x_in) if nx else None), (mask_mul(Take(lin)(g), ss) if ns else None)
        # prod: dy times the product of the other entries of the same target
        used = hit & x_in
        if not ((x.array == 0) & used).any() and not (src.array == 0).any():
            gx = mask_mul(where(Tensor._wrap(hit), gy * y / where(Tensor._wrap(used), x, 1.0), gy), x_in)
            return (gx if nx else None), (Take(lin)(gy * y) / src if ns else None)
        others_x, others_s = self._others_with_zeros(x.array, src.array, used)
        gx = mask_mul(where(Tensor._wrap(hit), gy * Tensor._wrap(others_x), gy), x_in)
        return (gx if nx else None), (Take(lin)(gy) * Tensor._wrap(others_s) if ns else None)

    def _others_with_zeros(self, xa, sa, use_x):
        """prod over the other entries of each target, for every x entry and every src entry."""
        xp = backend.array_module(xa)
        lin = self.lin.reshape(-1)
        nz = xp.where(use_x & (xa != 0), xa, 1).reshape(-1).astype(xa.dtype)
        reduce_at(nz, lin, xp.where(sa != 0, sa, 1).reshape(-1), "multiply")  # product of nonzeros
        zeros = ((xa == 0) & use_x).reshape(-1).astype(np.int64)
        add_at(zeros, lin, (sa == 0).reshape(-1).astype(np.int64))

        def others(vals, t):
            p, z = nz[t], zeros[t]
            with np.errstate(divide="ignore", invalid="ignore"):
                return xp.where(vals != 0, xp.where(z == 0, p / xp.where(vals != 0, vals, 1), 0),
                                xp.where(z == 1, p, 0))

        t_x = xp.arange(xa.size)
        ox = others(xa.reshape(-1), t_x).reshape(xa.shape)
        return ox.astype(xa.dtype), others(sa.reshape(-1), lin).reshape(sa.shape).astype(sa.dtype)


def _scatter_lin(x: Tensor, dim: int, idx):
    """Linear (C-order) positions in x addressed by a scatter along ``dim`` with ``idx``."""
    xp = x.xp
    strides = [int(np.prod(x.shape[k + 1:])) for k in range(x.ndim)]
    lin = sum(c * s for c, s in zip(_coords(dim, idx), strides))
    return xp.ascontiguousarray(xp.broadcast_to(lin, idx.shape), dtype=np.int64)


def scatter_reduce(x: Tensor, dim: int, index, src: Tensor, reduce: str, include_self: bool = True) -> Tensor:
    """out = x with out[.., index[i,j], ..] reduced with src[i, j] (dim=0 shown) by ``reduce``:
    'sum', 'prod', 'mean', 'amax' or 'amin'; ``include_self=False`` leaves x's old values out
    wherever something is scattered.

    >>> x.scatter_reduce(0, lamina.tensor([0, 0, 1]), src, 'amax')
    """
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    idx = _int_index(index, x, "scatter_reduce")
    d = _check_scatter_index("scatter_reduce", x, dim, idx, src)
    src = _src("scatter_reduce", x, idx, src)
    return ScatterReduce(_scatter_lin(x, d, idx), reduce, include_self)(x, src)


def scatter(x: Tensor, dim: int, index, src=None, reduce=None, *, value=None) -> Tensor:
    """out = x with out[.., index[i,j], ..] = src[i, j] (dim=0 shown; ``src`` a tensor or a scalar
    ``value``); ``reduce='add'`` or ``'multiply'`` combines instead of overwriting."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected src (a tensor) or value (a number)")
    if reduce is None:
        return _scatter(x, dim, index, src)
    if reduce not in ("add", "multiply"):
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce!r}")
    idx = _int_index(index, x, "scatter")
    if not isinstance(src, Tensor):
        src = Tensor._wrap(x.xp.full(idx.shape, src, dtype=x.dtype))
    if reduce == "add":
        return scatter_add(x, dim, idx, src)
    return scatter_reduce(x, dim, idx, src, "prod")


# ---------------------------------------------------------------- index_* along one dimension
def _index_vector(index, x: Tensor, d: int, op: str, negative_ok: bool):
    idx = _int_index(index, x, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got dim: {idx.ndim} (shape {idx.shape})")
    idx = idx.reshape(-1).astype(np.int64, copy=False)
    n = x.shape[d] if x.ndim else 1
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if hi >= n or lo < (-n if negative_ok else 0):
            bad = hi if hi >= n else lo
            raise IndexOutOfRange(f"{op}(): index {bad} is out of bounds for dimension {d} with size {n}")
        if lo < 0:
            idx = x.xp.where(idx < 0, idx + n, idx)
    return idx


def _check_source(op: str, x: Tensor, d: int, idx, source):
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): source must be a Tensor, got {type(source).__name__}")
    if source.dtype != x.dtype:
        raise RuntimeError(f"{op}(): self ({x.dtype}) and source ({source.dtype}) must have the same scalar type")
    s_shape = source.shape if source.ndim else (1,)
    x_shape = x.shape if x.ndim else (1,)
    if len(s_shape) != len(x_shape) or s_shape[:d] + s_shape[d + 1:] != x_shape[:d] + x_shape[d + 1:]:
        raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, excluding the specified "
                           f"dimension. Got self.shape = {list(x.shape)} source.shape = {list(source.shape)}")
    if s_shape[d] != idx.size:
        raise RuntimeError(f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                           f"({s_shape[d]}), for dim: {d}")


def _along(x: Tensor, dim, op: str):
    return norm_dim(dim, x.shape, op) if x.ndim else norm_dim(dim, (1,), op)


def _as_1d(fn, x: Tensor, *tensors):
    """Run ``fn`` on 0-d tensors seen as 1-element vectors (torch accepts them)."""
    out = fn(reshape(x, 1), *[reshape(t, 1) if isinstance(t, Tensor) and t.ndim == 0 else t for t in tensors])
    return reshape(out, ())


def index_add(x: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """out = x with out[.., index[j], ..] += alpha * source[.., j, ..] along ``dim`` (repeats add).
    dx = dy,  dsource = alpha * index_select(dy, dim, index)."""
    d = _along(x, dim, "index_add_")
    idx = _index_vector(index, x, d, "index_add_", negative_ok=False)
    _check_source("index_add_", x, d, idx, source)
    if x.ndim == 0:
        return _as_1d(lambda a, s: index_add(a, 0, idx, s, alpha=alpha), x, source)
    src = source if alpha == 1 else source * alpha
    return x + IndexAdd(d, idx, x.shape[d])(src)


def _put_along(x: Tensor, d: int, idx, v: Tensor) -> Tensor:
    """x with the slices idx along d replaced by v (v broadcasts against x[.., idx, ..])."""
    return IndexPut((Ellipsis,), (slice(None),) * d + (idx,))(x, v)


def index_copy(x: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """out = x with out[.., index[j], ..] = source[.., j, ..] along ``dim``.
    dx = dy with those slices zeroed,  dsource = index_select(dy, dim, index)."""
    d = _along(x, dim, "index_copy_")
    idx = _index_vector(index, x, d, "index_copy_", negative_ok=False)
    _check_source("index_copy_", x, d, idx, source)
    if x.ndim == 0:
        return _as_1d(lambda a, s: index_copy(a, 0, idx, s), x, source)
    return _put_along(x, d, idx, source)


def index_fill(x: Tensor, dim: int, index, value) -> Tensor:
    """out = x with the slices ``index`` along ``dim`` set to ``value`` (a number or 0-d tensor).
    dx = dy with those slices zeroed,  dvalue = their sum."""
    d = _along(x, dim, "index_fill_")
    idx = _index_vector(index, x, d, "index_fill_", negative_ok=True)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        v = astype(value, x.dtype)
    else:
        v = Tensor._wrap(x.xp.asarray(value, dtype=x.dtype))
    if x.ndim == 0:
        return _as_1d(lambda a, s: index_fill(a, 0, idx, s), x, v)
    return _put_along(x, d, idx, v)


def index_reduce(x: Tensor, dim: int, index, source: Tensor, reduce: str, include_self: bool = True) -> Tensor:
    """out = x with out[.., index[j], ..] reduced with source[.., j, ..] along ``dim`` by ``reduce``
    ('prod', 'mean', 'amax', 'amin'); as scatter_reduce with the index spread over source."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    d = _along(x, dim, "index_reduce_")
    idx = _index_vector(index, x, d, "index_reduce_", negative_ok=False)
    _check_source("index_reduce_", x, d, idx, source)
    if x.ndim == 0:
        return _as_1d(lambda a, s: index_reduce(a, 0, idx, s, reduce, include_self=include_self), x, source)
    full = x.xp.broadcast_to(idx.reshape((1,) * d + (-1,) + (1,) * (x.ndim - d - 1)), source.shape)
    lin = _scatter_lin(x, d, full)
    return ScatterReduce(lin, reduce, include_self)(x, source)


# ---------------------------------------------------------------- index_put
def _put_positions(x: Tensor, indices):
    """Linear positions (C order) of x[indices] for a tuple of index tensors on x's leading dims."""
    xp = x.xp
    if isinstance(indices, Tensor) or not isinstance(indices, (tuple, list)):
        raise TypeError("index_put(): indices must be a tuple of tensors, e.g. (rows,) or (rows, cols)")
    arrays, d = [], 0
    for it in indices:
        a = it.array if isinstance(it, Tensor) else xp.asarray(np.asarray(it))
        if a.dtype.kind == "b":
            if a.shape != x.shape[d:d + a.ndim]:
                raise IndexError(f"index_put(): the shape of the mask {a.shape} does not match the shape "
                                 f"{x.shape[d:d + a.ndim]} of the indexed dims of the tensor (shape {x.shape})")
            arrays.extend(xp.nonzero(a))
            d += a.ndim
        elif a.dtype.kind in "iu":
            arrays.append(a.astype(np.int64, copy=False))
            d += 1
        else:
            raise IndexError(f"index_put(): tensors used as indices must be long, int, byte or bool tensors, "
                             f"got {a.dtype}")
    if d > x.ndim:
        raise IndexError(f"index_put(): too many indices for a tensor of shape {x.shape}: {d} were given")
    try:
        arrays = xp.broadcast_arrays(*arrays)
    except ValueError:
        raise IndexError("index_put(): shape mismatch: indexing tensors could not be broadcast together with "
                         f"shapes {[a.shape for a in arrays]}") from None
    lead = 0
    for k, a in enumerate(arrays):
        n = x.shape[k]
        if a.size and (int(a.min()) < -n or int(a.max()) >= n):
            bad = int(a.max()) if int(a.max()) >= n else int(a.min())
            raise IndexError(f"index {bad} is out of bounds for dimension {k} with size {n}")
        lead = lead * n + xp.where(a < 0, a + n, a)
    trail = x.shape[d:]
    inner = int(np.prod(trail))
    lead = xp.asarray(lead, dtype=np.int64)
    lin = lead.reshape(lead.shape + (1,)) * inner + xp.arange(inner, dtype=np.int64)
    return xp.ascontiguousarray(lin.reshape(lead.shape + trail))


def index_put(x: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """out = x with out[indices] = values (``accumulate=True``: += values, repeats sum).
    ``indices`` is a tuple of int or bool tensors for x's leading dims; values broadcast.

    >>> x.index_put((lamina.tensor([0, 0]),), lamina.tensor(1.), accumulate=True)
    """
    if not isinstance(values, Tensor):
        values = Tensor._wrap(x.xp.asarray(values, dtype=x.dtype))
    if values.dtype != x.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {x.dtype} for the "
                           f"destination and {values.dtype} for the source.")
    lin = _put_positions(x, indices)
    try:
        np.broadcast_shapes(values.shape, lin.shape)
        if values.ndim > lin.ndim:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"index_put(): shape mismatch: value tensor of shape {list(values.shape)} cannot be "
                           f"broadcast to indexing result of shape {list(lin.shape)}") from None
    v = values if values.shape == lin.shape else broadcast_to(values, lin.shape)
    rows = indices[0].array if len(indices) == 1 and isinstance(indices[0], Tensor) else None
    if accumulate and rows is not None and rows.ndim == 1 and rows.dtype.kind in "iu" and x.ndim:
        # rows of a table (an embedding-style update): the row-wise index_add kernel is the fastest sum
        rows = x.xp.where(rows < 0, rows + x.shape[0], rows).astype(np.int64, copy=False)
        return x + IndexAdd(0, rows, x.shape[0])(v)
    return PutFlat(lin, accumulate)(x, v)


def index_put_(x: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """``index_put`` written into x's memory (``torch.index_put_``)."""
    from .inplace import inplace

    return inplace(x, index_put, indices, values, accumulate)


# ---------------------------------------------------------------- segments
_SEGMENT = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin", "prod": "prod"}


def segment_reduce(data: Tensor, reduce: str, *, lengths=None, indices=None, offsets=None, axis: int = 0,
                   unsafe: bool = False, initial=None) -> Tensor:
    """Reduce consecutive segments of ``data`` along dim 0 ('sum', 'mean', 'max', 'min', 'prod'),
    the segments given by their ``lengths`` or by ``offsets`` (n + 1 boundaries). An empty segment
    gives ``initial`` if given (which also enters every reduction), else 0 / nan / -inf / inf / 1.

    >>> lamina.segment_reduce(lamina.tensor([1., 2., 3.]), "sum", lengths=lamina.tensor([2, 1]))   # [3., 3.]
    """
    if reduce not in _SEGMENT:
        raise RuntimeError(f"segment_reduce(): reduce argument must be one of sum, prod, mean, max or min, "
                           f"got {reduce}")
    if data.dtype.kind != "f":
        raise NotImplementedError(f"\"_segment_reduce_cpu\" not implemented for {data.dtype}: expected a floating "
                                  "point tensor")
    if indices is not None:
        raise NotImplementedError("segment_reduce(): indices= is not supported (as in torch); use lengths= or offsets=")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    xp = data.xp
    if lengths is not None:
        ln = _int_index(lengths, data, "segment_reduce")
    else:
        off = _int_index(offsets, data, "segment_reduce")
        ln = xp.diff(off.reshape(-1))
    if ln.ndim > 1 or norm_dim(axis, data.shape, "segment_reduce") != 0:
        raise NotImplementedError("segment_reduce(): only 1-D lengths/offsets along axis 0 are supported")
    n = data.shape[0] if data.ndim else 1
    if not unsafe and (bool((ln < 0).any()) or int(ln.sum()) != n):
        raise RuntimeError(f"segment_reduce(): Expected all rows of lengths along axis to sum to data.size(0) "
                           f"= {n} when !unsafe, got lengths {ln.tolist()}")
    seg = xp.repeat(xp.arange(ln.size), ln.astype(np.int64))
    red = _SEGMENT[reduce]
    if initial is not None:
        fill = initial
    else:
        fill = {"sum": 0.0, "mean": np.nan, "amax": -np.inf, "amin": np.inf, "prod": 1.0}[red]
    base = Tensor._wrap(xp.full((ln.size,) + data.shape[1:], fill, dtype=data.dtype))
    full = xp.broadcast_to(seg.reshape((-1,) + (1,) * (data.ndim - 1)), data.shape)
    return ScatterReduce(_scatter_lin(base, 0, full), red, initial is not None)(base, data)
