"""The linear algebra the multivariate normals need (private to this package for now).

    cholesky(A) = L, lower triangular, A = L Lᵀ;
        dA = sym(L⁻ᵀ Φ(Lᵀ dL) L⁻¹),  Φ = lower triangle with the diagonal halved, sym(S) = (S + Sᵀ)/2
    solve_triangular(A, B, upper) = X with A X = B (A triangular, batch dims broadcast);
        dB = A⁻ᵀ dX,  dA = -(dB Xᵀ) restricted to A's triangle

Both backwards are written with Tensor ops, so second derivatives work. Shapes: (..., n, n) and
(..., n, k); leading dimensions broadcast as in matmul.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..ops.broadcast import sum_to
from ..tensor import Tensor


def _batch_shape(a_shape, b_shape):
    return np.broadcast_shapes(a_shape[:-2], b_shape[:-2])


class Cholesky(Function):
    """L = cholesky(A);  dA = sym(L⁻ᵀ Φ(Lᵀ dL) L⁻¹)."""

    keep_outputs = True
    saves_inputs = False

    def forward(self, a):
        xp = backend.array_module(a)
        try:
            return xp.linalg.cholesky(a)
        except np.linalg.LinAlgError as e:
            raise RuntimeError(f"cholesky: the input (shape {a.shape}) is not positive-definite: {e}") from None

    def backward(self, gl):
        (l,) = self.outputs
        p = (l.mT @ gl).tril()
        n = l.shape[-1]
        half_diag = Tensor._wrap((1.0 - 0.5 * l.xp.eye(n)).astype(l.dtype))
        p = p * half_diag
        s = solve_triangular(l.mT, solve_triangular(l.mT, p, upper=True).mT, upper=True).mT  # L⁻ᵀ P L⁻¹
        return (s + s.mT) * 0.5


class SolveTriangular(Function):
    """X = A⁻¹ B;  dB = A⁻ᵀ dX,  dA = -tri(dB Xᵀ)."""

    keep_outputs = True

    def __init__(self, upper: bool):
        self.upper = upper

    def forward(self, a, b):
        xp = backend.array_module(a)
        batch = _batch_shape(a.shape, b.shape)
        a = xp.triu(a) if self.upper else xp.tril(a)  # only A's triangle is read, as in LAPACK's trsm
        a_ = xp.broadcast_to(a, batch + a.shape[-2:])
        b_ = xp.broadcast_to(b, batch + b.shape[-2:])
        return xp.linalg.solve(a_, b_)

    def backward(self, gx):
        a, b = self.inputs
        (x,) = self.outputs
        gb = solve_triangular(a.mT, gx, upper=not self.upper)
        ga = None
        if self.needs_input_grad[0]:
            ga = -(gb @ x.mT)
            ga = sum_to(ga.triu() if self.upper else ga.tril(), a.shape)
        return ga, (sum_to(gb, b.shape) if self.needs_input_grad[1] else None)


def cholesky(a: Tensor) -> Tensor:
    """The lower Cholesky factor L of a symmetric positive-definite (..., n, n) matrix (A = L Lᵀ)."""
    return Cholesky()(a)


def solve_triangular(a: Tensor, b: Tensor, upper: bool = False) -> Tensor:
    """X with A X = B, A a (..., n, n) triangular matrix (lower unless ``upper``), B (..., n, k)."""
    return SolveTriangular(upper)(a, b)


def diagonal(a: Tensor) -> Tensor:
    """The main diagonals of a (..., n, n) matrix stack, shape (..., n)."""
    n = a.shape[-1]
    idx = Tensor._wrap(a.xp.arange(n))
    return a[..., idx, idx]


def diag_embed(d: Tensor) -> Tensor:
    """(..., n) -> (..., n, n) diagonal matrices."""
    n = d.shape[-1]
    return d.unsqueeze(-1) * Tensor._wrap(d.xp.eye(n, dtype=d.dtype))


def eye_like(a: Tensor, n: int) -> Tensor:
    return Tensor._wrap(a.xp.eye(n, dtype=a.dtype))


def cholesky_inverse(l: Tensor) -> Tensor:
    """(L Lᵀ)⁻¹ from its Cholesky factor L."""
    linv = solve_triangular(l, eye_like(l, l.shape[-1]))
    return linv.mT @ linv


def precision_to_scale_tril(p: Tensor) -> Tensor:
    """The lower L with L Lᵀ = P⁻¹, without inverting P: with J the reversal permutation,
    chol(J P J) = Lf gives P = U Uᵀ for the upper U = J Lf J, so L = U⁻ᵀ."""
    lf = cholesky(p.flip((-2, -1)))
    u = lf.flip((-2, -1))
    return solve_triangular(u.mT, eye_like(p, p.shape[-1]), upper=False)


def batch_mahalanobis(l: Tensor, x: Tensor) -> Tensor:
    """||L⁻¹ x||² over the last dimension: L (..., n, n) lower, x (..., n) (batch dims broadcast)."""
    z = solve_triangular(l, x.unsqueeze(-1)).squeeze(-1)
    return (z * z).sum(-1)
