"""Products built on matmul: mm/bmm/mv, the fused add-products (addmm, addmv, addbmm, baddbmm,
addr), vdot, inner, tensordot, kron, cross, matrix_power, chain_matmul.

All are compositions of ``matmul``, reshapes and elementwise ops, so their gradients follow:

    addmm(x, A, B, beta, alpha) = beta x + alpha A @ B    dx = beta dy,  dA = alpha dy B^T,  dB = alpha A^T dy
    tensordot(a, b, dims)        = the contraction of a's last and b's first ``dims`` dims (one matmul)
    cross(a, b)                  = (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0) along ``dim``

    >>> lamina.addmm(lamina.zeros(2, 2), lamina.eye(2), lamina.ones(2, 2), alpha=3)   # all 3s
"""
from __future__ import annotations

import math
import numbers
import operator

from ..tensor import Tensor
from .arithmetic import add, mul, sub, where
from .broadcast import broadcast_to
from .decompositions import inv
from .linalg import dot, matmul, outer
from .shape import norm_dim, permute, reshape, stack
from .shape_join import broadcast_tensors
from .shape_views import unbind


def _need(op: str, t, what: str = "argument") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")


def _same_dtype(op: str, *ts) -> None:
    dts = {t.dtype for t in ts}
    if len(dts) > 1:
        raise RuntimeError(f"{op}: expected all tensors to have the same dtype, got {', '.join(str(t.dtype) for t in ts)}")


