"""Tensor creation: from data, constant fills, ranges and random draws.

Random draws come from a ``lamina.Generator`` (the default one unless ``generator=`` is given),
are made on the CPU and moved to ``device``, so a seed gives the same numbers everywhere.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"sizes must be non-negative integers, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _float_dtype(dtype):
    dt = backend.as_dtype(dtype)
    return backend.get_default_dtype() if dt is None else dt


def _random_float_dtype(dtype, op: str):
    dt = _float_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{op}: random floats need a floating dtype, got {dt}")
    return dt


def _finish(array, device, requires_grad) -> Tensor:
    if device is not None:
        array = backend.to_device(array, backend.Device(device))
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a list, number, NumPy array or tensor).

    Python floats become float32 (the default dtype), ints int64, bools bool.
    """
    if isinstance(data, Tensor):
        data = data.array
    try:
        t = Tensor(data, dtype=dtype, device=device)
    except ValueError:
        if isinstance(data, (list, tuple)):
            _check_nested(data)  # a ragged list: PyTorch's error naming the dimension
        raise
    if t.array is data or (isinstance(data, np.ndarray) and np.shares_memory(t.array, data)):
        t.array = t.array.copy()
    if requires_grad:
        t.requires_grad = True
    return t


def _check_nested(data) -> None:
    """Raise PyTorch's error for a ragged nested list: the shape is read from the first element at
    each depth, and every sequence must match it (``expected sequence of length 2 at dim 1 (got 1)``)."""
    shape, first = [], data
    while isinstance(first, (list, tuple)):
        shape.append(len(first))
        if not first:
            break
        first = first[0]
    level = [data]
    for dim, n in enumerate(shape):
        nxt = []
        for seq in level:
            if not isinstance(seq, (list, tuple)):
                raise TypeError(f"expected a sequence at dim {dim}, got a number ({type(seq).__name__})")
            if len(seq) != n:
                raise ValueError(f"expected sequence of length {n} at dim {dim} (got {len(seq)})")
            nxt.extend(seq)
        level = nxt
    bad = next((v for v in level if isinstance(v, (list, tuple))), None)
    if bad is not None:
        raise TypeError(f"expected a number at dim {len(shape)}, got a {type(bad).__name__}")


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array (or returns the tensor itself) when
    dtype and device allow; a tensor converted to another dtype keeps its graph."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with a NumPy array (its dtype kept): writes to one show in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: unsupported dtype {array.dtype}")
    return Tensor._wrap(array)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.zeros(_shape(size), dtype=_float_dtype(dtype)), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.ones(_shape(size), dtype=_float_dtype(dtype)), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.empty(_shape(size), dtype=_float_dtype(dtype)), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else np.int64
                 if isinstance(fill_value, numbers.Integral) else backend.get_default_dtype())
    return _finish(np.full(_shape((size,)), fill_value, dtype=backend.as_dtype(dtype)), device, requires_grad)


def _like(fn, x: Tensor, dtype, device, requires_grad, *args):
    return fn(*args, x.shape, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
              requires_grad=requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    return _like(ones, x, dtype, device, requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    return _like(empty, x, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """[start, end) in steps of ``step``; int64 when all bounds are ints, else the default float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else backend.get_default_dtype()
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound {end} and lower bound {start} inconsistent with step sign {step}")
    return _finish(np.arange(start, end, step).astype(backend.as_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if int(steps) < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    return _finish(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The (n, m) identity matrix (m = n by default)."""
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), device, requires_grad)


# ---------------------------------------------------------------- random
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    arr = backend.rng(generator).random(_shape(size), dtype=np.float64).astype(_random_float_dtype(dtype, "rand"))
    return _finish(arr, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal N(0, 1)."""
    arr = backend.rng(generator).standard_normal(_shape(size)).astype(_random_float_dtype(dtype, "randn"))
    return _finish(arr, device, requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform on [low, high) (``randint(high, size)`` also works)."""
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required, e.g. randint(0, 10, (3,)) or randint(10, (3,))")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    size = _shape(size if isinstance(size, (tuple, list)) else (size,))
    dt = np.dtype(np.int64) if dtype is None else backend.as_dtype(dtype)
    arr = backend.rng(generator).integers(low, high, size=size).astype(dt)
    return _finish(arr, device, False)


def randperm(n, generator=None, dtype=None, device=None) -> Tensor:
    dt = np.dtype(np.int64) if dtype is None else backend.as_dtype(dtype)
    arr = backend.rng(generator).permutation(int(n)).astype(dt)
    return _finish(arr, device, False)


def normal(mean=0.0, std=1.0, size=None, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Draws from N(mean, std**2); ``mean`` and ``std`` may be tensors (broadcast) or floats."""
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if bool((np.asarray(backend.to_device(s, backend.cpu) if hasattr(s, "shape") else s) < 0).any()):
        raise RuntimeError(f"normal expects all elements of std >= 0.0, got std={std if not hasattr(s, 'shape') else 'a tensor with negative values'}")
    if size is None:
        size = np.broadcast_shapes(np.shape(m), np.shape(s))
    arr = backend.rng(generator).normal(backend.to_device(m, backend.cpu) if hasattr(m, "shape") else m,
                                        backend.to_device(s, backend.cpu) if hasattr(s, "shape") else s,
                                        size=tuple(size))
    if dtype is None:
        dtype = mean.dtype if isinstance(mean, Tensor) else std.dtype if isinstance(std, Tensor) else None
    return _finish(np.asarray(arr).astype(_random_float_dtype(dtype, "normal")), device, requires_grad)


def bernoulli(p, prob=None, generator=None) -> Tensor:
    """1 with probability ``p`` (a tensor of probabilities), else 0; same shape and dtype as ``p``.
    ``bernoulli(x, prob)`` draws with the one probability ``prob`` in x's shape and dtype."""
    if not isinstance(p, Tensor):
        p = Tensor(p)
    if prob is not None:
        p = Tensor._wrap(p.xp.full(p.shape, prob, dtype=p.dtype if p.dtype.kind == "f" else np.float32))
    if p.dtype.kind != "f":
        raise TypeError(f"bernoulli: expected a floating point tensor of probabilities, got {p.dtype}")
    probs = backend.to_device(p.array, backend.cpu)
    draw = (backend.rng(generator).random(probs.shape) < probs).astype(p.dtype)
    return _finish(draw, p.device if p.device.type != "cpu" else None, False)


def rand_like(x, generator=None, dtype=None):
    return rand(*x.shape, generator=generator, dtype=x.dtype if dtype is None else dtype, device=x.device)


def randn_like(x, generator=None, dtype=None):
    return randn(*x.shape, generator=generator, dtype=x.dtype if dtype is None else dtype, device=x.device)


def randint_like(x, low, high=None, generator=None, dtype=None):
    """Integers uniform on [low, high) in ``x``'s shape (``randint_like(x, high)`` also works)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, x.shape, generator=generator, dtype=x.dtype if dtype is None else dtype,
                   device=x.device)
