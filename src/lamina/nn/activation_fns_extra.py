"""More activation functions: hard/shrink/threshold family, learned and random slopes, gates.

Formulas (dy the upstream gradient; gradients at the kinks follow PyTorch's kernels):

    hardswish    y = x relu6(x + 3) / 6          dx = dy * (0 if x <= -3, x/3 + 1/2 if x < 3, else 1)
    hardsigmoid  y = relu6(x + 3) / 6            dx = dy / 6 where -3 < x < 3, else 0
    hardshrink   y = x where |x| > l, else 0     dx = dy * [|x| > l]
    softshrink   y = x - clamp(x, -l, l)         dx = dy * [|x| > l]
    threshold    y = x where x > t, else v       dx = dy * [x > t]
    prelu        y = x if x > 0 else a_c x       dx = dy (1 or a_c), da_c = sum of dy x over x <= 0
    rrelu        y = x if x >= 0 else r x        r ~ U(lower, upper) per element in training,
                                                 r = (lower + upper) / 2 in eval
    celu         y = x if x > 0 else a (e^(x/a) - 1)
    glu          y = a * sigmoid(b)              (a, b the two halves of x along ``dim``)
    logsigmoid   y = -softplus(-x)
    softsign     y = x / (1 + |x|)
    tanhshrink   y = x - tanh(x)
    softmin      y = softmax(-x)

``inplace=True`` is accepted for PyTorch compatibility; the result is computed out of place
(lamina ops keep raw arrays for their backward, which an in-place write could corrupt).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..autograd import Function
from ..ops import elementwise as E
from ..tensor import Tensor
from .activation_fns import ELU, LeakyReLU, Softmax, Softplus, _check, _softmax_dim


# ---------------------------------------------------------------- hard family
class Hardswish(Function):
    """y = x clamp(x + 3, 0, 6) / 6;  dx = dy * (0 if x <= -3, x/3 + 1/2 if x < 3, else 1)."""

    def forward(self, x):
        xp = backend.array_module(x)
        t = x.dtype.type
        return x * xp.clip(x + t(3), t(0), t(6)) * t(1.0 / 6.0)

    def backward(self, gy):
        (x,) = self.inputs
        xa = x.array
        mid = Tensor._wrap((xa > -3) & (xa < 3))
        slope = E.where(mid, x * (1.0 / 3.0) + 0.5, Tensor._wrap((xa >= 3).astype(xa.dtype)))
        return gy * slope


class Hardsigmoid(Function):
    """y = clamp(x + 3, 0, 6) / 6;  dx = dy / 6 where -3 < x < 3, else 0."""

    saves_inputs = False

    def forward(self, x):
        xp = backend.array_module(x)
        t = x.dtype.type
        self.mask = (x > -3) & (x < 3)
        return xp.clip(x + t(3), t(0), t(6)) * t(1.0 / 6.0)

    def backward(self, gy):
        return E.mask_mul(gy, self.mask.astype(gy.dtype) * gy.dtype.type(1.0 / 6.0))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3).

    >>> F.hardswish(lamina.tensor([-4.0, 0.0, 1.0, 4.0]))     # [0, 0, 0.6667, 4]
    """
    return Hardswish()(_check(input, "hardswish"))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: a piecewise-linear sigmoid, 0 below -3 and 1 above 3."""
    return Hardsigmoid()(_check(input, "hardsigmoid"))


def _check_lambd(lambd, x: Tensor, name: str) -> None:
    if lambd < 0:
        raise RuntimeError(f"{name}: lambda must be in range [0, inf) for input dtype {x.dtype}, but found {lambd}")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0;  dx = dy * [|x| > lambd]."""
    x = _check(input, "hardshrink")
    return E.mask_mul(x, x.xp.abs(x.array) > lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0 (= x - clamp(x, -lambd, lambd))."""
    x = _check(input, "softshrink")
    _check_lambd(lambd, x, "softshrink")
    return x - E.clamp(x, -lambd, lambd)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value;  dx = dy * [x > threshold].

    >>> F.threshold(lamina.tensor([0.05, 0.5]), 0.1, 20.0)     # [20.0, 0.5]
    """
    x = _check(input, "threshold")
    return E.where(Tensor._wrap(x.array > threshold), x, float(value))


_threshold = threshold  # for threshold_, whose argument shadows the name


# ---------------------------------------------------------------- learned and random slopes
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else a_c x, with one learned slope per channel (dim 1) or one shared slope.

    input (N, C, *) with weight (C,) or (1,);  da_c = sum over x <= 0 of dy x.
    """
    x = _check(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: weight must be a Tensor, got {type(weight).__name__}")
    n = weight.numel()
    channels = x.shape[1] if x.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. Found parameter "
                           f"numbers = {n} and channel size = {channels}.")
    if weight.dtype != x.dtype:
        raise TypeError(f"prelu: weight dtype {weight.dtype} does not match input dtype {x.dtype}")
    if n == 1:
        a = weight.reshape(())
    else:
        a = weight.reshape((channels,) + (1,) * (x.ndim - 2))
    return E.where(Tensor._wrap(x.array > 0), x, x * a)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, generator=None) -> Tensor:
    """Randomized leaky ReLU: x if x >= 0 else r x.

    Training: r ~ U(lower, upper) per element, drawn from lamina's generator (``dx = dy r``);
    eval (the default for the function, as in PyTorch): r = (lower + upper) / 2.
    """
    x = _check(input, "rrelu")
    if lower > upper:
        raise RuntimeError(f"rrelu: Lower bound should be less than or equal to the upper bound "
                           f"(got lower={lower}, upper={upper})")
    if not training:
        return LeakyReLU((lower + upper) / 2)(x)
    r = np.asarray(backend.rng(generator).uniform(lower, upper, x.shape), dtype=x.dtype)
    if x.device.type != "cpu":  # pragma: no cover - needs a GPU
        r = backend.to_device(r, x.device)
    slope = x.xp.where(x.array <= 0, r, x.dtype.type(1))
    return E.mask_mul(x, slope)


# ---------------------------------------------------------------- smooth ones
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (e^(x/alpha) - 1): an ELU that stays C^1 for every alpha."""
    x = _check(input, "celu")
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return ELU(1.0, alpha)(x * (1.0 / alpha))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: a * sigmoid(b), with a, b the first and second halves of x along ``dim``.

    (*, 2n, *) -> (*, n, *).  >>> F.glu(lamina.randn(4, 6)).shape     # (4, 3)
    """
    x = _check(input, "glu")
    if x.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    nd = x.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"glu: dim {dim} is out of range for a tensor of shape {x.shape}")
    d = dim % nd
    if x.shape[d] % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {x.shape[d]}")
    a, b = x.chunk(2, d)
    return a * E.sigmoid(b)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    x = _check(input, "logsigmoid")
    return -Softplus(1.0, math.inf)(-x)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    x = _check(input, "softsign")
    return x / (E.abs(x) + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    x = _check(input, "tanhshrink")
    return x - E.tanh(x)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``: the smallest entries get the largest weights."""
    x = _check(input, "softmin")
    if dtype is not None:
        x = x.to(dtype)
    return Softmax(_softmax_dim(x, dim, "softmin"))(-x)


def softmax2d(input: Tensor) -> Tensor:
    """softmax over the channels of each pixel: (N, C, H, W) or (C, H, W), along dim -3."""
    x = _check(input, "Softmax2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D instead")
    return Softmax(x.ndim - 3)(x)


# ---------------------------------------------------------------- sampling
def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1,
                   generator=None) -> Tensor:
    """A differentiable sample from the categorical distribution softmax(logits) along ``dim``:

        y = softmax((logits + g) / tau),  g = -log(E), E ~ Exp(1)  (Gumbel(0, 1) noise from lamina's generator)

    ``hard=True`` returns the one-hot argmax of y in the forward pass while the gradient is
    that of the soft y (straight-through: y_hard - y.detach() + y).

    >>> F.gumbel_softmax(lamina.randn(4, 10), tau=0.5, hard=True).sum(-1)     # all 1
    """
    x = _check(logits, "gumbel_softmax")
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(f"gumbel_softmax: dim {dim} is out of range for a tensor of shape {x.shape}")
    e = np.asarray(backend.rng(generator).standard_exponential(x.shape))
    g = (-np.log(e)).astype(x.dtype)
    if x.device.type != "cpu":  # pragma: no cover - needs a GPU
        g = backend.to_device(g, x.device)
    z = (x + Tensor._wrap(g)) * (1.0 / tau)
    y_soft = Softmax(dim % nd if x.ndim else None)(z)
    if not hard:
        return y_soft
    xp = x.xp
    ya = y_soft.array
    d = dim % nd if x.ndim else 0
    idx = xp.expand_dims(ya.argmax(axis=d), d) if x.ndim else None
    y_hard = xp.zeros_like(ya)
    if x.ndim:
        xp.put_along_axis(y_hard, idx, 1, axis=d)
    else:
        y_hard[...] = 1
    return Tensor._wrap(y_hard) - y_soft.detach() + y_soft


