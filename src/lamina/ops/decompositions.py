"""Matrix functions and decompositions (``lamina.linalg``): inv, det, slogdet, logdet, solve,
cholesky, qr (svd, eigh, pinv, lstsq: ``spectral.py``).

The kernels are NumPy's (CuPy's on a GPU) LAPACK routines, on stacks of matrices (..., m, n).
Every backward is written with matmul/solve, so second derivatives work. For real matrices:

    Y = inv(A)             dA = -Y^T dY Y^T
    y = det(A)             dA = dy * y * A^{-T}                 (A invertible)
    logabsdet(A)           dA = dy * A^{-T}
    X = solve(A, B)        dB = solve(A^T, dX),  dA = -dB X^T
    L = cholesky(A)        dA = sym(L^{-T} Phi(L^T dL) L^{-1}),  Phi: lower triangle, diagonal halved
    Q, R = qr(A) (m >= n)  dA = Q (dR + tril(Q^T dQ - dQ^T Q + R dR^T - dR R^T) R^{-T}) + (dQ - Q Q^T dQ) R^{-T}

    >>> A = lamina.tensor([[2.0, 1.0], [1.0, 3.0]])
    >>> lamina.linalg.det(A)          # tensor(5.)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .linalg import matmul
from .shape import tril, transpose, unsqueeze

SlogDet = namedtuple("slogdet", ["sign", "logabsdet"])
QR = namedtuple("qr", ["Q", "R"])


class LinAlgError(RuntimeError):
    """A matrix was singular or not positive definite (``torch.linalg.LinAlgError``)."""


def _mT(x: Tensor) -> Tensor:
    return transpose(x, -2, -1)


def _lin(x):
    return backend.array_module(x).linalg


def _check(op: str, A, square: bool = True, min_dims: int = 2) -> None:
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{op}: expected a Tensor, got {type(A).__name__}")
    if A.dtype.kind != "f":
        raise RuntimeError(f"linalg.{op}: Expected a floating point or complex tensor as input. Got {A.dtype}")
    if A.ndim < min_dims:
        raise RuntimeError(f"linalg.{op}: The input tensor A must have at least 2 dimensions, got shape {A.shape}")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _eye(like: Tensor, n: int) -> Tensor:
    return Tensor._wrap(like.xp.eye(n, dtype=like.dtype))


# ---------------------------------------------------------------- inverse, determinants, solve
class Inv(Function):
    """Y = A^{-1};  dA = -Y^T dY Y^T."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, a):
        try:
            return _lin(a).inv(a)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.inv: the input matrix is singular, the inversion could not be completed") from None

    def backward(self, gy):
        yt = _mT(self.outputs[0])
        return -matmul(matmul(yt, gy), yt)


def inv(A: Tensor) -> Tensor:
    """The inverse of a square matrix (or a stack of them)."""
    _check("inv", A)
    return Inv()(A)


class SlogDetFn(Function):
    """(sign, log|det A|);  dA = d logabsdet * A^{-T} (the sign has no gradient)."""

    def forward(self, a):
        sign, logabs = _lin(a).slogdet(a)
        xp = backend.array_module(a)
        return xp.asarray(sign, dtype=a.dtype), xp.asarray(logabs, dtype=a.dtype)

    def backward(self, gsign, glog):
        (A,) = self.inputs
        return unsqueeze(unsqueeze(glog, -1), -1) * _mT(inv(A))


def slogdet(A: Tensor):
    """(sign, logabsdet) with det(A) = sign * exp(logabsdet): stable for tiny or huge determinants."""
    _check("slogdet", A)
    sign, logabs = SlogDetFn()(A)
    return SlogDet(sign.detach(), logabs)


class Det(Function):
    """y = det(A);  dA = dy * y * A^{-T} (A invertible)."""

    keep_outputs = True

    def forward(self, a):
        return backend.array_module(a).asarray(_lin(a).det(a), dtype=a.dtype)

    def backward(self, gy):
        (A,) = self.inputs
        s = unsqueeze(unsqueeze(gy * self.outputs[0], -1), -1)
        return s * _mT(inv(A))


def det(A: Tensor) -> Tensor:
    """The determinant of a square matrix (or a stack)."""
    _check("det", A)
    return Det()(A)


def logdet(A: Tensor) -> Tensor:
    """log det(A): nan where det < 0, -inf where det == 0;  dA = dy * A^{-T}."""
    _check("logdet", A)
    sign, logabs = SlogDetFn()(A)
    xp = A.xp
    bad = Tensor._wrap(xp.where(sign.array < 0, xp.asarray(np.nan, dtype=A.dtype), xp.zeros((), A.dtype)))
    return logabs + bad


