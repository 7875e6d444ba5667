"""ONNX converters for the activation layers (``lamina.nn.layers.activation``).

Most have an ONNX op of their own (Relu, LeakyRelu, Elu, Selu, Celu, PRelu, HardSigmoid,
HardSwish, Shrink, Softsign, Softmax, LogSoftmax); the rest are written out of ops that exist
in opset 17 (there is no Gelu or Mish before opset 20 / 18), keeping lamina's exact formulas:

    gelu        y = x/2 (1 + erf(x / sqrt 2))       or x/2 (1 + tanh(c (x + 0.044715 x^3)))
    softplus    y = (max(bx, 0) + log(1 + e^-|bx|)) / b,  x itself where bx > threshold
    logsigmoid  y = min(x, 0) - log(1 + e^-|x|)        (no overflow for large |x|)
    mish        y = x tanh(softplus(x));  silu  y = x sigmoid(x)
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...nn.activation_fns import SELU_ALPHA, SELU_SCALE
from .._registry import register_converter

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_TANH_C = math.sqrt(2.0 / math.pi)


def scalar(ctx, value, like, hint: str = "scalar"):
    """A 0-d constant in the dtype of ``like`` (a Value with an example tensor, or a dtype): ONNX
    does not promote types, so a float64 model needs float64 constants."""
    dtype = like.tensor.dtype if hasattr(like, "tensor") else np.dtype(like)
    return ctx.const(np.asarray(value, dtype=dtype), hint)


def _stable_softplus(ctx, bx, dtype):
    """log(1 + e^bx) = max(bx, 0) + log(1 + e^-|bx|): finite for every bx."""
    zero, one = scalar(ctx, 0.0, dtype, "zero"), scalar(ctx, 1.0, dtype, "one")
    tail = ctx.op("Log", ctx.op("Add", one, ctx.op("Exp", ctx.op("Neg", ctx.op("Abs", bx)))))
    return ctx.op("Add", ctx.op("Max", bx, zero), tail)


def _softmax_axis(ctx, m, x, name: str):
    """lamina's dim rule: an explicit dim, or (dim=None) 0 for 0-, 1- and 3-D inputs, else 1."""
    dim = m.dim
    if dim is None:
        dim = 0 if x.rank in (0, 1, 3) else 1
    nd = max(x.rank, 1)
    if not -nd <= dim < nd:
        raise ctx.error(f"{name}: dim {dim} is out of range for an input of shape {x.shape}")
    return dim % nd


def _softmax_like(ctx, op_type, x, axis, negate: bool = False):
    src = ctx.op("Neg", x) if negate else x
    if x.rank == 0:  # a 0-d input: softmax over its single element
        y = ctx.op(op_type, ctx.op("Reshape", src, ctx.ints([1])), axis=0)
        return ctx.op("Reshape", y, ctx.ints([]))
    return ctx.op(op_type, src, axis=axis)


# ---------------------------------------------------------------- piecewise linear
@register_converter(nn.ReLU)
def _relu(ctx, m, x):
    return ctx.op("Relu", x)


@register_converter(nn.ReLU6)
def _relu6(ctx, m, x):
    return ctx.op("Clip", x, scalar(ctx, 0.0, x, "min"), scalar(ctx, 6.0, x, "max"))


@register_converter(nn.Hardtanh)
def _hardtanh(ctx, m, x):
    return ctx.op("Clip", x, scalar(ctx, m.min_val, x, "min_val"), scalar(ctx, m.max_val, x, "max_val"))


@register_converter(nn.LeakyReLU)
def _leaky_relu(ctx, m, x):
    return ctx.op("LeakyRelu", x, alpha=float(m.negative_slope))


@register_converter(nn.RReLU)
def _rrelu(ctx, m, x):
    """Inference RReLU: the fixed slope (lower + upper) / 2 (the random slopes are training-only)."""
    return ctx.op("LeakyRelu", x, alpha=float((m.lower + m.upper) / 2))


@register_converter(nn.PReLU)
def _prelu(ctx, m, x):
    """PRelu with the slope shaped to broadcast over dim 1 (one per channel) or shared."""
    w = ctx.param(m.weight, "weight")
    n = m.weight.shape[0]
    if n != 1:
        if x.rank < 2 or x.shape[1] != n:
            raise ctx.error(f"PReLU({n}): an input of shape {x.shape} does not have {n} channels at dim 1")
        w = ctx.op("Reshape", w, ctx.ints([n] + [1] * (x.rank - 2)))
    return ctx.op("PRelu", x, w)


@register_converter(nn.Threshold)
def _threshold(ctx, m, x):
    keep = ctx.op("Greater", x, scalar(ctx, m.threshold, x, "threshold"))
    return ctx.op("Where", keep, x, scalar(ctx, m.value, x, "value"))


@register_converter(nn.Hardshrink)
def _hardshrink(ctx, m, x):
    return ctx.op("Shrink", x, lambd=float(m.lambd), bias=0.0)


@register_converter(nn.Softshrink)
def _softshrink(ctx, m, x):
    if m.lambd < 0:
        raise ctx.error(f"Softshrink: lambda must be >= 0, got {m.lambd}")
    return ctx.op("Shrink", x, lambd=float(m.lambd), bias=float(m.lambd))


@register_converter(nn.Hardsigmoid)
def _hardsigmoid(ctx, m, x):
    return ctx.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)


@register_converter(nn.Hardswish)
def _hardswish(ctx, m, x):
    return ctx.op("HardSwish", x)


# ---------------------------------------------------------------- exponential family
@register_converter(nn.ELU)
def _elu(ctx, m, x):
    return ctx.op("Elu", x, alpha=float(m.alpha))


