"""Margin and embedding losses (ranking, hinge, cosine, triplet, multi-class and multi-label margins).

Formulas (reduction ``'mean'`` averages the per-sample losses, ``'sum'`` adds them, ``'none'``
keeps them); all are compositions of differentiable ops, so gradients and second derivatives
follow, with PyTorch's subgradients at the hinges (a hinge at exactly 0 passes its gradient):

    margin_ranking     max(0, -y (x1 - x2) + margin)
    hinge_embedding    x if y = 1,  max(0, margin - x) if y = -1
    cosine_embedding   1 - cos(x1, x2) if y = 1,  max(0, cos(x1, x2) - margin) if y = -1
    triplet_margin     max(0, margin + d(a, p) - d(a, n)),  d = pairwise_distance
    multi_margin       sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C
    multilabel_margin  sum_{j in targets} sum_{i not in targets} max(0, 1 - (x_j - x_i)) / C
    soft_margin        log(1 + e^(-y x))
    multilabel_soft    -mean_c w_c [y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)]
"""
from __future__ import annotations

import numpy as np

from ..ops import elementwise as E
from ..ops.reduce import norm
from ..tensor import Tensor
from .activation_fns_extra import logsigmoid
from .loss_fns import _as_tensor, _check_reduction, _reduce

# ---------------------------------------------------------------- helpers


def _floats(name: str, **tensors) -> list:
    out, dtype = [], None
    for what, t in tensors.items():
        t = _as_tensor(t, name, what)
        if dtype is None:
            if t.dtype.kind != "f":
                raise TypeError(f"{name}: {what} must be a floating-point tensor, got dtype {t.dtype}")
            dtype = t.dtype
        elif t.dtype != dtype:
            t = t.to(dtype)
        out.append(t)
    return out


def _broadcast_shape(name: str, *tensors) -> tuple:
    try:
        return np.broadcast_shapes(*[t.shape for t in tensors])
    except ValueError:
        raise RuntimeError(f"{name}: shapes {', '.join(str(t.shape) for t in tensors)} cannot be broadcast "
                           "together") from None


def _hinge(v: Tensor) -> Tensor:
    """max(v, 0), gradient 1 where v >= 0 (PyTorch's clamp_min)."""
    return E.clamp(v, 0.0, None)


# ---------------------------------------------------------------- pairwise losses
def margin_ranking_loss(input1, input2, target, margin: float = 0.0, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin): y = 1 means x1 should rank higher than x2, y = -1 lower.

    >>> F.margin_ranking_loss(lamina.tensor([0.8]), lamina.tensor([0.3]), lamina.tensor([1.0]))   # 0
    """
    _check_reduction(reduction, "margin_ranking_loss")
    x1, x2, y = _floats("margin_ranking_loss", input1=input1, input2=input2, target=target)
    if not x1.ndim == x2.ndim == y.ndim:
        raise RuntimeError(f"margin_ranking_loss: All input tensors should have same dimension but got sizes: "
                           f"input1: {x1.shape}, input2: {x2.shape}, target: {y.shape}")
    _broadcast_shape("margin_ranking_loss", x1, x2, y)
    return _reduce(_hinge(-y * (x1 - x2) + margin), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1 (x is a distance, y says similar or not)."""
    _check_reduction(reduction, "hinge_embedding_loss")
    x, y = _floats("hinge_embedding_loss", input=input, target=target)
    _broadcast_shape("hinge_embedding_loss", x, y)
    ya = y.array
    part_margin = E.where(Tensor._wrap(ya != 1), _hinge(margin - x), 0.0)
    part_self = E.where(Tensor._wrap(ya != -1), x, 0.0)
    return _reduce(part_margin + part_self, reduction)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.

    x1, x2 (N, D) with y (N,), or (D,) with a 0-d y; cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)).
    """
    _check_reduction(reduction, "cosine_embedding_loss")
    x1, x2, y = _floats("cosine_embedding_loss", input1=input1, input2=input2, target=target)
    if x1.ndim != x2.ndim:
        raise RuntimeError(f"cosine_embedding_loss: expected input1 and input2 to have the same number of "
                           f"dimensions, got {x1.ndim}D and {x2.ndim}D")
    if x1.ndim not in (1, 2) or y.ndim != x1.ndim - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs with a target of one dimension "
                           f"less, got input shape {x1.shape} and target shape {y.shape}")
    d = x1.ndim - 1
    prod = (x1 * x2).sum(d)
    mag = ((x1 * x1).sum(d) + 1e-12) * ((x2 * x2).sum(d) + 1e-12)
    cos = prod / E.sqrt(mag)
    ya = y.array
    pos = E.where(Tensor._wrap(ya == 1), 1.0 - cos, 0.0)
    neg = E.where(Tensor._wrap(ya == -1), _hinge(cos - margin), 0.0)
    return _reduce(pos + neg, reduction)


# ---------------------------------------------------------------- distances and triplets
def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dimension (inputs broadcast together).

    >>> F.pairwise_distance(lamina.randn(8, 16), lamina.randn(8, 16)).shape     # (8,)
    """
    a, b = _floats("pairwise_distance", x1=x1, x2=x2)
    nd = max(a.ndim, b.ndim)
    _broadcast_shape("pairwise_distance", a, b)
    diff = a - b + eps
    if nd == 0:
        return norm(diff.reshape(1), p, 0, keepdim).reshape(())
    return norm(diff, p, nd - 1, keepdim)


