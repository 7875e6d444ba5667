"""Normalization ops: batch_norm, layer_norm, group_norm, instance_norm; channel-wise dropout.

All four norms are one computation over different axes, done by one fused Function:

    xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps)     (mean, biased var over ``axes``)
    y    = xhat * w + b                                         (w, b broadcast along ``paxes``)

and its backward is the closed form (means over ``axes``, sums over the axes w does not span):

    g  = dy * w
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    dw = sum(dy * xhat),   db = sum(dy)

batch_norm reduces over (N, *spatial) per channel, layer_norm over the trailing
``normalized_shape`` per row, instance_norm over the spatial dims per (sample, channel), and
group_norm over (C / G, *spatial) per (sample, group) of a (N, G, C / G, S) view.

float32 CPU layer and batch norm run in fused Numba kernels (``_norm_kernels.py``); other
dtypes and CuPy arrays use NumPy-style array code. Both give the first derivative directly
from arrays. Under ``create_graph=True`` the backward is instead built from Tensor ops
(recomputing xhat from x), so second derivatives (gradient penalties) work.
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from . import _norm_kernels as _K
from .inplace import inplace as _inplace
from .unary import mask_mul

USE_KERNELS = True  # set False to force the array code (tests compare both paths)


class Normalize(Function):
    """y = (x - mean) * rstd * w + b over ``axes``; backward is the closed form above.

    ``paxes`` are the axes of x the parameters vary along, ``pshape`` the shape (of x's rank)
    they are reshaped to for broadcasting. Inputs: x, then weight if ``has_weight``, then
    bias if ``has_bias``. After the call ``self.mean`` and ``self.var`` (biased, keepdims
    shape) hold the batch statistics, for the running averages.
    """

    def __init__(self, axes, paxes, pshape, eps, has_weight, has_bias):
        self.axes, self.paxes, self.pshape = tuple(axes), tuple(paxes), tuple(pshape)
        self.eps, self.has_weight, self.has_bias = float(eps), has_weight, has_bias
        self.kernel = None

    def _params(self, params):
        w = params[0] if self.has_weight else None
        b = params[-1] if self.has_bias else None
        return w, b

    def _kernel_kind(self, x, w, b):
        """'rows' (layer norm), 'channels' (batch norm) or None, when a Numba kernel applies."""
        if not (USE_KERNELS and _K.usable(x, *[p for p in (w, b) if p is not None])):
            return None
        nd, kind = x.ndim, None
        if self.axes == self.paxes and self.axes == tuple(range(nd - len(self.axes), nd)):
            kind = "rows"
        elif nd >= 2 and self.paxes == (1,) and self.axes == (0,) + tuple(range(2, nd)):
            kind = "channels"
        return kind if kind is not None and _K.kernels() is not None else None

    def _flat_params(self, xp, w, b, n, dtype):
        w = xp.ones(n, dtype=dtype) if w is None else w.reshape(n)
        b = xp.zeros(n, dtype=dtype) if b is None else b.reshape(n)
        return xp.ascontiguousarray(w), xp.ascontiguousarray(b)

    def _as_kernel_shape(self, xp, a):
        a = xp.ascontiguousarray(a)
        if self.kernel == "rows":
            d = math.prod(a.shape[a.ndim - len(self.axes):])
            return a.reshape(-1, d)
        return a.reshape(a.shape[0], a.shape[1], -1)

    def forward(self, x, *params):
        xp = backend.array_module(x)
        w, b = self._params(params)
        self.kernel = self._kernel_kind(x, w, b)
        if self.kernel == "rows":
            x2 = self._as_kernel_shape(xp, x)
            wf, bf = self._flat_params(xp, w, b, x2.shape[1], x.dtype)
            y, mean, rstd = _K.layer_norm_forward(x2, wf, bf, self.eps)
            keep = x.shape[: x.ndim - len(self.axes)] + (1,) * len(self.axes)
            self.mean, self.rstd = mean.reshape(keep), rstd.reshape(keep)
            self.var = None  # layer norm keeps no running statistics
            return y.reshape(x.shape)
        if self.kernel == "channels":
            x3 = self._as_kernel_shape(xp, x)
            wf, bf = self._flat_params(xp, w, b, x3.shape[1], x.dtype)
            y, mean, var, rstd = _K.batch_norm_forward(x3, wf, bf, self.eps)
            keep = self.pshape
            self.mean, self.var, self.rstd = mean.reshape(keep), var.reshape(keep), rstd.reshape(keep)
            return y.reshape(x.shape)
        mean = x.mean(axis=self.axes, keepdims=True)
        xhat = x - mean
        var = (xhat * xhat).mean(axis=self.axes, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + self.eps)
        xhat *= rstd
        self.mean, self.var, self.rstd, self.xhat = mean, var, rstd, xhat
        y = xhat if w is None else xhat * w.reshape(self.pshape)
        return y if b is None else y + b.reshape(self.pshape)

    def backward(self, gy):
        if is_grad_enabled():
            return self._backward_graph(gy)
        x, *params = self.inputs
        need = self.needs_input_grad
        w, b = self._params([p.array for p in params])
        xp, g = x.xp, gy.array
        if self.kernel is not None:
            x_k, g_k = self._as_kernel_shape(xp, x.array), self._as_kernel_shape(xp, g)
            wf, _ = self._flat_params(xp, w, None, x_k.shape[1], x.dtype)
            mean, rstd = self.mean.reshape(-1), self.rstd.reshape(-1)
            if self.kernel == "rows":
                dx, dw, db = _K.layer_norm_backward(g_k, x_k, mean, rstd, wf)
            else:
                dx, dw, db = _K.batch_norm_backward(g_k, x_k, mean, rstd, wf)
            dx = dx.reshape(x.shape)
        else:
            xhat, rstd, axes = self.xhat, self.rstd, self.axes
            other = tuple(i for i in range(x.ndim) if i not in self.paxes)
            dx = None
            if need[0]:
                gw = g if w is None else g * w.reshape(self.pshape)
                dx = gw - gw.mean(axis=axes, keepdims=True)
                dx -= xhat * (gw * xhat).mean(axis=axes, keepdims=True)
                dx *= rstd
            dw = (g * xhat).sum(axis=other) if self.has_weight and need[1] else None
            db = g.sum(axis=other) if self.has_bias and need[-1] else None
        grads = [Tensor._wrap(dx) if need[0] else None]
        if self.has_weight:
            grads.append(Tensor._wrap(dw.reshape(w.shape)) if need[1] else None)
        if self.has_bias:
            grads.append(Tensor._wrap(db.reshape(b.shape)) if need[-1] else None)
        return tuple(grads)

    def _backward_graph(self, gy):
        """The same closed form in Tensor ops, with xhat recomputed from x (differentiable again)."""
        x, *params = self.inputs
        w, b = self._params(params)
        need, axes = self.needs_input_grad, self.axes
        xc = x - x.mean(axes, keepdim=True)
        rstd = ((xc * xc).mean(axes, keepdim=True) + self.eps).rsqrt()
        xhat = xc * rstd
        other = tuple(i for i in range(x.ndim) if i not in self.paxes)
        grads = [None]
        if need[0]:
            g = gy if w is None else gy * w.reshape(self.pshape)
            grads[0] = (g - g.mean(axes, keepdim=True) - xhat * (g * xhat).mean(axes, keepdim=True)) * rstd
        if self.has_weight:
            grads.append(_sum_over(gy * xhat, other).reshape(w.shape) if need[1] else None)
        if self.has_bias:
            grads.append(_sum_over(gy, other).reshape(b.shape) if need[-1] else None)
        return tuple(grads)


def _sum_over(t: Tensor, axes: tuple) -> Tensor:
    return t.sum(axes) if axes else t


# ---------------------------------------------------------------- argument checks
def _check_input(op: str, x, min_ndim: int, what: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: expected an input of shape {what}, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype} (input shape {x.shape})")


def _check_param(op: str, name: str, t, x: Tensor) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if name in ("weight", "bias") and t.dtype != x.dtype:
        raise RuntimeError(f"{op}: {name} has dtype {t.dtype} but the input has dtype {x.dtype}; "
                           f"convert one of them (e.g. {name}.to(input.dtype))")


def _check_channels(op: str, x: Tensor, **tensors) -> int:
    """Each given per-channel tensor must have C elements (C = x.shape[1])."""
    c = x.shape[1]
    for name, t in tensors.items():
        _check_param(op, name, t, x)
        if t is not None and (t.numel() != c or t.ndim > 1):
            raise RuntimeError(f"{op}: {name} has {t.numel()} elements but the input has {c} channels "
                               f"(input shape {x.shape})")
    return c


def _update_running(running: Tensor | None, stat, factor: float) -> None:
    """running = (1 - factor) * running + factor * stat, in place (no graph, version bumped)."""
    if running is None:
        return
    data = running.array
    stat = stat.reshape(data.shape).astype(data.dtype, copy=False)
    data *= 1.0 - factor
    data += factor * stat
    running._version += 1


def _affine_with_stats(x: Tensor, mean: Tensor, var: Tensor, weight, bias, eps: float, pshape) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * w + b with given (running) statistics, as scale and shift."""
    mean, var = mean.detach().to(x.dtype), var.detach().to(x.dtype)
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.reshape(var.shape)
    shift = -mean * scale if bias is None else bias.reshape(mean.shape) - mean * scale
    return x * scale.reshape(pshape) + shift.reshape(pshape)


def _channel_pshape(x: Tensor) -> tuple:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


# ---------------------------------------------------------------- the norms
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5, *, num_batches_tracked=None) -> Tensor:
    """Batch normalization over (N, *spatial) for each channel of an (N, C, *) input.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, the statistics per channel. In
    training they are the batch's (biased variance), and ``running_mean`` / ``running_var``
    (if given) are updated in place: running = (1 - momentum) * running + momentum * stat,
    with the *unbiased* batch variance. ``momentum=None`` means a cumulative average: pass
    ``num_batches_tracked``, the number of batches seen *including this one* (increment the
    counter first, as torch's BatchNorm does); the factor is then 1 / num_batches_tracked.
    In evaluation (``training=False``) the running statistics are used.

    >>> rm, rv = lamina.zeros(16), lamina.ones(16)
    >>> y = batch_norm(x, rm, rv, weight, bias, training=True)   # x: (32, 16, 8, 8)
    """
    op = "batch_norm"
    _check_input(op, input, 2, "(N, C, *)")
    c = _check_channels(op, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    pshape = _channel_pshape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be given in evaluation mode "
                               f"(training=False) (input shape {input.shape})")
        return _affine_with_stats(input, running_mean, running_var, weight, bias, eps, pshape)
    count = input.numel() // c if c else 0
    if count <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input shape {input.shape}")
    factor = _momentum_factor(op, momentum, num_batches_tracked, running_mean is not None or running_var is not None)
    axes = (0,) + tuple(range(2, input.ndim))
    fn = Normalize(axes, (1,), pshape, eps, weight is not None, bias is not None)
    y = fn(input, *[t for t in (weight, bias) if t is not None])
    if factor is not None:
        _update_running(running_mean, fn.mean, factor)
        _update_running(running_var, fn.var * (count / (count - 1)), factor)
    return y


