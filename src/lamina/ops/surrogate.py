"""Spikes with surrogate gradients, and the leaky integrate-and-fire recursion over time.

The spike is a Heaviside step, whose true derivative is zero almost everywhere; training
through it replaces the derivative by a smooth bump (a *surrogate*), as snnTorch does:

    s = H(u) = [u > 0]
    fast_sigmoid (slope k):  s ~ u / (1 + k|u|)           ds/du := 1 / (1 + k|u|)^2
    atan (slope a):          s ~ atan(pi a u / 2) / pi     ds/du := (a/2) / (1 + (pi a u / 2)^2)
    sigmoid (slope k):       s ~ sigmoid(k u)              ds/du := k sigmoid(k u) (1 - sigmoid(k u))

``spike(u, "atan", 2.0)`` is one Function whose backward is that formula written with Tensor
ops (so second derivatives of the surrogate work). ``lif_sequence`` runs a whole layer of LIF
neurons over T time steps as one Function (forward recursion and backpropagation through
time in one Numba kernel each on CPU), several times faster than recording the T steps
(measured in benchmarks/snn_digits.py).

>>> s = spike(u, "fast_sigmoid", slope=25.0)          # 0/1 forward, surrogate backward
>>> spk, mem = lif_sequence(currents, beta=0.9)        # currents (T, ...) -> spikes, membranes (T, ...)
"""
from __future__ import annotations

import importlib.util
import math
import os

import numpy as np

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["SURROGATES", "LIFSequence", "Spike", "lif_sequence", "spike", "surrogate_grad", "surrogate_smooth"]

SURROGATES = {"fast_sigmoid": 25.0, "atan": 2.0, "sigmoid": 25.0}  # name -> default slope (snnTorch's)
_RESETS = ("subtract", "zero", "none")

_USE_NUMBA = importlib.util.find_spec("numba") is not None and os.environ.get(
    "LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True")


def _check_surrogate(surrogate: str, slope, op: str) -> tuple[str, float]:
    if surrogate not in SURROGATES:
        raise ValueError(f"{op}: surrogate must be one of {', '.join(SURROGATES)}, got {surrogate!r}")
    slope = SURROGATES[surrogate] if slope is None else float(slope)
    if not slope > 0 or not math.isfinite(slope):
        raise ValueError(f"{op}: slope must be a positive number, got {slope!r}")
    return surrogate, slope


def surrogate_grad(u: Tensor, surrogate: str = "atan", slope: float | None = None) -> Tensor:
    """The surrogate derivative ds/du at ``u`` (a Tensor expression, differentiable again)."""
    surrogate, k = _check_surrogate(surrogate, slope, "surrogate_grad")
    if surrogate == "fast_sigmoid":
        return 1.0 / (u.abs() * k + 1.0) ** 2
    if surrogate == "atan":
        return (k / 2.0) / ((u * (math.pi * k / 2.0)) ** 2 + 1.0)
    y = (u * k).sigmoid()
    return y * (1.0 - y) * k


def surrogate_smooth(u: Tensor, surrogate: str = "atan", slope: float | None = None) -> Tensor:
    """The smooth function whose true derivative is the surrogate (for plots and tests)."""
    surrogate, k = _check_surrogate(surrogate, slope, "surrogate_smooth")
    if surrogate == "fast_sigmoid":
        return u / (u.abs() * k + 1.0)
    if surrogate == "atan":
        return (u * (math.pi * k / 2.0)).atan() / math.pi
    return (u * k).sigmoid()


class Spike(Function):
    """s = [u > 0];  du = ds * surrogate'(u)  (fast_sigmoid, atan or sigmoid; see the module docstring)."""

    def __init__(self, surrogate: str = "atan", slope: float | None = None):
        self.surrogate, self.slope = _check_surrogate(surrogate, slope, "Spike")

    def forward(self, u):
        return (u > 0).astype(u.dtype)

    def backward(self, gs):
        return gs * surrogate_grad(self.inputs[0], self.surrogate, self.slope)


def spike(u: Tensor, surrogate: str = "atan", slope: float | None = None) -> Tensor:
    """Heaviside spike of ``u`` (any shape, float) with a surrogate gradient: 0/1 values, same shape/dtype."""
    if not isinstance(u, Tensor):
        raise TypeError(f"spike: expected a Tensor, got {type(u).__name__}")
    if u.dtype.kind != "f":
        raise TypeError(f"spike: expected a floating point tensor, got dtype {u.dtype}")
    return Spike(surrogate, slope)(u)


# ---------------------------------------------------------------- the LIF recursion over time
def _surrogate_array(xp, u, surrogate, k):
    if surrogate == "fast_sigmoid":
        return 1.0 / (xp.abs(u) * k + 1.0) ** 2
    if surrogate == "atan":
        return (k / 2.0) / ((u * (math.pi * k / 2.0)) ** 2 + 1.0)
    y = 1.0 / (1.0 + xp.exp(-u * k))
    return y * (1.0 - y) * k


