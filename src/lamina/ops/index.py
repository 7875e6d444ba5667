"""Indexing ops: x[index], x[index] = value, gather/scatter, index_select, masked_fill, one_hot.

Reading is a gather, so its gradient is a scatter-add of dy into zeros (repeated indices sum);
the scatter-add's own gradient is the gather again, which makes every backward here
differentiable. Index arguments never receive gradients.

``x[index]`` follows PyTorch: integers select first (like basic indexing), then the remaining
advanced indices (integer arrays/lists/tensors, boolean masks) follow NumPy's rules on the view.
"""
from __future__ import annotations

import importlib.util
import math
import numbers
import os

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .broadcast import sum_to
from .shape import norm_dim, reshape
from .views import make_view

_SMALL = 4096  # below this many gradient elements, xp.add.at is the cheapest accumulation
# A Numba loop sums rows in one pass (np.add.reduceat is slow for many short runs);
# LAMINA_DISABLE_NUMBA=1 selects the NumPy paths.
USE_NUMBA = importlib.util.find_spec("numba") is not None and os.environ.get(
    "LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True")
_rows_kernel = None


def _rows_add(out3, idx, g3):
    """out3[a, idx[i], b] += g3[a, i, b] with a compiled loop (built, or loaded from cache, on first use)."""
    global _rows_kernel
    if _rows_kernel is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def kernel(out, ix, g):
            for a in range(g.shape[0]):
                for i in range(ix.shape[0]):
                    r = ix[i]
                    for b in range(g.shape[2]):
                        out[a, r, b] += g[a, i, b]

        _rows_kernel = kernel
    _rows_kernel(out3, idx, g3)


class IndexOutOfRange(IndexError, RuntimeError):
    """An index past the end of a dimension. PyTorch raises RuntimeError for some ops (gather,
    scatter, index_add) and IndexError for others; this is both, so either ``except`` catches it."""


# ---------------------------------------------------------------- accumulation kernels
def _index_add(out, axis: int, idx, g):
    """out[..., idx[j], ...] += g[..., j, ...] along ``axis`` (out is zeros; idx is 1-D, >= 0)."""
    xp = backend.array_module(out)
    pre = (slice(None),) * axis
    if (USE_NUMBA and xp is np and g.dtype in (np.float32, np.float64) and out.flags.c_contiguous
            and g.size > 64):
        lead, post = math.prod(out.shape[:axis]), math.prod(out.shape[axis + 1:])
        g3 = np.ascontiguousarray(g).reshape(lead, idx.size, post)
        _rows_add(out.reshape(lead, out.shape[axis], post), idx, g3)
    elif xp is not np or g.size <= _SMALL or g.dtype.kind != "f":
        xp.add.at(out, pre + (idx,), g)
    elif g.size == idx.size:  # one value per index: a weighted histogram
        out[...] = xp.bincount(idx, weights=g.reshape(-1), minlength=out.shape[axis]).reshape(out.shape)
    else:  # sort once, then sum each run of equal indices (np.add.at is slow on large data)
        order = xp.argsort(idx, kind="stable")
        s = idx[order]
        starts = xp.flatnonzero(xp.concatenate([xp.ones(1, dtype=bool), s[1:] != s[:-1]]))
        out[pre + (s[starts],)] = xp.add.reduceat(xp.take(g, order, axis=axis), starts, axis=axis)
    return out


def _coords(dim: int, idx):
    """The index tuple that addresses out[i_0, .., idx[i], .., i_n] for every position i of idx."""
    xp = backend.array_module(idx)
    nd = idx.ndim
    return tuple(idx if d == dim else xp.arange(n).reshape((-1,) + (1,) * (nd - 1 - d))
                 for d, n in enumerate(idx.shape))