def _momentum_factor(op: str, momentum, num_batches_tracked, has_running: bool):
    if not has_running:
        return None
    if momentum is not None:
        return float(momentum)
    if num_batches_tracked is None:
        raise ValueError(f"{op}: momentum=None (a cumulative moving average) needs num_batches_tracked, "
                         "the number of batches seen including this one")
    n = int(num_batches_tracked.item() if isinstance(num_batches_tracked, Tensor) else num_batches_tracked)
    if n < 1:
        raise ValueError(f"{op}: num_batches_tracked must count this batch (>= 1), got {n}")
    return 1.0 / n


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dimensions of each sample.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, the statistics (biased variance) over
    the last len(normalized_shape) dims; weight and bias have shape ``normalized_shape``.

    >>> y = layer_norm(x, (128,), weight, bias)   # x: (32, 128, 128)
    """
    op = "layer_norm"
    ns = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else tuple(
        int(n) for n in normalized_shape)
    _check_input(op, input, 1, "(*, *normalized_shape)")
    k = len(ns)
    if k == 0 or input.shape[input.ndim - k:] != ns or k > input.ndim:
        raise RuntimeError(f"{op}: normalized_shape {ns} does not match the last dimensions of input shape "
                           f"{input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_param(op, name, t, input)
        if t is not None and t.shape != ns:
            raise RuntimeError(f"{op}: {name} has shape {t.shape} but normalized_shape is {ns} "
                               f"(input shape {input.shape})")
    axes = tuple(range(input.ndim - k, input.ndim))
    pshape = (1,) * (input.ndim - k) + ns
    fn = Normalize(axes, axes, pshape, eps, weight is not None, bias is not None)
    return fn(input, *[t for t in (weight, bias) if t is not None])


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalization: the C channels split into ``num_groups`` groups, each normalized
    over (its channels, *spatial) per sample; then a per-channel affine.

    y = (x - E_g[x]) / sqrt(Var_g[x] + eps) * weight + bias,   weight and bias of shape (C,).

    >>> y = group_norm(x, 4, weight, bias)   # x: (8, 32, 16, 16), weight: (32,)
    """
    op = "group_norm"
    _check_input(op, input, 2, "(N, C, *)")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"{op}: {c} channels are not divisible into {num_groups} groups (input shape {input.shape})")
    _check_channels(op, input, weight=weight, bias=bias)
    g = num_groups
    x4 = input.reshape(n, g, c // g, -1)
    pshape = (1, g, c // g, 1)
    fn = Normalize((2, 3), (1, 2), pshape, eps, weight is not None, bias is not None)
    return fn(x4, *[t for t in (weight, bias) if t is not None]).reshape(input.shape)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization: each (sample, channel) normalized over its spatial dimensions.

    y = (x - E_s[x]) / sqrt(Var_s[x] + eps) * weight + bias, weight and bias of shape (C,).
    With ``use_input_stats`` and running statistics given, they are updated in place with the
    per-instance means and unbiased variances averaged over the batch:
    running = (1 - momentum) * running + momentum * mean_n(stat). Without ``use_input_stats``
    the running statistics normalize instead (as batch_norm in evaluation).
    """
    op = "instance_norm"
    _check_input(op, input, 3, "(N, C, *spatial) with at least one spatial dimension")
    _check_channels(op, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    pshape = _channel_pshape(input)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be given when use_input_stats=False "
                               f"(input shape {input.shape})")
        return _affine_with_stats(input, running_mean, running_var, weight, bias, eps, pshape)
    spatial = math.prod(input.shape[2:])
    if spatial <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input shape {input.shape}")
    if momentum is None:
        raise ValueError(f"{op}: momentum must be a number (InstanceNorm passes 0.0 for momentum=None)")
    axes = tuple(range(2, input.ndim))
    fn = Normalize(axes, (1,), pshape, eps, weight is not None, bias is not None)
    y = fn(input, *[t for t in (weight, bias) if t is not None])
    if running_mean is not None or running_var is not None:
        _update_running(running_mean, fn.mean.mean(axis=0), float(momentum))
        _update_running(running_var, (fn.var * (spatial / (spatial - 1))).mean(axis=0), float(momentum))
    return y


# ---------------------------------------------------------------- channel-wise dropout
def _feature_dropout(op: str, input: Tensor, p: float, training: bool, inplace: bool, batched: bool,
                     generator) -> Tensor:
    """Zero whole channels with probability p and scale the rest by 1 / (1 - p).

    y = x * m / (1 - p), m ~ Bernoulli(1 - p) per (sample, channel);  dx = dy * m / (1 - p).
    """
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    lead = 2 if batched else 1
    mask_shape = input.shape[:lead] + (1,) * (input.ndim - lead)
    if p == 1.0:
        mask = input.xp.zeros(mask_shape, dtype=input.dtype)
    else:
        keep = backend.rng(generator).random(mask_shape) >= p
        mask = backend.to_device((keep / (1.0 - p)).astype(input.dtype), input.device)
    if inplace:
        return _inplace(input, lambda a: mask_mul(a, mask))
    return mask_mul(input, mask)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None) -> Tensor:
    """Channel-wise dropout for (N, C, L) or unbatched (C, L) inputs (see ``dropout2d``)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: expected a 2D or 3D input, but got an input of shape {input.shape}")
    return _feature_dropout("dropout1d", input, p, training, inplace, input.ndim == 3, generator)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None) -> Tensor:
    """Channel-wise dropout: each channel of each sample is zeroed with probability p, the rest
    are scaled by 1 / (1 - p). For (N, C, H, W) inputs; a 3-D input is read as (N, C, L), as
    torch does (with its warning). Random draws come from ``generator`` or the default one.

    >>> y = dropout2d(x, p=0.2, training=True)   # x: (8, 16, 32, 32); y[n, c] is 0 or x[n, c] / 0.8
    """
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received an input of shape {input.shape}; dropout2d is meant for (N, C, H, W) "
                      "inputs (use dropout for other shapes)", stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: received a 3D input and assuming channel-wise 1D dropout is meant (input read "
                      "as (N, C, L)); use dropout1d to silence this warning", stacklevel=2)
    return _feature_dropout("dropout2d", input, p, training, inplace, input.ndim >= 2, generator)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None) -> Tensor:
    """Channel-wise dropout for (N, C, D, H, W) or unbatched (C, D, H, W) inputs (see ``dropout2d``)."""
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: received an input of shape {input.shape}; dropout3d is meant for "
                      "(N, C, D, H, W) inputs", stacklevel=2)
    return _feature_dropout("dropout3d", input, p, training, inplace, input.ndim != 4, generator)
