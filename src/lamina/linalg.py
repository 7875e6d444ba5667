"""``lamina.linalg``: PyTorch's ``torch.linalg`` namespace (norms, inverses, solvers, decompositions).

Every function works on stacks of matrices (..., m, n) and is differentiable where PyTorch's is;
the formulas live with the ops (``ops/decompositions.py``, ``ops/spectral.py``, ``ops/norms.py``).

    >>> A = lamina.tensor([[4.0, 2.0], [2.0, 3.0]])
    >>> L = lamina.linalg.cholesky(A); x = lamina.linalg.solve(A, lamina.ones(2))
"""
from __future__ import annotations

from .ops.decompositions import LinAlgError, cholesky, det, inv, qr, slogdet, solve  # noqa: F401
from .ops.householder import householder_product  # noqa: F401
from .ops.linalg import matmul  # noqa: F401
from .ops.lu import lu, lu_factor, lu_factor_ex, lu_solve  # noqa: F401
from .ops.matrix_functions import cond, matrix_exp, solve_triangular, tensorinv, tensorsolve, vander  # noqa: F401
from .ops.norms import linalg_norm as norm  # noqa: F401
from .ops.norms import matrix_norm, vector_norm  # noqa: F401
from .ops.products import matrix_power, multi_dot  # noqa: F401
from .ops.shape_views import diagonal as _diagonal
from .ops.spectral import eigh, eigvalsh, lstsq, matrix_rank, pinv, svd, svdvals  # noqa: F401
from .ops.products import cross as _cross
from .tensor import Tensor


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The 3-D cross product along ``dim`` (default: the last dim, which must have size 3)."""
    return _cross(input, other, dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of a stack of matrices (a view), as ``torch.linalg.diagonal``."""
    return _diagonal(A, offset, dim1, dim2)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (broadcast): sum(x * y, dim)."""
    return (x * y).sum(dim)


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """(inverse, info) with info 0 for an invertible matrix (raises on a singular one)."""
    out = inv(A)
    return out, Tensor._wrap(A.xp.zeros(A.shape[:-2], dtype="int32"))


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """(L, info) with info 0 when A is positive definite (raises otherwise)."""
    return cholesky(A, upper=upper), Tensor._wrap(A.xp.zeros(A.shape[:-2], dtype="int32"))


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """(X, info) with A X = B and info 0 (raises on a singular A)."""
    return solve(A, B, left=left), Tensor._wrap(A.xp.zeros(A.shape[:-2], dtype="int32"))
