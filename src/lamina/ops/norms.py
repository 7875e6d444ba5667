"""Norms and distances: linalg.vector_norm, linalg.matrix_norm, linalg.norm, dist, renorm, cdist.

    vector_norm(x, p) = (sum |x|^p)^(1/p)  (inf: max |x|, -inf: min |x|, 0: count of nonzeros)
    matrix_norm(A, 'fro' | 'nuc' | 2 | -2 | 1 | -1 | inf | -inf)
    cdist(X1, X2, p)[b, i, j] = ||X1[b, i] - X2[b, j]||_p
    renorm(x, p, dim, maxnorm): each slice along ``dim`` with p-norm above maxnorm is scaled down to it

Compositions of differentiable ops (``reduce.norm``, svdvals, sums), so their gradients follow;
the 2-norm's gradient at 0 is 0, as in PyTorch.

    >>> lamina.cdist(lamina.zeros(1, 2), lamina.tensor([[3.0, 4.0]]))    # tensor([[5.]])
"""
from __future__ import annotations

import math
import numbers

from ..tensor import Tensor
from .arithmetic import where
from .cast import astype
from .reduce import amax, amin, norm as _pnorm, sum as _sum
from .linalg import matmul
from .shape import norm_dim, permute, transpose, unsqueeze
from .spectral import svdvals
from .unary import abs as _abs, clamp, sqrt


def _float_input(op: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {x.dtype}")


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The vector p-norm of x over ``dim`` (all elements if None), ``ord`` any real number or +-inf."""
    _float_input("linalg.vector_norm", x)
    if dtype is not None:
        x = astype(x, dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    return _pnorm(x, float(ord), dim, keepdim)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """A matrix norm over the two dims ``dim``: 'fro' (Frobenius), 'nuc' (sum of singular values),
    2 / -2 (largest / smallest singular value), 1 / -1 (max / min column sum of |A|),
    inf / -inf (max / min row sum of |A|)."""
    _float_input("linalg.matrix_norm", A)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got {A.shape}")
    if dtype is not None:
        A = astype(A, dtype)
    d0, d1 = (norm_dim(d, A.shape, "linalg.matrix_norm") for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different, got {tuple(dim)}")
    if ord == "fro":
        return _pnorm(A, 2.0, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        rest = [k for k in range(A.ndim) if k not in (d0, d1)]
        s = svdvals(permute(A, tuple(rest) + (d0, d1)))
        y = _sum(s, -1) if ord == "nuc" else (amax(s, -1) if ord == 2 else amin(s, -1))
        if keepdim:
            for k in sorted((d0, d1)):
                y = unsqueeze(y, k)
        return y
    if ord in (1, -1, math.inf, -math.inf):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: sum over rows (per column)
        s = _sum(_abs(A), inner, True)
        y = amax(s, outer, True) if ord > 0 else amin(s, outer, True)
        return y if keepdim else y.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.norm``: a vector norm when ``dim`` is an int (or A is 1-D), a matrix norm when
    ``dim`` is a pair (or A is 2-D and ord is given); with neither, the 2-norm of all elements."""
    _float_input("linalg.norm", A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")


def dist(a: Tensor, b: Tensor, p=2) -> Tensor:
    """The p-norm of a - b (broadcast)."""
    return vector_norm(a - b, p)


def renorm(x: Tensor, p, dim: int, maxnorm) -> Tensor:
    """Each slice x.select(dim, i) whose p-norm exceeds ``maxnorm`` scaled by maxnorm / (norm + 1e-7)."""
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got maxnorm={maxnorm}")
    _float_input("renorm", x)
    d = norm_dim(dim, x.shape, "renorm")
    others = tuple(k for k in range(x.ndim) if k != d)
    n = _pnorm(x, float(p), others, True) if others else _abs(x)
    factor = where(n > maxnorm, maxnorm / (n + 1e-7), 1.0)
    return x * factor


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R).
    The Euclidean distance of many rows uses ||a||^2 + ||b||^2 - 2 a.b (one matmul) as PyTorch does."""
    for t in (x1, x2):
        if not isinstance(t, Tensor):
            raise TypeError(f"cdist: expected Tensors, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}")
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, got {t.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    P, R = x1.shape[-2], x2.shape[-2]
    use_mm = (compute_mode == "use_mm_for_euclid_dist" or
              (compute_mode == "use_mm_for_euclid_dist_if_necessary" and (P > 25 or R > 25)))
    if p == 2 and use_mm:
        sq = (_sum(x1 * x1, -1, True) + transpose(_sum(x2 * x2, -1, True), -1, -2)
              - 2.0 * matmul(x1, transpose(x2, -1, -2)))
        return _safe_sqrt(clamp(sq, 0.0))
    diff = unsqueeze(x1, -2) - unsqueeze(x2, -3)  # (..., P, R, M)
    return _pnorm(diff, float(p), (-1,), False)


def _safe_sqrt(x: Tensor) -> Tensor:
    """sqrt with a zero gradient where its input is 0 (the distance of a point to itself)."""
    zero = Tensor._wrap(x.array == 0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, x)))
