"""GPT: a decoder-only transformer language model (Radford et al., 2018/2019), with KV-cached sampling.

    h_0 = wte[idx] + wpe[0..T-1]                                  token + learned position embeddings
    h_l = h_{l-1} + attn(ln_1(h_{l-1}));  h_l = h_l + mlp(ln_2(h_l))      n_layer pre-LN blocks
    attn(x) = c_proj(concat_h softmax(q_h k_h^T / sqrt(d) + causal) v_h),  [q, k, v] = c_attn(x)
    mlp(x)  = c_proj(gelu(c_fc(x)))
    logits  = lm_head(ln_f(h_L))                                  (B, T, vocab_size)

Parameter names follow nanoGPT (``transformer.wte``, ``transformer.h.0.attn.c_attn``, ...,
``lm_head``) with torch's Linear layout, so nanoGPT checkpoints load by name. Initialisation is
GPT-2's: N(0, 0.02) for Linear and Embedding weights, zero biases, and N(0, 0.02 / sqrt(2 n_layer))
for the projections that write into the residual stream (``c_proj``), so the loss at init is
close to ln(vocab_size).

Generation (``GPT.generate``) samples one token at a time. With ``use_cache=True`` each layer keeps
the keys and values of the tokens seen so far (``KVCache``), so a new token costs ONE position: its
query attends over the cached keys. Positions are learned and absolute, so once the context is
longer than ``block_size`` the window slides and every position shifts: the cached keys are then
stale. The cache then does exactly what the uncached path does — it recomputes the window from
scratch — so cached and uncached generation give the same tokens for the same seed, at any length.
By default the window slides one token per step (the last ``block_size`` tokens, recomputed each
step, so the cache's speed-up holds for the first ``block_size`` positions); ``window_step=s``
moves it s tokens at once, so the cache serves s - 1 of every s steps past that point. The prompt runs through ``forward``'s Tensor code (filling the cache); each later
single-position step runs the same math on raw arrays (``_Decoder``), where the Tensor layer's
fixed per-op cost would otherwise dominate.

>>> model = GPT(GPTConfig(vocab_size=96, block_size=128, n_layer=4, n_head=4, n_embd=128))
>>> logits, loss = model(idx, targets)                 # idx, targets (B, T) int64
>>> out = model.generate(idx[:1, :8], 256, temperature=0.8, top_k=20, generator=lamina.Generator().manual_seed(0))
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from .. import backend
from ..autograd import is_grad_enabled, no_grad
from ..nn import functional as F
from ..nn import init
from ..nn.containers import ModuleDict, ModuleList
from ..nn.layers.dropout import Dropout
from ..nn.layers.embedding import Embedding
from ..nn.layers.linear import Linear
from ..nn.layers.normalization import LayerNorm
from ..nn.module import Module
from ..ops.attention import scaled_dot_product_attention
from ..tensor import Tensor
from .registry import register_model

__all__ = ["GPT", "GPTConfig", "KVCache", "build_gpt", "sample_logits"]


@dataclasses.dataclass
class GPTConfig:
    """The shape of a GPT.

    vocab_size: number of token ids. block_size: the longest context (learned positions).
    n_layer, n_head, n_embd: blocks, attention heads, model width (n_embd % n_head == 0).
    mlp_hidden: the MLP's hidden width (None: 4 * n_embd). dropout: on embeddings, attention
    weights and residual branches. bias: biases in the Linear and LayerNorm layers (the lm head
    never has one, as GPT-2). tie_weights: the lm head shares the token embedding matrix.
    """

    vocab_size: int = 96
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    mlp_hidden: int | None = None
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = False

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"GPTConfig: {name} must be a positive int, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.mlp_hidden is None:
            self.mlp_hidden = 4 * self.n_embd
        if not isinstance(self.mlp_hidden, numbers.Integral) or self.mlp_hidden <= 0:
            raise ValueError(f"GPTConfig: mlp_hidden must be a positive int, got {self.mlp_hidden!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        names = [f.name for f in dataclasses.fields(cls)]
        bad = [k for k in d if k not in names]
        if bad:
            raise ValueError(f"GPTConfig: unknown key(s) {bad}; valid keys: {', '.join(names)}")
        return cls(**d)


# ---------------------------------------------------------------- key/value cache
class _LayerKV:
    """One layer's keys and values, (1, B, H, capacity, head_dim) arrays filled up to ``length``."""

    def __init__(self, kv):
        self.kv = kv                       # (2, 1, B, H, capacity, d): keys then values
        self.k, self.v = kv[0], kv[1]

    def update(self, k: Tensor, v: Tensor, start: int):
        """Write k, v (1, B, H, T, d) at positions start..start+T-1; return all keys/values so far (views)."""
        if is_grad_enabled() and (k.requires_grad or v.requires_grad):
            raise RuntimeError("KVCache: the key/value cache is for inference; run it under lamina.no_grad()")
        end = start + k.shape[-2]
        self.k[..., start:end, :] = k.array
        self.v[..., start:end, :] = v.array
        return Tensor._wrap(self.k[..., :end, :]), Tensor._wrap(self.v[..., :end, :])


