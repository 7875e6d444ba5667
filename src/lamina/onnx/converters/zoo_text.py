"""ONNX converters for the text model zoo: GPT (logits), BertModel and BertClassifier.

GPT: ``idx`` (B, T) int64 -> logits (B, T, vocab_size). The sequence axis may stay dynamic up to
``block_size``: positions are wpe[:T] and the causal mask the top-left (T, T) corner of a stored
(block_size, block_size) mask, both sliced to Shape(idx) at run time. The loss (``targets``)
is a training output and is not exported.

BertModel: ``input_ids`` [, ``attention_mask`` [, ``token_type_ids`` [, ``position_ids``]]] ->
(last_hidden_state,) or (last_hidden_state, pooler_output) with a pooler (the None that lamina
returns without a pooler is left out). Padding keys get -inf scores, as lamina's mask does.

BertClassifier: ``input_ids`` [, ``attention_mask``] -> logits (B, num_classes); without an
attention mask it is rebuilt from the padding id (lamina also drops all-padding columns first,
which changes nothing: padding takes no part in attention or pooling).

Embeddings, Linear, LayerNorm and the activations go through their own converters; dropout is
the identity in eval mode and is left out.
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd import no_grad
from ...models.bert import BertModel
from ...models.bert_classifier import BertClassifier
from ...models.gpt import GPT
from ...ops.attention import scaled_dot_product_attention
from ...tensor import Tensor
from .._context import Value
from .._registry import register_converter
from .attention import add, attend, heads, merge_heads, reduce, seq_len

__all__ = []

_INT64 = 7  # onnx.TensorProto.INT64
_BERT_ACTS = {"gelu": lambda: nn.GELU(), "gelu_new": lambda: nn.GELU(approximate="tanh"),
              "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"), "relu": lambda: nn.ReLU(),
              "silu": lambda: nn.SiLU(), "swish": lambda: nn.SiLU(), "tanh": lambda: nn.Tanh()}


def _ids(ctx, v: Value, what: str) -> Value:
    """Integer ids as int64 (Gather takes int32 too, but the graph keeps one type)."""
    if v is None:
        return None
    if not isinstance(v, Value):
        raise ctx.error(f"{what} given as a Python value: pass it as a model input")
    kind = np.dtype(v.tensor.dtype).kind
    if kind not in "iub":
        raise ctx.error(f"{what} of dtype {v.tensor.dtype} (expected integer ids)")
    if np.dtype(v.tensor.dtype) == np.int64:
        return v
    return ctx.op("Cast", v, to=_INT64, out=Tensor(v.tensor.array.astype(np.int64)))


def _rows(ctx, weight, hint: str, n: Value) -> Value:
    """weight[:n] (a position table's first n rows), n a 1-D run-time length."""
    return ctx.op("Slice", ctx.param(weight, hint), ctx.ints([0]), n, ctx.ints([0]))


def _first_token(ctx, h: Value) -> Value:
    """h[:, 0] for h (B, L, H) (a 1-D index and a Squeeze: a 0-d initializer would not stay 0-d)."""
    first = ctx.op("Gather", h, ctx.ints([0], "cls_index"), axis=1)
    return ctx.op("Squeeze", first, ctx.ints([1]), out=h.tensor[:, 0])


# ---------------------------------------------------------------- GPT
@register_converter(GPT)
def _gpt(ctx, m, idx, targets=None):
    """wte[idx] + wpe[:T] -> pre-LN blocks with causal attention -> ln_f -> lm_head: logits (B, T, V)."""
    if targets is not None:
        raise ctx.error("GPT with targets (the loss is a training output): export it with idx only")
    c = m.config
    E, H = c.n_embd, c.n_head
    d = E // H
    tr = m.transformer
    if idx.rank != 2:
        raise ctx.error(f"GPT: idx of shape {idx.shape} (expected (batch, time) token ids)")
    B, T = idx.shape
    if T > c.block_size:
        raise ctx.error(f"GPT: an example of {T} tokens (block_size, the longest context, is {c.block_size})")
    ids = _ids(ctx, idx, "idx")
    dtype = np.dtype(tr.wte.weight.dtype)
    tok = ctx.call(tr.wte, ids, name="transformer.wte")
    T_ = seq_len(ctx, ids, 1)
    x = ctx.op("Add", tok, _rows(ctx, tr.wpe.weight, "transformer.wpe.weight", T_),
               out=tok.tensor + tr.wpe(np.arange(T, dtype=np.int64)))
    causal = np.triu(np.full((c.block_size, c.block_size), -np.inf, dtype=dtype), 1)
    ends = ctx.op("Concat", T_, T_, axis=0)
    mask = ctx.op("Slice", ctx.const(causal, "causal_mask"), ctx.ints([0, 0]), ends, ctx.ints([0, 1]))
    scale = 1.0 / math.sqrt(d)
    for i, blk in enumerate(tr.h):
        p = f"transformer.h.{i}"
        qkv = ctx.call(blk.attn.c_attn, ctx.call(blk.ln_1, x, name=p + ".ln_1"), name=p + ".attn.c_attn")
        q, k, v = ctx.op("Split", qkv, ctx.ints([E] * 3), axis=-1, outputs=3)
        o, _ = attend(ctx, heads(ctx, q, H, d), heads(ctx, k, H, d, keys=True), heads(ctx, v, H, d), dtype,
                      additive=[mask], scale=scale)
        y = merge_heads(ctx, o)
        with no_grad():
            t = qkv.tensor.reshape(B, T, 3, H, d).permute(2, 0, 3, 1, 4)
            y.tensor = scaled_dot_product_attention(t[0], t[1], t[2], is_causal=True).permute(0, 2, 1, 3) \
                .reshape(B, T, E)
        x = add(ctx, x, ctx.call(blk.attn.c_proj, y, name=p + ".attn.c_proj"))
        h = ctx.call(blk.mlp.c_fc, ctx.call(blk.ln_2, x, name=p + ".ln_2"), name=p + ".mlp.c_fc")
        h = ctx.call(nn.GELU(), h, name=p + ".mlp.gelu")                  # the MLP's exact (erf) GELU
        x = add(ctx, x, ctx.call(blk.mlp.c_proj, h, name=p + ".mlp.c_proj"))
    return ctx.call(m.lm_head, ctx.call(tr.ln_f, x, name="transformer.ln_f"), name="lm_head")


# ---------------------------------------------------------------- BERT
def _bert_graph(ctx, m, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
    """(last_hidden_state, pooler_output or None) Values for BertModel ``m``."""
    c = m.config
    if input_ids.rank != 2:
        raise ctx.error(f"BertModel: input_ids of shape {input_ids.shape} (expected (batch, seq_len))")
    B, L = input_ids.shape
    emb = m.embeddings
    ids = _ids(ctx, input_ids, "input_ids")
    tt, pos = _ids(ctx, token_type_ids, "token_type_ids"), _ids(ctx, position_ids, "position_ids")
    dtype = np.dtype(emb.word_embeddings.weight.dtype)
    word = ctx.call(emb.word_embeddings, ids, name="embeddings.word_embeddings")
    with no_grad():
        tt_t = emb.token_type_embeddings(tt.tensor if tt is not None else np.zeros((1, L), dtype=np.int64))
        pos_t = emb.position_embeddings(pos.tensor if pos is not None else np.arange(L, dtype=np.int64)[None])
    if tt is not None:
        types = ctx.call(emb.token_type_embeddings, tt, name="embeddings.token_type_embeddings")
    else:  # every token of type 0: one row, broadcast
        types = ctx.op("Gather", ctx.param(emb.token_type_embeddings.weight, "embeddings.token_type_embeddings.weight"),
                       ctx.const(np.int64(0), "type0"), axis=0)
    if pos is not None:
        positions = ctx.call(emb.position_embeddings, pos, name="embeddings.position_embeddings")
    else:
        positions = _rows(ctx, emb.position_embeddings.weight, "embeddings.position_embeddings.weight",
                          seq_len(ctx, ids, 1))
    e = ctx.op("Add", ctx.op("Add", word, types), positions, out=word.tensor + tt_t + pos_t)
    h = ctx.call(emb.LayerNorm, e, name="embeddings.LayerNorm")

    blocked, lam_mask = None, None
    if attention_mask is not None:
        am = attention_mask
        if np.dtype(am.tensor.dtype).kind == "b":
            blocked = ctx.op("Not", am)
            keep = np.asarray(am.tensor.array)
        else:
            am = _ids(ctx, am, "attention_mask")
            blocked = ctx.op("Equal", am, ctx.const(np.int64(0), "zero"))
            keep = np.asarray(am.tensor.array) != 0
        blocked = ctx.op("Reshape", blocked, ctx.ints([0, 1, 1, -1]))        # (B, 1, 1, L)
        if tuple(keep.shape) != (B, L):
            raise ctx.error(f"BertModel: attention_mask of shape {keep.shape} (expected {(B, L)})")
        if not keep.all():
            lam_mask = Tensor(keep[:, None, None, :])
    nh = c.num_attention_heads
    d = c.hidden_size // nh
    for i, layer in enumerate(m.encoder.layer):
        p = f"encoder.layer.{i}"
        sa = layer.attention.self
        q, k, v = (ctx.call(getattr(sa, n), h, name=f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
        o, _ = attend(ctx, heads(ctx, q, nh, d), heads(ctx, k, nh, d, keys=True), heads(ctx, v, nh, d), dtype,
                      blocked=blocked, safe=True, scale=1.0 / math.sqrt(d))
        y = merge_heads(ctx, o)
        with no_grad():
            y.tensor = sa(h.tensor, lam_mask)
        so = layer.attention.output
        a = ctx.call(so.LayerNorm, add(ctx, ctx.call(so.dense, y, name=f"{p}.attention.output.dense"), h),
                     name=f"{p}.attention.output.LayerNorm")
        inter = ctx.call(layer.intermediate.dense, a, name=f"{p}.intermediate.dense")
        inter = ctx.call(_BERT_ACTS[layer.intermediate.hidden_act](), inter, name=f"{p}.intermediate.act")
        out = layer.output
        h = ctx.call(out.LayerNorm, add(ctx, ctx.call(out.dense, inter, name=f"{p}.output.dense"), a),
                     name=f"{p}.output.LayerNorm")
    pooled = None
    if m.pooler is not None:
        first = _first_token(ctx, h)
        pooled = ctx.call(nn.Tanh(), ctx.call(m.pooler.dense, first, name="pooler.dense"), name="pooler.tanh")
    return h, pooled


@register_converter(BertModel)
def _bert(ctx, m, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
    """(last_hidden_state,) or (last_hidden_state, pooler_output)."""
    h, pooled = _bert_graph(ctx, m, input_ids, attention_mask, token_type_ids, position_ids)
    return (h,) if pooled is None else (h, pooled)


@register_converter(BertClassifier)
def _bert_classifier(ctx, m, input_ids, attention_mask=None):
    """mask (given, or ids != pad) -> BERT -> masked pooling [-> L2 normalise] -> head: (B, num_classes)."""
    ids = _ids(ctx, input_ids, "input_ids")
    if input_ids.rank != 2:
        raise ctx.error(f"BertClassifier: input_ids of shape {input_ids.shape} (expected (batch, seq_len))")
    if attention_mask is None:
        real = ctx.op("Not", ctx.op("Equal", ids, ctx.const(np.int64(m.pad_token_id), "pad_id")))
        mask = ctx.op("Cast", real, to=_INT64,
                      out=Tensor((np.asarray(ids.tensor.array) != m.pad_token_id).astype(np.int64)))
    else:
        mask = _ids(ctx, attention_mask, "attention_mask")
        if np.dtype(mask.tensor.dtype).kind == "b":
            mask = ctx.op("Cast", mask, to=_INT64, out=Tensor(np.asarray(mask.tensor.array).astype(np.int64)))
    h = ctx.call(m.bert, ids, mask, name="bert")[0]
    from onnx import helper
    from ...text.encoder import l2_normalize, pool_tokens
    dtype = np.dtype(h.tensor.dtype)
    with no_grad():
        u_t = pool_tokens(h.tensor, mask.tensor, m.pooling)
        if m.normalize:
            u_t = l2_normalize(u_t)
    if m.pooling == "cls":
        u = _first_token(ctx, h)
    else:
        mf = ctx.op("Cast", mask, to=helper.np_dtype_to_tensor_dtype(dtype))                # (B, L)
        mf3 = ctx.op("Unsqueeze", mf, ctx.ints([2]))
        if m.pooling == "max":
            pad = ctx.op("Equal", ctx.op("Unsqueeze", mask, ctx.ints([2])), ctx.const(np.int64(0), "zero"))
            u = reduce(ctx, "ReduceMax", ctx.op("Where", pad, ctx.const(np.asarray(-1e9, dtype), "fill"), h), [1],
                       keepdims=0)
        else:
            summed = reduce(ctx, "ReduceSum", ctx.op("Mul", h, mf3), [1], keepdims=0)
            count = ctx.op("Max", reduce(ctx, "ReduceSum", mf, [1], keepdims=1),
                           ctx.const(np.asarray(1e-9, dtype), "min_count"))
            if m.pooling == "mean_sqrt_len":
                count = ctx.op("Sqrt", count)
            u = ctx.op("Div", summed, count)
    if m.normalize:
        norm = ctx.op("Max", reduce(ctx, "ReduceL2", u, [1], keepdims=1), ctx.const(np.asarray(1e-12, dtype), "eps"))
        u = ctx.op("Div", u, norm)
    u.tensor = u_t
    return ctx.call(m.head, u, name="head")
