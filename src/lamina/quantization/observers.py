"""Observers: watch a tensor's range and turn it into int8/uint8 quantization parameters.

    affine:     s = (max⁺ - min⁻) / (q_max - q_min),  z = q_min - round(min⁻ / s)   (clamped to the range)
    symmetric:  s = max(-min⁻, max⁺) / ((q_max - q_min) / 2),  z = 0 (int8) or 128 (uint8)

with min⁻ = min(min, 0), max⁺ = max(max, 0) (zero is always exactly representable) and s >= eps,
as PyTorch's observers compute them. The range is kept by

* ``MinMaxObserver``: the running min and max of everything seen;
* ``MovingAverageMinMaxObserver``: min ← min + c (min_batch - min), the same for max (c = 0.01);
* ``PerChannelMinMaxObserver``: one range per slice along ``ch_axis`` (weights: axis 0), running
  or, with ``averaging_constant``, a moving average (1.0: the current tensor only).

Observers are modules: ``obs(x)`` records ``x`` (no graph) and returns it; ``calculate_qparams()``
gives ``(scale, zero_point)`` as NumPy arrays. Their state is not part of ``state_dict()`` (it is
a statistic of the training data, recomputed by running data through the model in train mode),
so a checkpoint of a model under quantization-aware training loads into the float model.

    >>> obs = MinMaxObserver(dtype="uint8"); obs(lamina.randn(100))
    >>> scale, zero_point = obs.calculate_qparams()
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver", "qrange"]

_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}
_EPS = float(np.finfo(np.float32).eps)


def qrange(dtype: str, reduce_range: bool = False) -> tuple:
    """(q_min, q_max) of ``"int8"`` or ``"uint8"`` (one bit less with ``reduce_range``)."""
    if dtype not in _RANGES:
        raise ValueError(f"quantization dtype must be 'int8' or 'uint8', got {dtype!r}")
    lo, hi = _RANGES[dtype]
    return ((lo // 2, hi // 2) if dtype == "int8" else (0, 127)) if reduce_range else (lo, hi)


def _host(a) -> np.ndarray:
    return np.asarray(a.get() if hasattr(a, "get") else a, dtype=np.float64)


class _ObserverBase(Module):
    """Range bookkeeping shared by every observer; subclasses define ``_reduce`` and ``_update``."""

    ch_axis = None

    def __init__(self, dtype: str = "int8", qscheme: str = "affine", reduce_range: bool = False,
                 eps: float = _EPS):
        super().__init__()
        if qscheme not in ("affine", "symmetric"):
            raise ValueError(f"{type(self).__name__}: qscheme must be 'affine' or 'symmetric', got {qscheme!r}")
        self.dtype, self.qscheme, self.reduce_range, self.eps = dtype, qscheme, bool(reduce_range), float(eps)
        self.quant_min, self.quant_max = qrange(dtype, reduce_range)
        self.register_buffer("min_val", None, persistent=False)
        self.register_buffer("max_val", None, persistent=False)

    @property
    def observed(self) -> bool:
        """True once the observer has seen data."""
        return self.min_val is not None

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        a = x.array
        if a.size == 0:
            return x
        lo, hi = self._reduce(a)
        if self.min_val is None:
            self.min_val, self.max_val = Tensor._wrap(lo), Tensor._wrap(hi)
        else:
            self.min_val.array[...], self.max_val.array[...] = self._update(self.min_val.array, lo,
                                                                           self.max_val.array, hi)
        return x

    def _update(self, old_lo, lo, old_hi, hi):
        xp = backend.array_module(lo)
        return xp.minimum(old_lo, lo), xp.maximum(old_hi, hi)

    def calculate_qparams(self) -> tuple:
        """(scale, zero_point): float32 and int64 NumPy arrays (0-d per tensor, (C,) per channel)."""
        if self.min_val is None:
            raise RuntimeError(f"{type(self).__name__} has observed no data: run data through it (in train mode) "
                               "before asking for quantization parameters")
        lo = np.minimum(_host(self.min_val.array), 0.0)
        hi = np.maximum(_host(self.max_val.array), 0.0)
        qmin, qmax = self.quant_min, self.quant_max
        if self.qscheme == "symmetric":
            amax = np.maximum(-lo, hi)
            scale = np.maximum(amax / ((qmax - qmin) / 2), self.eps)
            zp = np.full(scale.shape, 0 if self.dtype == "int8" else (qmin + qmax + 1) // 2, dtype=np.int64)
        else:
            scale = np.maximum((hi - lo) / (qmax - qmin), self.eps)
            zp = np.clip(qmin - np.round(lo / scale), qmin, qmax).astype(np.int64)
        return scale.astype(np.float32), zp

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, qscheme={self.qscheme}" + (f", ch_axis={self.ch_axis}" if self.ch_axis is not None else "")


class MinMaxObserver(_ObserverBase):
    """Per-tensor running min/max of everything observed (calibration)."""

    def _reduce(self, a):
        xp = backend.array_module(a)
        return xp.asarray(a.min(), dtype=np.float32), xp.asarray(a.max(), dtype=np.float32)


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Per-tensor moving average of each batch's min/max: m ← m + c (m_batch - m)."""

    def __init__(self, averaging_constant: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        if not 0 < averaging_constant <= 1:
            raise ValueError(f"{type(self).__name__}: averaging_constant must be in (0, 1], got {averaging_constant}")
        self.averaging_constant = float(averaging_constant)

    def _update(self, old_lo, lo, old_hi, hi):
        c = self.averaging_constant
        return old_lo + c * (lo - old_lo), old_hi + c * (hi - old_hi)


class PerChannelMinMaxObserver(_ObserverBase):
    """One min/max per slice along ``ch_axis`` (running; or a moving average with ``averaging_constant``)."""

    def __init__(self, ch_axis: int = 0, averaging_constant: float | None = None, dtype: str = "int8",
                 qscheme: str = "symmetric", **kwargs):
        super().__init__(dtype=dtype, qscheme=qscheme, **kwargs)
        if averaging_constant is not None and not 0 < averaging_constant <= 1:
            raise ValueError(f"PerChannelMinMaxObserver: averaging_constant must be in (0, 1], got {averaging_constant}")
        self.ch_axis, self.averaging_constant = int(ch_axis), averaging_constant

    def _reduce(self, a):
        if a.ndim == 0:
            raise ValueError("PerChannelMinMaxObserver: expected a tensor with a channel axis, got a scalar")
        axis = self.ch_axis % a.ndim
        flat = backend.array_module(a).moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
        return flat.min(axis=1).astype(np.float32), flat.max(axis=1).astype(np.float32)

    def _update(self, old_lo, lo, old_hi, hi):
        if old_lo.shape != lo.shape:
            raise ValueError(f"PerChannelMinMaxObserver: saw {old_lo.shape[0]} channels before, now {lo.shape[0]}")
        c = self.averaging_constant
        if c is None:
            return super()._update(old_lo, lo, old_hi, hi)
        return old_lo + c * (lo - old_lo), old_hi + c * (hi - old_hi)