class KVCache:
    """Keys and values of every layer for the tokens processed so far (inference only).

    ``length`` tokens are cached; the next token gets position ``length``. Capacity is the
    model's ``block_size`` (learned positions end there).
    """

    def __init__(self, config: GPTConfig, batch_size: int, dtype, xp=np):
        H, d = config.n_head, config.n_embd // config.n_head
        shape = (1, batch_size, H, config.block_size, d)
        self.capacity, self.batch_size, self.length = config.block_size, batch_size, 0
        self.layers = [_LayerKV(xp.empty((2,) + shape, dtype=dtype)) for _ in range(config.n_layer)]

    def reset(self) -> None:
        self.length = 0

    @property
    def full(self) -> bool:
        return self.length >= self.capacity


# ---------------------------------------------------------------- blocks
class CausalSelfAttention(Module):
    """Multi-head causal self-attention with one fused q/k/v projection:
    [q, k, v] = x W_attn^T + b_attn;  y = c_proj(concat_h softmax(q_h k_h^T / sqrt(d), j <= i) v_h)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        E = config.n_embd
        self.n_head, self.n_embd, self.dropout = config.n_head, E, config.dropout
        self.c_attn = Linear(E, 3 * E, bias=config.bias)
        self.c_proj = Linear(E, E, bias=config.bias)
        self.resid_dropout = Dropout(config.dropout)

    def forward(self, x: Tensor, B: int, T: int, kv: _LayerKV | None = None, start: int = 0) -> Tensor:
        """x: (B*T, n_embd), the residual stream of B sequences of T tokens, kept 2-D between blocks."""
        E, H = self.n_embd, self.n_head
        qkv = self.c_attn(x).reshape(B, T, 3, H, E // H).permute(2, 0, 3, 1, 4)      # (3, B, H, T, d)
        q, k, v = qkv.split(1, 0)                                                    # (1, B, H, T, d) views
        p = self.dropout if self.training else 0.0
        if kv is None:
            y = scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            k, v = kv.update(k, v, start)
            S = k.shape[-2]
            if T == 1:                       # one new query sees every cached key
                y = scaled_dot_product_attention(q, k, v)
            elif start == 0:
                y = scaled_dot_product_attention(q, k, v, is_causal=True)
            else:                            # query i sits at position start + i: sees keys j <= start + i
                allowed = np.tril(np.ones((T, S), dtype=bool), start)
                y = scaled_dot_product_attention(q, k, v, attn_mask=Tensor._wrap(allowed))
        y = y.permute(0, 1, 3, 2, 4).reshape(B * T, E)                              # heads side by side
        return self.resid_dropout(self.c_proj(y))

    def extra_repr(self) -> str:
        return f"n_embd={self.n_embd}, n_head={self.n_head}"


class MLP(Module):
    """y = c_proj(gelu(c_fc(x))), widths n_embd -> mlp_hidden -> n_embd (exact, erf GELU)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = Linear(config.n_embd, config.mlp_hidden, bias=config.bias)
        self.c_proj = Linear(config.mlp_hidden, config.n_embd, bias=config.bias)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(Module):
    """A pre-LN transformer block: x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, B: int, T: int, kv: _LayerKV | None = None, start: int = 0) -> Tensor:
        x = x + self.attn(self.ln_1(x), B, T, kv, start)
        return x + self.mlp(self.ln_2(x))


# ---------------------------------------------------------------- single-position decoding
class _Decoder:
    """The model's forward for ONE new position per sequence, on raw arrays, with the KV cache.

    A decode step is ~40 tiny ops on (B, n_embd) rows; through the Tensor layer each op's fixed cost
    (argument checks, wrapping, kernel dispatch) would be several times its arithmetic. The math is
    the modules' forward, with two exact rewrites done once per ``generate`` call: each LayerNorm's
    affine map is folded into the Linear that reads it, (n * g + beta) W^T + b = n (g * W^T) +
    (beta W^T + b), and the 1/sqrt(d) attention scale into the query rows. GELU is the same function
    as in forward. The tests hold both paths to the same logits and the same sampled tokens.
    """

    def __init__(self, model: "GPT"):
        tr = model.transformer
        self.wte, self.wpe = tr.wte.weight.array, tr.wpe.weight.array
        self.n_head = model.config.n_head
        E = model.config.n_embd
        self.layers = []
        for blk in tr.h:
            w_qkv, b_qkv = _fold(blk.ln_1, blk.attn.c_attn)
            scale = w_qkv.dtype.type(1.0 / math.sqrt(E // self.n_head))
            w_qkv[:, :E] *= scale
            b_qkv[:E] *= scale
            self.layers.append((_ln_stats(blk.ln_1), (w_qkv, b_qkv), _lin(blk.attn.c_proj), _ln_stats(blk.ln_2),
                                _fold(blk.ln_2, blk.mlp.c_fc), _lin(blk.mlp.c_proj)))
        self.ln_f, self.head = _ln_stats(tr.ln_f), _fold(tr.ln_f, model.lm_head)

    def __call__(self, ids, cache: KVCache):
        """Logits (B, V) for tokens ids (B,) at position cache.length; their keys/values join the cache."""
        pos = cache.length
        x = self.wte[ids] + self.wpe[pos]
        for (ln_1, qkv, a_proj, ln_2, c_fc, m_proj), kv in zip(self.layers, cache.layers):
            x += _apply_lin(self._attend(_normalize(x, ln_1), qkv, kv, pos), a_proj)
            h = _apply_lin(_normalize(x, ln_2), c_fc)
            x += _apply_lin(F.gelu(Tensor._wrap(h)).array, m_proj)
        cache.length += 1
        return _apply_lin(_normalize(x, self.ln_f), self.head)

    def _attend(self, n, qkv, kv: _LayerKV, pos: int):
        """concat_h softmax(K_h q_h) V_h over cached positions 0..pos (no mask needed; q is pre-scaled)."""
        B, E = n.shape
        H = self.n_head
        t = _apply_lin(n, qkv).reshape(B, 3, H, E // H).transpose(1, 0, 2, 3)          # (3, B, H, d)
        kv.kv[:, 0, :, :, pos] = t[1:]                                                # k and v at pos
        s = (kv.k[0, :, :, :pos + 1] @ t[0][..., None])[..., 0]                       # (B, H, S)
        s -= s.max(-1, keepdims=True)
        p = backend.array_module(s).exp(s)
        p /= p.sum(-1, keepdims=True)
        return (p[:, :, None, :] @ kv.v[0, :, :, :pos + 1]).reshape(B, E)


def _lin(layer: Linear):
    return layer.weight.array.T, None if layer.bias is None else layer.bias.array


def _fold(ln: LayerNorm, layer: Linear):
    """(W', b') with ln(x) W^T + b = normalize(x) W' + b': W' = g * W^T, b' = beta W^T + b."""
    wt = layer.weight.array.T
    w = wt * ln.weight.array[:, None] if ln.weight is not None else wt.copy()
    b = ln.bias.array @ wt if ln.bias is not None else backend.array_module(wt).zeros(wt.shape[1], wt.dtype)
    if layer.bias is not None:
        b = b + layer.bias.array
    return backend.array_module(wt).ascontiguousarray(w), b


def _apply_lin(x, wb):
    y = x @ wb[0]
    if wb[1] is not None:
        y += wb[1]
    return y


def _ln_stats(ln: LayerNorm):
    return ln.eps, 1.0 / ln.normalized_shape[-1]


def _normalize(x, p):
    """(x - mean) / sqrt(var + eps) over the last dim (LayerNorm without its affine map)."""
    eps, inv_n = p
    t = x.dtype.type
    xc = x - x.sum(-1, keepdims=True) * t(inv_n)
    xc /= backend.array_module(x).sqrt((xc * xc).sum(-1, keepdims=True) * t(inv_n) + t(eps))
    return xc


# ---------------------------------------------------------------- the model
class GPT(Module):
    """Decoder-only character/token language model; see the module docstring for the math.

    ``forward(idx, targets=None)``: idx (B, T) int64 with T <= block_size -> ``(logits, loss)``,
    logits (B, T, vocab_size), loss the mean cross-entropy against ``targets`` (B, T) (None
    without targets). ``generate`` samples continuations, with a key/value cache.
    """

    def __init__(self, config: GPTConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = GPTConfig(**kwargs)
        elif kwargs:
            raise TypeError("GPT: pass either a GPTConfig or keyword arguments, not both")
        elif isinstance(config, dict):
            config = GPTConfig.from_dict(config)
        self.config = config
        c = config
        self.transformer = ModuleDict(dict(
            wte=Embedding(c.vocab_size, c.n_embd),
            wpe=Embedding(c.block_size, c.n_embd),
            drop=Dropout(c.dropout),
            h=ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=LayerNorm(c.n_embd, bias=c.bias),
        ))
        self.lm_head = Linear(c.n_embd, c.vocab_size, bias=False)
        self.reset_parameters()
        if c.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight

    def reset_parameters(self, generator=None) -> None:
        """GPT-2 init: N(0, 0.02) weights, zero biases, residual projections N(0, 0.02/sqrt(2 n_layer))."""
        for name, m in self.named_modules():
            if isinstance(m, (Linear, Embedding)):
                init.normal_(m.weight, 0.0, 0.02, generator=generator)
                if getattr(m, "bias", None) is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, LayerNorm):
                m.reset_parameters()
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer), generator=generator)

    # ------------------------------------------------------------ config helpers (model zoo)
    @classmethod
    def from_config(cls, config: dict) -> "GPT":
        return cls(GPTConfig.from_dict(dict(config)))

    def get_config(self) -> dict:
        return self.config.to_dict()

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (a tied matrix counted once); ``non_embedding`` leaves out wpe, as GPT-2."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    # ------------------------------------------------------------ forward
    def _check_idx(self, idx):
        if not isinstance(idx, Tensor):
            idx = Tensor(np.asarray(idx))
        if idx.ndim != 2:
            raise ValueError(f"GPT: idx must be (batch, time) token ids, got shape {idx.shape}")
        if idx.dtype.kind not in "iu":
            raise TypeError(f"GPT: idx must hold integer token ids, got dtype {idx.dtype}")
        if idx.shape[1] > self.config.block_size:
            raise ValueError(f"GPT: cannot run a sequence of length {idx.shape[1]}: block_size (the longest context) "
                             f"is {self.config.block_size} (idx shape {idx.shape})")
        return idx

    def _hidden(self, ids, cache: KVCache | None = None) -> Tensor:
        """ln_f(h_L) as (B*T, n_embd) for ids (B, T) (a Tensor or an integer array). With a cache, ids are
        the tokens at positions cache.length, cache.length + 1, ...; their keys and values are appended."""
        arr = ids.array if isinstance(ids, Tensor) else ids
        B, T = arr.shape
        start = 0 if cache is None else cache.length
        if start + T > self.config.block_size:
            raise ValueError(f"GPT: {T} more tokens do not fit in a KV cache holding {start} of block_size "
                             f"{self.config.block_size} positions")
        tr = self.transformer
        pos = np.tile(np.arange(start, start + T, dtype=np.int64), B)
        x = tr.drop(tr.wte(arr.reshape(-1)) + tr.wpe(pos))                     # (B*T, n_embd)
        for i, block in enumerate(tr.h):
            x = block(x, B, T, None if cache is None else cache.layers[i], start)
        if cache is not None:
            cache.length += T
        return tr.ln_f(x)

    def forward(self, idx, targets=None):
        idx = self._check_idx(idx)
        B, T = idx.shape
        logits = self.lm_head(self._hidden(idx))                                # (B*T, vocab_size)
        loss = None
        if targets is not None:
            if not isinstance(targets, Tensor):
                targets = Tensor(np.asarray(targets))
            if targets.shape != idx.shape:
                raise ValueError(f"GPT: targets must have idx's shape {idx.shape}, got {targets.shape}")
            loss = F.cross_entropy(logits, targets.reshape(-1))
        return logits.reshape(B, T, self.config.vocab_size), loss

    def _last_logits(self, ids, cache: KVCache | None = None):
        """Logits of each sequence's last position, a (B, V) array (ids: a (B, T) integer array)."""
        T = ids.shape[1]
        h = self._hidden(ids, cache)
        return self.lm_head(h[T - 1::T] if T > 1 else h).array

    def new_cache(self, batch_size: int) -> KVCache:
        return KVCache(self.config, batch_size, self.lm_head.weight.dtype, self.lm_head.weight.xp)

    # ------------------------------------------------------------ generation
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator=None, use_cache: bool = True,
                 window_step: int = 1) -> Tensor:
        """Extend idx (B, T) by ``max_new_tokens`` sampled tokens -> (B, T + max_new_tokens) int64.

        Each step: logits of the last position / temperature; keep the ``top_k`` largest and/or the
        smallest set of most likely tokens whose probability reaches ``top_p`` (nucleus); sample from
        the softmax with ``generator`` (one uniform draw per sequence per step, so a seed repeats
        exactly). ``temperature=0`` is greedy (argmax). With ``use_cache`` a key/value cache makes
        each new token cost one position (see the module docstring); the tokens are the same as
        without it. Runs under no_grad in eval mode (no dropout) and restores the previous mode.

        Context: the window of tokens the model sees. When it would grow past ``block_size`` it moves
        ahead by ``window_step`` tokens at once and is recomputed (the cache refilled): 1 (default) is
        the exact sliding window of the last ``block_size`` tokens, recomputed every step; a larger
        step keeps between block_size - window_step + 1 and block_size tokens of context and lets the
        cache serve the steps in between. Both paths use the same windows.
        """
        if not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
        _check_sampling(temperature, top_k, top_p)
        bs = self.config.block_size
        if not isinstance(window_step, numbers.Integral) or not 1 <= window_step <= bs:
            raise ValueError(f"GPT.generate: window_step must be an int in [1, block_size={bs}], got {window_step!r}")
        ids = idx.array if isinstance(idx, Tensor) else np.asarray(idx)
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"GPT.generate: idx must be (batch, time) with at least one token, got shape {ids.shape}")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"GPT.generate: idx must hold integer token ids, got dtype {ids.dtype}")
        xp = self.lm_head.weight.xp
        B, T0 = ids.shape
        seq = xp.empty((B, T0 + max_new_tokens), dtype=np.int64)
        seq[:, :T0] = backend.to_device(ids, self.lm_head.weight.device) if xp is not np else ids
        was_training = self.training
        self.eval()
        cache = self.new_cache(B) if use_cache else None
        decode = _Decoder(self) if use_cache else None
        try:
            with no_grad():
                n, start = T0, 0                              # the context is seq[:, start:n]
                for _ in range(max_new_tokens):
                    if n - start > bs:                        # the window moves: positions shift, recompute
                        start = n - bs + window_step - 1
                        if cache is not None:
                            cache.reset()
                    if cache is None:
                        logits = self._last_logits(seq[:, start:n])
                    elif cache.length == 0:                   # fill the cache with the whole window
                        logits = self._last_logits(seq[:, start:n], cache)
                    else:                                     # one new position
                        logits = decode(seq[:, n - 1], cache)
                    seq[:, n] = sample_logits(logits, temperature, top_k, top_p, generator)
                    n += 1
        finally:
            self.train(was_training)
        return Tensor._wrap(seq)