_KERNELS: dict = {}
_SURR_CODE = {"fast_sigmoid": 0, "atan": 1, "sigmoid": 2}
_RESET_CODE = {"subtract": 0, "zero": 1, "none": 2}


def _kernels():
    """(forward, backward) Numba kernels over (T, M) arrays, built once (cached on disk)."""
    if not _KERNELS:
        from numba import njit

        @njit(cache=True, nogil=True, error_model="numpy")
        def fwd(cur, mem0, beta, thr, one, reset, spk, mem):  # pragma: no cover - compiled
            # r_t = [m_{t-1} > thr];  m_t = beta m_{t-1} + I_t - r_t thr  (or beta (1 - r_t) m_{t-1} + I_t).
            # `one` carries the data's dtype, so float32 data is computed in float32, op by op as torch
            # does; time is the outer loop so every inner loop runs over contiguous neurons.
            n_t, n = cur.shape
            zero = one - one
            for t in range(n_t):
                prev = mem0 if t == 0 else mem[t - 1]
                for j in range(n):
                    m = prev[j]
                    r = one if m > thr else zero
                    if reset == 0:
                        m = beta[j] * m + cur[t, j] - r * thr
                    elif reset == 1:
                        m = beta[j] * ((one - r) * m) + cur[t, j]
                    else:
                        m = beta[j] * m + cur[t, j]
                    mem[t, j] = m
                    spk[t, j] = one if m > thr else zero

        @njit(cache=True, nogil=True, error_model="numpy", fastmath={"nsz", "arcp", "contract"})
        def bwd(gspk, gmem, mem, mem0, beta, thr, reset, surr, k, gcur, gbeta_el, carry):  # pragma: no cover
            # carry holds d loss / d m_t flowing back from step t+1; at the end it is d loss / d m_0
            n_t, n = mem.shape
            c = math.pi * k / 2.0
            h = k / 2.0
            for j in range(n):
                carry[j] = 0.0
                gbeta_el[j] = 0.0
            for t in range(n_t - 1, -1, -1):
                prev = mem0 if t == 0 else mem[t - 1]
                for j in range(n):
                    u = mem[t, j] - thr
                    if surr == 0:
                        d = 1.0 + k * abs(u)
                        sg = 1.0 / (d * d)
                    elif surr == 1:
                        v = c * u
                        sg = h / (1.0 + v * v)
                    else:
                        y = 1.0 / (1.0 + math.exp(-k * u))
                        sg = k * y * (1.0 - y)
                    g = gmem[t, j] + gspk[t, j] * sg + carry[j]
                    gcur[t, j] = g
                    p = prev[j]
                    if reset == 1:
                        keep = 0.0 if p > thr else 1.0  # the reset is detached: no gradient through it
                        gbeta_el[j] += g * keep * p
                        carry[j] = g * beta[j] * keep
                    else:
                        gbeta_el[j] += g * p
                        carry[j] = g * beta[j]

        _KERNELS["fwd"], _KERNELS["bwd"] = fwd, bwd
    return _KERNELS["fwd"], _KERNELS["bwd"]


def _numba_ok(*arrays) -> bool:
    return _USE_NUMBA and all(type(a) is np.ndarray and a.dtype in (np.float32, np.float64) for a in arrays)


