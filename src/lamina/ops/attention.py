"""Scaled dot-product attention as one fused op.

For queries q (..., L, E), keys k (..., S, E) and values v (..., S, Ev):

    s   = q k^T * scale + bias          (bias: an additive float mask; blocked positions get -inf)
    p   = softmax(s) along S            (rows with every position blocked give p = 0: torch's "safe" softmax)
    pd  = p * m / (1 - dropout_p)       (m ~ Bernoulli(1 - dropout_p), only when dropout_p > 0)
    out = pd v

and the backward, with ds the gradient of the scores:

    dv = pd^T dout,   dpd = dout v^T,   dp = dpd * m / (1 - dropout_p)
    ds = p * (dp - sum_S(dp * p)),   dq = ds k * scale,   dk = ds^T q * scale,   dbias = ds

One Function keeps the (..., L, S) intermediates to two arrays (p and, with dropout, pd) and
runs the softmax in place; head reshapes around it are views. Under ``create_graph=True`` the
backward recomputes p from Tensor ops, so second derivatives work.

For float32 NumPy arrays the softmax and its backward run as row-parallel Numba kernels (one
pass per row instead of six NumPy passes, causal rows touching only keys j <= i, and a
vectorizable exp: NumPy's float32 exp is several times slower on our CPUs). Other dtypes and
CuPy arrays use the NumPy-style code.
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
from .broadcast import _sum_axes, sum_to
from .unary import mask_mul
from . import _blas
from ._blas import batched_matmul
from .linalg import matmul

_NEG_INF = float("-inf")
_CAUSAL: dict = {}
USE_KERNELS = True  # set False to force the array code (tests compare both paths)


def _sum_to_array(a, shape):
    """Array ``a`` summed over the axes that broadcasting ``shape`` to ``a.shape`` stretched."""
    if a.shape == tuple(shape):
        return a
    axes = _sum_axes(a.shape, tuple(shape))
    return (a.sum(axis=axes, keepdims=True) if axes else a).reshape(shape)


def causal_blocked(xp, L: int, S: int):
    """Bool (L, S) array, True above the diagonal: the positions a causal query may not see."""
    key = (id(xp), L, S)
    m = _CAUSAL.get(key)
    if m is None:
        m = xp.triu(xp.ones((L, S), dtype=bool), 1)
        if len(_CAUSAL) > 64:
            _CAUSAL.clear()
        _CAUSAL[key] = m
    return m


def _softmax_(s, safe: bool, xp):
    """Softmax along the last axis, in place. With ``safe``, rows that are all -inf become 0."""
    m = s.max(axis=-1, keepdims=True)
    dead = None
    if safe:
        dead = m == _NEG_INF
        if dead.any():
            m[dead] = 0
        else:
            dead = None
    with np.errstate(invalid="ignore"):  # -inf - -inf: a fully masked row is NaN unless ``safe``
        s -= m
    xp.exp(s, out=s)
    tot = s.sum(axis=-1, keepdims=True)
    if dead is not None:
        tot[dead] = 1
    xp.reciprocal(tot, out=tot)
    s *= tot
    return s


class Attention(Function):
    """out = dropout(softmax(q k^T * scale + bias, blocked -> -inf)) v; see the module docstring.

    Inputs: q, k, v, then the additive float mask ``bias`` if ``has_bias``. ``blocked`` is a
    constant bool array (True = may not attend) broadcastable to the scores' shape; ``causal``
    blocks positions j > i. With ``return_weights`` the op returns (out, attention weights).
    """

    def __init__(self, scale, blocked=None, causal=False, dropout_p=0.0, generator=None, safe=True,
                 has_bias=False, return_weights=False):
        self.scale, self.blocked, self.causal = float(scale), blocked, causal
        self.dropout_p, self.generator, self.safe = float(dropout_p), generator, safe
        self.has_bias, self.return_weights = has_bias, return_weights

    def _blocked(self, xp, L, S):
        blocked = self.blocked
        if self.causal:
            c = causal_blocked(xp, L, S)
            blocked = c if blocked is None else (blocked | c)
        return blocked

    def forward(self, q, k, v, bias=None):
        xp = backend.array_module(q)
        L, S = q.shape[-2], k.shape[-2]
        qs = q * q.dtype.type(self.scale)
        kern = _kernels(q)
        s = batched_matmul(qs, xp.swapaxes(k, -1, -2))
        if bias is not None:
            if np.broadcast_shapes(s.shape, bias.shape) == s.shape:
                s += bias
            else:
                s = s + bias
        # the kernel applies the causal limit itself; the array code needs it as a mask
        blocked = self.blocked if kern is not None else self._blocked(xp, L, S)
        if blocked is not None:
            if np.broadcast_shapes(s.shape, blocked.shape) != s.shape:
                s = xp.array(xp.broadcast_to(s, np.broadcast_shapes(s.shape, blocked.shape)))
            xp.copyto(s, s.dtype.type(_NEG_INF), where=blocked)
        if kern is not None:
            s = xp.ascontiguousarray(s)
            softmax_rows(kern, s.reshape(-1, S), L, self.causal, self.safe)
            p = s
        else:
            p = _softmax_(s, self.safe and (blocked is not None or bias is not None), xp)
        self.qs, self.p, self.drop = qs, p, None
        pd = p
        if self.dropout_p > 0.0:
            self.drop = _dropout_mask(p.shape, p.dtype, self.dropout_p, self.generator, q)
            pd = p * self.drop
        self.pd = pd
        out = batched_matmul(pd, v)
        return (out, pd) if self.return_weights else out

    def backward(self, gy, gw=None):
        if is_grad_enabled():
            return self._backward_graph(gy, gw)
        q, k, v = self.inputs[:3]
        need = self.needs_input_grad
        xp, g = q.xp, gy.array
        dv = _sum_to_array(batched_matmul(xp.swapaxes(self.pd, -1, -2), g), v.shape) if need[2] else None
        dq = dk = dbias = None
        if need[0] or need[1] or (self.has_bias and need[3]):
            dp = batched_matmul(g, xp.swapaxes(v.array, -1, -2))
            if gw is not None:
                dp += gw.array
            if self.drop is not None:
                dp *= self.drop
            p = self.p
            kern = _kernels(dp, p)
            if kern is not None and dp.flags.c_contiguous and p.flags.c_contiguous and dp.shape == p.shape:
                S = p.shape[-1]
                softmax_backward_rows(kern, dp.reshape(-1, S), p.reshape(-1, S), p.shape[-2], self.causal)
            else:
                dp *= p                               # dp * p
                r = dp.sum(axis=-1, keepdims=True)
                dp -= p * r                           # ds = p * (dp - sum(dp * p))
            ds = dp
            if need[0]:
                dq = batched_matmul(ds, k.array)
                dq *= dq.dtype.type(self.scale)
                dq = _sum_to_array(dq, q.shape)
            if need[1]:
                dk = _sum_to_array(batched_matmul(xp.swapaxes(ds, -1, -2), self.qs), k.shape)
            if self.has_bias and need[3]:
                dbias = _sum_to_array(ds, self.inputs[3].shape)
        grads = tuple(None if a is None else Tensor._wrap(a) for a in (dq, dk, dv))
        return grads + ((None if dbias is None else Tensor._wrap(dbias)),) if self.has_bias else grads

    def _backward_graph(self, gy, gw):
        """The same formulas in Tensor ops, with p recomputed from q, k (and bias): differentiable again."""
        q, k, v = self.inputs[:3]
        bias = self.inputs[3] if self.has_bias else None
        need = self.needs_input_grad
        xp = q.xp
        s = matmul(q * self.scale, k.mT)
        if bias is not None:
            s = s + bias
        blocked = self._blocked(xp, q.shape[-2], k.shape[-2])
        if blocked is not None:
            s = s.masked_fill(Tensor._wrap(blocked), _NEG_INF)
        dead = (s.array == _NEG_INF).all(axis=-1, keepdims=True) if self.safe else None
        if dead is not None and dead.any():  # keep the softmax finite on fully masked rows, then zero them
            p = mask_mul(_Softmax()(s.masked_fill(Tensor._wrap(dead), 0.0)), ~dead)
        else:
            p = _Softmax()(s)
        pd = p if self.drop is None else mask_mul(p, self.drop)
        dv = sum_to(matmul(pd.mT, gy), v.shape) if need[2] else None
        dq = dk = dbias = None
        if need[0] or need[1] or (bias is not None and need[3]):
            dp = matmul(gy, v.mT)
            if gw is not None:
                dp = dp + gw
            if self.drop is not None:
                dp = mask_mul(dp, self.drop)
            t = dp * p
            ds = t - p * t.sum(-1, keepdim=True)
            dq = sum_to(matmul(ds, k) * self.scale, q.shape) if need[0] else None
            dk = sum_to(matmul(ds.mT, q) * self.scale, k.shape) if need[1] else None
            dbias = sum_to(ds, bias.shape) if bias is not None and need[3] else None
        return (dq, dk, dv, dbias) if bias is not None else (dq, dk, dv)


class _Softmax(Function):
    """y = softmax(x) along the last axis;  dx = y * (dy - sum(dy * y)). (Used to rebuild p for
    second derivatives; the forward pass runs the fused op above.)"""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return _softmax_(x.copy(), False, backend.array_module(x))

    def backward(self, gy):
        (y,) = self.outputs
        return y * (gy - (gy * y).sum(-1, keepdim=True))


def _dropout_mask(shape, dtype, p: float, generator, like):
    """m / (1 - p) with m ~ Bernoulli(1 - p), from lamina's generator, on ``like``'s device."""
    if p >= 1.0:
        mask = np.zeros(shape, dtype=dtype)
    else:
        u = backend.rng(generator).random(shape, dtype=np.float64 if dtype == np.float64 else np.float32)
        mask = (u >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    dev = backend.device_of(like)
    return mask if dev.type == "cpu" else backend.to_device(mask, dev)


# ---------------------------------------------------------------- argument checks
def _check_qkv(op: str, q, k, v) -> tuple:
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., seq, features), got shape {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating point, got dtype {t.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{op}: query, key and value must have the same dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{op}: query has {q.shape[-1]} features but key has {k.shape[-1]} (the last dims must "
                         f"match; query shape {q.shape}, key shape {k.shape})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same sequence length, got key shape {k.shape} and "
                         f"value shape {v.shape}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the batch dims of query {q.shape}, key {k.shape} and value {v.shape} cannot be "
                         "broadcast together") from None
    return tuple(batch) + (q.shape[-2], k.shape[-2])


def _check_mask(op: str, name: str, shape, scores: tuple):
    try:
        ok = np.broadcast_shapes(tuple(shape), scores) == scores
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} of shape {tuple(shape)} cannot be broadcast to the attention weights' "
                         f"shape {scores} (batch..., L, S)")


def attention(query: Tensor, key: Tensor, value: Tensor, *, bias: Tensor | None = None, blocked=None,
              is_causal: bool = False, dropout_p: float = 0.0, scale: float | None = None, safe: bool = True,
              need_weights: bool = False, generator=None, op: str = "attention"):
    """The fused op behind ``scaled_dot_product_attention`` and ``MultiheadAttention``.

    ``bias`` is an additive float mask (a Tensor, may require grad), ``blocked`` a bool array
    (True = may not attend); both broadcast to (batch..., L, S). ``safe=False`` gives NaN rows
    where every key is blocked (torch's MultiheadAttention with need_weights), ``safe=True``
    zeros (torch's sdpa). Returns ``out`` or, with ``need_weights``, ``(out, weights)``.
    """
    scores = _check_qkv(op, query, key, value)
    if not isinstance(dropout_p, numbers.Real) or not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p!r}")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    inputs = [query, key, value]
    if bias is not None:
        _check_mask(op, "attn_mask", bias.shape, scores)
        if bias.dtype != query.dtype:
            bias = bias.to(query.dtype)
        inputs.append(bias)
    if blocked is not None:
        _check_mask(op, "attn_mask", blocked.shape, scores)
        if backend.device_of(blocked) != query.device:
            blocked = backend.to_device(blocked, query.device)
    fn = Attention(scale, blocked, is_causal, dropout_p, generator, safe, bias is not None, need_weights)
    return fn(*inputs)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v, for q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev).

    ``attn_mask`` broadcasts to (..., L, S): a bool mask says which positions *take part* (True)
    and a float mask is added to the scores. ``is_causal`` lets query i see keys j <= i.
    ``scale`` defaults to 1 / sqrt(E). ``dropout_p`` drops attention weights (always, as in
    torch: pass 0.0 in evaluation), drawing from lamina's default generator. Rows whose every
    key is masked out give zeros, as torch does.

    >>> q = lamina.randn(2, 4, 16, 32)                    # (batch, heads, L, E)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape      # (2, 4, 16, 32)
    """
    op = "scaled_dot_product_attention"
    if enable_gqa:
        raise NotImplementedError(f"{op}: enable_gqa (grouped-query attention) is not supported")
    bias = blocked = None
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError(f"{op}: explicit attn_mask should not be set when is_causal=True")
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a Tensor, got {type(attn_mask).__name__}")
        if attn_mask.dtype.kind == "b":
            blocked = ~attn_mask.array
        elif attn_mask.dtype.kind == "f":
            bias = attn_mask
        else:
            raise TypeError(f"{op}: attn_mask must be bool (True = take part) or float (added to the scores), "
                            f"got dtype {attn_mask.dtype}")
    return attention(query, key, value, bias=bias, blocked=blocked, is_causal=is_causal, dropout_p=dropout_p,
                     scale=scale, safe=True, op=op)


# ---------------------------------------------------------------- Numba kernels (float32, CPU)
# Compiled (or loaded from Numba's on-disk cache) on first use; LAMINA_DISABLE_NUMBA=1 turns them off.
_AVAILABLE = (importlib.util.find_spec("numba") is not None
              and os.environ.get("LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True"))
_built = None


def _kernels(*arrays):
    """The compiled kernels when they apply (every array a float32 NumPy array), else None.

    The kernels are serial and release the GIL: ``softmax_rows`` / ``softmax_backward_rows``
    below split the rows over lamina's own threads (``ops/_blas.py``)."""
    global _built, _AVAILABLE
    if not (USE_KERNELS and _AVAILABLE):
        return None
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != np.float32:
            return None
    if _built is None:
        try:
            import numba
        except Exception:  # pragma: no cover - a broken install: NumPy code for good
            _AVAILABLE = False
            return None
        jit = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})
        _built = type("AttentionKernels", (), {
            "softmax_rows": staticmethod(jit(_softmax_rows)),
            "softmax_backward_rows": staticmethod(jit(_softmax_backward_rows))})
    return _built