@register_converter(nn.SELU)
def _selu(ctx, m, x):
    return ctx.op("Selu", x, alpha=SELU_ALPHA, gamma=SELU_SCALE)


@register_converter(nn.CELU)
def _celu(ctx, m, x):
    if m.alpha == 0:
        raise ctx.error("CELU: alpha cannot be 0")
    return ctx.op("Celu", x, alpha=float(m.alpha))


@register_converter(nn.GELU)
def _gelu(ctx, m, x):
    """x/2 (1 + erf(x / sqrt 2)), or the tanh form for ``approximate='tanh'`` (opset 17 has no Gelu)."""
    half, one = scalar(ctx, 0.5, x, "half"), scalar(ctx, 1.0, x, "one")
    if m.approximate == "tanh":
        x3 = ctx.op("Mul", ctx.op("Mul", x, x), x)
        inner = ctx.op("Add", x, ctx.op("Mul", x3, scalar(ctx, 0.044715, x, "k")))
        t = ctx.op("Tanh", ctx.op("Mul", inner, scalar(ctx, _TANH_C, x, "c")))
    else:
        u = ctx.op("Mul", x, scalar(ctx, _SQRT_HALF, x, "sqrt_half"))
        if x.tensor.dtype == np.float64:  # onnxruntime's Erf is float32-only (error ~1e-7, far inside 1e-4)
            t = ctx.op("Cast", ctx.op("Erf", ctx.op("Cast", u, to=1)), to=11)
        else:
            t = ctx.op("Erf", u)
    return ctx.op("Mul", ctx.op("Mul", x, half), ctx.op("Add", t, one))


@register_converter(nn.Sigmoid)
def _sigmoid(ctx, m, x):
    return ctx.op("Sigmoid", x)


@register_converter(nn.Tanh)
def _tanh(ctx, m, x):
    return ctx.op("Tanh", x)


@register_converter(nn.SiLU)
def _silu(ctx, m, x):
    return ctx.op("Mul", x, ctx.op("Sigmoid", x))


@register_converter(nn.Mish)
def _mish(ctx, m, x):
    return ctx.op("Mul", x, ctx.op("Tanh", _stable_softplus(ctx, x, x.tensor.dtype)))


@register_converter(nn.Softplus)
def _softplus(ctx, m, x):
    """(max(bx, 0) + log(1 + e^-|bx|)) / b, and x itself where b x > threshold (as lamina)."""
    beta, threshold = float(m.beta), float(m.threshold)
    bx = x if beta == 1 else ctx.op("Mul", x, scalar(ctx, beta, x, "beta"))
    sp = _stable_softplus(ctx, bx, x.tensor.dtype)
    if beta != 1:
        sp = ctx.op("Div", sp, scalar(ctx, beta, x, "beta"))
    if threshold == math.inf:
        return sp
    linear = ctx.op("Greater", bx, scalar(ctx, threshold, x, "threshold"))
    return ctx.op("Where", linear, x, sp)


@register_converter(nn.LogSigmoid)
def _logsigmoid(ctx, m, x):
    """-softplus(-x) = min(x, 0) - log(1 + e^-|x|)."""
    zero, one = scalar(ctx, 0.0, x, "zero"), scalar(ctx, 1.0, x, "one")
    tail = ctx.op("Log", ctx.op("Add", one, ctx.op("Exp", ctx.op("Neg", ctx.op("Abs", x)))))
    return ctx.op("Sub", ctx.op("Min", x, zero), tail)


@register_converter(nn.Softsign)
def _softsign(ctx, m, x):
    return ctx.op("Softsign", x)


@register_converter(nn.Tanhshrink)
def _tanhshrink(ctx, m, x):
    return ctx.op("Sub", x, ctx.op("Tanh", x))


@register_converter(nn.GLU)
def _glu(ctx, m, x):
    """a * sigmoid(b), a and b the two halves along ``dim`` (an equal Split: no sizes baked in)."""
    nd = x.rank
    if nd == 0 or not -nd <= m.dim < nd:
        raise ctx.error(f"GLU: dim {m.dim} does not fit an input of shape {x.shape}")
    axis = m.dim % nd
    if x.shape[axis] % 2:
        raise ctx.error(f"GLU: halving dimension {axis} has odd size {x.shape[axis]}")
    if ctx.opset >= 18:
        a, b = ctx.op("Split", x, outputs=2, axis=axis, num_outputs=2)
    else:
        a, b = ctx.op("Split", x, outputs=2, axis=axis)
    return ctx.op("Mul", a, ctx.op("Sigmoid", b))


# ---------------------------------------------------------------- softmax family
@register_converter(nn.Softmax)
def _softmax(ctx, m, x):
    return _softmax_like(ctx, "Softmax", x, _softmax_axis(ctx, m, x, "Softmax"))


@register_converter(nn.LogSoftmax)
def _log_softmax(ctx, m, x):
    return _softmax_like(ctx, "LogSoftmax", x, _softmax_axis(ctx, m, x, "LogSoftmax"))


@register_converter(nn.Softmin)
def _softmin(ctx, m, x):
    return _softmax_like(ctx, "Softmax", x, _softmax_axis(ctx, m, x, "Softmin"), negate=True)


@register_converter(nn.Softmax2d)
def _softmax2d(ctx, m, x):
    """Softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W)."""
    if x.rank not in (3, 4):
        raise ctx.error(f"Softmax2d: expected a 3-D or 4-D input, got shape {x.shape}")
    return ctx.op("Softmax", x, axis=x.rank - 3)
