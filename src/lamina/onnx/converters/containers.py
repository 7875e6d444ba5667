"""ONNX converters for containers: Sequential runs its children in order, Identity passes through."""
from __future__ import annotations

from ... import nn
from .._registry import register_converter


@register_converter(nn.Sequential)
def _sequential(ctx, m, x):
    for name, child in m.named_children():
        x = ctx.call(child, x, name=name)
    return x


@register_converter(nn.Identity)
def _identity(ctx, m, x, *args, **kwargs):
    return ctx.op("Identity", x, out=x.tensor)
