"""Matrix functions built on the decompositions: matrix_exp, cholesky_solve, cholesky_inverse,
solve_triangular, block_diag, tensorinv, tensorsolve, cond, linalg.vander.

    Y = exp(A) = sum_k A^k / k!  (scaling and squaring: exp(A) = exp(A / 2^s)^(2^s))
    dA = the upper-right block of exp([[A^T, dY], [0, A^T]])   (the Frechet derivative's adjoint)
    cholesky_solve(B, L) = (L L^T)^{-1} B         cholesky_inverse(L) = (L L^T)^{-1}

Everything but matrix_exp is a composition of differentiable ops (solve, inv, svdvals, cat).

    >>> lamina.linalg.matrix_exp(lamina.zeros(2, 2))      # the identity
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .cast import astype
from .decompositions import _check, _mT, inv, solve
from .linalg import matmul
from .shape import cat, reshape, stack, tril, triu

TriangularSolve = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def _expm_array(a):
    """exp of a stack of square matrices: Taylor series of degree 18 after scaling by 2^-s."""
    xp = backend.array_module(a)
    work = a.astype(np.float64)
    n = work.shape[-1]
    norm = float(xp.abs(work).sum(-1).max()) if work.size else 0.0
    s = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    work = work / (2.0 ** s)
    eye = xp.broadcast_to(xp.eye(n), work.shape)
    result, term = eye.copy(), eye.copy()
    for k in range(1, 19):  # a fixed number of terms
        term = xp.matmul(term, work) / k
        result = result + term
    for _ in range(s):
        result = xp.matmul(result, result)
    return result.astype(a.dtype)


class MatrixExp(Function):
    """Y = exp(A);  dA = [exp([[A^T, dY], [0, A^T]])]_{12}."""

    def forward(self, a):
        return _expm_array(a)

    def backward(self, gy):
        (A,) = self.inputs
        n = A.shape[-1]
        at = _mT(A)
        zeros = Tensor._wrap(gy.xp.zeros(gy.shape, dtype=gy.dtype))
        big = cat([cat([at, gy], -1), cat([zeros, at], -1)], -2)
        return MatrixExp()(big)[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of a square matrix (or a stack of them)."""
    _check("matrix_exp", A)
    return MatrixExp()(A)


def _tri(A: Tensor, upper: bool, unitriangular: bool) -> Tensor:
    T = triu(A) if upper else tril(A)
    if unitriangular:
        eye = Tensor._wrap(A.xp.eye(A.shape[-1], dtype=A.dtype))
        T = T * (1.0 - eye) + eye
    return T


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False) -> Tensor:
    """X with T X = B (``left=False``: X T = B), T the upper or lower triangle of A (unit diagonal
    with ``unitriangular``); the other triangle of A is ignored."""
    _check("solve_triangular", A)
    return solve(_tri(A, upper, unitriangular), B, left=left)


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """``torch.triangular_solve``: (X, A) with op(T) X = b, op = transpose if ``transpose``."""
    T = _tri(A, upper, unitriangular)
    X = solve(_mT(T) if transpose else T, b)
    return TriangularSolve(X, A.clone())


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """X with (L L^T) X = B given the Cholesky factor L (``upper``: U^T U)."""
    Lo = _mT(L) if upper else L
    return solve(_mT(Lo), solve(Lo, B))


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """(L L^T)^{-1} from the Cholesky factor L (``upper``: (U^T U)^{-1})."""
    Linv = inv(_mT(L) if upper else L)
    return matmul(_mT(Linv), Linv)


def block_diag(*tensors) -> Tensor:
    """The block-diagonal matrix of the inputs (0-d -> 1x1, 1-D -> one row), zeros elsewhere."""
    if not tensors:
        return Tensor._wrap(np.zeros((1, 0), dtype=backend.get_default_dtype()))
    mats = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"block_diag: expected Tensors, got {type(t).__name__} at position {i}")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
        mats.append(reshape(t, (1, 1)) if t.ndim == 0 else reshape(t, (1, -1)) if t.ndim == 1 else t)
    dt = mats[0].dtype
    for m in mats[1:]:
        dt = backend.promote_types(dt, m.dtype)
    mats = [astype(m, dt) for m in mats]
    total = sum(m.shape[1] for m in mats)
    xp = mats[0].xp
    rows, before = [], 0
    for m in mats:  # one row of blocks per input (a small fixed count)
        r, c = m.shape
        left = Tensor._wrap(xp.zeros((r, before), dtype=dt))
        right = Tensor._wrap(xp.zeros((r, total - before - c), dtype=dt))
        rows.append(cat([left, m, right], 1))
        before += c
    return cat(rows, 0)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of A seen as a linear map from its last ndim - ind dims to its first ind dims."""
    if ind <= 0:
        raise RuntimeError(f"linalg.tensorinv: Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape, in_shape = A.shape[:ind], A.shape[ind:]
    m, n = math.prod(out_shape), math.prod(in_shape)
    if m != n:
        raise RuntimeError(f"linalg.tensorinv: Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {n} != {m}")
    return reshape(inv(reshape(A, (m, n))), in_shape + out_shape)


def tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:
    """X with tensordot(A, X, X.ndim) = B (``dims``: dims of A moved to the end first)."""
    if dims is not None:
        from .shape_views import movedim

        dims = tuple(dims)
        A = movedim(A, dims, tuple(range(A.ndim - len(dims), A.ndim)))
    x_shape = A.shape[B.ndim:]
    n = math.prod(x_shape)
    return reshape(solve(reshape(A, (-1, n)), reshape(B, (-1,))), x_shape)


def cond(A: Tensor, p=None) -> Tensor:
    """The condition number ||A||_p ||A^{-1}||_p (p None or 2: s_max / s_min, from the singular values)."""
    from .norms import matrix_norm
    from .spectral import svdvals

    if p in (None, 2, -2):
        s = svdvals(A)
        r = s[..., 0] / s[..., -1]
        return r if p != -2 else 1.0 / r
    _check("cond", A)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def vander(x: Tensor, N: int | None = None) -> Tensor:
    """``torch.linalg.vander``: powers x^0, x^1, ..., x^(N-1) along a new last dim (batched)."""
    from .arithmetic import pow as _pow

    n = x.shape[-1] if N is None else int(N)
    if n <= 1:
        raise RuntimeError(f"linalg.vander: N must be greater than 1, got N={n}")
    return stack([_pow(x, k) for k in range(n)], -1)
