"""Linear algebra: matmul in every NumPy case (1-D, 2-D, batched, broadcast), einsum, dot, outer.

matmul: y = a @ b;  da = dy @ b^T,  db = a^T @ dy  (with 1-D operands promoted and the
gradient summed over broadcast batch dimensions).
"""
from __future__ import annotations

import string

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._blas import batched_matmul, mm
from .broadcast import sum_to


class _SwapLast(Function):
    """y = x with its last two dimensions swapped (a view);  dx = dy swapped back."""

    saves_inputs = False

    def forward(self, x):
        return x.swapaxes(-1, -2)

    def backward(self, gy):
        return _SwapLast()(gy)


def _mT(x: Tensor) -> Tensor:
    return _SwapLast()(x)


class MatMul2D(Function):
    """y = a @ b for 2-D a (m, k) and b (k, n);  da = dy @ b^T,  db = a^T @ dy."""

    def forward(self, a, b):
        return mm(a, b)  # NumPy: rows or columns split over lamina's threads (see _blas.py)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (MatMul2D()(gy, _mT(b)) if na else None), (MatMul2D()(_mT(a), gy) if nb else None)


class MatMul(Function):
    """y = a @ b for a (..., m, k), b (..., k, n) with broadcast batch dims;
    da = sum_to(dy @ b^T, a.shape),  db = sum_to(a^T @ dy, b.shape)."""

    def forward(self, a, b):
        return batched_matmul(a, b)  # NumPy: small stacks on one BLAS thread per core (see _blas.py)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            ga = sum_to(matmul(gy, _mT(b)), a.shape)
        if nb:
            if b.ndim == 2:  # a shared weight: one GEMM over all batch rows, no batched sum
                k, n = b.shape
                gb = matmul(_mT(a.reshape(-1, k)), gy.reshape(-1, n))
            else:
                gb = sum_to(matmul(_mT(a), gy), b.shape)
        return ga, gb


class Dot(Function):
    """y = sum_i a_i b_i for 1-D a, b;  da = dy * b,  db = dy * a."""

    def forward(self, a, b):
        return backend.array_module(a).asarray(a @ b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (gy * b if na else None), (gy * a if nb else None)


def _check_operands(op: str, a, b) -> None:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, got {a.dtype} and {b.dtype} "
                           f"(shapes {a.shape} and {b.shape}); convert one with .to(dtype)")


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's rules: 1-D·1-D is a dot product, a 1-D operand is a row
    (left) or column (right) vector that is dropped from the result, and N-D operands are
    stacks of matrices whose batch dims broadcast: (j, 1, n, k) @ (r, k, m) -> (j, r, n, m).
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):  # ndarray @ Tensor, nested lists
        a, b = _as_tensors(a, b)
    if a.ndim == 2 and b.ndim == 2:  # the hot path: no reshapes, no copies
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({a.shape[1]} != {b.shape[0]})")
        if a.dtype != b.dtype:
            _check_operands("matmul", a, b)
        return MatMul2D()(a, b)
    _check_operands("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({ka} != {kb})")
    if a.ndim == 1 and b.ndim == 1:
        return Dot()(a, b)
    try:
        batch = _broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} of shapes {a.shape} and "
                         f"{b.shape} cannot be broadcast together") from None
    if a.ndim == 1:
        y = matmul(a.reshape(1, ka), b)
        return y.reshape(batch + (b.shape[-1],))
    if b.ndim == 1:
        if a.ndim == 2:
            return MatMul2D()(a, b.reshape(kb, 1)).reshape(a.shape[0])
        return MatMul()(a, b.reshape(kb, 1)).reshape(a.shape[:-1])
    return MatMul()(a, b)


def _as_tensors(a, b):
    from .promotion import as_tensor_like

    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected Tensors, got {type(a).__name__} and {type(b).__name__}")
    return (as_tensor_like(a, b), b) if isinstance(b, Tensor) else (a, as_tensor_like(b, a))


