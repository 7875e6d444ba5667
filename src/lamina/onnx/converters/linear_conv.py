"""ONNX converters for the linear, convolution, shape, padding, resampling and lookup layers.

Every converter keeps axis 0 (the batch) dynamic: Reshape shapes use 0 (copy the input's
dim) and -1, or are read from the input with Shape; only channel and spatial sizes, which the
layer's weights or arguments fix anyway, are written as constants.

    Conv2d(3, 8, 3, padding=1, padding_mode="reflect")  ->  Pad(mode=reflect) -> Conv
    Upsample(scale_factor=2, mode="bilinear")           ->  Resize(linear, half_pixel)
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...nn.layers.embedding_bag import EmbeddingBag
from ...nn.layers.normalization import Dropout1d, Dropout2d, Dropout3d
from ...ops.fold import _pair
from ...tensor import Tensor
from .._registry import register_converter


# ---------------------------------------------------------------- helpers
def _dtype(x):
    return x.tensor.array.dtype


def _scalar(ctx, value, like, hint="scalar"):
    """A 0-d constant with ``like``'s dtype."""
    return ctx.const(np.asarray(value, dtype=_dtype(like)), hint)


def _shape(ctx, x, start=None, end=None):
    """Shape(x)[start:end] as an int64 Value (ONNX Shape's own start/end, opset 15+)."""
    dims = np.asarray(x.shape, dtype=np.int64)[slice(start, end)]
    return ctx.op("Shape", x, start=start, end=end, out=Tensor(dims))


def _reshape(ctx, x, shape, out=None):
    """Reshape to ``shape``: a list of ints (0 copies the input's dim, -1 is inferred) or a Value."""
    target = shape if not isinstance(shape, (list, tuple)) else ctx.ints(shape, "shape")
    return ctx.op("Reshape", x, target, out=out)


def _concat_shape(ctx, *parts):
    """Concat of int64 1-D Values and Python int lists into one shape Value."""
    vals = [p if not isinstance(p, (list, tuple)) else ctx.ints(p, "dims") for p in parts if not
            (isinstance(p, (list, tuple)) and len(p) == 0)]
    return vals[0] if len(vals) == 1 else ctx.op("Concat", *vals, axis=0)


def _unsqueeze(ctx, x, axis):
    out = x.tensor.unsqueeze(axis) if x.tensor is not None else None
    return ctx.op("Unsqueeze", x, ctx.ints([axis], "axes"), out=out)


def _squeeze(ctx, x, axis):
    out = x.tensor.squeeze(axis) if x.tensor is not None else None
    return ctx.op("Squeeze", x, ctx.ints([axis], "axes"), out=out)


