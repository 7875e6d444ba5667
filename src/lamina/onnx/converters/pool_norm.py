"""ONNX converters for the pooling and normalisation layers.

Pooling windows follow lamina's geometry exactly: ceil-mode output sizes become explicit end
padding (onnxruntime's own ceil rule differs at the edges), average divisors that ONNX cannot
express (ceil-mode overhang, ``divisor_override``, LP pooling) are a per-position scale, and
``return_indices`` gives lamina's per-plane flat indices (ONNX's are over the whole tensor).
Adaptive pooling: output 1 is Global*Pool, divisible sizes are plain pooling, other sizes are
exact decompositions (averaging matrices per dim; max over gathered window offsets per dim).
The window geometry is read from the example's spatial sizes, so those stay fixed in the graph
(the batch axis stays dynamic).

Norms in eval mode: BatchNorm / tracked InstanceNorm with running statistics are
BatchNormalization; statistics of the input itself (track_running_stats=False) are written
out (ReduceMean) or InstanceNormalization; GroupNorm is InstanceNormalization over
(N, G, -1) (opset 17 has no GroupNormalization); LayerNorm is LayerNormalization.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ... import nn
from ...ops.pool import _adaptive_bounds, _pool_out
from ...ops.pool_variants import _unpool_size
from .._registry import register_converter
from .activations import scalar

# ---------------------------------------------------------------- small helpers
def _tup(v, nd: int, default=None) -> tuple:
    if v is None:
        v = default
    if isinstance(v, numbers.Integral):
        return (int(v),) * nd
    v = tuple(int(a) for a in v)
    return v * nd if len(v) == 1 else v


def reduce(ctx, op_type, x, axes, keepdims: int = 1):
    """Reduce* over ``axes``: an input from opset 18 on (13 for ReduceSum), an attribute before."""
    if op_type == "ReduceSum" or ctx.opset >= 18:
        return ctx.op(op_type, x, ctx.ints(axes), keepdims=keepdims)
    return ctx.op(op_type, x, axes=list(axes), keepdims=keepdims)


def _batched(ctx, m, x, nd: int):
    """(x as (N, C, *spatial), was_unbatched) after checking the rank as the module does."""
    if x.rank not in (nd + 1, nd + 2):
        raise ctx.error(f"{type(m).__name__}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {x.shape}")
    if x.rank == nd + 1:
        return ctx.op("Unsqueeze", x, ctx.ints([0])), True
    return x, False


def _unbatch(ctx, values, unbatched: bool):
    if not unbatched:
        return values
    if isinstance(values, tuple):
        return tuple(ctx.op("Squeeze", v, ctx.ints([0])) for v in values)
    return ctx.op("Squeeze", values, ctx.ints([0]))


def _channel_shape(ctx, v, rank: int):
    """A (C,) parameter Value reshaped to (C, 1, ..., 1) to broadcast over (N, C, *spatial)."""
    return ctx.op("Reshape", v, ctx.ints([-1] + [1] * (rank - 2)))


def _plane_indices(ctx, idx, xb):
    """ONNX's indices (flat over the whole tensor) -> lamina's (flat within each (n, c) plane)."""
    plane = ctx.op("ReduceProd", ctx.op("Shape", xb, start=2), keepdims=0)
    return ctx.op("Mod", idx, plane)


def _geometry(spatial, k, s, p, d, ceil_mode):
    """(output size, end padding) per dim: the end padding makes floor mode give lamina's size."""
    out = tuple(_pool_out(n, kk, ss, pp, dd, ceil_mode) for n, kk, ss, pp, dd in zip(spatial, k, s, p, d))
    end = tuple(max(pp, (o - 1) * ss + dd * (kk - 1) + 1 - n - pp)
                for n, o, kk, ss, pp, dd in zip(spatial, out, k, s, p, d))
    return out, end


# ---------------------------------------------------------------- max pooling
@register_converter(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def _max_pool(ctx, m, x):
    nd = m._nd
    xb, unbatched = _batched(ctx, m, x, nd)
    k = _tup(m.kernel_size, nd)
    s, p, d = _tup(m.stride, nd, k), _tup(m.padding, nd), _tup(m.dilation, nd)
    out, end = _geometry(x.shape[-nd:], k, s, p, d, m.ceil_mode)
    src, pads = xb, list(p) + list(end)
    if any(e >= kk for e, kk in zip(end, k)):  # onnxruntime wants pads < kernel: pad explicitly
        if m.return_indices:
            raise ctx.error(f"{type(m).__name__}: return_indices with ceil_mode end padding {end} >= kernel_size {k}")
        src = ctx.op("Pad", xb, ctx.ints([0, 0, *p, 0, 0, *end]),
                     ctx.const(np.asarray(-np.inf, dtype=x.tensor.dtype), "neg_inf"))
        pads = [0] * (2 * nd)
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=pads, dilations=list(d))
    if m.return_indices:
        y, idx = ctx.op("MaxPool", src, outputs=2, **attrs)
        return _unbatch(ctx, (y, _plane_indices(ctx, idx, xb)), unbatched)
    return _unbatch(ctx, ctx.op("MaxPool", src, **attrs), unbatched)


