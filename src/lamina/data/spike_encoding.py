"""Turning intensities into spike trains for spiking networks (snnTorch's ``spikegen``).

Both take data scaled to [0, 1] (any shape) and return spikes with a new leading time axis
``(num_steps, *x.shape)`` (time-major, as spiking layers consume it), the same kind (Tensor or
array) and float dtype as the input; they never record a graph.

* rate:    s_t ~ Bernoulli(clip(gain * x, 0, 1)) independently at each step (seeded by
           ``generator`` or lamina's default generator);
* latency: one spike per input at t = tau ln(x / (x - threshold)) (the time an RC circuit
           charged by x takes to reach ``threshold``; ``linear=True``: t = tau (1 - x)), so
           bright pixels fire early. ``normalize`` stretches the times to fill the window;
           inputs at or below ``threshold`` spike at the last step, or never with ``clip``.

>>> spikes = rate(x, num_steps=25)            # (25, N, 64) zeros and ones
>>> spikes = latency(x, num_steps=25, tau=5)  # one spike per pixel (or none)
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["LatencyEncoding", "RateEncoding", "latency", "rate"]


def _unpack(x, op):
    if isinstance(x, Tensor):
        arr, is_tensor = x.array, True
    else:
        arr, is_tensor = (x if hasattr(x, "__array_namespace__") or isinstance(x, np.ndarray) else np.asarray(x)), False
    if arr.dtype.kind != "f":
        arr = arr.astype(backend.get_default_dtype())
    return arr, is_tensor


def _check_steps(num_steps, op):
    if not isinstance(num_steps, numbers.Integral) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"{op}: num_steps must be a positive int, got {num_steps!r}")
    return int(num_steps)


def rate(x, num_steps: int, gain: float = 1.0, generator=None):
    """Rate coding: (num_steps, *x.shape) Bernoulli spikes with probability clip(gain * x, 0, 1)."""
    num_steps = _check_steps(num_steps, "rate")
    arr, is_tensor = _unpack(x, "rate")
    xp = backend.array_module(arr)
    p = xp.clip(arr * gain, 0.0, 1.0)
    u = backend.rng(generator).random((num_steps,) + tuple(arr.shape), dtype=np.float32)
    if xp is not np:
        u = xp.asarray(u)
    out = (u < p[None]).astype(arr.dtype)
    return Tensor._wrap(out) if is_tensor else out


def latency(x, num_steps: int, tau: float = 5.0, threshold: float = 0.01, linear: bool = False,
            normalize: bool = False, clip: bool = False):
    """Latency coding: one spike per element at its (rounded) time; (num_steps, *x.shape)."""
    num_steps = _check_steps(num_steps, "latency")
    if not 0 <= threshold < 1:
        raise ValueError(f"latency: threshold must be in [0, 1), got {threshold!r}")
    if tau <= 0:
        raise ValueError(f"latency: tau must be positive, got {tau!r}")
    arr, is_tensor = _unpack(x, "latency")
    xp = backend.array_module(arr)
    a = arr.astype(np.float64)
    silent = a <= threshold
    if linear:
        t = tau * (1.0 - xp.clip(a, 0.0, 1.0))
    else:
        safe = xp.maximum(a, threshold + 1e-7)
        t = tau * xp.log(safe / (safe - threshold)) if threshold > 0 else xp.zeros_like(a)
    if normalize:
        live = xp.where(silent, 0.0, t)
        top = float(live.max()) if live.size else 0.0
        if top > 0:
            t = t * ((num_steps - 1) / top)
    steps = xp.clip(xp.rint(t), 0, num_steps - 1).astype(np.int64)
    steps = xp.where(silent, num_steps - 1, steps)
    out = (xp.arange(num_steps).reshape((-1,) + (1,) * a.ndim) == steps[None]).astype(arr.dtype)
    if clip:
        out = out * (~silent)[None].astype(arr.dtype)
    return Tensor._wrap(out) if is_tensor else out


class RateEncoding:
    """A transform: ``x -> rate(x, num_steps, gain)`` (time first), seeded by ``generator``."""

    def __init__(self, num_steps: int, gain: float = 1.0, generator=None):
        self.num_steps, self.gain, self.generator = _check_steps(num_steps, "RateEncoding"), float(gain), generator

    def __call__(self, x):
        return rate(x, self.num_steps, self.gain, self.generator)

    def __repr__(self):
        return f"RateEncoding(num_steps={self.num_steps}, gain={self.gain})"


class LatencyEncoding:
    """A transform: ``x -> latency(x, num_steps, ...)`` (time first)."""

    def __init__(self, num_steps: int, tau: float = 5.0, threshold: float = 0.01, linear: bool = False,
                 normalize: bool = False, clip: bool = False):
        self.num_steps = _check_steps(num_steps, "LatencyEncoding")
        self.kw = dict(tau=tau, threshold=threshold, linear=linear, normalize=normalize, clip=clip)

    def __call__(self, x):
        return latency(x, self.num_steps, **self.kw)

    def __repr__(self):
        return f"LatencyEncoding(num_steps={self.num_steps}, " + ", ".join(f"{k}={v}" for k, v in self.kw.items()) + ")"
