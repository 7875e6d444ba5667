"""Convolution layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d (PyTorch's modules).

Conv2d computes, for output channel o in group g(o) with Cg = in_channels / groups,

    y[n, o] = b[o] + sum_{c < Cg} w[o, c] (*) x[n, g(o) Cg + c]        ((*) = strided, dilated cross-correlation)

weight (out_channels, in_channels/groups, kH, kW); ConvTranspose2d is its adjoint in x, with
torch's weight layout (in_channels, out_channels/groups, kH, kW). Default init, as torch:
W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
fan_in = weight.shape[1] * kH * kW (3-D: * kD; weights (out, in/groups, kD, kH, kW)). The math (im2col + GEMM
and its gradients) is in ``ops/conv.py``.

>>> conv = nn.Conv2d(1, 32, 3, padding=1)
>>> conv(lamina.randn(64, 1, 28, 28)).shape     # (64, 32, 28, 28)
"""
from __future__ import annotations

import math
import numbers

from ... import backend
from ...ops import conv as C
from ...ops.creation import empty
from ...ops.shape import pad as _pad
from ...tensor import Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_LAYOUT = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)", 3: "(C, D, H, W) or (N, C, D, H, W)"}


def _ntuple(value, n: int, name: str, op: str, minimum: int) -> tuple:
    """An int or a sequence of n ints (each >= minimum) as a tuple of n ints."""
    vals = (value,) * n if isinstance(value, numbers.Integral) else tuple(value) if hasattr(value, "__len__") else None
    if vals is None or len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                 for v in vals):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in vals):
        raise ValueError(f"{op}: {name} must be {'positive' if minimum else 'non-negative'}, got {value!r}")
    return tuple(int(v) for v in vals)


def _batched(module, input: Tensor, nd: int):
    """(input as (N, C, *spatial), was_unbatched); checks the rank and the channel count."""
    name = type(module).__name__
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a lamina Tensor, got {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected a {nd + 1}-D or {nd + 2}-D input {_LAYOUT[nd]}, "
                         f"got shape {tuple(input.shape)}")
    c = input.shape[-nd - 1]
    if c != module.in_channels:
        raise ValueError(f"{name}(in_channels={module.in_channels}): input has {c} channels "
                         f"(input shape {tuple(input.shape)})")
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    return input, False


class _ConvNd(Module):
    """Shared by every convolution layer: arguments, parameters, init, repr."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        op, nd = type(self).__name__, self._nd
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < (1 if name == "groups" else 0):
                raise ValueError(f"{op}: {name} must be a {'positive' if name == 'groups' else 'non-negative'} "
                                 f"int, got {v!r}")
        if in_channels % groups:
            raise ValueError(f"{op}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{op}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{op}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.kernel_size = _ntuple(kernel_size, nd, "kernel_size", op, 1)
        self.stride = _ntuple(stride, nd, "stride", op, 1)
        self.dilation = _ntuple(dilation, nd, "dilation", op, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, nd, "padding", op, 0)
        self.output_padding = _ntuple(output_padding, nd, "output_padding", op, 0)
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.padding_mode = padding_mode
        # F.pad's order: last dim first, (left, right) each; 'same' puts the odd extra pad at the end, as torch
        if self.padding == "valid":
            pads = [(0, 0)] * nd
        elif self.padding == "same":
            pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for d, k in zip(self.dilation, self.kernel_size)]
        else:
            pads = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(v for pair in reversed(pads) for v in pair)
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(self.out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """Redraw W ~ kaiming_uniform_(a=sqrt(5)) and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def extra_repr(self) -> str:
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class _Conv(_ConvNd):
    _fn = None  # the functional op

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        x, unbatched = _batched(self, input, self._nd)
        fn = type(self)._fn
        if self.padding_mode != "zeros":
            # the padding is done by F.pad, then a 'valid' convolution (torch does the same)
            x = _pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            y = fn(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        else:
            y = fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return y.squeeze(0) if unbatched else y


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out), L_out = (L + 2p - d(k-1) - 1) // s + 1.

    y[n, o] = b[o] + sum_c w[o, c] (*) x[n, c];  dx = conv_transpose1d(dy, w), dw = a correlation of x with dy.
    weight (out_channels, in_channels/groups, k). padding: int, tuple, 'same' or 'valid'; padding_mode
    'zeros', 'reflect', 'replicate' or 'circular'.

    >>> nn.Conv1d(16, 33, 3, stride=2)(lamina.randn(20, 16, 50)).shape     # (20, 33, 24)
    """

    _nd = 1
    _fn = staticmethod(C.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H + 2p - d(k-1) - 1) // s + 1.

    y[n, o] = b[o] + sum_c w[o, c] (*) x[n, c];  dx = conv_transpose2d(dy, w), dw = a correlation of x with dy.
    weight (out_channels, in_channels/groups, kH, kW). padding: int, pair, 'same' (stride 1) or 'valid';
    padding_mode 'zeros', 'reflect', 'replicate' or 'circular'. groups = in_channels is depthwise.

    >>> nn.Conv2d(3, 16, 3, padding=1)(lamina.randn(8, 3, 32, 32)).shape   # (8, 16, 32, 32)
    """

    _nd = 2
    _fn = staticmethod(C.conv2d)


