"""Bilinear layer: y_o = x1^T A_o x2 + b_o, one (in1, in2) matrix A_o per output feature."""
from __future__ import annotations

import math

from ... import backend
from ...ops.creation import empty
from ...ops.linalg import matmul
from ...tensor import Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o].

    x1 (*, in1), x2 (*, in2) with the same leading shape, W (out, in1, in2), b (out,) -> (*, out).
    Computed as one GEMM, (x1 @ W viewed as (in1, out * in2)), then a product with x2 summed over j.

    >>> F.bilinear(lamina.randn(8, 3), lamina.randn(8, 5), lamina.randn(4, 3, 5)).shape    # (8, 4)
    """
    for what, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bilinear: {what} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional (out, in1, in2), got shape {weight.shape}")
    out_f, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.ndim != input2.ndim or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {input1.shape} and {input2.shape}")
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                           f"expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                           f"expected {in2}")
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise RuntimeError(f"bilinear(): bias must have shape ({out_f},), got {bias.shape}")
    lead = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    t = matmul(x1, weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = (t * x2.unsqueeze(1)).sum(2)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out_f)


class Bilinear(Module):
    """y = x1^T A x2 + b: (*, in1_features), (*, in2_features) -> (*, out_features).

    weight (out, in1, in2) and bias (out,) ~ U(-1/sqrt(in1), 1/sqrt(in1)) (PyTorch's init).

    >>> layer = nn.Bilinear(20, 30, 40)
    >>> layer(lamina.randn(128, 20), lamina.randn(128, 30)).shape     # (128, 40)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        bound = 1.0 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0.0
        init.uniform_(self.weight, -bound, bound, generator=generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
