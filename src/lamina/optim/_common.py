"""Small pieces the optimizers share: argument checks, PyTorch's lerp, real views of complex arrays.

PyTorch's optimizers take ``foreach``, ``fused``, ``capturable`` and ``differentiable``. The first
three only choose an implementation (per-tensor loops, multi-tensor kernels, CUDA-graph-safe
code) of the same update; lamina has one implementation, so it accepts them, keeps them in the
parameter groups (where PyTorch's state dicts have them) and ignores them. ``differentiable=True``
asks for a graph through the update itself, which lamina's in-place updates never record, so it
is refused rather than silently ignored.
"""
from __future__ import annotations

from ..backend import array_module

IMPL_FLAGS_DOC = """foreach, capturable: accepted and ignored (in PyTorch they choose an implementation of
            the same update; lamina has one). ``differentiable=True`` is refused: lamina's
            updates run in place outside the autograd graph."""


def check_differentiable(opt, group: dict) -> None:
    if group.get("differentiable"):
        raise NotImplementedError(f"{opt._name}: differentiable=True (backpropagating through the optimizer "
                                  "step) is not supported; lamina updates parameters in place outside the graph")


def check_nonneg(opt, group: dict, *keys: str) -> None:
    """ValueError naming the optimizer and the first key of ``keys`` whose value is negative (or NaN)."""
    for key in keys:
        if not group[key] >= 0.0:
            opt._invalid(key, group[key], "must be >= 0")


def check_betas(opt, betas) -> None:
    """betas must be a pair with each beta in [0, 1), as in Adam."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        opt._invalid("betas", betas, "expected a pair (beta1, beta2)")
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"{opt._name}: invalid beta parameter at index {i}: betas={tuple(betas)} "
                             "(each beta must be in [0, 1))")


def real(array):
    """A complex array as a real view, its last axis twice as long (real and imaginary parts side by
    side, like torch.view_as_real); real arrays as they are.

    Elementwise optimizers treat the two parts of a complex parameter as two real numbers, as
    PyTorch does."""
    if array.dtype.kind != "c":
        return array
    try:
        a = array if array.ndim else array.reshape(1)
        return a.view(a.real.dtype)
    except ValueError:
        raise ValueError("complex parameters, gradients and states must have a contiguous last axis "
                         f"(got strides {array.strides} for shape {array.shape})") from None


def lerp_(a, b, w, tmp=None):
    """a = lerp(a, b, w) in place, with PyTorch's two formulas (a + w(b - a) if w < 0.5, else
    b - (b - a)(1 - w)), the weight in a's precision. ``tmp`` is an optional scratch buffer."""
    xp = array_module(a)
    w = a.dtype.type(w)
    tmp = xp.subtract(b, a, out=tmp)
    if abs(w) < 0.5:
        tmp *= w
        a += tmp
    else:
        tmp *= a.dtype.type(1) - w
        xp.subtract(b, tmp, out=a)
    return a


def grad_with_decay(p, g, maximize: bool, weight_decay: float):
    """-g if maximize, then g + weight_decay * p (a new array whenever it differs from g)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    return g
