"""Linear algebra: matmul in every NumPy case (1-D, 2-D, batched, broadcast), einsum, dot, outer.

matmul: y = a @ b;  da = dy @ b^T,  db = a^T @ dy  (with 1-D operands promoted and the
gradient summed over broadcast batch dimensions).
"""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor
from .broadcast import sum_to


class MatMul2D(Function):
    """y = a @ b for 2-D a (m, k) and b (k, n);  da = dy @ b^T,  db = a^T @ dy."""

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (matmul(gy, b.mT) if na else None), (matmul(a.mT, gy) if nb else None)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({a.shape[1]} != {b.shape[0]})")
        return MatMul2D()(a, b)
    raise NotImplementedError("matmul beyond 2-D is being written")


def einsum(*args, **kwargs):
    raise NotImplementedError('linalg.einsum')


def dot(*args, **kwargs):
    raise NotImplementedError('linalg.dot')


def outer(*args, **kwargs):
    raise NotImplementedError('linalg.outer')