def _broadcast_shapes(s1: tuple, s2: tuple) -> tuple:
    out = []
    for i in range(1, max(len(s1), len(s2)) + 1):
        x = s1[-i] if i <= len(s1) else 1
        y = s2[-i] if i <= len(s2) else 1
        if x != y and x != 1 and y != 1:
            raise ValueError
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length: y = sum_i a_i b_i."""
    _check_operands("dot", a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise RuntimeError(f"dot: the vectors have different lengths {a.shape[0]} and {b.shape[0]}")
    return Dot()(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Outer product of 1-D a (n,) and b (m,): y_ij = a_i b_j, shape (n, m)."""
    _check_operands("outer", a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


# ---------------------------------------------------------------- einsum
class Einsum(Function):
    """y = einsum('subs_0,...,subs_n->out', x_0, ..., x_n) (explicit letters, no ellipsis);
    dx_i = einsum('out,subs_j (j != i)->subs_i', dy, x_j ...), with an identity matrix for a
    repeated letter (diagonal/trace), a vector of ones for a letter summed only in x_i, and a
    sum for a size-1 dimension that was broadcast.
    """

    def __init__(self, subs, out, sizes):
        self.subs, self.out, self.sizes = tuple(subs), out, sizes

    def forward(self, *arrays):
        xp = backend.array_module(arrays[0])
        y = xp.einsum(",".join(self.subs) + "->" + self.out, *arrays, optimize=len(arrays) > 1)
        if not isinstance(y, xp.ndarray):
            y = xp.asarray(y)
        elif any(xp.may_share_memory(y, a) for a in arrays):  # 'ij->ji' gives a view: own the data
            y = y.copy()
        return y

    def backward(self, gy):
        used = set("".join(self.subs) + self.out)
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            grads.append(self._grad_input(i, gy, used) if need else None)
        return tuple(grads)

    def _grad_input(self, i, gy, used):
        xs, subs, sizes = self.inputs, self.subs, dict(self.sizes)
        xp, dt = gy.xp, gy.dtype
        fresh = (c for c in string.ascii_letters if c not in used)
        op_subs = [self.out] + [s for j, s in enumerate(subs) if j != i]
        ops = [gy] + [x for j, x in enumerate(xs) if j != i]
        target, seen, squeezed = [], set(), False
        for l, n in zip(subs[i], xs[i].shape):
            if n == 1 and sizes[l] > 1:  # broadcast in the forward: summed here, size 1 restored below
                squeezed = True
            elif l in seen:  # repeated letter: put the gradient on the diagonal
                f = next(fresh)
                sizes[f] = sizes[l]
                op_subs.append(l + f)
                ops.append(Tensor._wrap(xp.eye(sizes[l], dtype=dt)))
                target.append(f)
            else:
                seen.add(l)
                target.append(l)
        avail = set("".join(op_subs))
        for l in target:
            if l not in avail:  # summed over in the forward and only x_i had it: broadcast back
                op_subs.append(l)
                ops.append(Tensor._wrap(xp.ones(sizes[l], dtype=dt)))
                avail.add(l)
        g = Einsum(op_subs, "".join(target), sizes)(*ops)
        return g.reshape(xs[i].shape) if squeezed else g


def _parse_einsum(equation: str, shapes: list) -> tuple:
    """Explicit subscripts (ellipsis expanded into fresh letters), the output and letter sizes."""
    eq = equation.replace(" ", "")
    bad = set(eq) - set(string.ascii_letters) - set(".,->")
    if bad:
        raise ValueError(f"einsum: invalid character(s) {sorted(bad)} in equation {equation!r}; "
                         "subscripts must be letters a-z, A-Z (and '...')")
    if eq.count("->") > 1:
        raise ValueError(f"einsum: equation {equation!r} has more than one '->'")
    lhs, out = eq.split("->") if "->" in eq else (eq, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: equation {equation!r} names {len(terms)} operand(s) but {len(shapes)} "
                         "tensor(s) were given")
    used = set(eq) - set(".,->")
    n_ell = []
    for k, (t, shape) in enumerate(zip(terms, shapes)):
        if t.replace("...", "").count(".") or t.count("...") > 1:
            raise ValueError(f"einsum: bad ellipsis in subscripts {t!r} of equation {equation!r}")
        named = len(t) - 3 if "..." in t else len(t)
        extra = len(shape) - named
        if extra < 0 or (extra and "..." not in t):
            raise ValueError(f"einsum: subscripts {t!r} of operand {k} name {named} dimension(s) but the operand "
                             f"has shape {tuple(shape)}")
        n_ell.append(extra)
    ell = [c for c in string.ascii_letters if c not in used][:max(n_ell, default=0)]
    terms = [t.replace("...", "".join(ell[len(ell) - e:]) if e else "") for t, e in zip(terms, n_ell)]
    if out is None:
        counts = {c: "".join(terms).count(c) for c in used}
        out = "".join(ell) + "".join(sorted(c for c in used if counts[c] == 1))
    else:
        if out.replace("...", "").count("."):
            raise ValueError(f"einsum: bad ellipsis in the output of equation {equation!r}")
        out = out.replace("...", "".join(ell))
    sizes = {}
    for k, (t, shape) in enumerate(zip(terms, shapes)):
        for l in set(t):
            if t.count(l) > 1 and len({n for c, n in zip(t, shape) if c == l}) > 1:
                raise ValueError(f"einsum: repeated subscript {l!r} of operand {k} labels dimensions of "
                                 f"different sizes (shape {tuple(shape)})")
        for l, n in zip(t, shape):
            m = sizes.get(l)
            if m is None or m == 1:
                sizes[l] = n
            elif n != m and n != 1:
                raise ValueError(f"einsum: subscript {l!r} has size {n} in operand {k} (shape {tuple(shape)}) "
                                 f"but size {m} elsewhere, in equation {equation!r}")
    for l in out:
        if out.count(l) > 1:
            raise ValueError(f"einsum: output subscript {l!r} appears more than once in {equation!r}")
        if l not in sizes:
            raise ValueError(f"einsum: output subscript {l!r} does not appear in any operand of {equation!r}")
    return terms, out, sizes


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, as ``torch.einsum``: ``einsum('bij,bjk->bik', a, b)``.

    Letters name dimensions; letters absent from the output (after '->', or implicitly the
    letters that appear once, sorted) are summed over; '...' stands for broadcast dimensions.
    The gradient of each operand is another einsum (see ``Einsum``).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError("einsum: the first argument must be the equation string (the sublist form is not supported)")
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    for k, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {k} is a {type(t).__name__}, expected a Tensor")
        if t.dtype != operands[0].dtype:
            raise RuntimeError(f"einsum: operands have different dtypes ({operands[0].dtype} and {t.dtype}); "
                               "convert them to one dtype first")
    terms, out, sizes = _parse_einsum(equation, [t.shape for t in operands])
    return Einsum(terms, out, sizes)(*operands)