def _onnx_pads(torch_pads, rank):
    """torch's last-dim-first (left, right) pairs -> ONNX's [begins of every axis, ends of every axis]."""
    begin, end = [0] * rank, [0] * rank
    for k in range(len(torch_pads) // 2):
        begin[rank - 1 - k], end[rank - 1 - k] = int(torch_pads[2 * k]), int(torch_pads[2 * k + 1])
    return begin + end


def _pad(ctx, x, torch_pads, mode, value=0.0):
    """F.pad: mode 'constant' (negative amounts crop), 'reflect', 'replicate' or 'circular'."""
    rank = x.rank
    if mode == "circular":
        return _circular_pad(ctx, x, torch_pads)
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    pads = ctx.ints(_onnx_pads(torch_pads, rank), "pads")
    if mode == "constant":
        return ctx.op("Pad", x, pads, _scalar(ctx, value, x, "pad_value"), mode=onnx_mode)
    return ctx.op("Pad", x, pads, mode=onnx_mode)


def _circular_pad(ctx, x, torch_pads):
    """Wrap-around padding (ONNX Pad has no 'wrap' before opset 19): Slice the far ends and Concat them on."""
    rank, out = x.rank, x.tensor
    for k in range(len(torch_pads) // 2):
        axis, (a, b) = rank - 1 - k, (int(torch_pads[2 * k]), int(torch_pads[2 * k + 1]))
        if a < 0 or b < 0:
            raise ctx.error("circular padding with a negative amount (cropping)")
        if a == 0 and b == 0:
            continue
        parts = []
        if a:
            parts.append(ctx.op("Slice", x, ctx.ints([-a]), ctx.ints([np.iinfo(np.int64).max]), ctx.ints([axis])))
        parts.append(x)
        if b:
            parts.append(ctx.op("Slice", x, ctx.ints([0]), ctx.ints([b]), ctx.ints([axis])))
        n = out.shape[axis]
        idx = np.concatenate([np.arange(n - a, n), np.arange(n), np.arange(b)])
        out = Tensor(np.take(out.array, idx, axis=axis))
        x = ctx.op("Concat", *parts, axis=axis, out=out)
    return x


# ---------------------------------------------------------------- linear layers
@register_converter(nn.Linear)
def _linear(ctx, m, x):
    """y = x W^T + b as Gemm for 2-D inputs, MatMul (+ Add) for more dimensions."""
    if x.rank == 2:
        ins = [x, ctx.param(m.weight, "weight")] + ([ctx.param(m.bias, "bias")] if m.bias is not None else [])
        return ctx.op("Gemm", *ins, transB=1)
    wt = ctx.const(m.weight.detach().numpy().T.copy(), "weight_t")
    y = ctx.op("MatMul", x, wt)
    return ctx.op("Add", y, ctx.param(m.bias, "bias")) if m.bias is not None else y


@register_converter(nn.Bilinear)
def _bilinear(ctx, m, x1, x2):
    """y[..., o] = sum_ij x1_i W[o, i, j] x2_j + b_o: x1 @ W' (in1, out*in2), times x2, summed over j."""
    out_f, in1, in2 = m.weight.shape
    w = m.weight.detach().numpy()
    wr = ctx.const(np.ascontiguousarray(w.transpose(1, 0, 2).reshape(in1, out_f * in2)), "weight_r")
    a = _reshape(ctx, x1, [-1, in1])
    b = _reshape(ctx, x2, [-1, 1, in2])
    t = _reshape(ctx, ctx.op("MatMul", a, wr), [-1, out_f, in2])
    y = ctx.op("ReduceSum", ctx.op("Mul", t, b), ctx.ints([2], "axes"), keepdims=0)
    if m.bias is not None:
        y = ctx.op("Add", y, ctx.param(m.bias, "bias"))
    return _reshape(ctx, y, _concat_shape(ctx, _shape(ctx, x1, 0, -1), [out_f]))


# ---------------------------------------------------------------- convolutions
def _batched(ctx, m, x):
    """(x as (N, C, *spatial), was_unbatched)."""
    if x.rank == m._nd + 1:
        return _unsqueeze(ctx, x, 0), True
    return x, False


@register_converter(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _conv(ctx, m, x):
    """Conv with pads (begin..., end...); a non-zero padding_mode is a Pad first, then a 'valid' Conv."""
    nd = m._nd
    x, unbatched = _batched(ctx, m, x)
    pads = _onnx_pads(m._reversed_padding_repeated_twice, nd + 2)
    if m.padding_mode != "zeros":
        x = _pad(ctx, x, m._reversed_padding_repeated_twice, m.padding_mode)
        spatial = [0] * (2 * nd)
    else:
        spatial = pads[2:nd + 2] + pads[nd + 4:]
    ins = [x, ctx.param(m.weight, "weight")] + ([ctx.param(m.bias, "bias")] if m.bias is not None else [])
    y = ctx.op("Conv", *ins, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=spatial,
               dilations=list(m.dilation), group=m.groups)
    return _squeeze(ctx, y, 0) if unbatched else y


@register_converter(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def _conv_transpose(ctx, m, x, output_size=None):
    """ConvTranspose with torch's weight layout (in, out/groups, k...), pads, dilations, output_padding."""
    x, unbatched = _batched(ctx, m, x)
    output_padding = m._output_padding(x.tensor, output_size)
    ins = [x, ctx.param(m.weight, "weight")] + ([ctx.param(m.bias, "bias")] if m.bias is not None else [])
    y = ctx.op("ConvTranspose", *ins, kernel_shape=list(m.kernel_size), strides=list(m.stride),
               pads=list(m.padding) * 2, dilations=list(m.dilation), group=m.groups,
               output_padding=list(output_padding))
    return _squeeze(ctx, y, 0) if unbatched else y


# ---------------------------------------------------------------- shape layers
@register_converter(nn.Flatten)
def _flatten(ctx, m, x):
    """Merge dims start..end: ONNX Flatten for (1, -1), else Reshape to shape[:s] + [-1] + shape[e+1:]."""
    r = x.rank
    if r == 0:
        return _reshape(ctx, x, [1])
    s, e = m.start_dim % r, m.end_dim % r
    if s == 1 and e == r - 1:
        return ctx.op("Flatten", x, axis=1)
    if s == e:
        return ctx.op("Identity", x)
    return _reshape(ctx, x, _concat_shape(ctx, _shape(ctx, x, 0, s) if s else [], [-1],
                                          _shape(ctx, x, e + 1) if e + 1 < r else []))


@register_converter(nn.Unflatten)
def _unflatten(ctx, m, x):
    """Split dim into unflattened_size: Reshape to shape[:d] + sizes + shape[d+1:]."""
    r = x.rank
    d = m.dim % r
    return _reshape(ctx, x, _concat_shape(ctx, _shape(ctx, x, 0, d) if d else [], list(m.unflattened_size),
                                          _shape(ctx, x, d + 1) if d + 1 < r else []))


@register_converter(nn.Dropout, nn.AlphaDropout, nn.FeatureAlphaDropout, Dropout1d, Dropout2d, Dropout3d)
def _dropout(ctx, m, x):
    """Every dropout is the identity in eval mode (the exporter puts the model in eval)."""
    return ctx.op("Identity", x, out=x.tensor)


# ---------------------------------------------------------------- padding layers
@register_converter(nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)
def _constant_pad(ctx, m, x):
    return _pad(ctx, x, m.padding, "constant", m.value)


@register_converter(nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d, nn.ReplicationPad1d,
                    nn.ReplicationPad2d, nn.ReplicationPad3d, nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d)
def _mode_pad(ctx, m, x):
    return _pad(ctx, x, m.padding, m._mode)


# ---------------------------------------------------------------- channel <-> space
@register_converter(nn.PixelShuffle)
def _pixel_shuffle(ctx, m, x):
    """(*, C r^2, H, W) -> (*, C, r, r, H, W) -> (*, C, H, r, W, r) -> (*, C, H r, W r)."""
    r, L = int(m.upscale_factor), x.rank - 3          # L leading (batch) dims, copied by Reshape's 0
    c, h, w = x.shape[-3:]
    y = _reshape(ctx, x, [0] * L + [c // (r * r), r, r, h, w])
    y = ctx.op("Transpose", y, perm=list(range(L)) + [L, L + 3, L + 1, L + 4, L + 2])
    return _reshape(ctx, y, [0] * L + [c // (r * r), h * r, w * r])


@register_converter(nn.PixelUnshuffle)
def _pixel_unshuffle(ctx, m, x):
    """(*, C, H r, W r) -> (*, C, H, r, W, r) -> (*, C, r, r, H, W) -> (*, C r^2, H, W)."""
    r, L = int(m.downscale_factor), x.rank - 3
    c, h, w = x.shape[-3:]
    y = _reshape(ctx, x, [0] * L + [c, h // r, r, w // r, r])
    y = ctx.op("Transpose", y, perm=list(range(L)) + [L, L + 2, L + 4, L + 1, L + 3])
    return _reshape(ctx, y, [0] * L + [c * r * r, h // r, w // r])


@register_converter(nn.ChannelShuffle)
def _channel_shuffle(ctx, m, x):
    """(N, C, *) -> (N, g, C/g, rest) -> (N, C/g, g, rest) -> the input's shape."""
    g, c = int(m.groups), x.shape[1]
    y = _reshape(ctx, x, [0, g, c // g, -1])
    y = ctx.op("Transpose", y, perm=[0, 2, 1, 3])
    return _reshape(ctx, y, _shape(ctx, x))


# ---------------------------------------------------------------- lookups
@register_converter(nn.Embedding)
def _embedding(ctx, m, ids):
    """y = W[ids]: Gather along axis 0 (padding_idx and scale_grad_by_freq only change training)."""
    if m.max_norm is not None:
        raise ctx.error("Embedding with max_norm (it renormalises the weight in place on every lookup)")
    return ctx.op("Gather", ctx.param(m.weight, "weight"), ids, axis=0)


@register_converter(EmbeddingBag)
def _embedding_bag(ctx, m, ids, offsets=None, per_sample_weights=None):
    """Bags of embeddings reduced by sum / mean / max; a 2-D input is one bag per row, a 1-D input
    with offsets is bag b = ids[offsets[b]:offsets[b+1]], written as a (B, n) membership mask."""
    if m.max_norm is not None:
        raise ctx.error("EmbeddingBag with max_norm (it renormalises the weight in place on every lookup)")
    for what, v in (("offsets", offsets), ("per_sample_weights", per_sample_weights)):
        if v is not None and not hasattr(v, "name"):
            raise ctx.error(f"EmbeddingBag with {what} given as a Python value: pass it as a model input")
    y = _bag_graph(ctx, m, ids, offsets, per_sample_weights)
    # the example output is set here: ctx.call cannot rerun the layer with an absent (None) input
    y.tensor = m(ids.tensor, None if offsets is None else offsets.tensor,
                 None if per_sample_weights is None else per_sample_weights.tensor)
    return y


def _bag_graph(ctx, m, ids, offsets, psw):
    w = ctx.param(m.weight, "weight")
    rows = ctx.op("Gather", w, ids, axis=0)                          # (B, L, D) or (n, D)
    wdt = m.weight.array.dtype
    to = _onnx_float(wdt)
    member = None
    if m.padding_idx is not None:
        pad = ctx.const(np.asarray(m.padding_idx, dtype=_dtype(ids)), "padding_idx")
        member = ctx.op("Not", ctx.op("Equal", ids, pad))           # ids' shape
    if ids.rank == 2:
        vals = rows                                                 # (B, L, D); member (B, L) or None
    else:
        if offsets is None:
            raise ctx.error("EmbeddingBag with a 1-D input and no offsets")
        big = np.iinfo(np.int64).max
        n = _shape(ctx, ids)
        pos = ctx.op("Range", ctx.const(np.asarray(0, np.int64), "zero"), ctx.op("Squeeze", n),
                     ctx.const(np.asarray(1, np.int64), "one"))
        off = ctx.op("Cast", offsets, to=7)                         # int64
        tail = ctx.op("Slice", off, ctx.ints([1]), ctx.ints([big]), ctx.ints([0]))
        if m.include_last_offset:                                   # bags [off[b], off[b+1]) for b < len - 1
            starts, ends = ctx.op("Slice", off, ctx.ints([0]), ctx.ints([-1]), ctx.ints([0])), tail
        else:                                                       # the last bag runs to the end
            starts, ends = off, ctx.op("Concat", tail, n, axis=0)
        p = _reshape(ctx, pos, [1, -1])
        inside = ctx.op("And", ctx.op("GreaterOrEqual", p, _reshape(ctx, starts, [-1, 1])),
                        ctx.op("Less", p, _reshape(ctx, ends, [-1, 1])))   # (B, n)
        member = inside if member is None else ctx.op("And", inside, _reshape(ctx, member, [1, -1]))
        vals = ctx.op("Unsqueeze", rows, ctx.ints([0], "axes"))     # (1, n, D)
        psw = _reshape(ctx, psw, [1, -1]) if psw is not None else None
    if m.mode == "max":
        if member is None:
            return ctx.op("ReduceMax", vals, axes=[1], keepdims=0)
        mask3 = ctx.op("Unsqueeze", member, ctx.ints([2], "axes"))
        neg = ctx.const(np.asarray(-np.inf, dtype=wdt), "neg_inf")
        best = ctx.op("ReduceMax", ctx.op("Where", mask3, vals, neg), axes=[1], keepdims=0)
        nonempty = ctx.op("Cast", ctx.op("ReduceMax", ctx.op("Cast", member, to=to), axes=[1], keepdims=1), to=9)
        return ctx.op("Where", nonempty, best, ctx.const(np.asarray(0, dtype=wdt), "zero_f"))
    weight = None if member is None else ctx.op("Cast", member, to=to)   # (B, L) / (B, n)
    if psw is not None:
        weight = psw if weight is None else ctx.op("Mul", weight, psw)
    if ids.rank == 2:
        if weight is None and m.mode == "mean":
            return ctx.op("ReduceMean", rows, axes=[1], keepdims=0)
        summed = rows if weight is None else ctx.op("Mul", rows, ctx.op("Unsqueeze", weight, ctx.ints([2], "axes")))
        total = ctx.op("ReduceSum", summed, ctx.ints([1], "axes"), keepdims=0)
    else:
        total = ctx.op("MatMul", weight, rows)                      # (B, n) @ (n, D)
    if m.mode == "sum":
        return total
    count = ctx.op("ReduceSum", ctx.op("Cast", member, to=to), ctx.ints([1], "axes"), keepdims=1)
    count = ctx.op("Max", count, ctx.const(np.asarray(1, dtype=wdt), "one_f"))
    return ctx.op("Div", total, count)


def _onnx_float(dtype) -> int:
    from onnx import helper
    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


# ---------------------------------------------------------------- resampling
_RESIZE_MODE = {"nearest": "nearest", "nearest-exact": "nearest", "linear": "linear", "bilinear": "linear",
                "trilinear": "linear", "bicubic": "cubic"}


@register_converter(nn.Upsample)
def _upsample(ctx, m, x):
    """Resize with torch's index arithmetic: nearest = asymmetric + floor, nearest-exact = half-pixel +
    round_prefer_ceil, (bi/tri)linear and bicubic = half_pixel (torch applies it at every output size, also 1) or
    align_corners (cubic a = -0.75).
    A scale_factor travels as Resize scales (torch uses 1/scale_factor), a size as Resize sizes."""
    nd = x.rank - 2
    in_size = x.shape[2:]
    out_size = tuple(m(x.tensor).shape[2:])
    if m.mode == "area":
        if any(n % o for n, o in zip(in_size, out_size)):
            raise ctx.error(f"Upsample(mode='area') from {in_size} to {out_size}: only whole-number "
                            f"downscaling factors are written (as AveragePool)")
        k = [n // o for n, o in zip(in_size, out_size)]
        return ctx.op("AveragePool", x, kernel_shape=k, strides=k)
    attrs = {"mode": _RESIZE_MODE[m.mode]}
    if m.mode in ("nearest", "nearest-exact"):
        exact = m.mode == "nearest-exact"
        attrs.update(coordinate_transformation_mode="half_pixel" if exact else "asymmetric",
                     nearest_mode="round_prefer_ceil" if exact else "floor")
    else:
        attrs["coordinate_transformation_mode"] = "align_corners" if m.align_corners else "half_pixel"
        if m.mode == "bicubic":
            attrs.update(cubic_coeff_a=-0.75, exclude_outside=0)
    if m.scale_factor is not None and not m.recompute_scale_factor:
        sf = (m.scale_factor,) * nd if isinstance(m.scale_factor, float) else tuple(m.scale_factor)
        scales = ctx.const(np.asarray((1.0, 1.0) + tuple(sf), dtype=np.float32), "scales")
        return ctx.op("Resize", x, None, scales, **attrs)
    sizes = _concat_shape(ctx, _shape(ctx, x, 0, 2), list(out_size))
    return ctx.op("Resize", x, None, None, sizes, **attrs)


# ---------------------------------------------------------------- distances
def _broadcast_pair(ctx, a, b):
    """Both inputs expanded to their common shape (norms must be taken after broadcasting, as lamina)."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    if a.shape == shape and b.shape == shape:
        return a, b
    target = _shape(ctx, ctx.op("Add", a, b, out=a.tensor + b.tensor))
    return (a if a.shape == shape else ctx.op("Expand", a, target),
            b if b.shape == shape else ctx.op("Expand", b, target))


@register_converter(nn.CosineSimilarity)
def _cosine_similarity(ctx, m, x1, x2):
    """sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along dim."""
    a, b = _broadcast_pair(ctx, x1, x2)
    rank = len(np.broadcast_shapes(x1.shape, x2.shape))
    d = m.dim % max(rank, 1)
    eps = _scalar(ctx, m.eps, x1, "eps")

    def unit(v):
        return ctx.op("Div", v, ctx.op("Max", ctx.op("ReduceL2", v, axes=[d], keepdims=1), eps))

    return ctx.op("ReduceSum", ctx.op("Mul", unit(a), unit(b)), ctx.ints([d], "axes"), keepdims=0)


@register_converter(nn.PairwiseDistance)
def _pairwise_distance(ctx, m, x1, x2):
    """||x1 - x2 + eps||_p over the last dim (p = 2, 1, inf, -inf, 0 or any other float)."""
    rank = len(np.broadcast_shapes(x1.shape, x2.shape))
    if rank == 0:
        raise ctx.error("PairwiseDistance of 0-d inputs")
    diff = ctx.op("Add", ctx.op("Sub", x1, x2), _scalar(ctx, m.eps, x1, "eps"))
    p, axis, keep = float(m.norm), [rank - 1], int(bool(m.keepdim))
    if p == 2:
        return ctx.op("ReduceL2", diff, axes=axis, keepdims=keep)
    if p == 1:
        return ctx.op("ReduceL1", diff, axes=axis, keepdims=keep)
    if p == math.inf:
        return ctx.op("ReduceMax", ctx.op("Abs", diff), axes=axis, keepdims=keep)
    if p == -math.inf:
        return ctx.op("ReduceMin", ctx.op("Abs", diff), axes=axis, keepdims=keep)
    if p == 0:
        nz = ctx.op("Cast", ctx.op("Not", ctx.op("Equal", diff, _scalar(ctx, 0, x1, "zero"))),
                    to=_onnx_float(_dtype(x1)))
        return ctx.op("ReduceSum", nz, ctx.ints(axis, "axes"), keepdims=keep)
    powered = ctx.op("Pow", ctx.op("Abs", diff), _scalar(ctx, p, x1, "p"))
    total = ctx.op("ReduceSum", powered, ctx.ints(axis, "axes"), keepdims=keep)
    return ctx.op("Pow", total, _scalar(ctx, 1.0 / p, x1, "inv_p"))


# ---------------------------------------------------------------- sliding blocks
def _block_kernel(channels, kh, kw, dtype):
    """The one-hot grouped kernel of im2col: channel c*K + (i*kw + j) reads offset (i, j) of input channel c."""
    k = kh * kw
    w = np.zeros((channels * k, 1, kh, kw), dtype=dtype)
    w[np.arange(channels * k), 0, (np.arange(channels * k) % k) // kw, np.arange(channels * k) % kw] = 1
    return w


def _fold_args(m, op):
    return (_pair(m.kernel_size, "kernel_size", op, 1), _pair(m.dilation, "dilation", op, 1),
            _pair(m.padding, "padding", op, 0), _pair(m.stride, "stride", op, 1))


@register_converter(nn.Unfold)
def _unfold(ctx, m, x):
    """im2col as a grouped Conv with one-hot kernels (exact: each output is one input value), then
    (N, C*K, Ho, Wo) -> (N, C*K, L)."""
    if x.rank != 4:
        raise ctx.error(f"Unfold of a {x.rank}-D input (only (N, C, H, W) is written)")
    (kh, kw), dil, pad, stride = _fold_args(m, "Unfold")
    c = x.shape[1]
    w = ctx.const(_block_kernel(c, kh, kw, _dtype(x)), "block_kernel")
    y = ctx.op("Conv", x, w, kernel_shape=[kh, kw], strides=list(stride), pads=list(pad) * 2,
               dilations=list(dil), group=c)
    return _reshape(ctx, y, [0, c * kh * kw, -1])


@register_converter(nn.Fold)
def _fold(ctx, m, x):
    """col2im as the adjoint of Unfold's one-hot Conv: a grouped ConvTranspose (overlaps summed), with
    the rows the blocks never reach padded on with zeros."""
    if x.rank != 3:
        raise ctx.error(f"Fold of a {x.rank}-D input (only (N, C*kH*kW, L) is written)")
    (kh, kw), dil, pad, stride = _fold_args(m, "Fold")
    out_hw = _pair(m.output_size, "output_size", "Fold", 1)
    ck = x.shape[1]
    c = ck // (kh * kw)
    blocks = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s in zip(out_hw, (kh, kw), dil, pad, stride)]
    cols = _reshape(ctx, x, [0, ck] + blocks)
    w = ctx.const(_block_kernel(c, kh, kw, _dtype(x)), "block_kernel")
    y = ctx.op("ConvTranspose", cols, w, kernel_shape=[kh, kw], strides=list(stride), pads=list(pad) * 2,
               dilations=list(dil), group=c)
    got = [(b - 1) * s - 2 * p + d * (k - 1) + 1 for b, s, p, d, k in zip(blocks, stride, pad, dil, (kh, kw))]
    extra = [o - g for o, g in zip(out_hw, got)]
    if any(extra):
        y = ctx.op("Pad", y, ctx.ints([0, 0, 0, 0, 0, 0] + extra, "pads"), mode="constant")
    return y