class Solve(Function):
    """X = A^{-1} B;  dB = solve(A^T, dX),  dA = -dB X^T."""

    keep_outputs = True

    def forward(self, a, b):
        try:
            return _lin(a).solve(a, b)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.solve: the solver failed because the input matrix is singular") from None

    def backward(self, gx):
        A, B = self.inputs
        na, nb = self.needs_input_grad
        gb = Solve()(_mT(A), gx)  # A and B have the same batch dims here (solve() expands them)
        ga = -matmul(gb, _mT(self.outputs[0])) if na else None
        return ga, (gb if nb else None)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (``left=False``: X A = B). B may be a vector (..., n) or matrices (..., n, k);
    batch dims broadcast."""
    _check("solve", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve: B must be a Tensor, got {type(B).__name__}")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{A.dtype} and B of type {B.dtype} instead")
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    Bm = unsqueeze(B, -1) if vector else B
    if Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {Bm.shape[-2]}x{Bm.shape[-1]})")
    try:
        batch = tuple(np.broadcast_shapes(A.shape[:-2], Bm.shape[:-2]))
    except ValueError:
        raise RuntimeError(f"linalg.solve: the batch dims of A {A.shape} and B {B.shape} don't broadcast") from None
    Ab = A.expand(*(batch + A.shape[-2:])) if A.shape[:-2] != batch else A
    Bb = Bm.expand(*(batch + Bm.shape[-2:])) if Bm.shape[:-2] != batch else Bm
    X = Solve()(Ab, Bb)
    return X.squeeze(-1) if vector else X


# ---------------------------------------------------------------- cholesky, qr
class Cholesky(Function):
    """L = cholesky(A) (A = L L^T, L lower);
    dA = sym(L^{-T} Phi(L^T dL) L^{-1}), Phi = lower triangle with the diagonal halved, sym(X) = (X + X^T)/2."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, a):
        try:
            return _lin(a).cholesky(a)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is "
                              "not positive-definite") from None

    def backward(self, gl):
        L = self.outputs[0]
        phi = tril(matmul(_mT(L), gl))
        phi = phi - 0.5 * phi * _eye(phi, phi.shape[-1])
        Linv = inv(L)
        ga = matmul(matmul(_mT(Linv), phi), Linv)
        return 0.5 * (ga + _mT(ga))


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of a symmetric positive-definite matrix: A = L L^T (``upper``: A = U^T U)."""
    _check("cholesky", A)
    L = Cholesky()(A)
    return _mT(L) if upper else L


class QRFn(Function):
    """(Q, R) = qr(A), reduced, m >= n;  see the module docstring for dA."""

    saves_inputs = False
    keep_outputs = True

    def __init__(self, mode):
        self.mode = mode

    def forward(self, a):
        q, r = _lin(a).qr(a, mode=self.mode)
        return q, r

    def backward(self, gq, gr):
        Q, R = self.outputs
        m, n = Q.shape[-2], R.shape[-1]
        if self.mode == "complete" and m > n or m < n:
            raise NotImplementedError(f"linalg.qr: the derivative is implemented for mode='reduced' with m >= n "
                                      f"(or square matrices); got a {m} by {n} matrix in mode={self.mode!r}")
        qdq = matmul(_mT(Q), gq)
        rdr = matmul(R, _mT(gr))
        M = tril(qdq - _mT(qdq) + rdr - _mT(rdr))
        Rinv_t = _mT(inv(R))
        return matmul(Q, gr + matmul(M, Rinv_t)) + matmul(gq - matmul(Q, qdq), Rinv_t)


def qr(A: Tensor, mode: str = "reduced"):
    """A = Q R with orthonormal columns in Q and upper-triangular R; ``mode``: 'reduced' (Q is m x k,
    k = min(m, n)), 'complete' (Q is m x m) or 'r' (R only, Q an empty tensor)."""
    _check("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    if mode == "r":
        r = Tensor._wrap(_lin(A.array).qr(A.array, mode="r"))
        return QR(Tensor._wrap(A.xp.zeros((0,), dtype=A.dtype)), r)
    q, r = QRFn(mode)(A)
    return QR(q, r)


def qr_old(A: Tensor, some: bool = True):
    """``torch.qr``: (Q, R), reduced when ``some`` (the default), complete otherwise."""
    return qr(A, "reduced" if some else "complete")