def _scatter_add(out, dim: int, idx, src):
    """out[coords(idx along dim)] += src, with repeated positions summed (in place on out)."""
    xp = backend.array_module(out)
    coords = _coords(dim, idx)
    if idx.shape[dim] <= 1:  # one index per line along dim: positions are distinct
        out[coords] += src
    elif xp is not np or src.size <= _SMALL or src.dtype.kind != "f" or not out.flags.c_contiguous:
        xp.add.at(out, coords, src)
    else:
        strides = [s // out.itemsize for s in out.strides]
        lin = sum(c * st for c, st in zip(coords, strides))
        out.reshape(-1)[...] += xp.bincount(xp.broadcast_to(lin, idx.shape).reshape(-1),
                                            weights=src.reshape(-1), minlength=out.size)
    return out


# ---------------------------------------------------------------- index parsing
def _index_array(item, x: Tensor):
    if isinstance(item, Tensor):
        arr = item.array
        if item.device != x.device:
            arr = backend.to_device(arr, x.device)
    else:
        arr = np.asarray(item)
        if arr.size == 0 and arr.dtype.kind == "f":  # x[[]] selects nothing
            arr = arr.astype(np.int64)
        arr = x.xp.asarray(arr)
    if arr.dtype.kind not in "iub":
        raise IndexError(f"getitem: tensors used as indices must be integer or bool, got dtype {arr.dtype}")
    return arr


def parse_index(x: Tensor, index):
    """Split ``index`` into a basic part (ints, slices, None: a view) and an advanced part on it.

    Returns (basic, adv, unique): ``x[basic][adv]`` is the result; ``adv`` is None for pure
    basic indexing, else a tuple of full slices and arrays; ``unique`` says the advanced part
    cannot address one element twice (a single boolean mask), so assignment is exact.
    """
    items = list(index) if isinstance(index, tuple) else [index]
    for k, it in enumerate(items):
        if it is None or it is Ellipsis or isinstance(it, slice):
            continue
        if isinstance(it, (bool, np.bool_)):
            items[k] = x.xp.asarray(bool(it))
        elif isinstance(it, numbers.Integral):
            items[k] = int(it)
        elif isinstance(it, (Tensor, list, tuple, range, np.ndarray)) or hasattr(it, "__array__"):
            arr = _index_array(it, x)
            items[k] = int(arr) if arr.ndim == 0 and arr.dtype.kind != "b" else arr
        else:
            raise IndexError(f"getitem: only integers, slices (`:`), ellipsis (`...`), None and integer or "
                             f"bool tensors are valid indices, got {type(it).__name__}")
    if sum(it is Ellipsis for it in items) > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    used = sum(it.ndim if _is_bool(it) else 1 for it in items if it is not None and it is not Ellipsis)
    if used > x.ndim:
        raise IndexError(f"getitem: too many indices for a tensor of shape {x.shape}: {used} were given")
    fill = [slice(None)] * (x.ndim - used)
    ell = [k for k, it in enumerate(items) if it is Ellipsis]
    if ell:
        items[ell[0]:ell[0] + 1] = fill
    else:
        items += fill
    basic, adv, d, n_int, n_bool = [], [], 0, 0, 0
    for it in items:
        if it is None or isinstance(it, slice):
            basic.append(it)
            adv.append(slice(None))
            d += it is not None
        elif isinstance(it, int):
            n = x.shape[d]
            if not -n <= it < n:
                raise IndexError(f"getitem: index {it} is out of bounds for dimension {d} with size {n} "
                                 f"(tensor shape {x.shape})")
            basic.append(it)
            d += 1
        elif _is_bool(it):
            if it.shape != x.shape[d:d + it.ndim]:
                raise IndexError(f"getitem: the shape of the mask {it.shape} does not match the shape "
                                 f"{x.shape[d:d + it.ndim]} of the indexed dims {d}..{d + it.ndim - 1} "
                                 f"of the tensor (shape {x.shape})")
            basic += [slice(None)] * it.ndim
            adv.append(it)
            d += it.ndim
            n_bool += 1
        else:
            basic.append(slice(None))
            adv.append(it)
            d += 1
            n_int += 1
    basic = tuple(basic) + (Ellipsis,)  # Ellipsis keeps a 0-d result an array view, not a scalar
    if not n_int and not n_bool:
        return basic, None, True
    return basic, tuple(adv), n_int == 0 and n_bool == 1


def _is_bool(it) -> bool:
    return hasattr(it, "dtype") and it.dtype.kind == "b"


def _is_trivial(basic) -> bool:
    return all(isinstance(b, slice) and b == slice(None) or b is Ellipsis for b in basic)


def _adv_shape(view_shape: tuple, adv: tuple) -> tuple:
    """Shape of view[adv] (NumPy rules), computed without indexing."""
    arrays, dims, d, pos = [], [], 0, []
    for k, a in enumerate(adv):
        if isinstance(a, slice):
            dims.append(view_shape[d])
            d += 1
            continue
        pos.append(len(dims))
        dims.append(None)
        arrays.append((int(a.sum()),) if _is_bool(a) else a.shape)
        d += a.ndim if _is_bool(a) else 1
    b = np.broadcast_shapes(*arrays)
    ks = [k for k, a in enumerate(adv) if not isinstance(a, slice)]
    rest = [n for n in dims if n is not None]
    if ks == list(range(ks[0], ks[-1] + 1)):
        first = pos[0]
        return tuple(rest[:first]) + b + tuple(rest[first:])
    return b + tuple(rest)


# ---------------------------------------------------------------- getitem
class GetItem(Function):
    """y = x[basic][adv];  dx = zeros(x.shape) with dy added at the indexed positions."""

    saves_inputs = False

    def __init__(self, basic, adv=None, unique=True):
        self.basic, self.adv, self.unique = basic, adv, unique

    def forward(self, x):
        self.in_shape = x.shape
        v = x[self.basic]
        return v if self.adv is None else v[self.adv]

    def backward(self, gy):
        return IndexAddInto(self.in_shape, self.basic, self.adv, self.unique)(gy)


class IndexAddInto(Function):
    """y = zeros(shape) with y[basic][adv] += x (repeated indices sum);  dx = dy[basic][adv]."""

    saves_inputs = False

    def __init__(self, shape, basic, adv, unique):
        self.shape, self.basic, self.adv, self.unique = shape, basic, adv, unique

    def forward(self, g):
        xp = backend.array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        view = out[self.basic]
        if self.adv is None:
            view[...] = g
        elif self.unique:
            view[self.adv] = g
        elif any(getattr(a, "ndim", 1) == 0 for a in self.adv):  # np.add.at rejects 0-d bool indices
            lin = xp.arange(view.size).reshape(view.shape)[self.adv]
            acc = xp.zeros(view.size, dtype=g.dtype)
            xp.add.at(acc, lin.reshape(-1), g.reshape(-1))
            view[...] = acc.reshape(view.shape)
        else:
            xp.add.at(view, self.adv, g)
        return out

    def backward(self, gg):
        return GetItem(self.basic, self.adv, self.unique)(gg)


class IndexSelect(Function):
    """y = take(x, idx, axis=dim) (idx of any shape replaces dim);  dx = index_add of dy into zeros."""

    saves_inputs = False

    def __init__(self, dim, idx):
        self.dim, self.idx = dim, idx

    def forward(self, x):
        self.size = x.shape[self.dim]
        return backend.array_module(x).take(x, self.idx, axis=self.dim)

    def backward(self, gy):
        return IndexAdd(self.dim, self.idx, self.size)(gy)


class IndexAdd(Function):
    """y = zeros with y[.., idx[j], ..] += x[.., j, ..] along dim;  dx = take(dy, idx, axis=dim)."""

    saves_inputs = False

    def __init__(self, dim, idx, size):
        self.dim, self.idx, self.size = dim, idx, size

    def forward(self, g):
        xp = backend.array_module(g)
        d, idx = self.dim, self.idx
        flat = idx.reshape(-1).astype(np.int64, copy=False)
        flat = xp.where(flat < 0, flat + self.size, flat)
        g = g.reshape(g.shape[:d] + (flat.size,) + g.shape[d + idx.ndim:])
        out = xp.zeros(g.shape[:d] + (self.size,) + g.shape[d + 1:], dtype=g.dtype)
        return _index_add(out, d, flat, g)

    def backward(self, gg):
        return IndexSelect(self.dim, self.idx)(gg)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` for ints, slices (any step), None, ``...``, integer arrays/lists/tensors and masks.

    A single integer array with full slices elsewhere (an embedding lookup ``table[ids]``) is an
    ``index_select``, whose backward sums rows with a sort (or a histogram) instead of np.add.at.
    """
    basic, adv, unique = parse_index(x, index)
    try:
        if adv is None:
            if _is_trivial(basic):
                return x
            return make_view(GetItem(basic)(x), x, lambda b: GetItem(basic)(b))
        arrays = [k for k, a in enumerate(adv) if not isinstance(a, slice)]
        if len(arrays) == 1 and not unique:  # one integer array: a take along its dim
            v = x if _is_trivial(basic) else GetItem(basic)(x)
            return IndexSelect(arrays[0], adv[arrays[0]])(v)
        return GetItem(basic, adv, unique)(x)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None


# ---------------------------------------------------------------- setitem
class IndexPut(Function):
    """y = x with y[basic][adv] = v;  dx = dy with the written positions zeroed, dv = dy[basic][adv]
    summed back to v's shape."""

    saves_inputs = False

    def __init__(self, basic, adv):
        self.basic, self.adv = basic, adv

    def forward(self, x, v):
        self.v_shape = v.shape
        out = x.copy()
        _write(out, self.basic, self.adv, v)
        return out

    def backward(self, gy):
        nx, nv = self.needs_input_grad
        gx = gv = None
        if nx:
            gx = IndexPut(self.basic, self.adv)(gy, Tensor._wrap(gy.xp.zeros((), dtype=gy.dtype)))
        if nv:
            gv = sum_to(GetItem(self.basic, self.adv, True)(gy), self.v_shape)
        return gx, gv


def _write(out, basic, adv, v):
    view = out[basic]
    if adv is None:
        view[...] = v
    else:
        view[adv] = v


def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value`` in place (value: scalar, array or tensor, broadcast to x[index]'s shape).

    Differentiable in ``x`` and ``value``; on a leaf that requires grad it needs ``no_grad``.
    """
    from .elementwise import as_tensor_like, astype
    from .inplace import inplace

    def put(t: Tensor, v) -> Tensor:
        basic, adv, _ = parse_index(t, index)
        v = as_tensor_like(v, t)
        if v.device != t.device:
            v = Tensor._wrap(backend.to_device(v.array, t.device)) if not v._requires_grad else v.to(t.device)
        v = astype(v, t.dtype)
        view_shape = t.array[basic].shape
        target = view_shape if adv is None else _adv_shape(view_shape, adv)
        lead = v.ndim - len(target)
        if lead > 0 and all(n == 1 for n in v.shape[:lead]):
            v = reshape(v, v.shape[lead:])
        try:
            np.broadcast_shapes(v.shape, target)
            if v.ndim > len(target):
                raise ValueError
        except ValueError:
            raise RuntimeError(f"setitem: value of shape {v.shape} cannot be broadcast to the indexed shape "
                               f"{target} (tensor shape {t.shape})") from None
        if is_grad_enabled() and (t._requires_grad or v._requires_grad):
            return IndexPut(basic, adv)(t, v)
        if not t.array.flags.writeable:
            raise RuntimeError(f"setitem: the tensor (shape {t.shape}) is a read-only broadcast view (from "
                               "expand); call .clone() before writing into it")
        _write(t.array, basic, adv, v.array)  # no graph: write straight into the array (views see it)
        return t

    put.__name__ = "setitem (x[index] = value)"
    inplace(x, put, value)


# ---------------------------------------------------------------- gather / scatter
class Gather(Function):
    """y[i][j][k] = x[i][idx[i][j][k]][k] (for dim=1);  dx = scatter_add of dy into zeros."""

    saves_inputs = False

    def __init__(self, dim, idx):
        self.dim, self.idx = dim, idx

    def forward(self, x):
        self.in_shape = x.shape
        sl = tuple(slice(None) if d == self.dim else slice(0, n) for d, n in enumerate(self.idx.shape))
        return backend.array_module(x).take_along_axis(x[sl], self.idx, axis=self.dim)

    def backward(self, gy):
        return ScatterAddInto(self.in_shape, self.dim, self.idx)(gy)


class ScatterAddInto(Function):
    """y = zeros(shape) with y[i][idx[i][j]] += x[i][j] (for dim=1);  dx = gather(dy, dim, idx)."""

    saves_inputs = False

    def __init__(self, shape, dim, idx):
        self.shape, self.dim, self.idx = shape, dim, idx

    def forward(self, g):
        out = backend.array_module(g).zeros(self.shape, dtype=g.dtype)
        return _scatter_add(out, self.dim, self.idx, g)

    def backward(self, gg):
        return Gather(self.dim, self.idx)(gg)


class ScatterAdd(Function):
    """y = x with y[i][idx[i][j]] += src[i][j] (for dim=1);  dx = dy,  dsrc = gather(dy, dim, idx)."""

    saves_inputs = False

    def __init__(self, dim, idx):
        self.dim, self.idx = dim, idx

    def forward(self, x, src):
        return _scatter_add(x.copy(), self.dim, self.idx, src)

    def backward(self, gy):
        nsrc = self.needs_input_grad[1]
        return gy, (Gather(self.dim, self.idx)(gy) if nsrc else None)


class Scatter(Function):
    """y = x with y[i][idx[i][j]] = src[i][j] (or a constant ``value``);
    dx = dy with the written positions zeroed,  dsrc = gather(dy, dim, idx)."""

    saves_inputs = False

    def __init__(self, dim, idx, value=None):
        self.dim, self.idx, self.value = dim, idx, value

    def forward(self, x, src=None):
        out = x.copy()
        out[_coords(self.dim, self.idx)] = self.value if src is None else src
        return out

    def backward(self, gy):
        gx = Scatter(self.dim, self.idx, 0)(gy) if self.needs_input_grad[0] else None
        if len(self.needs_input_grad) == 1:
            return gx
        return gx, (Gather(self.dim, self.idx)(gy) if self.needs_input_grad[1] else None)


def _int_index(index, x: Tensor, op: str):
    arr = index.array if isinstance(index, Tensor) else x.xp.asarray(np.asarray(index))
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer index tensor, got dtype {arr.dtype}")
    if isinstance(index, Tensor) and index.device != x.device:
        arr = backend.to_device(arr, x.device)
    return arr


def _check_scatter_index(op: str, x: Tensor, dim, idx, src=None) -> int:
    d = norm_dim(dim, x.shape, op)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"{op}: index tensor must have the same number of dimensions as the input; "
                           f"got index shape {idx.shape} and input shape {x.shape}")
    for k, (m, n) in enumerate(zip(idx.shape, x.shape)):
        if k != d and m > n:
            raise RuntimeError(f"{op}: index shape {idx.shape} must not be larger than the input shape "
                               f"{x.shape} apart from dim {dim}")
    if src is not None:
        if src.ndim != idx.ndim or any(m > n for m, n in zip(idx.shape, src.shape)):
            raise RuntimeError(f"{op}: index shape {idx.shape} must not be larger than the src shape {src.shape}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= x.shape[d]):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexOutOfRange(f"{op}: index {bad} is out of bounds for dim {dim} with size {x.shape[d]} "
                              f"(input shape {x.shape})")
    return d


def gather(x: Tensor, dim: int, index) -> Tensor:
    """out[i][j][k] = x[i][index[i][j][k]][k] for dim=1; out has index's shape."""
    idx = _int_index(index, x, "gather")
    d = _check_scatter_index("gather", x, dim, idx)
    return Gather(d, idx)(x)


def _src(op: str, x: Tensor, idx, src):
    if src.dtype != x.dtype:
        raise RuntimeError(f"{op}: expected src to have the dtype of the input ({x.dtype}), got {src.dtype}")
    if src.shape != idx.shape:  # only src[:index.shape] is read
        src = getitem(src, tuple(slice(0, n) for n in idx.shape))
    return src


def scatter(x: Tensor, dim: int, index, src) -> Tensor:
    """out = x with out[i][index[i][j]] = src[i][j] (dim=1); ``src`` a tensor or a scalar."""
    idx = _int_index(index, x, "scatter")
    if isinstance(src, Tensor):
        d = _check_scatter_index("scatter", x, dim, idx, src)
        return Scatter(d, idx)(x, _src("scatter", x, idx, src))
    d = _check_scatter_index("scatter", x, dim, idx)
    return Scatter(d, idx, x.xp.asarray(src, dtype=x.dtype))(x)


def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """out = x with out[i][index[i][j]] += src[i][j] (dim=1); repeated indices all add."""
    idx = _int_index(index, x, "scatter_add")
    d = _check_scatter_index("scatter_add", x, dim, idx, src)
    return ScatterAdd(d, idx)(x, _src("scatter_add", x, idx, src))


def index_select(x: Tensor, dim: int, index) -> Tensor:
    """Entries of x at positions ``index`` (1-D) along ``dim``: out.shape[dim] = len(index)."""
    idx = _int_index(index, x, "index_select")
    d = norm_dim(dim, x.shape, "index_select")
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be a vector (0-d or 1-d), got shape {idx.shape}")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(f"index_select: index out of range for dim {dim} with size {n} (input shape {x.shape})")
    if x.ndim == 0:
        return reshape(x, 1)[idx] if idx.size else reshape(x, 0)
    return IndexSelect(d, idx)(x)


# ---------------------------------------------------------------- masks and one-hot
def masked_fill(x: Tensor, mask, value) -> Tensor:
    """out = value where mask else x (mask broadcasts);  dx = dy * ~mask,  dvalue = sum(dy[mask])."""
    from .elementwise import astype, where

    m = mask.array if isinstance(mask, Tensor) else x.xp.asarray(np.asarray(mask))
    if m.dtype.kind != "b":
        raise RuntimeError(f"masked_fill: only boolean masks are supported, got mask dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {m.shape} cannot be broadcast to the input shape "
                           f"{x.shape}") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill: only supports a 0-dimensional value tensor, got shape {value.shape}")
        value = astype(value, x.dtype)
    else:
        value = Tensor._wrap(x.xp.asarray(value, dtype=x.dtype))
    return where(Tensor._wrap(m), value, x)


def one_hot(index: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape index.shape + (num_classes,) with a 1 at each index (F.one_hot)."""
    arr = index.array if isinstance(index, Tensor) else np.asarray(index)
    xp = backend.array_module(arr)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: is only applicable to an integer index tensor, got dtype {arr.dtype}")
    if num_classes == -1:
        if arr.size == 0:
            raise RuntimeError("one_hot: can not infer the number of classes from an empty tensor; pass num_classes")
        num_classes = int(arr.max()) + 1
    if arr.size:
        if int(arr.min()) < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {int(arr.min())}")
        if int(arr.max()) >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes}), "
                               f"got {int(arr.max())}")
    return Tensor._wrap((arr[..., None] == xp.arange(num_classes)).astype(np.int64))
