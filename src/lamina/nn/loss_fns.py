"""Loss functions (the math behind the loss modules).

Every loss takes ``reduction``: ``'mean'`` (default), ``'sum'`` or ``'none'`` (per element).
Class-index cross-entropy and NLL are one fused Function (log_softmax + pick + weight):

    loss_i = -sum_c q_ic log p_ic,  q_ic = valid_i [(1 - eps) w_{t_i} [c = t_i] + eps w_c / C]
    d loss_i / d x_ic = p_ic sum_c' q_ic' - q_ic        (p = softmax(x); for NLL: -q_ic)

and ``'mean'`` divides by sum_i valid_i w_{t_i}, the weighted count PyTorch uses.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..ops import elementwise as E
from ..ops.broadcast import broadcast_to
from ..ops.reduce import norm
from ..tensor import Tensor
from .activation_fns import Softmax, Softplus, log_softmax


# ---------------------------------------------------------------- helpers
def _as_tensor(x, name: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"{name}: {what} is None, expected a Tensor")
    return Tensor(x)


def _check_reduction(reduction: str, name: str, allowed=("mean", "sum", "none")) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(repr(a) for a in allowed)}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _pair(input, target, name: str):
    """(input, target) as float tensors of one shape and dtype, or a clear error."""
    x = _as_tensor(input, name, "input")
    t = _as_tensor(target, name, "target")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating-point tensor, got dtype {x.dtype}")
    if t.shape != x.shape:
        raise ValueError(f"{name}: target shape {t.shape} does not match input shape {x.shape}; "
                         "reshape the target (a (N,) target for an (N, 1) output is a common slip)")
    if t.dtype != x.dtype:
        t = t.to(x.dtype)
    return x, t


def _weight_like(weight, x: Tensor, name: str, what: str = "weight") -> Tensor | None:
    if weight is None:
        return None
    w = _as_tensor(weight, name, what)
    if w.dtype != x.dtype:
        w = w.to(x.dtype)
    return w


# ---------------------------------------------------------------- regression
def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """(x - y)^2, reduced;  dx = 2 (x - y) / n for the mean."""
    _check_reduction(reduction, "mse_loss")
    x, t = _pair(input, target, "mse_loss")
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """|x - y|, reduced;  dx = sign(x - y) / n for the mean."""
    _check_reduction(reduction, "l1_loss")
    x, t = _pair(input, target, "l1_loss")
    return _reduce(E.abs(x - t), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2  (d = x - y)."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, t = _pair(input, target, "smooth_l1_loss")
    d = x - t
    if beta == 0:
        return _reduce(E.abs(d), reduction)
    ad = E.abs(d)
    return _reduce(E.where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2)  (d = x - y)."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _pair(input, target, "huber_loss")
    d = x - t
    ad = E.abs(d)
    return _reduce(E.where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta), reduction)


# ---------------------------------------------------------------- classification (class indices)
class ClassNLL(Function):
    """Fused [log_softmax +] weighted negative log-likelihood over dim 1 (see the module docstring).

    Input x is (N, C, d1, ...) logits (``from_logits``) or log-probabilities; targets and weights
    are constants held by the op.
    """

    def __init__(self, target, weight, ignore_index, reduction, label_smoothing, from_logits):
        self.target, self.weight = target, weight
        self.ignore_index, self.reduction = ignore_index, reduction
        self.eps, self.from_logits = label_smoothing, from_logits

    def forward(self, x):
        xp = backend.array_module(x)
        n_cls, t = x.shape[1], self.target
        valid = t != self.ignore_index
        t_safe = xp.where(valid, t, 0)
        bad = (t_safe < 0) | (t_safe >= n_cls)
        if bad.any():
            raise IndexError(f"{'cross_entropy' if self.from_logits else 'nll_loss'}: target "
                             f"{int(t_safe[bad].reshape(-1)[0])} is out of bounds for {n_cls} classes "
                             f"(valid targets are 0..{n_cls - 1}, or ignore_index={self.ignore_index})")
        idx = xp.expand_dims(t_safe, 1)
        if self.from_logits:
            s = x - x.max(axis=1, keepdims=True)
            e = xp.exp(s)
            se = e.sum(axis=1, keepdims=True)
            lse = xp.log(se)
            e /= se
            self.p = e  # softmax(x), reused by backward
            picked = xp.take_along_axis(s, idx, axis=1) - lse
        else:
            s, lse = x, None
            picked = xp.take_along_axis(x, idx, axis=1)
        picked = picked[:, 0]
        w_t = self.weight[t_safe] if self.weight is not None else xp.ones(t.shape, dtype=x.dtype)
        w_t = w_t * valid
        self.t_safe, self.valid, self.w_t = t_safe, valid, w_t
        loss = -(1.0 - self.eps) * w_t * picked
        if self.eps > 0:
            wc = self.weight.reshape((1, n_cls) + (1,) * (x.ndim - 2)) if self.weight is not None else None
            smooth = (s * wc).sum(axis=1) if wc is not None else s.sum(axis=1)
            if lse is not None:
                smooth = smooth - lse[:, 0] * (wc.sum() if wc is not None else n_cls)
            loss = loss - (self.eps / n_cls) * smooth * valid
        loss = loss.astype(x.dtype, copy=False)
        if self.reduction == "none":
            return loss
        total = loss.sum()
        if self.reduction == "mean":
            self.norm = float(w_t.sum())
            total = total / self.norm if self.norm != 0 else total * np.nan
        return xp.asarray(total, dtype=x.dtype)

    def _q(self, x: Tensor):
        """The target weights q (shape of x): (1 - eps) w_t at the target class plus eps w_c / C, times valid."""
        xp = x.xp
        n_cls = x.shape[1]
        classes = xp.arange(n_cls).reshape((1, n_cls) + (1,) * (x.ndim - 2))
        q = (classes == xp.expand_dims(self.t_safe, 1)) * xp.expand_dims(self.w_t * (1.0 - self.eps), 1)
        if self.eps > 0:
            wc = self.weight.reshape(classes.shape) if self.weight is not None else 1.0
            q = q + (self.eps / n_cls) * wc * xp.expand_dims(self.valid, 1)
        return q.astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.inputs
        q = self._q(x)
        if self.reduction == "none":
            g = gy.reshape((gy.shape[0], 1) + gy.shape[1:])
        elif self.reduction == "mean":
            g = gy * (1.0 / self.norm if self.norm != 0 else 0.0)  # all ignored: loss nan, gradient 0 (torch)
        else:
            g = gy
        if not self.from_logits:
            return Tensor._wrap(-q) * g
        big_q = Tensor._wrap(q.sum(axis=1, keepdims=True))
        # under create_graph recompute softmax as a recorded op, so the gradient is differentiable
        p = Softmax(1)(x) if is_grad_enabled() else Tensor._wrap(self.p)
        return (p * big_q - Tensor._wrap(q)) * g


def _class_index_inputs(x: Tensor, target: Tensor, weight, name: str):
    """Validate (N, C, d...) input against (N, d...) integer targets and a (C,) weight."""
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating-point tensor, got dtype {x.dtype}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index target must be an integer tensor, got dtype {target.dtype} with "
                        f"shape {target.shape} for input of shape {x.shape}; convert it with target.long(), or pass "
                        "class probabilities with the same shape as the input")
    if x.ndim < 1:
        raise ValueError(f"{name}: input must have at least 1 dimension (classes), got a 0-d tensor")
    expected = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{name}: expected target of shape {expected} for input of shape {x.shape} "
                         f"(class dim 1), got target shape {target.shape}")
    return _class_weight(weight, x, x.shape[0] if x.ndim == 1 else x.shape[1], name)


def _class_weight(weight, x: Tensor, n_cls: int, name: str):
    """The per-class weight as an array of x's dtype, checked to be (C,)."""
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else x.xp.asarray(weight)
    if w.shape != (n_cls,):
        raise ValueError(f"{name}: weight should have shape ({n_cls},) (one per class), got {tuple(w.shape)}")
    return w.astype(x.dtype)