# ---------------------------------------------------------------- sampling
def _check_sampling(temperature, top_k, top_p):
    if not isinstance(temperature, numbers.Real) or temperature < 0 or not math.isfinite(temperature):
        raise ValueError(f"generate: temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, numbers.Integral) or top_k <= 0):
        raise ValueError(f"generate: top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and (not isinstance(top_p, numbers.Real) or not 0.0 < top_p <= 1.0):
        raise ValueError(f"generate: top_p must be in (0, 1] or None, got {top_p!r}")


def sample_logits(logits, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                  generator=None):
    """One token id per row of ``logits`` (B, V) (an array), as ``GPT.generate`` samples them.

    p = softmax(logits / temperature), restricted to the top_k largest and to the nucleus (the
    most likely tokens until their mass reaches top_p), renormalised; the id is the inverse CDF
    of one uniform draw per row. temperature == 0 gives argmax and draws nothing.
    """
    _check_sampling(temperature, top_k, top_p)
    xp = backend.array_module(logits)
    if temperature == 0:
        return logits.argmax(-1).astype(np.int64)
    z = logits.astype(np.float64) / float(temperature)
    B, V = z.shape
    if top_k is not None and top_k < V:
        kth = xp.partition(z, V - top_k, axis=-1)[:, V - top_k:V - top_k + 1]
        z = xp.where(z < kth, -np.inf, z)
    p = xp.exp(z - z.max(-1, keepdims=True))              # unnormalised: the CDF's last entry is the total
    if top_p is not None and top_p < 1.0:
        p /= p.sum(-1, keepdims=True)
        order = xp.argsort(-p, axis=-1, kind="stable")
        ps = xp.take_along_axis(p, order, axis=-1)
        drop = (xp.cumsum(ps, axis=-1) - ps) >= top_p      # the mass before this token already reaches top_p
        ps[drop] = 0.0
        p = xp.zeros_like(p)
        xp.put_along_axis(p, order, ps, axis=-1)
    cdf = xp.cumsum(p, axis=-1)
    u = backend.rng(generator).random((B, 1))
    if xp is not np:
        u = xp.asarray(u)
    u = u * cdf[:, -1:]
    return xp.minimum((cdf <= u).sum(-1), V - 1).astype(np.int64)


# ---------------------------------------------------------------- model zoo entry
@register_model("gpt", description="GPT: decoder-only transformer language model (pre-LN, learned positions)")
def build_gpt(vocab_size: int = 96, block_size: int = 128, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
              mlp_hidden: int | None = None, dropout: float = 0.0, bias: bool = True,
              tie_weights: bool = False) -> GPT:
    """GPT(GPTConfig(...)) from keyword arguments (the defaults are DESIGN.md's ``gpt`` benchmark model)."""
    return GPT(GPTConfig(vocab_size, block_size, n_layer, n_head, n_embd, mlp_hidden, dropout, bias, tie_weights))