class LIFSequence(Function):
    """Leaky integrate-and-fire neurons over T steps (snnTorch's ``Leaky`` with its default delayed reset).

    Forward, for t = 1..T with r_t = [m_{t-1} > thr] (a detached reset):
        subtract: m_t = beta m_{t-1} + I_t - r_t thr;   zero: m_t = beta (1 - r_t) m_{t-1} + I_t;   none: no r_t
        s_t = [m_t > thr]  (surrogate gradient in backward)
    Backward (BPTT), with g_t = dm_t + ds_t surrogate'(m_t - thr) + carry_{t+1}:
        dI_t = g_t;  carry_t = g_t beta (1 - r_t for 'zero');  dbeta = sum_t g_t m_{t-1} (1 - r_t);  dm_0 = carry_1
    Inputs: currents (T, *S), beta (broadcastable to S), mem0 (S). Outputs: spikes, membranes (T, *S).
    The backward is array code (``differentiable = False``).
    """

    differentiable = False

    def __init__(self, threshold: float = 1.0, reset: str = "subtract", surrogate: str = "atan",
                 slope: float | None = None):
        self.threshold, self.reset = float(threshold), reset
        self.surrogate, self.slope = _check_surrogate(surrogate, slope, "LIFSequence")

    def forward(self, cur, beta, mem0):
        xp = self._xp = _xp_of(cur)
        shape = cur.shape
        n_t = shape[0]
        dtype = cur.dtype
        b_full = xp.clip(beta, 0.0, 1.0).astype(dtype, copy=False)  # snnTorch clamps beta to [0, 1]
        self._beta_shape = beta.shape
        b_flat = xp.ascontiguousarray(xp.broadcast_to(b_full, shape[1:])).reshape(-1)
        cur2 = xp.ascontiguousarray(cur).reshape(n_t, -1)
        m0 = xp.ascontiguousarray(xp.broadcast_to(mem0.astype(dtype, copy=False), shape[1:])).reshape(-1)
        spk, mem = xp.empty_like(cur2), xp.empty_like(cur2)
        if _numba_ok(cur2, b_flat, m0):
            _kernels()[0](cur2, m0, b_flat, dtype.type(self.threshold), dtype.type(1), _RESET_CODE[self.reset], spk, mem)
        else:
            thr, m = self.threshold, m0
            for t in range(n_t):
                r = (m > thr).astype(dtype)
                if self.reset == "subtract":
                    m = b_flat * m + cur2[t] - r * thr
                elif self.reset == "zero":
                    m = b_flat * ((1 - r) * m) + cur2[t]
                else:
                    m = b_flat * m + cur2[t]
                mem[t] = m
                spk[t] = m > thr
        self._saved = (mem, m0, b_flat)
        self._beta_in = beta
        return spk.reshape(shape), mem.reshape(shape)

    def backward(self, gspk, gmem):
        xp = self._xp
        mem, m0, b_flat = self._saved
        n_t = mem.shape[0]
        shape = (n_t,) + self.out_meta[0][0][1:]
        dtype = mem.dtype
        gs = xp.ascontiguousarray(gspk.array.astype(dtype, copy=False)).reshape(n_t, -1)
        gm = xp.ascontiguousarray(gmem.array.astype(dtype, copy=False)).reshape(n_t, -1)
        gcur = xp.empty_like(mem)
        gb_el, gm0 = xp.empty_like(m0), xp.empty_like(m0)
        thr = self.threshold
        if _numba_ok(gs, gm, mem):
            _kernels()[1](gs, gm, mem, m0, b_flat, dtype.type(thr), _RESET_CODE[self.reset],
                          _SURR_CODE[self.surrogate], dtype.type(self.slope), gcur, gb_el, gm0)
        else:
            carry = xp.zeros_like(m0)
            gb_el[...] = 0
            for t in range(n_t - 1, -1, -1):
                g = gm[t] + gs[t] * _surrogate_array(xp, mem[t] - thr, self.surrogate, self.slope) + carry
                gcur[t] = g
                prev = mem[t - 1] if t > 0 else m0
                keep = (prev <= thr).astype(dtype) if self.reset == "zero" else 1.0
                gb_el += g * keep * prev
                carry = g * b_flat * keep
            gm0[...] = carry
        grads = [Tensor._wrap(gcur.reshape(shape)), None, None]
        if self.needs_input_grad[1]:
            beta = self._beta_in
            inside = ((beta >= 0) & (beta <= 1)).astype(dtype)  # clamp's gradient
            gb = _sum_to(xp, gb_el.reshape(shape[1:]), beta.shape) * inside
            grads[1] = Tensor._wrap(gb.astype(beta.dtype))
        if self.needs_input_grad[2]:
            grads[2] = Tensor._wrap(_sum_to(xp, gm0.reshape(shape[1:]), self.inputs[2].shape))
        return tuple(grads)


def _xp_of(a):
    from .. import backend
    return backend.array_module(a)


def _sum_to(xp, g, shape):
    """Sum ``g`` down to ``shape`` (the adjoint of broadcasting)."""
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def lif_sequence(currents: Tensor, beta, threshold: float = 1.0, reset: str = "subtract", surrogate: str = "atan",
                 slope: float | None = None, mem0: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run LIF neurons over the leading time axis of ``currents`` (T, *S): ``(spikes, membranes)``, both (T, *S).

    ``beta``: a number or a Tensor broadcastable to S (learnable when it requires grad), clamped to
    [0, 1]; ``mem0``: the initial membrane (S or broadcastable; zeros by default).
    >>> spk, mem = lif_sequence(lamina.rand(25, 32, 100), beta=0.9)
    """
    if not isinstance(currents, Tensor) or currents.dtype.kind != "f" or currents.ndim < 1:
        raise TypeError(f"lif_sequence: currents must be a floating point Tensor of shape (T, ...), "
                        f"got {type(currents).__name__}{'' if not isinstance(currents, Tensor) else f' {currents.dtype} {tuple(currents.shape)}'}")
    if reset not in _RESETS:
        raise ValueError(f"lif_sequence: reset must be one of {', '.join(_RESETS)}, got {reset!r}")
    xp = currents.xp
    if not isinstance(beta, Tensor):
        beta = Tensor._wrap(xp.asarray(beta, dtype=currents.dtype))
    if mem0 is None:
        mem0 = Tensor._wrap(xp.zeros(currents.shape[1:], dtype=currents.dtype))
    return LIFSequence(threshold, reset, surrogate, slope)(currents, beta, mem0)
