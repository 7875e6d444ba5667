"""FakeQuantize: an observer plus fake quantization, the building block of quantization-aware training.

    train mode:  observer(x) updates the range, (s, z) = observer.calculate_qparams(), y = fq(x; s, z)
    eval mode:   the observer is frozen; y = fq(x; s, z) with the last (s, z)
    backward:    straight-through: dx = dy inside the quantization range, 0 outside

A FakeQuantize that has observed nothing yet passes its input through unchanged.

    >>> fq = FakeQuantize(MovingAverageMinMaxObserver(dtype="int8"))
    >>> y = fq(lamina.randn(8, 16))                   # observes, then quantizes-dequantizes
"""
from __future__ import annotations

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor
from .fake_quant import FakeQuantizeFn
from .observers import MovingAverageMinMaxObserver, PerChannelMinMaxObserver

__all__ = ["FakeQuantize", "default_activation_fake_quant", "default_weight_fake_quant"]


class FakeQuantize(Module):
    """Fake-quantize with the parameters ``observer`` computes (per-tensor or per-channel, as the observer is)."""

    def __init__(self, observer: Module):
        super().__init__()
        if not hasattr(observer, "calculate_qparams"):
            raise TypeError(f"FakeQuantize: expected an observer (MinMaxObserver, ...), got {type(observer).__name__}")
        self.observer = observer
        self.observer_enabled = True
        self.fake_quant_enabled = True
        self._qparams = None  # (scale, zero_point) NumPy arrays, refreshed after each observation

    @property
    def quant_min(self) -> int:
        return self.observer.quant_min

    @property
    def quant_max(self) -> int:
        return self.observer.quant_max

    @property
    def ch_axis(self):
        return self.observer.ch_axis

    @property
    def ready(self) -> bool:
        """True once quantization parameters exist (the observer has seen data)."""
        return self.observer.observed

    def qparams(self) -> tuple:
        """(scale float32, zero_point int64) NumPy arrays; 0-d per tensor, (C,) per channel."""
        if self._qparams is None:
            self._qparams = self.observer.calculate_qparams()
        return self._qparams

    def enable_observer(self, enabled: bool = True) -> "FakeQuantize":
        self.observer_enabled = bool(enabled)
        return self

    def disable_observer(self) -> "FakeQuantize":
        return self.enable_observer(False)

    def enable_fake_quant(self, enabled: bool = True) -> "FakeQuantize":
        self.fake_quant_enabled = bool(enabled)
        return self

    def disable_fake_quant(self) -> "FakeQuantize":
        return self.enable_fake_quant(False)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.observer_enabled:
            self.observer(x.detach())
            self._qparams = None
        if not self.fake_quant_enabled or not self.ready:
            return x
        scale, zp = self.qparams()
        xp = x.xp
        if self.ch_axis is None:
            return FakeQuantizeFn(float(scale), int(zp), self.quant_min, self.quant_max)(x)
        axis = self.ch_axis % x.ndim
        return FakeQuantizeFn(xp.asarray(scale), xp.asarray(zp, dtype=np.float64), self.quant_min, self.quant_max,
                              axis)(x)

    def extra_repr(self) -> str:
        return f"quant_min={self.quant_min}, quant_max={self.quant_max}, enabled={self.fake_quant_enabled}"


def default_weight_fake_quant(reduce_range: bool = True) -> FakeQuantize:
    """Per-channel (axis 0) symmetric int8 on the current weights (averaging constant 1), 7-bit by default.

    ``reduce_range`` keeps the codes in [-64, 63]: x86 int8 kernels without VNNI (AVX2's u8·s8 pair
    sums saturate at 16 bits) then compute exactly what the fake quantization computed.
    """
    return FakeQuantize(PerChannelMinMaxObserver(ch_axis=0, averaging_constant=1.0, dtype="int8", qscheme="symmetric",
                                                 reduce_range=reduce_range))


def default_activation_fake_quant(dtype: str = "int8") -> FakeQuantize:
    """Per-tensor affine with a moving-average range (c = 0.01), PyTorch's QAT default."""
    return FakeQuantize(MovingAverageMinMaxObserver(dtype=dtype, qscheme="affine"))