def softmax_rows(kern, s, L, causal, safe):
    """``kern.softmax_rows`` over the rows of s (rows, S), the rows split over lamina's threads."""
    rows = s.shape[0]
    _blas.run(_blas.split(rows, s.size, min_macs=1 << 15),
              lambda i, lo, hi: kern.softmax_rows(s[lo:hi], L, causal, safe, lo))


def softmax_backward_rows(kern, dp, p, L, causal):
    """``kern.softmax_backward_rows`` over the rows, split over lamina's threads."""
    rows = dp.shape[0]
    _blas.run(_blas.split(rows, dp.size, min_macs=1 << 15),
              lambda i, lo, hi: kern.softmax_backward_rows(dp[lo:hi], p[lo:hi], L, causal, lo))


def _softmax_rows(s, L, causal, safe, r0):
    """In place, for each row r of s (rows, S) (query i = (r0 + r) % L): p = exp(s - max) / sum, over
    keys j <= i when ``causal`` (the rest set to 0). A row with no finite score becomes 0
    (``safe``) or NaN. exp(x) = 2^k p(x - k ln 2), k = round(x / ln 2), p a degree-7 polynomial
    (Cephes expf, relative error < 3e-7), with 2^k built from its exponent bits so the loop
    vectorizes; results below 2^-126 flush to 0."""
    rows, S = s.shape
    f32 = np.float32
    bits = np.empty(S, np.int32)
    scale = bits.view(np.float32)
    for r in range(rows):
        n = min((r0 + r) % L + 1, S) if causal else S
        m = -np.inf
        for j in range(n):
            m = max(m, s[r, j])
        if m == -np.inf:
            fill = f32(0.0) if safe else f32(np.nan)
            for j in range(S):
                s[r, j] = fill
            continue
        m32 = f32(m)
        for j in range(n):
            v = max(s[r, j] - m32, f32(-87.0))
            k = np.floor(v * f32(1.4426950408889634) + f32(0.5))
            x = v - k * f32(0.693359375) - k * f32(-2.12194440e-4)
            p = f32(1.9875691500e-4)
            p = p * x + f32(1.3981999507e-3)
            p = p * x + f32(8.3334519073e-3)
            p = p * x + f32(4.1665795894e-2)
            p = p * x + f32(1.6666665459e-1)
            p = p * x + f32(5.0000001201e-1)
            s[r, j] = p * x * x + x + f32(1.0)
            bits[j] = (np.int32(k) + 127) << 23
        tot = f32(0.0)
        for j in range(n):
            e = s[r, j] * scale[j] if scale[j] > f32(1.2e-38) else f32(0.0)
            s[r, j] = e
            tot += e
        inv = f32(1.0) / tot
        for j in range(n):
            s[r, j] *= inv
        for j in range(n, S):
            s[r, j] = f32(0.0)


def _softmax_backward_rows(dp, p, L, causal, r0):
    """In place: ds = p * (dp - sum_j(dp * p)) per row of dp (rows, S); 0 beyond the causal limit
    (query i = (r0 + r) % L)."""
    rows, S = dp.shape
    f32 = np.float32
    for r in range(rows):
        n = min((r0 + r) % L + 1, S) if causal else S
        acc = f32(0.0)
        for j in range(n):
            acc += dp[r, j] * p[r, j]
        for j in range(n):
            dp[r, j] = p[r, j] * (dp[r, j] - acc)
        for j in range(n, S):
            dp[r, j] = f32(0.0)