# ---------------------------------------------------------------- average pooling
def _divisors(spatial, out, k, s, p, count_include_pad, divisor_override, onnx_cip, explicit):
    """lamina's divisor and onnxruntime's for every output position (broadcast (1, 1, *out))."""
    lam, ort = [], []
    for n, o, kk, ss, pp in zip(spatial, out, k, s, p):
        start = np.arange(o) * ss - pp
        stop = np.minimum(start + kk, n + pp)
        real = np.minimum(start + kk, n) - np.maximum(start, 0)
        lam.append(stop - start if count_include_pad else real)
        ort.append(np.full(o, kk) if (onnx_cip or explicit) else real)
    lam = np.full(out, float(divisor_override)) if divisor_override is not None else _outer(lam)
    return lam, _outer(ort)


def _outer(parts):
    acc = np.asarray(parts[0], dtype=np.float64)
    for q in parts[1:]:
        acc = np.multiply.outer(acc, q)
    return acc


def avg_pool(ctx, x, dtype, spatial, k, s, p, ceil_mode, count_include_pad, divisor_override=None):
    """lamina's average pooling of x (N, C, *spatial) of ``dtype``: AveragePool, times a per-position
    correction (lamina's divisor over onnxruntime's) where they differ."""
    nd = len(k)
    out, end = _geometry(spatial, k, s, p, (1,) * nd, ceil_mode)
    explicit = any(e >= kk for e, kk in zip(end, k))
    onnx_cip = 1 if (count_include_pad or explicit) else 0
    src, pads = x, list(p) + list(end)
    if explicit:  # onnxruntime wants pads < kernel: pad with zeros first
        src = ctx.op("Pad", x, ctx.ints([0, 0, *p, 0, 0, *end]), scalar(ctx, 0.0, dtype, "zero"))
        pads = [0] * (2 * nd)
    y = ctx.op("AveragePool", src, kernel_shape=list(k), strides=list(s), pads=pads, count_include_pad=onnx_cip)
    lam, ort = _divisors(spatial, out, k, s, p, count_include_pad, divisor_override, onnx_cip, explicit)
    if np.array_equal(lam, ort):
        return y
    scale = np.divide(ort, lam, out=np.zeros_like(lam), where=lam != 0)  # an all-padding window gives 0
    return ctx.op("Mul", y, ctx.const(scale.reshape((1, 1) + out).astype(dtype), "divisor_scale"))