# ---------------------------------------------------------------- plain products with shape checks
def mm(a: Tensor, b: Tensor) -> Tensor:
    """The matrix product of 2-D a (n, k) and b (k, m)."""
    _need("mm", a), _need("mm", b)
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected two matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product of 3-D a (B, n, k) and b (B, k, m) (no broadcasting)."""
    _need("bmm", a), _need("bmm", b)
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm: batch1 and batch2 must be 3-D tensors, got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"bmm: shapes {a.shape} and {b.shape} don't match: expected (B, n, k) and (B, k, m)")
    return matmul(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    """The matrix-vector product of a (n, k) and v (k,): shape (n,)."""
    _need("mv", a), _need("mv", v)
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"mv: vector + matrix @ vector expected, got shapes {a.shape} and {v.shape}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f"mv: size mismatch, got mat ({a.shape[0]}x{a.shape[1]}), vec ({v.shape[0]})")
    return matmul(a, v)


def vdot(a: Tensor, b: Tensor) -> Tensor:
    """sum_i conj(a_i) b_i of two 1-D tensors (= dot for real tensors)."""
    _need("vdot", a), _need("vdot", b)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"vdot: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    return dot(a, b)


# ---------------------------------------------------------------- fused add-products
def _scaled_sum(op: str, x: Tensor, prod: Tensor, beta, alpha) -> Tensor:
    """beta * x + alpha * prod, with x broadcast to prod's shape; beta == 0 ignores x (NaNs too)."""
    _same_dtype(op, x, prod)
    try:
        x = broadcast_to(x, prod.shape)
    except ValueError:
        raise RuntimeError(f"{op}: the input of shape {x.shape} cannot be broadcast to the product's shape "
                           f"{prod.shape}") from None
    p = prod if alpha == 1 else mul(prod, alpha)
    if beta == 0:  # x is ignored (its NaNs too) but still gets a (zero) gradient, as in PyTorch
        return where(p.xp.ones(p.shape, dtype=bool), p, x)
    return add(x if beta == 1 else mul(x, beta), p)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """y = beta * input + alpha * mat1 @ mat2 (input broadcast to (n, m))."""
    _need("addmm", input, "input")
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """y = beta * input + alpha * mat @ vec."""
    _need("addmv", input, "input")
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """y = beta * input + alpha * batch1 @ batch2, batch by batch: (B, n, m)."""
    _need("baddbmm", input, "input")
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """y = beta * input + alpha * sum_b batch1[b] @ batch2[b]: (n, m); the batch sum is one GEMM
    over the concatenated inner dims."""
    _need("addbmm", input, "input")
    prod = bmm(batch1, batch2)  # checks the shapes
    B, n, k = batch1.shape
    m = batch2.shape[2]
    flat = matmul(reshape(permute(batch1, 1, 0, 2), n, B * k), reshape(batch2, B * k, m)) if B else prod.sum(0)
    return _scaled_sum("addbmm", input, flat, beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """y = beta * input + alpha * outer(vec1, vec2)."""
    _need("addr", input, "input")
    for v in (vec1, vec2):
        _need("addr", v)
        if v.ndim != 1:
            raise RuntimeError(f"addr: expected 1-D vectors, got shapes {vec1.shape} and {vec2.shape}")
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


# ---------------------------------------------------------------- contractions
def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract a's dims ``dims[0]`` with b's ``dims[1]`` (an int n means a's last n with b's first n);
    the result has a's free dims, then b's."""
    _need("tensordot", a), _need("tensordot", b)
    _same_dtype("tensordot", a, b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, numbers.Integral):
        n = operator.index(dims)
        if n < 0:
            raise RuntimeError(f"tensordot: tensordot expects dims >= 0, but got dims={n}")
        if n > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot: dims={n} is larger than the number of dims of {a.shape} or {b.shape}")
        da, db = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        da, db = dims
        da = [da] if isinstance(da, numbers.Integral) else list(da)
        db = [db] if isinstance(db, numbers.Integral) else list(db)
        if len(da) != len(db):
            raise RuntimeError(f"tensordot: both dimension lists should have same length, got {da} and {db}")
        da = [norm_dim(d, a.shape, "tensordot") for d in da]
        db = [norm_dim(d, b.shape, "tensordot") for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has size {a.shape[i]} "
                               f"in dim {i} and second has size {b.shape[j]} in dim {j}")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    am = reshape(permute(a, fa + da), math.prod(a.shape[d] for d in fa), k)
    bm = reshape(permute(b, db + fb), k, math.prod(b.shape[d] for d in fb))
    return reshape(matmul(am, bm), tuple(a.shape[d] for d in fa) + tuple(b.shape[d] for d in fb))


def inner(a: Tensor, b: Tensor) -> Tensor:
    """Sum over the last dims: shape a.shape[:-1] + b.shape[:-1] (a 0-d operand scales the other)."""
    _need("inner", a), _need("inner", b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.dtype != b.dtype:
        raise RuntimeError(f"inner: both inputs should have same dtype, got {a.dtype} and {b.dtype}")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"inner: the last dims of a {a.shape} and b {b.shape} must match")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def kron(a: Tensor, b: Tensor) -> Tensor:
    """The Kronecker product: y[i*p + k, j*q + l] = a[i, j] b[k, l] (any number of dims)."""
    _need("kron", a), _need("kron", b)
    n = max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + a.shape
    sb = (1,) * (n - b.ndim) + b.shape
    ai = reshape(a, sum(((s, 1) for s in sa), ()))
    bi = reshape(b, sum(((1, s) for s in sb), ()))
    return reshape(mul(ai, bi), tuple(p * q for p, q in zip(sa, sb)))


def cross(a: Tensor, b: Tensor, dim: int | None = None) -> Tensor:
    """The 3-D cross product along ``dim`` (by default the first dim of size 3, as torch.cross;
    ``linalg.cross`` uses -1); a and b broadcast."""
    _need("cross", a), _need("cross", b)
    _same_dtype("cross", a, b)
    if a.ndim != b.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got shapes {a.shape} "
                           f"and {b.shape}")
    try:
        a, b = broadcast_tensors(a, b)
    except RuntimeError:
        raise RuntimeError(f"linalg.cross: the shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    if dim is None:
        dims3 = [d for d, s in enumerate(a.shape) if s == 3]
        if not dims3:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shape {a.shape})")
        d = dims3[0]
    else:
        d = norm_dim(dim, a.shape, "cross")
    if a.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[d]} and "
                           f"{b.shape[d]}")
    a0, a1, a2 = unbind(a, d)
    b0, b1, b2 = unbind(b, d)
    return stack([sub(a1 * b2, a2 * b1), sub(a2 * b0, a0 * b2), sub(a0 * b1, a1 * b0)], d)


# ---------------------------------------------------------------- powers and chains
def matrix_power(a: Tensor, n: int) -> Tensor:
    """a @ a @ ... @ a (n times, by repeated squaring) for square (batches of) matrices; n = 0 gives
    the identity, n < 0 powers of the inverse."""
    _need("matrix_power", a)
    n = operator.index(n)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        shape = a.shape[-2:] if a.ndim >= 2 else a.shape
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{' by '.join(str(s) for s in shape)} matrices")
    if n == 0:
        eye = a.xp.eye(a.shape[-1], dtype=a.dtype)
        return Tensor._wrap(a.xp.broadcast_to(eye, a.shape).copy())
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def chain_matmul(*matrices) -> Tensor:
    """m_1 @ m_2 @ ... @ m_k of 2-D tensors (``linalg.multi_dot``'s older name)."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        _need("chain_matmul", m)
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul(): Tensor dimension is {m.ndim}, expected 2 instead")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)


def multi_dot(tensors) -> Tensor:
    """The product of a chain of matrices (the first may be 1-D, a row; the last 1-D, a column),
    multiplied left to right."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out

