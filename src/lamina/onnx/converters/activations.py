"""ONNX converters: (being written)."""
from ... import nn
from .._registry import register_converter


@register_converter(nn.ReLU)
def _relu(ctx, m, x):
    return ctx.op("Relu", x)
