"""Householder representations of QR: geqrf, householder_product (orgqr), ormqr.

geqrf packs A = Q R as LAPACK does: R in the upper triangle, and below the diagonal of column i
the vector v_i (with an implicit 1 at position i) of the reflector H_i = I - tau_i v_i v_i^T,
so that Q = H_1 H_2 ... H_k.

    householder_product(A, tau) = the first n columns of H_1 ... H_k
    ormqr(A, tau, C) = Q C  (or Q^T C, C Q, C Q^T)

The products are compositions of differentiable ops (one reflector per column: a loop over the
matrix dimension), so gradients flow to A, tau and C; geqrf itself has none (as in PyTorch).

    >>> a, tau = lamina.geqrf(lamina.randn(4, 3)); Q = lamina.linalg.householder_product(a, tau)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from .arithmetic import where
from .decompositions import _check
from .linalg import matmul
from .shape import transpose, unsqueeze

Geqrf = namedtuple("geqrf", ["a", "tau"])


def geqrf(A: Tensor):
    """(a, tau): LAPACK's packed Householder QR of A (no gradient)."""
    _check("geqrf", A, square=False)
    h, tau = A.xp.linalg.qr(A.array, mode="raw")
    return Geqrf(Tensor._wrap(np.ascontiguousarray(A.xp.swapaxes(h, -1, -2))), Tensor._wrap(tau.astype(A.dtype)))


def _reflector(A: Tensor, i: int) -> Tensor:
    """v_i (..., m, 1): zeros above row i, 1 at row i, A[..., i+1:, i] below."""
    m = A.shape[-2]
    rows = A.xp.arange(m)
    col = A[..., :, i]
    v = where(rows > i, col, Tensor._wrap((rows == i).astype(A.dtype)))
    return unsqueeze(v, -1)


def _apply(A: Tensor, tau: Tensor, C: Tensor, left: bool, transpose_q: bool) -> Tensor:
    k = tau.shape[-1]
    # Q = H_1 ... H_k: Q C applies H_k first; Q^T C applies H_1 first (each H_i is symmetric)
    order = range(k) if (left == transpose_q) else range(k - 1, -1, -1)
    for i in order:  # one reflector per column (a matrix dimension)
        v = _reflector(A, i)
        t = unsqueeze(unsqueeze(tau[..., i], -1), -1)
        if left:
            C = C - t * matmul(v, matmul(transpose(v, -1, -2), C))
        else:
            C = C - t * matmul(matmul(C, v), transpose(v, -1, -2))
    return C


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first n columns of H_1 ... H_k for A (..., m, n) and tau (..., k), k <= n <= m."""
    _check("householder_product", A, square=False)
    m, n = A.shape[-2:]
    if n > m:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1], got {m} and {n}")
    if tau.shape[-1] > n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           f"tau.shape[-1], got {n} and {tau.shape[-1]}")
    eye = Tensor._wrap(A.xp.broadcast_to(A.xp.eye(m, n, dtype=A.dtype), A.shape).copy())
    return _apply(A, tau, eye, True, False)


orgqr = householder_product


def ormqr(A: Tensor, tau: Tensor, other: Tensor, left: bool = True, transpose: bool = False) -> Tensor:
    """op(Q) other (``left``) or other op(Q), Q = H_1 ... H_k the full m x m orthogonal factor and
    op the transpose when ``transpose``."""
    _check("ormqr", A, square=False)
    m = A.shape[-2]
    need = other.shape[-2] if left else other.shape[-1]
    if need != m:
        raise RuntimeError(f"torch.ormqr: other's size along the multiplied dim must be {m}, got shape {other.shape}")
    return _apply(A, tau, other, left, transpose)