class Conv3d(_Conv):
    """3-D convolution: (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out), n_out = (n + 2p - d(k-1) - 1) // s + 1.

    y[n, o] = b[o] + sum_c w[o, c] (*) x[n, c];  dx = conv_transpose3d(dy, w), dw = a correlation of x with dy.
    weight (out_channels, in_channels/groups, kD, kH, kW). padding: int, triple, 'same' (stride 1) or 'valid';
    padding_mode 'zeros', 'reflect', 'replicate' or 'circular'.

    >>> nn.Conv3d(3, 8, 3, padding=1)(lamina.randn(2, 3, 8, 16, 16)).shape   # (2, 8, 8, 16, 16)
    """

    _nd = 3
    _fn = staticmethod(C.conv3d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _fn = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        op = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f"{op}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{op}: padding must be an int or a tuple of ints (no 'same'/'valid'), got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        """output_padding that makes the output exactly ``output_size`` (torch's rule), else the layer's own."""
        if output_size is None:
            return self.output_padding
        nd, op = self._nd, type(self).__name__
        size = tuple(int(s) for s in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{op}: output_size must have {nd} or {nd + 2} elements, got {tuple(output_size)}")
        out = []
        for d in range(nd):
            lo = ((x.shape[d + 2] - 1) * self.stride[d] - 2 * self.padding[d]
                  + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            hi = lo + self.stride[d] - 1
            if not lo <= size[d] <= hi:
                raise ValueError(f"{op}: requested an output size of {size}, but valid sizes range from "
                                 f"{lo} to {hi} in dimension {d} (input shape {tuple(x.shape)})")
            out.append(size[d] - lo)
        return tuple(out)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        x, unbatched = _batched(self, input, self._nd)
        output_padding = self._output_padding(x, output_size)
        y = type(self)._fn(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                           self.dilation)
        return y.squeeze(0) if unbatched else y


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the adjoint of Conv1d in x): (N, C_in, L) -> (N, C_out, L_out),
    L_out = (L - 1)s - 2p + d(k - 1) + output_padding + 1.

    weight (in_channels, out_channels/groups, k);  dx = conv1d(dy, w).
    """

    _nd = 1
    _fn = staticmethod(C.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the adjoint of Conv2d in x): (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    H_out = (H - 1)s - 2p + d(k - 1) + output_padding + 1.

    weight (in_channels, out_channels/groups, kH, kW), torch's layout;  dx = conv2d(dy, w).
    ``forward(x, output_size=...)`` picks the output_padding that gives that size.

    >>> up = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)
    >>> up(lamina.randn(8, 64, 7, 7)).shape     # (8, 32, 14, 14)
    """

    _nd = 2
    _fn = staticmethod(C.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution (the adjoint of Conv3d in x): (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out),
    each size (n - 1)s - 2p + d(k - 1) + output_padding + 1.

    weight (in_channels, out_channels/groups, kD, kH, kW), torch's layout;  dx = conv3d(dy, w).

    >>> nn.ConvTranspose3d(8, 4, 2, stride=2)(lamina.randn(1, 8, 4, 4, 4)).shape     # (1, 4, 8, 8, 8)
    """

    _nd = 3
    _fn = staticmethod(C.conv_transpose3d)