# ---------------------------------------------------------------- explicit in-place variants (torch's F.relu_ ...)
def _in_place(x: Tensor, name: str, fn) -> Tensor:
    from ..ops.inplace import inplace

    return inplace(_check(x, name + "_"), fn, name=name)


def relu_(input: Tensor) -> Tensor:
    """max(x, 0) written into ``input`` (like ``input.relu_()``); returns ``input``."""
    return _in_place(input, "relu", E.relu)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """elu(x, alpha) written into ``input``."""
    return _in_place(input, "elu", lambda a: ELU(alpha, 1.0)(a))


def selu_(input: Tensor) -> Tensor:
    """selu(x) written into ``input``."""
    from .activation_fns import SELU_ALPHA, SELU_SCALE

    return _in_place(input, "selu", lambda a: ELU(SELU_ALPHA, SELU_SCALE)(a))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """celu(x, alpha) written into ``input``."""
    return _in_place(input, "celu", lambda a: celu(a, alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """leaky_relu(x, negative_slope) written into ``input``."""
    return _in_place(input, "leaky_relu", lambda a: LeakyReLU(negative_slope)(a))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """hardtanh(x, min_val, max_val) written into ``input``."""
    from .activation_fns import hardtanh

    return _in_place(input, "hardtanh", lambda a: hardtanh(a, min_val, max_val))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """threshold(x, threshold, value) written into ``input``."""
    th = threshold
    return _in_place(input, "threshold", lambda a: _threshold(a, th, value))


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
           generator=None) -> Tensor:
    """rrelu(x, lower, upper, training) written into ``input``."""
    return _in_place(input, "rrelu", lambda a: rrelu(a, lower, upper, training, generator=generator))
