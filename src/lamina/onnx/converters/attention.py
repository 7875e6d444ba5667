"""ONNX converters for attention: MultiheadAttention, the Transformer layers and stacks, and the
positional encodings. The attention core is written out of MatMul / Softmax (no fused op):

    s = (Q W_q^T / sqrt(d)) (K W_k^T)^T + float masks;   s = -inf where a bool mask blocks
    p = softmax(s) (rows with every key blocked -> 0 where lamina's attention is "safe")
    out = out_proj(concat_h p_h V_h)

The 1/sqrt(d) scale is folded into the query projection. Batch and sequence axes stay dynamic:
head reshapes use 0 / -1 and sequence-dependent tables (positional encodings) are sliced to
Shape(x). Masks may be graph inputs (Values) or constant Tensors given as module kwargs. Linear,
LayerNorm and the activations go through their own converters (``ctx.call``); dropout is the
identity in eval mode and is left out. Shared graph helpers (``heads``, ``attend``, ``act``)
serve the text zoo too (zoo_text.py).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd import no_grad
from ...nn import functional as F
from ...nn.module import Module
from ...tensor import Tensor
from .._context import Value, _np
from .._registry import register_converter

__all__ = ["act", "add", "as_value", "attend", "heads", "merge_heads", "reduce", "seq_len"]

_BOOL = 9  # onnx.TensorProto.BOOL


# ---------------------------------------------------------------- shared graph helpers
def as_value(ctx, v, hint: str):
    """A mask argument as a Value: a Value stays, a lamina Tensor becomes a constant, None stays None."""
    if v is None or isinstance(v, Value):
        return v
    if isinstance(v, Tensor):
        return ctx.const(_np(v), hint)
    raise ctx.error(f"{hint}: expected a Tensor or a graph input, got {type(v).__name__}")


def _t(v):
    return v.tensor if isinstance(v, Value) else v


def add(ctx, a: Value, b: Value) -> Value:
    """a + b, with the example tensor."""
    return ctx.op("Add", a, b, out=a.tensor + b.tensor)


def reduce(ctx, op_type: str, x: Value, axes, keepdims: int = 1) -> Value:
    """A Reduce* node: axes as an input from opset 18 (ReduceSum from 13), an attribute before."""
    if ctx.opset >= 18 or op_type == "ReduceSum":
        return ctx.op(op_type, x, ctx.ints(axes, "axes"), keepdims=keepdims)
    return ctx.op(op_type, x, axes=list(axes), keepdims=keepdims)


def seq_len(ctx, x: Value, axis: int) -> Value:
    """The 1-D [x.shape[axis]] at run time."""
    return ctx.op("Shape", x, start=axis, end=axis + 1)


def heads(ctx, t: Value, H: int, d: int, keys: bool = False) -> Value:
    """(N, L, H*d) -> (N, H, L, d); keys=True gives (N, H, d, L), ready for q k^T."""
    r = ctx.op("Reshape", t, ctx.ints([0, 0, H, d]))
    return ctx.op("Transpose", r, perm=[0, 2, 3, 1] if keys else [0, 2, 1, 3])


def merge_heads(ctx, o: Value, seq_first: bool = False) -> Value:
    """(N, H, L, d) -> (N, L, H*d), or (L, N, H*d) with ``seq_first``."""
    t = ctx.op("Transpose", o, perm=[2, 0, 1, 3] if seq_first else [0, 2, 1, 3])
    return ctx.op("Reshape", t, ctx.ints([0, 0, -1]))


def attend(ctx, q: Value, kT: Value, v: Value, dtype, *, additive=(), blocked=None, safe: bool = False,
           scale: float | None = None):
    """(softmax(q kT [* scale] + additive, blocked -> -inf) v, p); q (.., L, d), kT (.., d, S), v (.., S, d).

    ``safe``: rows whose every key is blocked give p = 0 (lamina's safe softmax), not NaN."""
    s = ctx.op("MatMul", q, kT)
    if scale is not None:
        s = ctx.op("Mul", s, ctx.const(np.asarray(scale, dtype=dtype), "scale"))
    for a in additive:
        s = ctx.op("Add", s, a)
    if blocked is not None:
        s = ctx.op("Where", blocked, ctx.const(np.asarray(-np.inf, dtype=dtype), "neg_inf"), s)
    p = ctx.op("Softmax", s, axis=-1)
    if safe and (blocked is not None or additive):
        p = ctx.op("Where", ctx.op("IsNaN", p), ctx.const(np.zeros((), dtype=dtype), "zero"), p)
    return ctx.op("MatMul", p, v), p


def act(ctx, fn, x: Value, name: str = "activation") -> Value:
    """An activation given as a module (its converter) or as lamina's functional relu / gelu."""
    if isinstance(fn, Module):
        return ctx.call(fn, x, name=name)
    if fn is F.relu:
        return ctx.call(nn.ReLU(), x, name=name)
    if fn is F.gelu:
        return ctx.call(nn.GELU(), x, name=name)
    raise ctx.error(f"activation {getattr(fn, '__name__', fn)!r}: only relu, gelu or an nn.Module activation "
                    f"can be exported")


def _bool_or_float(ctx, mask: Value, hint: str):
    """('blocked', mask) for a bool mask, ('add', mask) for a float one."""
    kind = np.dtype(_t(mask).dtype).kind
    if kind == "b":
        return "blocked", mask
    if kind == "f":
        return "add", mask
    raise ctx.error(f"{hint} of dtype {_t(mask).dtype}: only bool and float masks are supported")


# ---------------------------------------------------------------- MultiheadAttention
@register_converter(nn.MultiheadAttention)
def _mha(ctx, m, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
         average_attn_weights=True, is_causal=False):
    """Projections (scale folded into W_q), per-head attention, out_proj; returns (out, weights | None)."""
    if getattr(m, "bias_k", None) is not None or getattr(m, "add_zero_attn", False):
        raise ctx.error("MultiheadAttention with add_bias_kv / add_zero_attn")
    kpm = as_value(ctx, key_padding_mask, "key_padding_mask")
    am = as_value(ctx, attn_mask, "attn_mask")
    captured = []
    hook = m.out_proj.register_forward_pre_hook(lambda mod, args: captured.append(args[0]))
    try:
        with no_grad():
            ref_out, ref_w = m(query.tensor, key.tensor, value.tensor, key_padding_mask=_t(kpm),
                               need_weights=need_weights, attn_mask=_t(am),
                               average_attn_weights=average_attn_weights, is_causal=is_causal)
    finally:
        hook.remove()

    E, H, d, bf = m.embed_dim, m.num_heads, m.head_dim, m.batch_first
    dtype = np.dtype(query.tensor.dtype)
    batched = query.rank == 3
    same_qkv = query.name == key.name == value.name
    same_kv = key.name == value.name
    cache = {}

    def batch_first(x: Value) -> Value:  # (N, len, E) whatever the layout
        if x.name not in cache:
            y = x
            if not batched:
                y = ctx.op("Unsqueeze", y, ctx.ints([0]))
            elif not bf:
                y = ctx.op("Transpose", y, perm=[1, 0, 2])
            cache[x.name] = y
        return cache[x.name]

    scale = 1.0 / math.sqrt(d)
    b = _np(m.in_proj_bias) if m.in_proj_bias is not None else None
    if m._qkv_same_embed_dim:
        w = _np(m.in_proj_weight)
        ws = [w[:E] * scale, w[E:2 * E], w[2 * E:]]
    else:
        ws = [_np(m.q_proj_weight) * scale, _np(m.k_proj_weight), _np(m.v_proj_weight)]
    bs = None if b is None else [b[:E] * scale, b[E:2 * E], b[2 * E:]]

    def project(x: Value, idx, hint: str) -> Value:
        wt = np.concatenate([ws[i] for i in idx], 0).T.astype(dtype)
        y = ctx.op("MatMul", batch_first(x), ctx.const(np.ascontiguousarray(wt), hint + "_weight_t"))
        if bs is not None:
            y = ctx.op("Add", y, ctx.const(np.concatenate([bs[i] for i in idx]).astype(dtype), hint + "_bias"))
        return y

    if same_qkv and m._qkv_same_embed_dim:
        q, k, v = ctx.op("Split", project(query, (0, 1, 2), "in_proj"), ctx.ints([E] * 3), axis=-1, outputs=3)
    elif same_kv and m._qkv_same_embed_dim:
        q = project(query, (0,), "q_proj")
        k, v = ctx.op("Split", project(key, (1, 2), "kv_proj"), ctx.ints([E] * 2), axis=-1, outputs=2)
    else:
        q, k, v = project(query, (0,), "q_proj"), project(key, (1,), "k_proj"), project(value, (2,), "v_proj")
    qh, kT, vh = heads(ctx, q, H, d), heads(ctx, k, H, d, keys=True), heads(ctx, v, H, d)

    additive, blocked = [], None
    for mask, hint in ((am, "attn_mask"), (kpm, "key_padding_mask")):
        if mask is None:
            continue
        kind, mv = _bool_or_float(ctx, mask, hint)
        if hint == "attn_mask" and mv.rank == 3:     # (N*H, L, S) -> (N, H, L, S)
            shape = ctx.op("Concat", ctx.ints([-1, H]), ctx.op("Shape", mv, start=1), axis=0)
            mv = ctx.op("Reshape", mv, shape)
        elif hint == "key_padding_mask":            # (N, S) -> (N, 1, 1, S)
            mv = ctx.op("Reshape", mv, ctx.ints([0, 1, 1, -1] if batched else [1, 1, 1, -1]))
        if kind == "blocked":
            blocked = mv if blocked is None else ctx.op("Or", blocked, mv)
        else:
            additive.append(mv)
    o, p = attend(ctx, qh, kT, vh, dtype, additive=additive, blocked=blocked, safe=not need_weights)
    merged = merge_heads(ctx, o, seq_first=batched and not bf)
    merged.tensor = captured[0] if batched or bf else captured[0].permute(1, 0, 2)   # (1, L, E) when unbatched
    out = ctx.call(m.out_proj, merged, name="out_proj")
    if not batched:
        out = ctx.op("Squeeze", out, ctx.ints([0]))
    out.tensor = ref_out
    if not need_weights:
        return out, None
    weights = reduce(ctx, "ReduceMean", p, [1], keepdims=0) if average_attn_weights else p
    if not batched:
        weights = ctx.op("Squeeze", weights, ctx.ints([0]))
    weights.tensor = ref_w
    return out, weights


# ---------------------------------------------------------------- Transformer layers
def _self_attn(ctx, attn, x, mask, kpm, name):
    return ctx.call(attn, x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False, name=name)[0]


def _cross_attn(ctx, attn, x, mem, mask, kpm, name):
    return ctx.call(attn, x, mem, mem, attn_mask=mask, key_padding_mask=kpm, need_weights=False, name=name)[0]


def _ff(ctx, m, x):
    h = act(ctx, m.activation, ctx.call(m.linear1, x, name="linear1"))
    return ctx.call(m.linear2, h, name="linear2")


@register_converter(nn.TransformerEncoderLayer)
def _encoder_layer(ctx, m, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
    """post-LN: x = norm1(x + SA(x)); x = norm2(x + FF(x)).  pre-LN: x = x + SA(norm1(x)); x = x + FF(norm2(x))."""
    mask = as_value(ctx, src_mask, "src_mask")
    kpm = as_value(ctx, src_key_padding_mask, "src_key_padding_mask")
    x = src
    if m.norm_first:
        x = add(ctx, x, _self_attn(ctx, m.self_attn, ctx.call(m.norm1, x, name="norm1"), mask, kpm, "self_attn"))
        return add(ctx, x, _ff(ctx, m, ctx.call(m.norm2, x, name="norm2")))
    x = ctx.call(m.norm1, add(ctx, x, _self_attn(ctx, m.self_attn, x, mask, kpm, "self_attn")), name="norm1")
    return ctx.call(m.norm2, add(ctx, x, _ff(ctx, m, x)), name="norm2")


@register_converter(nn.TransformerDecoderLayer)
def _decoder_layer(ctx, m, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                   memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
    """Self-attention, cross-attention to memory, feed-forward; each with a residual and LayerNorm."""
    tm, mm = as_value(ctx, tgt_mask, "tgt_mask"), as_value(ctx, memory_mask, "memory_mask")
    tk = as_value(ctx, tgt_key_padding_mask, "tgt_key_padding_mask")
    mk = as_value(ctx, memory_key_padding_mask, "memory_key_padding_mask")
    x = tgt
    if m.norm_first:
        x = add(ctx, x, _self_attn(ctx, m.self_attn, ctx.call(m.norm1, x, name="norm1"), tm, tk, "self_attn"))
        x = add(ctx, x, _cross_attn(ctx, m.multihead_attn, ctx.call(m.norm2, x, name="norm2"), memory, mm, mk,
                                    "multihead_attn"))
        return add(ctx, x, _ff(ctx, m, ctx.call(m.norm3, x, name="norm3")))
    x = ctx.call(m.norm1, add(ctx, x, _self_attn(ctx, m.self_attn, x, tm, tk, "self_attn")), name="norm1")
    x = ctx.call(m.norm2, add(ctx, x, _cross_attn(ctx, m.multihead_attn, x, memory, mm, mk, "multihead_attn")),
                 name="norm2")
    return ctx.call(m.norm3, add(ctx, x, _ff(ctx, m, x)), name="norm3")


@register_converter(nn.TransformerEncoder)
def _encoder(ctx, m, src, mask=None, src_key_padding_mask=None, is_causal=None):
    """The layers in turn, then ``norm``. A causal mask is applied as the mask it is."""
    mask = as_value(ctx, mask, "mask")
    kpm = as_value(ctx, src_key_padding_mask, "src_key_padding_mask")
    out = src
    for i, layer in enumerate(m.layers):
        out = ctx.call(layer, out, src_mask=mask, src_key_padding_mask=kpm, name=f"layers.{i}")
    return ctx.call(m.norm, out, name="norm") if m.norm is not None else out


@register_converter(nn.TransformerDecoder)
def _decoder(ctx, m, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
             memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
    kw = dict(tgt_mask=as_value(ctx, tgt_mask, "tgt_mask"), memory_mask=as_value(ctx, memory_mask, "memory_mask"),
              tgt_key_padding_mask=as_value(ctx, tgt_key_padding_mask, "tgt_key_padding_mask"),
              memory_key_padding_mask=as_value(ctx, memory_key_padding_mask, "memory_key_padding_mask"))
    out = tgt
    for i, layer in enumerate(m.layers):
        out = ctx.call(layer, out, memory, name=f"layers.{i}", **kw)
    return ctx.call(m.norm, out, name="norm") if m.norm is not None else out


@register_converter(nn.Transformer)
def _transformer(ctx, m, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                 tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                 memory_is_causal=False):
    """memory = encoder(src); decoder(tgt, memory)."""
    memory = ctx.call(m.encoder, src, mask=as_value(ctx, src_mask, "src_mask"),
                      src_key_padding_mask=as_value(ctx, src_key_padding_mask, "src_key_padding_mask"),
                      name="encoder")
    return ctx.call(m.decoder, tgt, memory, tgt_mask=as_value(ctx, tgt_mask, "tgt_mask"),
                    memory_mask=as_value(ctx, memory_mask, "memory_mask"),
                    tgt_key_padding_mask=as_value(ctx, tgt_key_padding_mask, "tgt_key_padding_mask"),
                    memory_key_padding_mask=as_value(ctx, memory_key_padding_mask, "memory_key_padding_mask"),
                    name="decoder")


# ---------------------------------------------------------------- positional encodings
def _add_positions(ctx, m, x: Value, table: Value) -> Value:
    """x + table[:T] with T = the run-time length of x's position axis (broadcast over the batch)."""
    if x.rank not in (2, 3):
        raise ctx.error(f"{type(m).__name__}: input of shape {x.shape} (expected (N, T, d) or (T, d))")
    dim = 1 if (x.rank == 3 and m.batch_first) else 0
    rows = ctx.op("Slice", table, ctx.ints([0]), seq_len(ctx, x, dim), ctx.ints([0]))
    if dim == 0 and x.rank == 3:
        rows = ctx.op("Unsqueeze", rows, ctx.ints([1]))
    if np.dtype(table.tensor.dtype) != np.dtype(x.tensor.dtype):
        from onnx import helper
        rows = ctx.op("Cast", rows, to=helper.np_dtype_to_tensor_dtype(np.dtype(x.tensor.dtype)))
    with no_grad():
        ref = m(x.tensor)
    return ctx.op("Add", x, rows, out=ref)


@register_converter(nn.SinusoidalPositionalEncoding)
def _sinusoidal(ctx, m, x):
    """y = x + PE[:T] (the fixed table, stored once); dropout is the identity in eval mode."""
    return _add_positions(ctx, m, x, ctx.param(m.pe, "pe"))


@register_converter(nn.LearnedPositionalEmbedding)
def _learned_positions(ctx, m, x):
    """y = x + W[:T] with the learned table W (max_len, d_model)."""
    return _add_positions(ctx, m, x, ctx.param(m.weight, "weight"))
