"""Attention maps: the softmax weights of every head in every attention layer, from one forward pass.

    A[l, h] = softmax(q_h k_h^T / sqrt(d) + mask)          (N, L, S) per layer l and head h

Works on lamina's attention layers without touching the models: GPT's ``CausalSelfAttention``
and BERT's ``BertSelfAttention`` (a forward hook reads the layer's input and recomputes q, k and
the softmax exactly as the layer does), and ``nn.MultiheadAttention`` — hence
``nn.TransformerEncoder``/``Decoder`` stacks — whose own ``need_weights`` path is switched on by
a pre-hook (the caller still gets the output it asked for).

>>> maps = attention_maps(gpt, idx)                 # {'transformer.h.0.attn': (B, H, T, T), ...}
>>> maps = attention_maps(bert, ids, attention_mask=mask)
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from ..autograd import no_grad
from ..models.bert import BertSelfAttention
from ..models.gpt import CausalSelfAttention
from ..nn.layers.attention import MultiheadAttention
from ._common import eval_mode, to_numpy

__all__ = ["attention_maps", "attention_layers", "stack_attention"]

_TYPES = (CausalSelfAttention, BertSelfAttention, MultiheadAttention)


def attention_layers(model) -> list[str]:
    """Module paths of the attention layers ``attention_maps`` reads, in registration order."""
    return [n for n, m in model.named_modules() if isinstance(m, _TYPES)]


def _softmax(s, xp):
    s = s - s.max(-1, keepdims=True)
    e = xp.exp(s)
    return e / e.sum(-1, keepdims=True)


def _gpt_weights(mod: CausalSelfAttention, args):
    x, B, T = args[0], args[1], args[2]
    if len(args) > 3 and args[3] is not None:
        raise RuntimeError("attention_maps: run the model without a KV cache (a plain forward)")
    E, H = mod.n_embd, mod.n_head
    qkv = mod.c_attn(x).array.reshape(B, T, 3, H, E // H).transpose(2, 0, 3, 1, 4)   # (3, B, H, T, d)
    xp = mod.c_attn.weight.xp
    s = (qkv[0] @ qkv[1].swapaxes(-1, -2)) / math.sqrt(E // H)
    s = xp.where(xp.tril(xp.ones((T, T), dtype=bool)), s, -np.inf)                  # key j <= query i
    return _softmax(s, xp)


def _bert_weights(mod: BertSelfAttention, args, kwargs):
    h = args[0]
    mask = args[1] if len(args) > 1 else kwargs.get("attn_mask")
    q, k = mod._heads(mod.query(h)).array, mod._heads(mod.key(h)).array              # (B, H, L, d)
    xp = mod.query.weight.xp
    s = (q @ k.swapaxes(-1, -2)) / math.sqrt(mod.attention_head_size)
    if mask is not None:                       # boolean, True = this key takes part (BertModel's mask)
        m = mask.array
        s = xp.where(m, s, -np.inf) if m.dtype == bool else s + m
    return _softmax(s, xp)


class _MHAHooks:
    """Ask MultiheadAttention for per-head weights, keep them, and hand the caller what it asked for."""

    def __init__(self, store, name):
        self.store, self.name, self.asked = store, name, []

    def pre(self, mod, args, kwargs):
        bound = inspect.signature(mod.forward).bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        self.asked.append((a["need_weights"], a["average_attn_weights"]))
        a["need_weights"], a["average_attn_weights"] = True, False
        return bound.args, bound.kwargs

    def post(self, mod, args, kwargs, out):
        need, average = self.asked.pop()
        out, w = out
        _put(self.store, self.name, w.array)
        if not need:
            return out, None
        return out, (w.mean(1) if average and w.ndim == 4 else w.mean(0) if average else w)


def _put(store, name, w):
    key, i = name, 1
    while key in store:            # a layer called twice (weight sharing) gets name#2, name#3, ...
        i += 1
        key = f"{name}#{i}"
    store[key] = to_numpy(w)


def attention_maps(model, *args, **kwargs) -> dict[str, np.ndarray]:
    """Run ``model(*args, **kwargs)`` once (eval mode, no graph) and return every attention layer's weights.

    Returns ``{module path: array (N, heads, L, S)}`` in the order the layers ran ((heads, L, S) for an
    unbatched MultiheadAttention input); rows sum to 1 and masked keys (padding, future tokens) get 0.
    Raises ValueError when the model has no attention layer lamina knows.
    """
    names = {id(m): n for n, m in model.named_modules() if isinstance(m, _TYPES)}
    if not names:
        raise ValueError(f"attention_maps: {type(model).__name__} has no attention layers (GPT CausalSelfAttention, "
                         "BertSelfAttention or nn.MultiheadAttention)")
    store: dict = {}
    handles = []
    for name, mod in model.named_modules():
        if isinstance(mod, CausalSelfAttention):
            handles.append(mod.register_forward_hook(
                lambda m, a, o, name=name: _put(store, name, _gpt_weights(m, a))))
        elif isinstance(mod, BertSelfAttention):
            handles.append(mod.register_forward_hook(
                lambda m, a, kw, o, name=name: _put(store, name, _bert_weights(m, a, kw)), with_kwargs=True))
        elif isinstance(mod, MultiheadAttention):
            h = _MHAHooks(store, name)
            handles.append(mod.register_forward_pre_hook(h.pre, with_kwargs=True))
            handles.append(mod.register_forward_hook(h.post, with_kwargs=True))
    try:
        with eval_mode(model), no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return store


def stack_attention(maps: dict) -> np.ndarray:
    """The maps of ``attention_maps`` as one array (layers, N, heads, L, S) (all layers the same shape)."""
    arrays = list(maps.values())
    if not arrays:
        raise ValueError("stack_attention: no attention maps")
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"stack_attention: layers have different shapes {[a.shape for a in arrays]} "
                         "(cross-attention?); use the dict")
    return np.stack(arrays)
