"""Leaky integrate-and-fire (LIF) neurons as a layer (snnTorch's ``Leaky``).

    r_t = [u_{t-1} > thr]                         (the reset, detached from the graph)
    subtract: u_t = beta u_{t-1} + I_t - r_t thr      zero: u_t = beta (1 - r_t) u_{t-1} + I_t
    s_t = [u_t > thr]                             (surrogate gradient: fast_sigmoid, atan or sigmoid)

Two ways to run it, with the same numbers:

* one step at a time, ``spk, mem = lif(current, mem)`` — every op recorded by the autograd
  engine, so BPTT falls out of ``loss.backward()`` over the loop the user writes;
* a whole sequence, ``spk_seq, mem_seq = lif.run(currents)`` with currents (T, B, ...) — one
  fused Function (``ops.surrogate.LIFSequence``) whose backward is BPTT in one kernel.

>>> lif = nn.LIF(beta=0.9, surrogate="fast_sigmoid", slope=25)
>>> spk, mem = lif.run(lamina.rand(25, 32, 100))     # (25, 32, 100) each
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...autograd import no_grad
from ...ops import surrogate as S
from ...ops.shape import stack
from ...tensor import Tensor
from ..module import Module
from ..parameter import Parameter

__all__ = ["LIF", "Leaky"]


class LIF(Module):
    """A layer of leaky integrate-and-fire neurons (no weights: feed it the output of a Linear/Conv).

    Args:
        beta: membrane decay in [0, 1] (clamped as snnTorch does): a number, or one per neuron
            (a sequence broadcast against the trailing dims of the input).
        threshold: firing threshold ``thr``.
        reset: 'subtract' (u -= thr after a spike), 'zero' (u = 0 after a spike) or 'none'.
        surrogate: 'atan' (snnTorch's default), 'fast_sigmoid' or 'sigmoid'; ``slope`` its
            steepness (default 2 for atan, 25 for the others).
        learn_beta: make ``beta`` a Parameter (trained with the weights).
        fused: ``run`` uses the fused time-loop Function (True) or records every step (False).

    ``forward(input, mem=None) -> (spk, mem)`` is one time step (mem starts at zeros);
    ``run(inputs, mem=None) -> (spikes, membranes)`` runs the leading time axis of ``inputs``.
    """

    def __init__(self, beta=0.9, threshold: float = 1.0, reset: str = "subtract", surrogate: str = "atan",
                 slope: float | None = None, learn_beta: bool = False, fused: bool = True):
        super().__init__()
        if reset not in S._RESETS:
            raise ValueError(f"LIF: reset must be one of {', '.join(S._RESETS)}, got {reset!r}")
        if not isinstance(threshold, numbers.Real) or not math.isfinite(threshold) or threshold <= 0:
            raise ValueError(f"LIF: threshold must be a positive number, got {threshold!r}")
        self.surrogate, self.slope = S._check_surrogate(surrogate, slope, "LIF")
        b = np.asarray(beta, dtype=np.float64)
        if b.ndim > 1 or not np.all(np.isfinite(b)) or b.size == 0:
            raise ValueError(f"LIF: beta must be a number or a 1-D sequence of numbers, got {beta!r}")
        if np.any(b < 0) or np.any(b > 1):
            raise ValueError(f"LIF: beta must lie in [0, 1], got {beta!r}")
        from ... import backend
        t = Tensor(b.astype(backend.get_default_dtype()))
        if learn_beta:
            self.beta = Parameter(t)
        else:
            self.register_buffer("beta", t)
        self.threshold, self.reset, self.learn_beta, self.fused = float(threshold), reset, bool(learn_beta), fused

    def _beta(self, like: Tensor) -> Tensor:
        beta = self.beta
        if beta.dtype != like.dtype:
            beta = beta.to(like.dtype)
        if beta.ndim == 1 and (like.ndim == 0 or like.shape[-1] != beta.shape[0]):
            raise ValueError(f"LIF: {beta.shape[0]} per-neuron betas do not fit input of shape {tuple(like.shape)}")
        return beta

    def forward(self, input: Tensor, mem: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One time step: ``(spk, mem)`` of the same shape as ``input`` (recorded op by op)."""
        if not isinstance(input, Tensor) or input.dtype.kind != "f":
            raise TypeError(f"LIF: input must be a floating point Tensor, got "
                            f"{input.dtype if isinstance(input, Tensor) else type(input).__name__}")
        if mem is None:
            mem = Tensor._wrap(input.xp.zeros(input.shape, dtype=input.dtype))
        elif tuple(mem.shape) != tuple(input.shape):
            raise ValueError(f"LIF: mem of shape {tuple(mem.shape)} does not match input of shape {tuple(input.shape)}")
        beta = self._beta(input).clamp(0.0, 1.0)
        thr = self.threshold
        if self.reset != "none":
            with no_grad():  # the reset is detached, as in snnTorch
                r = Tensor._wrap((mem.array > thr).astype(input.dtype))
        if self.reset == "subtract":
            mem = beta * mem + input - r * thr
        elif self.reset == "zero":
            mem = beta * ((1.0 - r) * mem) + input
        else:
            mem = beta * mem + input
        return S.spike(mem - thr, self.surrogate, self.slope), mem

    def run(self, inputs: Tensor, mem: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """All T steps of ``inputs`` (T, *S): ``(spikes, membranes)``, both (T, *S)."""
        if not isinstance(inputs, Tensor) or inputs.dtype.kind != "f" or inputs.ndim < 2:
            raise ValueError(f"LIF.run: expected a floating point Tensor (T, batch, ...), got "
                             f"{tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__}")
        beta = self._beta(inputs)
        if self.fused:
            return S.lif_sequence(inputs, beta if self.learn_beta else beta.detach(), self.threshold, self.reset,
                                  self.surrogate, self.slope, mem0=mem)
        spikes, mems = [], []
        for t in range(inputs.shape[0]):
            s, mem = self(inputs[t], mem)
            spikes.append(s)
            mems.append(mem)
        return stack(spikes), stack(mems)

    def extra_repr(self) -> str:
        beta = self.beta.item() if self.beta.ndim == 0 else f"<{self.beta.shape[0]} values>"
        return (f"beta={beta}, threshold={self.threshold}, reset={self.reset!r}, surrogate={self.surrogate!r}, "
                f"slope={self.slope}, learn_beta={self.learn_beta}")


Leaky = LIF  # snnTorch's name