def pdist(input, p: float = 2.0) -> Tensor:
    """Distances ||x_i - x_j||_p between all rows i < j of an (N, M) input: shape (N (N - 1) / 2,),
    in the order (0,1), (0,2), ..., (1,2), ... (the upper triangle of the distance matrix)."""
    (x,) = _floats("pdist", input=input)
    if x.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.ndim}D")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    if x.xp is not np:  # pragma: no cover - needs a GPU
        i, j = x.xp.asarray(i), x.xp.asarray(j)
    return norm(x[i] - x[j], p, 1)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                        swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, pos) - d(a, neg)) with d = pairwise_distance(., ., p, eps); with ``swap``
    d(a, neg) is replaced by min(d(a, neg), d(pos, neg)).

    anchor, positive, negative: (N, D) or (D,).
    """
    _check_reduction(reduction, "triplet_margin_loss")
    a, pos, neg = _floats("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise RuntimeError(f"triplet_margin_loss: The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {a.ndim}D, positive {pos.ndim}D, "
                           f"and negative {neg.ndim}D inputs")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = E.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(_hinge(d_pos - d_neg + margin), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, pos) - d(a, neg)) for any ``distance_function`` d (default
    ``pairwise_distance``); ``margin`` must be positive."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pos, neg = (_as_tensor(t, "triplet_margin_with_distance_loss", w)
                   for t, w in ((anchor, "anchor"), (positive, "positive"), (negative, "negative")))
    if not a.ndim == pos.ndim == neg.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a.ndim}D, positive {pos.ndim}D, and negative {neg.ndim}D "
                           "inputs")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos, d_neg = dist(a, pos), dist(a, neg)
    if swap:
        d_neg = E.minimum(d_neg, dist(pos, neg))
    return _reduce(_hinge(d_pos - d_neg + margin), reduction)


# ---------------------------------------------------------------- multi-class / multi-label margins
def _class_targets(x: Tensor, target, name: str):
    """(x as (N, C), integer targets (N,) as an array, unbatched flag), checked against C."""
    t = _as_tensor(target, name, "target")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must be an integer tensor of class indices, got dtype {t.dtype}")
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] == 0):
        raise RuntimeError(f"{name}: Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {x.shape}")
    unbatched = x.ndim == 1
    xb = x.reshape(1, -1) if unbatched else x
    expect = (xb.shape[0],)
    ta = t.array.reshape(-1) if unbatched and t.ndim <= 1 else t.array
    if tuple(ta.shape) != expect:
        raise RuntimeError(f"{name}: inconsistent target size: {tuple(t.shape)} for input of size: {x.shape}")
    return xb, ta, unbatched


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C per sample.

    input (N, C) or (C,), target (N,) or () class indices, weight (C,) optional, p in {1, 2}.
    """
    _check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    (x,) = _floats("multi_margin_loss", input=input)
    if weight is not None:
        weight = _as_tensor(weight, "multi_margin_loss", "weight")
        if weight.ndim != 1:
            raise ValueError("weight must be one-dimensional")
    xb, t, unbatched = _class_targets(x, target, "multi_margin_loss")
    n, c = xb.shape
    if t.size and (int(t.min()) < 0 or int(t.max()) >= c):
        raise IndexError(f"multi_margin_loss: target {int(t.max()) if int(t.max()) >= c else int(t.min())} is "
                         f"out of bounds for {c} classes")
    xp = x.xp
    t2 = t.reshape(-1, 1).astype(np.int64)
    x_y = xb.gather(1, Tensor._wrap(t2))                        # (N, 1)
    z = _hinge(xb - x_y + margin)
    if p == 2:
        z = z * z
    z = E.mask_mul(z, xp.arange(c).reshape(1, c) != t2)         # only i != y
    if weight is not None:
        w = weight.to(x.dtype) if weight.dtype != x.dtype else weight
        z = z * w[Tensor._wrap(t2)]                            # (N, 1) weight of each target
    loss = z.sum(1) * (1.0 / c)
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: sum over target classes j and non-target classes i of
    max(0, 1 - (x_j - x_i)), divided by C.

    input (N, C) or (C,); target of the same shape holds class indices, ended by the first -1
    (``[3, 0, -1, 1]`` means classes 3 and 0).
    """
    _check_reduction(reduction, "multilabel_margin_loss")
    (x,) = _floats("multilabel_margin_loss", input=input)
    t = _as_tensor(target, "multilabel_margin_loss", "target")
    if t.dtype.kind not in "iu":
        raise TypeError(f"multilabel_margin_loss: target must be an integer tensor, got dtype {t.dtype}")
    if x.ndim not in (0, 1, 2) or t.shape != x.shape:
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {t.shape} for input of size: "
                           f"{x.shape}")
    unbatched = x.ndim <= 1
    xb = x.reshape(1, -1) if unbatched else x
    ta = t.array.reshape(xb.shape).astype(np.int64)
    n, c = xb.shape
    xp = x.xp
    if ta.size and (int(ta.min()) < -1 or int(ta.max()) >= c):
        raise IndexError(f"multilabel_margin_loss: target values must be in [-1, {c - 1}], got "
                         f"{int(ta.min()) if int(ta.min()) < -1 else int(ta.max())}")
    valid = xp.cumprod(ta >= 0, axis=1).astype(bool)            # entries before the first -1
    t_safe = xp.where(valid, ta, 0)
    is_target = xp.zeros((n, c), dtype=bool)
    rows = xp.broadcast_to(xp.arange(n).reshape(-1, 1), (n, c))
    is_target[rows[valid], t_safe[valid]] = True
    x_t = xb.gather(1, Tensor._wrap(t_safe))                    # (N, C): x at the j-th target
    z = _hinge(xb.unsqueeze(1) - x_t.unsqueeze(2) + 1.0)        # (N, j, i)
    pair = (valid[:, :, None] & ~is_target[:, None, :])
    loss = E.mask_mul(z, pair).sum((1, 2)) * (1.0 / c)
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, reduction: str = "mean") -> Tensor:
    """log(1 + e^(-y x)) for labels y in {-1, 1} (a two-class logistic loss)."""
    _check_reduction(reduction, "soft_margin_loss")
    x, y = _floats("soft_margin_loss", input=input, target=target)
    _broadcast_shape("soft_margin_loss", x, y)
    return _reduce(-logsigmoid(y * x), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(1/C) sum_c w_c [y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)] per sample: one
    logistic loss per class, averaged over the C classes (last dim)."""
    _check_reduction(reduction, "multilabel_soft_margin_loss")
    x, y = _floats("multilabel_soft_margin_loss", input=input, target=target)
    loss = -(y * logsigmoid(x) + (1.0 - y) * logsigmoid(-x))
    if weight is not None:
        w = _as_tensor(weight, "multilabel_soft_margin_loss", "weight")
        loss = loss * (w.to(x.dtype) if w.dtype != x.dtype else w)
    c = x.shape[-1] if x.ndim else 1
    loss = loss.sum(x.ndim - 1 if x.ndim else None) * (1.0 / c)
    return _reduce(loss, reduction)
