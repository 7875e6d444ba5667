"""Random fills in place (``x.bernoulli_(p)``, ``exponential_``, ``cauchy_``, ``geometric_``,
``log_normal_``, ``random_``) and the binomial draw.

Values come from a ``lamina.Generator`` (the default one unless ``generator=`` is given), drawn
on the CPU in float64 and cast to the tensor's dtype:

    cauchy:       median + sigma * tan(pi (u - 1/2))
    exponential:  -log(1 - u) / lambd
    geometric:    the number of Bernoulli(p) trials up to the first success (1, 2, ...)
    log-normal:   exp(N(mean, std^2))

    >>> lamina.empty(3).exponential_(2.0)        # three draws with mean 1/2
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from .inplace import Fill, inplace


def _fill(t: Tensor, name: str, draw, floating: bool = True) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if floating and t.dtype.kind != "f":
        raise RuntimeError(f"{name} expects a floating point tensor, got {t.dtype}")

    def make(arr):
        vals = np.asarray(draw(arr.shape))
        return backend.to_device(vals.astype(arr.dtype), backend.device_of(arr))

    return inplace(t, lambda x: Fill(make)(x), name=name)


def bernoulli_(t: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 1 (probability p, a number or a tensor broadcast to t) or 0."""
    probs = backend.to_device(p.array, backend.cpu) if isinstance(p, Tensor) else p
    if np.any(np.asarray(probs) < 0) or np.any(np.asarray(probs) > 1):
        raise RuntimeError(f"bernoulli_: expected 0 <= p <= 1, got p={p}")
    return _fill(t, "bernoulli_", lambda shape: backend.rng(generator).random(shape) < probs, floating=False)


def exponential_(t: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with draws from Exp(lambd) (mean 1 / lambd)."""
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(t, "exponential_", lambda shape: backend.rng(generator).exponential(1.0 / lambd, shape))


def cauchy_(t: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Fill with draws from Cauchy(median, sigma)."""
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(t, "cauchy_",
                 lambda shape: median + sigma * np.tan(np.pi * (backend.rng(generator).random(shape) - 0.5)))


def log_normal_(t: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """Fill with exp(N(mean, std^2)) draws."""
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(t, "log_normal_", lambda shape: np.exp(backend.rng(generator).normal(mean, std, shape)))


def geometric_(t: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials needed for the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(t, "geometric_", lambda shape: backend.rng(generator).geometric(p, shape), floating=False)


def random_(t: Tensor, from_=0, to=None, *, generator=None) -> Tensor:
    """Fill with integers uniform on [from, to - 1]; ``random_(to)`` means [0, to - 1]; with no
    bound, [0, 2**mantissa] for floats (every integer exactly representable) or the dtype's max."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        dt = t.dtype
        if dt.kind == "f":
            to = 2 ** (np.finfo(dt).nmant + 1) + 1
        elif dt.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(dt).max)
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return _fill(t, "random_", lambda shape: backend.rng(generator).integers(from_, to, shape), floating=False)


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Draws from Binomial(count, prob) elementwise (the dtype of ``count``)."""
    if not isinstance(count, Tensor) or not isinstance(prob, Tensor):
        raise TypeError("binomial: expected count and prob to be Tensors")
    n = backend.to_device(count.array, backend.cpu)
    q = backend.to_device(prob.array, backend.cpu)
    if (np.asarray(q) < 0).any() or (np.asarray(q) > 1).any() or (np.asarray(n) < 0).any():
        raise RuntimeError("binomial: expected 0 <= prob <= 1 and count >= 0")
    draws = backend.rng(generator).binomial(n.astype(np.int64), q).astype(count.dtype)
    return Tensor._wrap(backend.to_device(draws, count.device))