@register_converter(nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def _avg_pool(ctx, m, x):
    nd = 1 if isinstance(m, nn.AvgPool1d) else m._nd
    override = getattr(m, "divisor_override", None)
    if override is not None and (not isinstance(override, numbers.Integral) or override == 0):
        raise ctx.error(f"{type(m).__name__}: divisor_override must be a non-zero int, got {override!r}")
    xb, unbatched = _batched(ctx, m, x, nd)
    k = _tup(m.kernel_size, nd)
    y = avg_pool(ctx, xb, x.tensor.dtype, x.shape[-nd:], k, _tup(m.stride, nd, k), _tup(m.padding, nd), m.ceil_mode,
                 m.count_include_pad, override)
    return _unbatch(ctx, y, unbatched)


@register_converter(nn.LPPool1d, nn.LPPool2d, nn.LPPool3d)
def _lp_pool(ctx, m, x):
    """y = (window sum of x^p)^(1/p) (lamina's: the mean of x^p times the window size, ceil overhang included)."""
    nd = m._nd
    xb, unbatched = _batched(ctx, m, x, nd)
    dtype = x.tensor.dtype
    k = _tup(m.kernel_size, nd)
    p = float(m.norm_type)
    powered = ctx.op("Pow", xb, scalar(ctx, p, dtype, "norm_type"))
    mean = avg_pool(ctx, powered, dtype, x.shape[-nd:], k, _tup(m.stride, nd, k), (0,) * nd, m.ceil_mode, True)
    total = ctx.op("Mul", mean, scalar(ctx, float(math.prod(k)), dtype, "window"))
    return _unbatch(ctx, ctx.op("Pow", total, scalar(ctx, 1.0 / p, dtype, "inv_norm_type")), unbatched)


# ---------------------------------------------------------------- adaptive pooling
def _adaptive_out(ctx, m, spatial):
    size, nd = m.output_size, len(spatial)
    vals = (size,) * nd if size is None or isinstance(size, numbers.Integral) else tuple(size)
    if len(vals) != nd:
        raise ctx.error(f"{type(m).__name__}: output_size {size!r} does not have {nd} entries")
    return tuple(n if v is None else int(v) for v, n in zip(vals, spatial))


def _along_last(ctx, x, axis: int, rank: int, fn):
    """Apply ``fn`` (acting on the last axis) along ``axis``, transposing around it."""
    if axis == rank - 1:
        return fn(x)
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return ctx.op("Transpose", fn(ctx.op("Transpose", x, perm=perm)), perm=perm)


@register_converter(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
def _adaptive_avg(ctx, m, x):
    nd = m._nd
    xb, unbatched = _batched(ctx, m, x, nd)
    spatial = x.shape[-nd:]
    out = _adaptive_out(ctx, m, spatial)
    if all(o == 1 for o in out):
        y = ctx.op("GlobalAveragePool", xb)
    elif all(n % o == 0 for n, o in zip(spatial, out)):
        k = [n // o for n, o in zip(spatial, out)]
        y = ctx.op("AveragePool", xb, kernel_shape=k, strides=k)
    else:  # window o spans [floor(o n / m), ceil((o + 1) n / m)): a fixed averaging matrix per dim
        y, dtype = xb, x.tensor.dtype
        for d, (n, o) in enumerate(zip(spatial, out)):
            if n == o:
                continue
            start, stop = _adaptive_bounds(n, o)
            cols = np.arange(n)
            a = ((cols >= start[:, None]) & (cols < stop[:, None])) / (stop - start)[:, None]
            at = ctx.const(a.T.astype(dtype), f"avg_matrix{d}")
            y = _along_last(ctx, y, 2 + d, nd + 2, lambda v, at=at: ctx.op("MatMul", v, at))
    return _unbatch(ctx, y, unbatched)


@register_converter(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
def _adaptive_max(ctx, m, x):
    nd = m._nd
    xb, unbatched = _batched(ctx, m, x, nd)
    spatial = x.shape[-nd:]
    out = _adaptive_out(ctx, m, spatial)
    divisible = all(n % o == 0 for n, o in zip(spatial, out))
    if m.return_indices:
        if not divisible:
            raise ctx.error(f"{type(m).__name__}: return_indices with input size {spatial} not divisible by "
                            f"output size {out} (its windows overlap unevenly; indices are exported only for "
                            f"divisible sizes)")
        k = [n // o for n, o in zip(spatial, out)]
        y, idx = ctx.op("MaxPool", xb, outputs=2, kernel_shape=k, strides=k)
        return _unbatch(ctx, (y, _plane_indices(ctx, idx, xb)), unbatched)
    if all(o == 1 for o in out):
        y = ctx.op("GlobalMaxPool", xb)
    elif divisible:
        k = [n // o for n, o in zip(spatial, out)]
        y = ctx.op("MaxPool", xb, kernel_shape=k, strides=k)
    else:  # max over a box is the max over each dim in turn; offset i of window o reads min(start+i, end-1)
        y = xb
        for d, (n, o) in enumerate(zip(spatial, out)):
            if n == o:
                continue
            start, stop = _adaptive_bounds(n, o)
            width = int((stop - start).max())
            picks = [ctx.op("Gather", y, ctx.ints(np.minimum(start + i, stop - 1), f"window{d}_{i}"), axis=2 + d)
                     for i in range(width)]
            y = ctx.op("Max", *picks) if len(picks) > 1 else picks[0]
    return _unbatch(ctx, y, unbatched)


@register_converter(nn.GlobalAvgPool2d)
def _global_avg_pool(ctx, m, x):
    if x.rank not in (3, 4):
        raise ctx.error(f"GlobalAvgPool2d: expected a 3-D or 4-D input, got shape {x.shape}")
    return reduce(ctx, "ReduceMean", x, [-2, -1], keepdims=0)


# ---------------------------------------------------------------- unpooling and random pooling
@register_converter(nn.MaxUnpool1d, nn.MaxUnpool2d, nn.MaxUnpool3d)
def _max_unpool(ctx, m, x, indices, output_size=None):
    """zeros (N, C, prod(out)) with ScatterElements of x at lamina's per-plane indices, reshaped."""
    nd = m._nd
    xb, unbatched = _batched(ctx, m, x, nd)
    ib = ctx.op("Unsqueeze", indices, ctx.ints([0])) if unbatched else indices
    example = x.tensor.unsqueeze(0) if unbatched else x.tensor
    size = _unpool_size(type(m).__name__, nd, example, m.kernel_size, m.stride, m.padding, output_size)
    nc = ctx.op("Shape", xb, start=0, end=2)
    flat_shape = ctx.op("Concat", nc, ctx.ints([-1]), axis=0)
    zeros = ctx.op("ConstantOfShape", ctx.op("Concat", nc, ctx.ints([math.prod(size)]), axis=0),
                   value=_tensor_attr(np.zeros(1, dtype=x.tensor.dtype)))
    flat = ctx.op("ScatterElements", zeros, ctx.op("Reshape", ib, flat_shape), ctx.op("Reshape", xb, flat_shape),
                  axis=2)
    y = ctx.op("Reshape", flat, ctx.op("Concat", nc, ctx.ints(size), axis=0))
    return _unbatch(ctx, y, unbatched)


def _tensor_attr(arr):
    from onnx import numpy_helper
    return numpy_helper.from_array(arr)


@register_converter(nn.FractionalMaxPool2d, nn.FractionalMaxPool3d)
def _fractional_max_pool(ctx, m, x):
    raise ctx.error(f"{type(m).__name__}: its pooling windows are drawn at random on every call (a fixed "
                    f"_random_samples buffer is per sample of one batch size), which an ONNX graph cannot "
                    f"reproduce; replace it by MaxPool or AdaptiveMaxPool for export")


# ---------------------------------------------------------------- batch and instance norm
def _affine_params(ctx, m, channels: int, dtype):
    w = ctx.param(m.weight, "weight") if getattr(m, "weight", None) is not None \
        else ctx.const(np.ones(channels, dtype), "ones")
    b = ctx.param(m.bias, "bias") if getattr(m, "bias", None) is not None \
        else ctx.const(np.zeros(channels, dtype), "zeros")
    return w, b


def _running_norm(ctx, m, x, channels: int, dtype):
    """(x - running_mean) / sqrt(running_var + eps) * weight + bias as BatchNormalization."""
    w, b = _affine_params(ctx, m, channels, dtype)
    return ctx.op("BatchNormalization", x, w, b, ctx.param(m.running_mean, "running_mean"),
                  ctx.param(m.running_var, "running_var"), epsilon=float(m.eps))


@register_converter(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def _batch_norm(ctx, m, x):
    if x.rank not in m._dims or x.shape[1] != m.num_features:
        raise ctx.error(f"{type(m).__name__}({m.num_features}): input of shape {x.shape}")
    if m.running_mean is not None and m.running_var is not None:
        return _running_norm(ctx, m, x, x.shape[1], x.tensor.dtype)
    # track_running_stats=False: the statistics of the batch itself (biased variance), per channel
    dtype = x.tensor.dtype
    axes = [0] + list(range(2, x.rank))
    xc = ctx.op("Sub", x, reduce(ctx, "ReduceMean", x, axes))
    var = reduce(ctx, "ReduceMean", ctx.op("Mul", xc, xc), axes)
    y = ctx.op("Div", xc, ctx.op("Sqrt", ctx.op("Add", var, scalar(ctx, m.eps, dtype, "eps"))))
    if m.weight is not None:
        y = ctx.op("Mul", y, _channel_shape(ctx, ctx.param(m.weight, "weight"), x.rank))
    if m.bias is not None:
        y = ctx.op("Add", y, _channel_shape(ctx, ctx.param(m.bias, "bias"), x.rank))
    return y


@register_converter(nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
def _instance_norm(ctx, m, x):
    if x.rank not in m._dims:
        raise ctx.error(f"{type(m).__name__}: expected a {m._what} input, got shape {x.shape}")
    unbatched = x.rank == m._dims[0]
    xb = ctx.op("Unsqueeze", x, ctx.ints([0])) if unbatched else x
    channels = x.shape[x.rank - m._dims[0]]  # dim 1 of a batch, dim 0 unbatched (as lamina)
    if m.track_running_stats and m.running_mean is not None:  # eval with running statistics
        y = _running_norm(ctx, m, xb, channels, x.tensor.dtype)
    else:
        w, b = _affine_params(ctx, m, channels, x.tensor.dtype)
        y = ctx.op("InstanceNormalization", xb, w, b, epsilon=float(m.eps))
    return _unbatch(ctx, y, unbatched)


# ---------------------------------------------------------------- layer, group, RMS, local response
@register_converter(nn.LayerNorm)
def _layer_norm(ctx, m, x):
    k = len(m.normalized_shape)
    if tuple(x.shape[x.rank - k:]) != m.normalized_shape or x.rank < k:
        raise ctx.error(f"LayerNorm{m.normalized_shape}: input of shape {x.shape}")
    scale = ctx.param(m.weight, "weight") if m.weight is not None \
        else ctx.const(np.ones(m.normalized_shape, x.tensor.dtype), "ones")
    ins = [x, scale] + ([ctx.param(m.bias, "bias")] if m.bias is not None else [])
    return ctx.op("LayerNormalization", *ins, axis=-k, epsilon=float(m.eps))


@register_converter(nn.GroupNorm)
def _group_norm(ctx, m, x):
    """InstanceNormalization of x reshaped to (N, G, -1), reshaped back, then the per-channel affine."""
    if x.rank < 2 or x.shape[1] != m.num_channels:
        raise ctx.error(f"GroupNorm(num_channels={m.num_channels}): input of shape {x.shape}")
    g, dtype = m.num_groups, x.tensor.dtype
    grouped = ctx.op("Reshape", x, ctx.ints([0, g, -1]))
    normed = ctx.op("InstanceNormalization", grouped, ctx.const(np.ones(g, dtype), "ones"),
                    ctx.const(np.zeros(g, dtype), "zeros"), epsilon=float(m.eps))
    y = ctx.op("Reshape", normed, ctx.op("Shape", x))
    if m.weight is not None:
        y = ctx.op("Mul", y, _channel_shape(ctx, ctx.param(m.weight, "weight"), x.rank))
    if m.bias is not None:
        y = ctx.op("Add", y, _channel_shape(ctx, ctx.param(m.bias, "bias"), x.rank))
    return y


@register_converter(nn.RMSNorm)
def _rms_norm(ctx, m, x):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape dims."""
    k = len(m.normalized_shape)
    if tuple(x.shape[x.rank - k:]) != m.normalized_shape or x.rank < k:
        raise ctx.error(f"RMSNorm{m.normalized_shape}: input of shape {x.shape}")
    dtype = x.tensor.dtype
    eps = float(np.finfo(dtype).eps) if m.eps is None else float(m.eps)
    ms = reduce(ctx, "ReduceMean", ctx.op("Mul", x, x), list(range(x.rank - k, x.rank)))
    y = ctx.op("Div", x, ctx.op("Sqrt", ctx.op("Add", ms, scalar(ctx, eps, dtype, "eps"))))
    return ctx.op("Mul", y, ctx.param(m.weight, "weight")) if m.weight is not None else y


@register_converter(nn.LocalResponseNorm)
def _local_response_norm(ctx, m, x):
    """y = x / (k + alpha/size * sum of x^2 over channels [c - size//2, c + (size-1)//2])^beta.

    ONNX LRN's window is [c - (size-1)//2, c + ceil((size-1)/2)]: the same for odd sizes (LRN on a
    4-D view, onnxruntime's only rank); even sizes are written out (zero-padded channel sums).
    """
    if x.rank < 3:
        raise ctx.error(f"LocalResponseNorm: expected a 3-D or higher input, got shape {x.shape}")
    size, dtype = int(m.size), x.tensor.dtype
    if size % 2:
        view = x if x.rank == 4 else ctx.op("Reshape", x, ctx.ints([0, 0, -1, 1]))
        y = ctx.op("LRN", view, size=size, alpha=float(m.alpha), beta=float(m.beta), bias=float(m.k))
        return y if x.rank == 4 else ctx.op("Reshape", y, ctx.op("Shape", x))
    c = x.shape[1]
    before, after = size // 2, (size - 1) // 2
    sq = ctx.op("Mul", x, x)
    zero_pads = [0] * (x.rank - 2)
    padded = ctx.op("Pad", sq, ctx.ints([0, before, *zero_pads, 0, after, *zero_pads]),
                    scalar(ctx, 0.0, dtype, "zero"))
    acc = None
    for i in range(size):  # a loop over the window offsets (a small fixed number)
        part = ctx.op("Slice", padded, ctx.ints([i]), ctx.ints([i + c]), ctx.ints([1]))
        acc = part if acc is None else ctx.op("Add", acc, part)
    base = ctx.op("Add", ctx.op("Mul", acc, scalar(ctx, m.alpha / size, dtype, "alpha")), scalar(ctx, m.k, dtype, "k"))
    return ctx.op("Div", x, ctx.op("Pow", base, scalar(ctx, m.beta, dtype, "beta")))