def _class_nll(x, target, weight, ignore_index, reduction, label_smoothing, from_logits, name):
    w = _class_index_inputs(x, target, weight, name)
    unbatched = x.ndim == 1
    if unbatched:
        x, target = x.reshape(1, x.shape[0]), target.reshape(1)
    tgt = target.array.astype(np.int64, copy=False) if target.dtype != np.int64 else target.array
    out = ClassNLL(tgt, w, ignore_index, reduction, label_smoothing, from_logits)(x)
    return out.reshape(()) if unbatched and reduction == "none" else out


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """-w_t x[t] for log-probabilities x (N, C, d...) and class targets (N, d...).

    ``'mean'`` divides by the summed weights of the non-ignored targets.
    """
    _check_reduction(reduction, "nll_loss")
    x, t = _as_tensor(input, "nll_loss", "input"), _as_tensor(target, "nll_loss", "target")
    return _class_nll(x, t, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits (N, C, d...) against class indices (N, d...) or probabilities (N, C, d...).

    Class indices: loss = -w_t log softmax(x)[t] (one fused op, dx = (softmax - onehot) w_t / norm);
    probabilities: loss = -sum_c w_c y_c log softmax(x)_c. ``label_smoothing`` eps mixes the
    target with the uniform distribution: (1 - eps) y + eps / C.

    >>> F.cross_entropy(logits, lamina.tensor([3, 0]))      # logits of shape (2, C)
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x, t = _as_tensor(input, "cross_entropy", "input"), _as_tensor(target, "cross_entropy", "target")
    if t.shape == x.shape and t.dtype.kind == "f":
        return _cross_entropy_probs(x, t, weight, ignore_index, reduction, label_smoothing)
    if t.dtype.kind == "f":
        raise ValueError(f"cross_entropy: target has dtype {t.dtype} and shape {t.shape}, input has shape {x.shape}; "
                         "expected class indices (an integer tensor of shape (N, d1, ...)) or class probabilities "
                         "(a float tensor of the input's shape)")
    return _class_nll(x, t, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy")


def _cross_entropy_probs(x, t, weight, ignore_index, reduction, eps):
    if x.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be a floating-point tensor, got dtype {x.dtype}")
    if ignore_index >= 0:
        raise ValueError("cross_entropy: ignore_index is not supported for floating point (probability) targets")
    if t.dtype != x.dtype:
        t = t.to(x.dtype)
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x.reshape(1, x.shape[0]), t.reshape(1, t.shape[0])
    n_cls = x.shape[1]
    w = _class_weight(weight, x, n_cls, "cross_entropy")
    if eps > 0:
        t = t * (1.0 - eps) + eps / n_cls
    prod = log_softmax(x, 1) * t
    if w is not None:
        prod = prod * Tensor._wrap(w.reshape((1, n_cls) + (1,) * (x.ndim - 2)))
    loss = -prod.sum(1)
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- binary classification
def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """-w (y log x + (1 - y) log(1 - x)) for probabilities x in [0, 1]; logs clamped at -100."""
    _check_reduction(reduction, "binary_cross_entropy")
    x, t = _pair(input, target, "binary_cross_entropy")
    xd = x.array
    if xd.size and (xd.min() < 0 or xd.max() > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                         "(pass logits to binary_cross_entropy_with_logits instead)")
    with np.errstate(divide="ignore"):  # log(0) = -inf is expected here and clamped
        log_x = E.clamp(E.log(x), -100.0, None)
        log_1mx = E.clamp(E.log(1.0 - x), -100.0, None)
    loss = -(t * log_x + (1.0 - t) * log_1mx)
    w = _weight_like(weight, x, "binary_cross_entropy")
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """BCE of sigmoid(x), computed stably from logits x:

        loss = (1 - y) x + (1 + (p - 1) y) softplus(-x)      (p = pos_weight, broadcast over classes)
        dx = (1 + (p - 1) y) sigmoid(x) - p y
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, t = _pair(input, target, "binary_cross_entropy_with_logits")
    sp = Softplus(1.0, math.inf)(-x)
    pw = _weight_like(pos_weight, x, "binary_cross_entropy_with_logits", "pos_weight")
    if pw is not None:
        loss = (1.0 - t) * x + ((pw - 1.0) * t + 1.0) * sp
    else:
        loss = (1.0 - t) * x + sp
    w = _weight_like(weight, x, "binary_cross_entropy_with_logits")
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- distributions and similarity
def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise, for log-probabilities ``input``:

        loss = y (log y - x)        (loss = e^y (y - x) with ``log_target=True``)

    ``'batchmean'`` divides the sum by the batch size (the true KL divergence); ``'mean'`` by
    the number of elements, as PyTorch does.
    """
    _check_reduction(reduction, "kl_div", ("mean", "batchmean", "sum", "none"))
    x, t = _pair(input, target, "kl_div")
    if log_target:
        loss = E.exp(t) * (t - x)
    else:
        nz = Tensor._wrap(t.array != 0)
        loss = E.where(nz, t * E.log(E.where(nz, t, 1.0)), 0.0) - t * x
    if reduction == "batchmean":
        return loss.sum() * (1.0 / x.shape[0]) if x.ndim else loss.sum()
    return _reduce(loss, reduction)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 x2) / (max(|x1|, eps) max(|x2|, eps)) along ``dim`` (inputs broadcast together)."""
    a, b = _as_tensor(x1, "cosine_similarity", "x1"), _as_tensor(x2, "cosine_similarity", "x2")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    if b.dtype != a.dtype:
        a, b = E.binary_operands(a, b)
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    nd = max(len(shape), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"cosine_similarity: dim {dim} is out of range for shape {shape}")

    def _norm(v):
        n = norm(v, 2, dim, keepdim=True)  # its gradient is 0 at a zero vector, as torch's
        # clamp without touching the gradient, exactly as PyTorch (clamp_min_ under no_grad)
        return n + Tensor._wrap(n.xp.maximum(n.array, eps) - n.array)

    return ((a / _norm(a)) * (b / _norm(b))).sum(dim)
