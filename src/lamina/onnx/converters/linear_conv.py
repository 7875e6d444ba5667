"""ONNX converters: (being written)."""
from ... import nn
from .._registry import register_converter


@register_converter(nn.Linear)
def _linear(ctx, m, x):
    """y = x W^T + b as Gemm for 2-D inputs, MatMul (+ Add) for more dimensions."""
    w = ctx.param(m.weight, "weight")
    if x.rank == 2:
        ins = [x, w] + ([ctx.param(m.bias, "bias")] if m.bias is not None else [])
        return ctx.op("Gemm", *ins, transB=1)
    wt = ctx.const(m.weight.detach().numpy().T.copy(), "weight_t")
    y = ctx.op("MatMul", x, wt)
    return ctx.op("Add", y, ctx.param(m.bias, "bias")) if m.bias is not None else y
