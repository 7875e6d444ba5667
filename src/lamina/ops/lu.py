"""LU factorization with partial pivoting: linalg.lu_factor, linalg.lu, lu_unpack, lu_solve.

A = P L U with L unit lower-triangular (m x k), U upper-triangular (k x n), k = min(m, n), and P
the row permutation recorded as LAPACK's 1-based ``pivots`` (row j was swapped with pivots[j]).
NumPy has no LU, so the elimination runs here: one vectorized step per column (over all matrices
of a batch at once), choosing the largest |entry| of the column as pivot, as LAPACK's getrf.

    square A:  dA = P L^{-T} (tril(L^T dL, -1) + triu(dU U^T)) U^{-T}

(dL, dU from the packed gradient: its strict lower and upper triangles). lu_unpack and lu_solve
are compositions of differentiable ops.

    >>> LU, pivots = lamina.linalg.lu_factor(lamina.tensor([[1.0, 2.0], [3.0, 4.0]]))
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .decompositions import _check, _eye, _mT, inv
from .linalg import matmul
from .matrix_functions import solve_triangular
from .shape import tril, triu

LUFactor = namedtuple("lu_factor", ["LU", "pivots"])
LUFactorEx = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
PLU = namedtuple("lu", ["P", "L", "U"])
LUUnpack = namedtuple("lu_unpack", ["P", "L", "U"])


def _lu_array(a):
    """(packed LU, 1-based int32 pivots, int32 info) of a stack of matrices."""
    xp = backend.array_module(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    B = a.reshape((-1, m, n)).copy()
    nb = B.shape[0]
    rows = xp.arange(nb)
    piv = xp.zeros((nb, k), dtype=np.int32)
    info = xp.zeros(nb, dtype=np.int32)
    for j in range(k):  # one elimination step per column (a matrix dimension, not a batch loop)
        p = j + xp.argmax(xp.abs(B[:, j:, j]), axis=1)
        piv[:, j] = p + 1
        row_j = B[rows, j, :].copy()
        B[rows, j, :] = B[rows, p, :]
        B[rows, p, :] = row_j
        pivot = B[:, j, j]
        zero = pivot == 0
        info = xp.where(zero & (info == 0), j + 1, info).astype(np.int32)
        if j + 1 < m:
            safe = xp.where(zero, 1, pivot)
            B[:, j + 1:, j] = xp.where(zero[:, None], B[:, j + 1:, j], B[:, j + 1:, j] / safe[:, None])
            if j + 1 < n:
                B[:, j + 1:, j + 1:] -= B[:, j + 1:, j:j + 1] * B[:, j:j + 1, j + 1:]
    return B.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _perm_matrix(pivots, m: int, dtype):
    """P (..., m, m) with A = P L U from LAPACK pivots (..., k)."""
    xp = backend.array_module(pivots)
    batch, k = pivots.shape[:-1], pivots.shape[-1]
    piv = pivots.reshape(-1, k).astype(np.int64) - 1
    nb = piv.shape[0]
    perm = xp.broadcast_to(xp.arange(m), (nb, m)).copy()
    rows = xp.arange(nb)
    for j in range(k):  # replay the row swaps (one per column)
        pj = perm[rows, j].copy()
        perm[rows, j] = perm[rows, piv[:, j]]
        perm[rows, piv[:, j]] = pj
    P = xp.zeros((nb, m, m), dtype=dtype)
    P[rows[:, None], perm, xp.arange(m)[None, :]] = 1  # row perm[i] of A is row i of L U
    return P.reshape(batch + (m, m))


class LUFactorFn(Function):
    """(LU, pivots) = lu_factor(A);  dA (square A) in the module docstring."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, a):
        lu, piv, info = _lu_array(a)
        self.piv, self.info = piv, info
        return lu

    def backward(self, glu):
        LU = self.outputs[0]
        m, n = LU.shape[-2:]
        if m != n:
            raise NotImplementedError(f"lu_factor: the derivative is implemented for square matrices only, got a "
                                      f"{m} by {n} matrix")
        eye = _eye(LU, n)
        L = tril(LU, -1) + eye
        U = triu(LU)
        phi = tril(matmul(_mT(L), tril(glu, -1)), -1) + triu(matmul(triu(glu), _mT(U)))
        core = matmul(matmul(_mT(inv(L)), phi), _mT(inv(U)))
        P = Tensor._wrap(_perm_matrix(self.piv, m, LU.dtype))
        return matmul(P, core)


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """(LU, pivots, info): info is 0, or j for a zero pivot at step j (a singular matrix)."""
    _check("lu_factor", A, square=False)
    if not pivot:
        raise NotImplementedError("lu_factor: LU without pivoting is only available on CUDA in PyTorch")
    fn = LUFactorFn()
    LU = fn(A)
    piv = Tensor._wrap(fn.piv)
    info = Tensor._wrap(fn.info)
    if check_errors and bool((fn.info != 0).any()):
        from .decompositions import LinAlgError

        raise LinAlgError("linalg.lu_factor_ex: the factorization found a zero pivot (the matrix is singular)")
    return LUFactorEx(LU, piv, info)


def lu_factor(A: Tensor, *, pivot: bool = True):
    """(LU, pivots): L (unit diagonal, not stored) and U packed in one matrix, and 1-based pivots."""
    LU, piv, _ = lu_factor_ex(A, pivot=pivot)
    return LUFactor(LU, piv)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True):
    """(P, L, U) from the packed factorization (empty tensors for the parts not asked for)."""
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = Tensor._wrap(LU_data.xp.zeros((0,), dtype=LU_data.dtype))
    P = Tensor._wrap(_perm_matrix(LU_pivots.array, m, LU_data.dtype)) if unpack_pivots else empty
    if not unpack_data:
        return LUUnpack(P, empty, empty)
    L = tril(LU_data, -1)[..., :, :k] + _eye(LU_data, max(m, n))[:m, :k]
    U = triu(LU_data)[..., :k, :]
    return LUUnpack(P, L, U)


def lu(A: Tensor, *, pivot: bool = True):
    """(P, L, U) with A = P L U (``torch.linalg.lu``)."""
    LU, piv = lu_factor(A, pivot=pivot)
    return PLU(*lu_unpack(LU, piv))


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """X with A X = B (``adjoint``: A^T X = B; ``left=False``: X A = B) from A's LU factorization."""
    P, L, U = lu_unpack(LU, pivots)
    if not left:
        return _mT(lu_solve(LU, pivots, _mT(B), adjoint=not adjoint))
    if adjoint:  # A^T = U^T L^T P^T
        y = solve_triangular(_mT(U), B, upper=False)
        z = solve_triangular(_mT(L), y, upper=True, unitriangular=True)
        return matmul(P, z)
    y = solve_triangular(L, matmul(_mT(P), B), upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)


def lu_old(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """``torch.lu``: (LU, pivots) or, with ``get_infos``, (LU, pivots, infos)."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


def lu_solve_old(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """``torch.lu_solve(b, LU_data, LU_pivots)``."""
    return lu_solve(LU_data, LU_pivots, b)
