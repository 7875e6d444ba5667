"""Spectral decompositions and what is built on them: svd, svdvals, eigh, eigvalsh, pinv,
matrix_rank, lstsq (NumPy's / CuPy's LAPACK kernels on stacks of matrices).

    U, S, Vh = svd(A)  (reduced, k = min(m, n)), with F_ij = 1/(s_j^2 - s_i^2) off the diagonal:
        dA = U [ (F o (U^T dU - dU^T U)) S + diag(dS) + S (F o (V^T dV - dV^T V)) ] Vh
             + (I - U U^T) dU S^{-1} Vh + U S^{-1} dV^T (I - V V^T)
    w, V = eigh(A):  dA = V [ diag(dw) + (V^T dV - dV^T V) / (2 (w_j - w_i)) ] V^T
    P = pinv(A):     dA = -P^T dP P^T + (I - A P) dP^T P P^T + P^T P dP^T (I - P A)

Singular- and eigenvector gradients are finite only for distinct values (as in PyTorch).

    >>> U, S, Vh = lamina.linalg.svd(lamina.randn(4, 3), full_matrices=False)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .decompositions import _check, _eye, _mT
from .linalg import matmul
from .shape import unsqueeze

SVD = namedtuple("svd", ["U", "S", "Vh"])
SVDOld = namedtuple("svd", ["U", "S", "V"])
Eigh = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
LstSq = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])


def _lin(x):
    return backend.array_module(x).linalg


def _diag(v: Tensor) -> Tensor:
    """(..., k) -> (..., k, k) with v on the diagonal (differentiable)."""
    return unsqueeze(v, -1) * _eye(v, v.shape[-1])


def _off_diag_inverse(d: Tensor) -> Tensor:
    """1 / d off the diagonal, 0 on it (d's diagonal is ignored)."""
    eye = _eye(d, d.shape[-1])
    return (1.0 - eye) / (d + eye)


# ---------------------------------------------------------------- SVD
class SVDFn(Function):
    """(U, S, Vh) = svd(A) with full_matrices=False (k = min(m, n)); dA in the module docstring."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, a):
        u, s, vh = _lin(a).svd(a, full_matrices=False)
        return u, s, vh

    def backward(self, gu, gs, gvh):
        U, S, Vh = self.outputs
        m, n, k = U.shape[-2], Vh.shape[-1], S.shape[-1]
        V, gv = _mT(Vh), _mT(gvh)
        s2 = S * S
        F = _off_diag_inverse(unsqueeze(s2, -2) - unsqueeze(s2, -1))
        utgu = matmul(_mT(U), gu)
        vtgv = matmul(_mT(V), gv)
        J = F * (utgu - _mT(utgu))
        K = F * (vtgv - _mT(vtgv))
        inner = J * unsqueeze(S, -2) + unsqueeze(S, -1) * K + _diag(gs)
        ga = matmul(matmul(U, inner), Vh)
        s_inv = 1.0 / S
        if m > k:
            ga = ga + matmul((gu - matmul(U, utgu)) * unsqueeze(s_inv, -2), Vh)
        if n > k:
            ga = ga + matmul(U * unsqueeze(s_inv, -2), _mT(gv - matmul(V, vtgv)))
        return ga


class SVDValsFn(Function):
    """S = singular values of A;  dA = U diag(dS) Vh."""

    saves_inputs = False

    def forward(self, a):
        u, s, vh = _lin(a).svd(a, full_matrices=False)
        self.u, self.vh = u, vh
        return s

    def backward(self, gs):
        return matmul(Tensor._wrap(self.u) * unsqueeze(gs, -2), Tensor._wrap(self.vh))


def svd(A: Tensor, full_matrices: bool = True):
    """A = U diag(S) Vh (``torch.linalg.svd``): S descending; with ``full_matrices=False`` U is m x k
    and Vh k x n (k = min(m, n)). Gradients need full_matrices=False or square matrices."""
    _check("svd", A, square=False)
    m, n = A.shape[-2:]
    if full_matrices and m != n:
        u, s, vh = _lin(A.array).svd(A.array, full_matrices=True)
        if A.requires_grad:
            raise NotImplementedError("linalg.svd: the derivative is not implemented for full_matrices=True with "
                                      f"a non-square ({m} by {n}) input; pass full_matrices=False")
        return SVD(Tensor._wrap(u), Tensor._wrap(s), Tensor._wrap(vh))
    return SVD(*SVDFn()(A))


def svd_old(A: Tensor, some: bool = True, compute_uv: bool = True):
    """``torch.svd``: (U, S, V) with V (not Vh); ``some=False`` gives the full U and V."""
    if not compute_uv:
        S = svdvals(A)
        k = S.shape[-1]
        z = A.xp.zeros
        return SVDOld(Tensor._wrap(z(A.shape[:-2] + (A.shape[-2], k), A.dtype)), S,
                      Tensor._wrap(z(A.shape[:-2] + (A.shape[-1], k), A.dtype)))
    U, S, Vh = svd(A, full_matrices=not some)
    return SVDOld(U, S, _mT(Vh))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of A, descending: shape (..., min(m, n))."""
    _check("svdvals", A, square=False)
    return SVDValsFn()(A)


# ---------------------------------------------------------------- symmetric eigenproblem
class EighFn(Function):
    """(w, V) = eigh(A) (ascending w, orthonormal V);  dA in the module docstring."""

    saves_inputs = False
    keep_outputs = True

    def __init__(self, uplo):
        self.uplo = uplo

    def forward(self, a):
        w, v = _lin(a).eigh(a, UPLO=self.uplo)
        return w, v

    def backward(self, gw, gv):
        w, V = self.outputs
        vtgv = matmul(_mT(V), gv)
        E = unsqueeze(w, -2) - unsqueeze(w, -1)  # E_ij = w_j - w_i
        inner = 0.5 * (vtgv - _mT(vtgv)) * _off_diag_inverse(E) + _diag(gw)
        return matmul(matmul(V, inner), _mT(V))


class EigvalshFn(Function):
    """w = eigenvalues of symmetric A;  dA = V diag(dw) V^T."""

    saves_inputs = False

    def __init__(self, uplo):
        self.uplo = uplo

    def forward(self, a):
        w, v = _lin(a).eigh(a, UPLO=self.uplo)
        self.v = v
        return w

    def backward(self, gw):
        V = Tensor._wrap(self.v)
        return matmul(V * unsqueeze(gw, -2), _mT(V))


def _uplo(op: str, UPLO: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.{op}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO


def eigh(A: Tensor, UPLO: str = "L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix, read from its
    lower (``UPLO='L'``) or upper triangle: A = V diag(w) V^T."""
    _check("eigh", A)
    return Eigh(*EighFn(_uplo("eigh", UPLO))(A))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of a symmetric matrix."""
    _check("eigvalsh", A)
    return EigvalshFn(_uplo("eigvalsh", UPLO))(A)


# ---------------------------------------------------------------- pseudo-inverse, rank, least squares
def _tolerance(xp, s, atol, rtol, m, n, dtype):
    """max(atol, rtol * s_max) per matrix, with PyTorch's defaults (rtol = eps * max(m, n) when both are None)."""
    smax = s[..., :1] if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    eps = np.finfo(dtype).eps
    if atol is None and rtol is None:
        rtol = eps * max(m, n)
    atol = 0.0 if atol is None else atol
    rtol = 0.0 if rtol is None else rtol
    return xp.maximum(atol, rtol * smax)


class Pinv(Function):
    """P = A^+ (singular values <= tol dropped);  dA in the module docstring (constant rank)."""

    keep_outputs = True

    def __init__(self, atol, rtol, hermitian):
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian

    def forward(self, a):
        xp = backend.array_module(a)
        u, s, vh = _lin(a).svd(a, full_matrices=False)
        tol = _tolerance(xp, s, self.atol, self.rtol, a.shape[-2], a.shape[-1], a.dtype)
        keep = s > tol
        s_inv = xp.where(keep, 1.0 / xp.where(keep, s, 1), 0).astype(a.dtype)
        return xp.matmul(xp.swapaxes(vh, -1, -2) * s_inv[..., None, :], xp.swapaxes(u, -1, -2))

    def backward(self, gp):
        (A,) = self.inputs
        P = self.outputs[0]
        m, n = A.shape[-2], A.shape[-1]
        Pt, gpt = _mT(P), _mT(gp)
        ga = -matmul(matmul(Pt, gp), Pt)
        ga = ga + matmul(matmul(_eye(A, m) - matmul(A, P), gpt), matmul(P, Pt))
        ga = ga + matmul(matmul(Pt, P), matmul(gpt, _eye(A, n) - matmul(P, A)))
        return ga


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse (n x m for an m x n A), dropping singular values below
    max(atol, rtol * s_max) (default rtol = eps * max(m, n))."""
    _check("pinv", A, square=False)
    return Pinv(atol, rtol, hermitian)(A)


def pinverse(A: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: the pseudo-inverse with singular values below rcond * s_max dropped."""
    return pinv(A, rtol=rcond)


def matrix_rank(A: Tensor, tol=None, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values above max(atol, rtol * s_max) (int64, one per matrix)."""
    _check("matrix_rank", A, square=False)
    if tol is not None:
        atol, rtol = tol, 0.0
    xp = A.xp
    s = _lin(A.array).svd(A.array, compute_uv=False)
    t = _tolerance(xp, s, atol, rtol, A.shape[-2], A.shape[-1], A.dtype)
    return Tensor._wrap(xp.asarray((s > t).sum(-1), dtype=np.int64))


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver: str | None = None):
    """The least-squares solution X = argmin ||A X - B|| (minimum norm when A is rank-deficient),
    as ``torch.linalg.lstsq``: (solution, residuals, rank, singular_values). The default driver
    ('gelsy') gives the rank and leaves residuals and singular_values empty; 'gelsd'/'gelss' also
    give the singular values and, for tall full-rank A, the squared residuals. Gradients flow
    into the solution (through the pseudo-inverse)."""
    _check("lstsq", A, square=False)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), "
                           f"got {driver}")
    if not isinstance(B, Tensor) or B.dtype != A.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected B to be a Tensor of dtype {A.dtype}, got "
                           f"{getattr(B, 'dtype', type(B).__name__)}")
    vector = B.ndim == A.ndim - 1
    Bm = unsqueeze(B, -1) if vector else B
    m, n = A.shape[-2:]
    if Bm.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), got {m} and "
                           f"{Bm.shape[-2]}")
    rt = rcond if rcond is not None else None
    X = matmul(pinv(A, rtol=rt), Bm)
    xp, dt = A.xp, A.dtype
    empty = Tensor._wrap(xp.zeros((0,), dtype=dt))
    s = _lin(A.array).svd(A.array, compute_uv=False)
    rank = matrix_rank(A, rtol=rt) if driver != "gels" else Tensor._wrap(xp.zeros((0,), dtype=np.int64))
    sv = Tensor._wrap(s) if driver in ("gelsd", "gelss") else empty
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank.array == n).all() if rank.numel() else True):
        r = matmul(A, X) - Bm
        residuals = (r * r).sum(-2).detach()
    return LstSq(X.squeeze(-1) if vector else X, residuals, rank, sv)


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int = 2, M: Tensor | None = None):
    """The ``q`` leading singular triplets (U, S, V) of A - M (V, not Vh, as ``torch.svd_lowrank``).
    Computed exactly from the full SVD (PyTorch's is a randomized approximation of the same)."""
    if M is not None:
        A = A - M
    k = min(6 if q is None else int(q), A.shape[-2], A.shape[-1])
    U, S, Vh = svd(A, full_matrices=False)
    return SVDOld(U[..., :k], S[..., :k], _mT(Vh)[..., :k])


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2):
    """(U, S, V) of the (column-centred) data matrix A, with q = min(6, m, n) components by default."""
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else int(q)
    if center:
        A = A - A.mean(-2, keepdim=True)
    return svd_lowrank(A, q, niter)
