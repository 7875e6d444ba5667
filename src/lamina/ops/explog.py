"""Exponentials and logarithms in other bases and forms: log2, log10, exp2, logaddexp(2), xlogy,
logit, float_power.

    >>> lamina.logaddexp(lamina.tensor([0.0]), lamina.tensor([0.0]))   # tensor([0.6931]) = log 2
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .arithmetic import pow, where
from .broadcast import sum_to
from .cast import astype
from .promotion import _is_number, as_float, float_operands, self_xp
from .unary import clamp, float_unary, log, log1p, sigmoid

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_F64 = np.dtype("float64")


class Log2(Function):
    """y = log2(x);  dx = dy / (x ln 2)."""

    def forward(self, x):
        return self_xp(x).log2(x)

    def backward(self, gy):
        return gy / (self.inputs[0] * _LN2)


class Log10(Function):
    """y = log10(x);  dx = dy / (x ln 10)."""

    def forward(self, x):
        return self_xp(x).log10(x)

    def backward(self, gy):
        return gy / (self.inputs[0] * _LN10)


class Exp2(Function):
    """y = 2**x;  dx = dy * y * ln 2."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).exp2(x)

    def backward(self, gy):
        return gy * (self.outputs[0] * _LN2)


log2 = float_unary(Log2, "log2")
log10 = float_unary(Log10, "log10")
exp2 = float_unary(Exp2, "exp2")


class LogAddExp(Function):
    """y = log(exp(a) + exp(b));  da = dy * sigmoid(a - b),  db = dy * sigmoid(b - a)."""

    def forward(self, a, b):
        return self_xp(a).logaddexp(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        d = a - b
        return (sum_to(gy * sigmoid(d), a.shape) if na else None), (sum_to(gy * sigmoid(-d), b.shape) if nb else None)


class LogAddExp2(Function):
    """y = log2(2**a + 2**b);  da = dy * sigmoid((a - b) ln 2),  db = dy * sigmoid((b - a) ln 2)."""

    def forward(self, a, b):
        return self_xp(a).logaddexp2(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        d = (a - b) * _LN2
        return (sum_to(gy * sigmoid(d), a.shape) if na else None), (sum_to(gy * sigmoid(-d), b.shape) if nb else None)


def logaddexp(input, other) -> Tensor:
    """y = log(exp(input) + exp(other)) computed without overflow (broadcast)."""
    a, b = float_operands(input, other, "logaddexp")
    return LogAddExp()(a, b)


def logaddexp2(input, other) -> Tensor:
    """y = log2(2**input + 2**other) computed without overflow (broadcast)."""
    a, b = float_operands(input, other, "logaddexp2")
    return LogAddExp2()(a, b)


class XLogY(Function):
    """y = x * log(o), 0 where x == 0 (unless o is nan);
    dx = xlogy(dy, o), 0 where x == 0 and o <= 0 (as PyTorch),  do = dy * x / o."""

    def forward(self, x, o):
        xp = self_xp(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x * xp.log(o)
        return xp.where((x == 0) & ~xp.isnan(o), xp.zeros((), dtype=out.dtype), out)

    def backward(self, gy):
        x, o = self.inputs
        nx, no = self.needs_input_grad
        gx = go = None
        if nx:
            xp = gy.xp
            g = xlogy(gy, o)
            dead = xp.broadcast_to((x.array == 0) & (o.array <= 0), g.shape)
            gx = sum_to(where(dead, 0.0, g), x.shape)
        if no:
            go = sum_to(gy * x / o, o.shape)
        return gx, go


def xlogy(input, other) -> Tensor:
    """y = input * log(other), with 0 where input == 0 (the convention of entropy terms); either
    argument may be a Python number."""
    x, o = float_operands(input, other, "xlogy")
    return XLogY()(x, o)


def logit(x: Tensor, eps: float | None = None) -> Tensor:
    """y = log(z / (1 - z)) with z = clamp(x, eps, 1 - eps) when ``eps`` is given (else z = x);
    dx = dy / (z (1 - z)) inside [eps, 1 - eps], 0 outside."""
    x = as_float(x, "logit")
    z = x if eps is None else clamp(x, eps, 1.0 - eps)
    return log(z) - log1p(-z)


def float_power(input, exponent) -> Tensor:
    """input ** exponent computed in float64 (the result is float64, as ``torch.float_power``);
    gradients as for ``pow``, cast back to each input's dtype."""
    if isinstance(input, Tensor):
        base = astype(input, _F64)
        if _is_number(exponent):
            return pow(base, float(exponent))
        if not isinstance(exponent, Tensor):
            raise TypeError(f"float_power: exponent must be a number or a Tensor, got {type(exponent).__name__}")
        return pow(base, astype(exponent, _F64))
    if not isinstance(exponent, Tensor):
        raise TypeError(f"float_power: expected a Tensor argument, got {type(input).__name__} and "
                        f"{type(exponent).__name__}")
    if not _is_number(input):
        raise TypeError(f"float_power: input must be a number or a Tensor, got {type(input).__name__}")
    e = astype(exponent, _F64)
    return pow(Tensor._wrap(e.xp.asarray(float(input), dtype=_F64)), e)



class XLog1PY(Function):
    """y = x * log1p(o), 0 where x == 0 (unless o is nan);
    dx = dy * log1p(o), 0 where x == 0 and o <= -1 (as PyTorch),  do = dy * x / (1 + o)."""

    def forward(self, x, o):
        xp = self_xp(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x * xp.log1p(o)
        return xp.where((x == 0) & ~xp.isnan(o), xp.zeros((), dtype=out.dtype), out)

    def backward(self, gy):
        x, o = self.inputs
        nx, no = self.needs_input_grad
        gx = go = None
        if nx:
            dead = gy.xp.broadcast_to((x.array == 0) & (o.array <= -1), gy.shape)
            gx = sum_to(where(dead, 0.0, gy * log1p(o)), x.shape)
        if no:
            go = sum_to(gy * x / (o + 1.0), o.shape)
        return gx, go


def xlog1py(input, other) -> Tensor:
    """y = input * log1p(other), with 0 where input == 0; either argument may be a number."""
    x, o = float_operands(input, other, "xlog1py")
    return XLog1PY()(x, o)
