"""ONNX converters for quantization-aware training: FakeQuantize and the QAT layers as QDQ.

A FakeQuantize becomes ``DequantizeLinear(QuantizeLinear(x, s, z), s, z)`` (int8 or uint8 by the
zero point's type). A QAT layer becomes the QDQ pattern onnxruntime fuses into int8 kernels
(QLinearConv, QGemm)::

    DQ(Q(x)) ─┐
    DQ(W_int8, s_w per channel) ─ Conv | Gemm | MatMul+Add ─ Q ─ DQ
    DQ(b_int32, s_in·s_w) ───┘

The weights are stored as int8 (a quarter of the float size); the values are those lamina's
fake-quant eval forward uses, so onnxruntime matches it to within one quantization step.
"""
from __future__ import annotations

import numpy as np

from ...quantization.fake_quant import quantize_array
from ...quantization.modules import FakeQuantize
from ...quantization.qat import QATConv1d, QATConv2d, QATLinear, bias_qparams
from .._registry import register_converter

_NP_TYPES = {"int8": np.int8, "uint8": np.uint8}


def _qparams(ctx, fq: FakeQuantize, hint: str):
    if not fq.ready:
        raise ctx.error(f"{hint}: its observer has seen no data (train the model, or run calibration batches "
                        "through it in train mode, before exporting)")
    scale, zp = fq.qparams()
    return scale, zp, _NP_TYPES[fq.observer.dtype]


def qdq(ctx, x, fq: FakeQuantize, hint: str = "act"):
    """x -> QuantizeLinear -> DequantizeLinear with ``fq``'s per-tensor parameters (identity when disabled)."""
    if not fq.fake_quant_enabled:
        return x
    if fq.ch_axis is not None:
        raise ctx.error(f"{hint}: a per-channel activation quantizer (ONNX QDQ activations are per tensor here)")
    scale, zp, dt = _qparams(ctx, fq, hint)
    s = ctx.const(np.asarray(scale, dtype=np.float32).reshape(()), f"{hint}_scale")
    z = ctx.const(np.asarray(zp).astype(dt).reshape(()), f"{hint}_zero_point")
    return ctx.op("DequantizeLinear", ctx.op("QuantizeLinear", x, s, z), s, z)


def _const_qdq(ctx, tensor, scale, zp, dt, qmin, qmax, axis, hint):
    """An initializer stored quantized (``dt``) and a DequantizeLinear back to float."""
    arr = np.asarray(tensor.detach().numpy(), dtype=np.float32)
    q, _, _ = quantize_array(arr, scale, zp, qmin, qmax, axis)
    q = np.clip(q, qmin, qmax).astype(dt)
    per_channel = axis is not None
    s = ctx.const(np.asarray(scale, dtype=np.float32).reshape(-1 if per_channel else ()), f"{hint}_scale")
    z = ctx.const(np.asarray(zp).astype(dt).reshape(-1 if per_channel else ()), f"{hint}_zero_point")
    return ctx.op("DequantizeLinear", ctx.const(q, f"{hint}_quantized"), s, z, axis=axis if per_channel else None)


def _weight_and_bias(ctx, m):
    wfq = m.weight_fake_quant
    if not wfq.fake_quant_enabled:
        w = ctx.param(m.weight, "weight")
    else:
        scale, zp, dt = _qparams(ctx, wfq, "weight")
        axis = None if wfq.ch_axis is None else wfq.ch_axis % m.weight.ndim
        w = _const_qdq(ctx, m.weight, scale if axis is not None else float(scale), zp if axis is not None else int(zp),
                       dt, wfq.quant_min, wfq.quant_max, axis, "weight")
    if m.bias is None:
        return w, None
    bq = bias_qparams(m)
    if bq is None:
        return w, ctx.param(m.bias, "bias")
    return w, _const_qdq(ctx, m.bias, bq[0], bq[1], np.int32, -2 ** 31, 2 ** 31 - 1, 0, "bias")


def _input(ctx, m, x):
    return qdq(ctx, x, m.input_fake_quant, "input") if m.input_fake_quant is not None else x


@register_converter(FakeQuantize)
def _fake_quantize(ctx, m, x):
    return qdq(ctx, x, m, "fake_quant")


@register_converter(QATLinear)
def _qat_linear(ctx, m, x):
    """y = Q/DQ(Q/DQ(x) Ŵ^T + b̂): Gemm for 2-D inputs, MatMul + Add for more dimensions."""
    xq = _input(ctx, m, x)
    w, b = _weight_and_bias(ctx, m)
    if x.rank == 2:
        y = ctx.op("Gemm", *([xq, w] + ([b] if b is not None else [])), transB=1)
    else:
        y = ctx.op("MatMul", xq, ctx.op("Transpose", w, perm=[1, 0]))
        y = ctx.op("Add", y, b) if b is not None else y
    return qdq(ctx, y, m.activation_post_process, "output")


@register_converter(QATConv1d, QATConv2d)
def _qat_conv(ctx, m, x):
    """y = Q/DQ(conv(Q/DQ(x), Ŵ) + b̂) as one ONNX Conv (zero padding only)."""
    nd = m._nd
    if x.rank != nd + 2:
        raise ctx.error(f"{type(m).__name__}: an unbatched input of shape {x.shape} (export with a batch axis)")
    if m.padding_mode != "zeros":
        raise ctx.error(f"{type(m).__name__}: padding_mode={m.padding_mode!r} (only 'zeros' is exported)")
    xq = _input(ctx, m, x)
    w, b = _weight_and_bias(ctx, m)
    pairs = list(zip(m._reversed_padding_repeated_twice[::2], m._reversed_padding_repeated_twice[1::2]))[::-1]
    pads = [p[0] for p in pairs] + [p[1] for p in pairs]
    y = ctx.op("Conv", *([xq, w] + ([b] if b is not None else [])), kernel_shape=list(m.kernel_size),
               strides=list(m.stride), dilations=list(m.dilation), pads=pads, group=m.groups)
    return qdq(ctx, y, m.activation_post_process, "output")
