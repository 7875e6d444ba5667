"""Connectionist Temporal Classification loss (Graves et al., 2006), as ``torch.nn.functional.ctc_loss``.

A target l (length L) is extended with blanks to l' = (b, l_1, b, l_2, ..., l_L, b) of length
2L + 1. With y_t(c) = exp(log_probs[t, c]), the forward and backward variables are

    alpha_t(s) = y_t(l'_s) [alpha_{t-1}(s) + alpha_{t-1}(s-1) + skip_s alpha_{t-1}(s-2)]
    beta_t(s)  = y_t(l'_s) [beta_{t+1}(s) + beta_{t+1}(s+1) + skip_{s+2} beta_{t+1}(s+2)]

(skip_s: l'_s is not blank and differs from l'_{s-2}), and the loss is
-log p(l | x) = -log(alpha_{T-1}(2L) + alpha_{T-1}(2L - 1)). Everything runs in log space,
vectorised over the batch and the extended labels, with a Python loop over time only.

The gradient is PyTorch's: d loss / d log_probs[t, c] = y_t(c) - exp(log sum_{s: l'_s = c}
alpha_t(s) beta_t(s) + loss - log y_t(c)), i.e. the gradient with respect to the logits when
``log_probs`` is a ``log_softmax`` output (the usual case; it passes through log_softmax unchanged).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor

_NEG_INF = -np.inf


def _lse3(xp, a, b, c):
    """log(e^a + e^b + e^c) elementwise, shifted by the max (-inf where all three are -inf)."""
    m = xp.maximum(xp.maximum(a, b), c)
    m = xp.where(xp.isneginf(m), 0, m)
    s = xp.exp(a - m)
    s += xp.exp(b - m)
    s += xp.exp(c - m)
    s = xp.log(s)
    s += m
    return s


class CTCLoss(Function):
    """Per-sample -log p(target | log_probs) for log_probs (T, N, C); the backward is array code."""

    differentiable = False

    def __init__(self, ext, ext_len, in_len, blank, zero_infinity):
        self.ext, self.ext_len, self.in_len = ext, ext_len, in_len   # (N, S'), (N,), (N,)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, lp):
        with np.errstate(divide="ignore", invalid="ignore"):   # log(0) = -inf is the point of log space
            return self._forward(lp)

    def _forward(self, lp):
        xp = backend.array_module(lp)
        T, N, _ = lp.shape
        ext, L2, in_len = self.ext, self.ext_len, self.in_len
        Sp = ext.shape[1]
        neg = lp.dtype.type(_NEG_INF)
        em = xp.take_along_axis(lp, xp.broadcast_to(ext[None], (T, N, Sp)), axis=2)   # y_t(l'_s), log
        s_idx = xp.arange(Sp)
        valid = s_idx[None, :] < L2[:, None]
        skip = xp.zeros((N, Sp), dtype=bool)
        if Sp > 2:
            skip[:, 2:] = (ext[:, 2:] != self.blank) & (ext[:, 2:] != ext[:, :-2])
        alpha = xp.full((T, N, Sp), neg, dtype=lp.dtype)
        beta = xp.full((T, N, Sp), neg, dtype=lp.dtype)
        if T:
            alpha[0, :, 0] = em[0, :, 0]
            if Sp > 1:
                alpha[0, :, 1] = xp.where(L2 > 1, em[0, :, 1], neg)
        pad = xp.full((N, 2), neg, dtype=lp.dtype)
        for t in range(1, T):
            a = alpha[t - 1]
            sh = xp.concatenate([pad, a], axis=1)
            a1, a2 = sh[:, 1:Sp + 1], xp.where(skip, sh[:, :Sp], neg)
            alpha[t] = xp.where(valid, em[t] + _lse3(xp, a, a1, a2), neg)
        last, rows = in_len - 1, xp.arange(N)
        skip_next = xp.concatenate([skip[:, 2:], xp.zeros((N, 2), dtype=bool)], axis=1)
        end1, end2 = s_idx[None, :] == (L2 - 1)[:, None], s_idx[None, :] == (L2 - 2)[:, None]
        nxt = xp.full((N, Sp), neg, dtype=lp.dtype)
        for t in range(T - 1, -1, -1):
            sh = xp.concatenate([nxt, pad], axis=1)
            b1, b2 = sh[:, 1:Sp + 1], xp.where(skip_next, sh[:, 2:Sp + 2], neg)
            comp = xp.where(valid, em[t] + _lse3(xp, nxt, b1, b2), neg)
            init = xp.where(end1 | end2, em[t], neg)
            here = (t == last)[:, None]
            nxt = xp.where(here, init, xp.where((t < last)[:, None], comp, neg))
            beta[t] = nxt
        # -log p from the final alphas at each sample's last frame
        tl = xp.clip(last, 0, None)
        fa = alpha[tl, rows]                                            # (N, S')
        e1 = fa[rows, xp.clip(L2 - 1, 0, None)]
        e2 = xp.where(L2 > 1, fa[rows, xp.clip(L2 - 2, 0, None)], neg)
        nll = -xp.logaddexp(e1, e2)
        nll = xp.where(in_len == 0, xp.where(L2 == 1, 0.0, np.inf), nll).astype(lp.dtype)
        self.alpha, self.beta, self.nll = alpha, beta, nll
        if self.zero_infinity:
            nll = xp.where(xp.isinf(nll), lp.dtype.type(0), nll)
        return nll

    def backward(self, gy):
        xp = gy.xp
        lp, alpha, beta, nll = self.inputs[0].array, self.alpha, self.beta, self.nll
        T, N, C = lp.shape
        ab = alpha + beta                                               # (T, N, S')
        m = ab.max(axis=2, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        valid = xp.arange(ab.shape[2])[None, :] < self.ext_len[:, None]
        onehot = (self.ext[:, :, None] == xp.arange(C)[None, None, :]) & valid[:, :, None]   # (N, S', C)
        with np.errstate(divide="ignore", invalid="ignore"):
            sums = xp.matmul(xp.exp(ab - m).transpose(1, 0, 2), onehot.astype(lp.dtype)).transpose(1, 0, 2)
            lcab = xp.log(sums) + m                                     # (T, N, C)
            g = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        live = (xp.arange(T)[:, None] < self.in_len[None, :])[:, :, None]
        g = xp.where(live, g, 0)
        if self.zero_infinity:
            g = xp.where(xp.isinf(nll)[None, :, None], 0, g)
        g = g * gy.array[None, :, None]
        return Tensor._wrap(g.astype(lp.dtype, copy=False))


def _lengths(v, n: int, name: str, xp) -> np.ndarray:
    arr = v.array if isinstance(v, Tensor) else np.asarray(v)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {name} must hold integers, got dtype {arr.dtype}")
    arr = xp.asarray(arr).reshape(-1).astype(np.int64)
    if arr.shape != (n,):
        raise RuntimeError(f"ctc_loss: {name} must have one entry per batch element ({n}), got shape "
                           f"{tuple(arr.shape)}")
    return arr


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """CTC loss of log-probabilities (T, N, C) (or unbatched (T, C)) against target sequences.

    targets: padded (N, S) class indices, or all targets concatenated into one 1-D tensor of
    length sum(target_lengths); input_lengths, target_lengths: (N,) (tensors or sequences of ints).
    ``'mean'`` divides each loss by its target length (at least 1), then averages over the batch;
    ``zero_infinity`` turns infinite losses (impossible alignments) and their gradients into 0.

    >>> lp = lamina.randn(50, 4, 20).log_softmax(2)
    >>> F.ctc_loss(lp, lamina.randint(1, 20, (4, 10)), [50] * 4, [10, 8, 9, 10])
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not isinstance(log_probs, Tensor):
        raise TypeError(f"ctc_loss: log_probs must be a Tensor, got {type(log_probs).__name__}")
    lp = log_probs
    if lp.dtype.kind != "f":
        raise TypeError(f"ctc_loss: log_probs must be floating point, got dtype {lp.dtype}")
    if lp.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or unbatched (T, C), got shape {lp.shape}")
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp.unsqueeze(1)
    T, N, C = lp.shape
    xp = lp.xp
    if not 0 <= blank < C:
        raise RuntimeError(f"ctc_loss: blank must be in label range [0, {C}), got {blank}")
    tg = targets.array if isinstance(targets, Tensor) else np.asarray(targets)
    tg = xp.asarray(tg).astype(np.int64)
    in_len = _lengths(input_lengths, N, "input_lengths", xp)
    tl = _lengths(target_lengths, N, "target_lengths", xp)
    if in_len.size and (int(in_len.max()) > T or int(in_len.min()) < 0):
        bad = int(in_len.max()) if int(in_len.max()) > T else int(in_len.min())
        raise RuntimeError(f"ctc_loss: Expected input_lengths to have value at most {T}, but got value {bad}")
    if tl.size and int(tl.min()) < 0:
        raise RuntimeError(f"ctc_loss: target_lengths must be non-negative, got {int(tl.min())}")
    s_max = int(tl.max()) if tl.size else 0
    if unbatched and tg.ndim == 1:
        tg = tg.reshape(1, -1)
    if tg.ndim == 2:
        if tg.shape[0] != N:
            raise RuntimeError(f"ctc_loss: padded targets must have {N} rows (batch size), got shape {tg.shape}")
        if tg.shape[1] < s_max:
            raise RuntimeError(f"ctc_loss: Expected tensor to have size at least {s_max} at dimension 1, but got "
                               f"size {tg.shape[1]} for argument #2 'targets'")
        padded = tg[:, :s_max]
    elif tg.ndim == 1:
        total = int(tl.sum())
        if tg.shape[0] < total:
            raise RuntimeError(f"ctc_loss: concatenated targets have {tg.shape[0]} entries but target_lengths "
                               f"sum to {total}")
        starts = xp.concatenate([xp.zeros(1, dtype=np.int64), xp.cumsum(tl)[:-1]])
        pos = starts[:, None] + xp.arange(s_max)[None, :]
        padded = tg[xp.clip(pos, 0, max(tg.shape[0] - 1, 0))] if tg.shape[0] else xp.zeros((N, s_max), np.int64)
    else:
        raise RuntimeError(f"ctc_loss: targets must be 1-D (concatenated) or 2-D (padded), got shape {tg.shape}")
    used = xp.arange(s_max)[None, :] < tl[:, None]
    padded = xp.where(used, padded, blank)
    if padded.size and (int(padded.min()) < 0 or int(padded.max()) >= C):
        bad = int(padded.min()) if int(padded.min()) < 0 else int(padded.max())
        raise IndexError(f"ctc_loss: target {bad} is out of range for {C} classes")
    ext = xp.full((N, 2 * s_max + 1), blank, dtype=np.int64)
    ext[:, 1::2] = padded
    loss = CTCLoss(ext, 2 * tl + 1, in_len, blank, zero_infinity)(lp)
    if reduction == "mean":
        denom = Tensor._wrap(xp.clip(tl, 1, None).astype(lp.dtype))
        return (loss / denom).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(()) if unbatched else loss
