"""MultiheadAttention: h heads of scaled dot-product attention over learned projections.

    head_i = softmax(Q W_i^Q (K W_i^K)^T / sqrt(d) + mask) V W_i^V,   d = embed_dim / h
    out    = concat(head_1, ..., head_h) W^O + b^O

Parameters have torch's names and layouts (``in_proj_weight`` (3E, E) stacking W^Q, W^K,
W^V; ``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight`` when kdim or vdim differ from E;
``in_proj_bias`` (3E,); ``out_proj`` a Linear), so torch checkpoints load by name. Heads are
views of the projections, never copies; the attention itself is one fused op
(``lamina.ops.attention``).
"""
from __future__ import annotations

from ... import backend
from ...ops.attention import attention
from ...ops.creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .linear import Linear


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017) with PyTorch's interface.

    Inputs are (L, N, E) query and (S, N, kdim) / (S, N, vdim) key / value, or (N, L, E)... with
    ``batch_first=True``, or unbatched (L, E). ``forward`` returns ``(output, weights)``: output
    shaped like the query, weights (N, L, S) averaged over heads (or (N, num_heads, L, S) with
    ``average_attn_weights=False``), None when ``need_weights=False``.

    Masks, as torch: ``key_padding_mask`` (N, S), True (or -inf) = ignore that key;
    ``attn_mask`` (L, S) or (N * num_heads, L, S), True = may *not* attend, a float mask is
    added to the scores. ``is_causal`` is a hint that ``attn_mask`` is the causal mask.

    Init as torch: xavier_uniform_ for the input projections, zero biases, out_proj.weight
    as Linear's default.

    >>> mha = nn.MultiheadAttention(128, 4, batch_first=True)
    >>> x = lamina.randn(2, 10, 128)
    >>> out, w = mha(x, x, x)                     # out (2, 10, 128), w (2, 10, 10)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * E, E, dtype=dtype, device=device))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(E, E, dtype=dtype, device=device))
            self.k_proj_weight = Parameter(empty(E, self.kdim, dtype=dtype, device=device))
            self.v_proj_weight = Parameter(empty(E, self.vdim, dtype=dtype, device=device))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # ------------------------------------------------------------ forward
    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        batched = self._check_shapes(query, key, value, key_padding_mask, attn_mask)
        bf = self.batch_first
        if not batched:  # add a batch dim of 1 where the layout puts it
            query, key, value = (t.unsqueeze(0 if bf else 1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        seq = 1 if bf else 0
        L, S, N = query.shape[seq], key.shape[seq], query.shape[1 - seq]
        E = self.embed_dim
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"MultiheadAttention: key's sequence and batch dims {key.shape[:2]} do not match "
                             f"value's {value.shape[:2]}")
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: need attn_mask if specifying the is_causal hint; you may use "
                               "generate_square_subsequent_mask to create this mask")
        causal = is_causal and key_padding_mask is None and not need_weights
        bias, blocked = (None, None) if causal else self._masks(attn_mask, key_padding_mask, N, L, S)

        q, k, v = self._project(query, key, value)
        q, k, v = (self._heads(t, bf) for t in (q, k, v))            # (N, H, len, d) views
        dropout_p = self.dropout if self.training else 0.0
        res = attention(q, k, v, bias=bias, blocked=blocked, is_causal=causal, dropout_p=dropout_p,
                        safe=not need_weights, need_weights=need_weights, op="MultiheadAttention")
        out, weights = res if need_weights else (res, None)
        # (N, H, L, d) -> (N, L, E) or (L, N, E)
        out = out.permute(0, 2, 1, 3) if bf else out.permute(2, 0, 1, 3)
        out = self.out_proj(out.reshape(*out.shape[:2], E))
        if weights is not None and average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out = out.squeeze(0 if bf else 1)
            if weights is not None:
                weights = weights.squeeze(0)
        return out, weights

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        E = self.embed_dim
        b = self.in_proj_bias
        if not self._qkv_same_embed_dim:
            bq, bk, bv = b.split(E) if b is not None else (None, None, None)
            return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                    F.linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if query is key and key is value:  # self-attention: one GEMM for all three
            return F.linear(query, w, b).split(E, -1)
        if key is value:
            wq, wkv = w.split([E, 2 * E])
            bq, bkv = b.split([E, 2 * E]) if b is not None else (None, None)
            return (F.linear(query, wq, bq), *F.linear(key, wkv, bkv).split(E, -1))
        ws = w.split(E)
        bs = b.split(E) if b is not None else (None, None, None)
        return tuple(F.linear(x, wi, bi) for x, wi, bi in zip((query, key, value), ws, bs))

    def _heads(self, t: Tensor, batch_first: bool) -> Tensor:
        """(N, len, E) or (len, N, E) -> (N, H, len, d), a view."""
        a, b = t.shape[:2]
        t = t.reshape(a, b, self.num_heads, self.head_dim)
        return t.permute(0, 2, 1, 3) if batch_first else t.permute(1, 2, 0, 3)

    def _masks(self, attn_mask, key_padding_mask, N, L, S):
        """(bias, blocked): the float masks summed into one additive Tensor, the bool ones or-ed into one
        array (True = blocked), both broadcastable to (N, H, L, S)."""
        H = self.num_heads
        bias, blocked = None, None
        parts = []
        if attn_mask is not None:
            m = attn_mask
            if m.ndim == 3:
                m = m.reshape(N, H, L, S)
            parts.append(m)
        if key_padding_mask is not None:
            parts.append(key_padding_mask.reshape(N, 1, 1, S))
        for m in parts:
            if m.dtype.kind == "b":
                blocked = m.array if blocked is None else (blocked | m.array)
            else:
                bias = m if bias is None else bias + m
        return bias, blocked

    def _check_shapes(self, query, key, value, key_padding_mask, attn_mask) -> bool:
        """Validate ranks and mask shapes as torch's _mha_shape_check; True when the input is batched."""
        name = "MultiheadAttention"
        for n, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {n} must be a Tensor, got {type(t).__name__}")
        if query.ndim == 3:
            if key.ndim != 3 or value.ndim != 3:
                raise ValueError(f"{name}: for batched (3-D) query, key and value must also be 3-D, got key "
                                 f"shape {key.shape} and value shape {value.shape}")
            batched = True
        elif query.ndim == 2:
            if key.ndim != 2 or value.ndim != 2:
                raise ValueError(f"{name}: for unbatched (2-D) query, key and value must also be 2-D, got key "
                                 f"shape {key.shape} and value shape {value.shape}")
            batched = False
        else:
            raise ValueError(f"{name}: query should be unbatched 2-D or batched 3-D, got shape {query.shape}")
        if query.shape[-1] != self.embed_dim:
            raise ValueError(f"{name}(embed_dim={self.embed_dim}): query has {query.shape[-1]} features "
                             f"(query shape {query.shape})")
        if key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"{name}: expected key with {self.kdim} and value with {self.vdim} features, got key "
                             f"shape {key.shape} and value shape {value.shape}")
        seq = 1 if (self.batch_first and batched) else 0
        L, S = query.shape[seq], key.shape[seq]
        N = query.shape[1 - seq] if batched else 1
        if batched and key.shape[1 - seq] != N:
            raise ValueError(f"{name}: query batch size {N} does not match key batch size {key.shape[1 - seq]} "
                             f"(query shape {query.shape}, key shape {key.shape})")
        for n, m in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
            if m is not None and (not isinstance(m, Tensor) or m.dtype.kind not in "bf"):
                raise TypeError(f"{name}: only bool and floating types of {n} are supported, got "
                                f"{getattr(m, 'dtype', type(m).__name__)}")
        if key_padding_mask is not None:
            want = (N, S) if batched else (S,)
            if key_padding_mask.shape != want:
                raise ValueError(f"{name}: expected key_padding_mask of shape {want}, got "
                                 f"{key_padding_mask.shape}")
        if attn_mask is not None:
            want2, want3 = (L, S), (N * self.num_heads, L, S)
            if attn_mask.ndim == 2 and attn_mask.shape != want2:
                raise ValueError(f"{name}: the shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                 f"{want2}")
            if attn_mask.ndim == 3 and attn_mask.shape != want3:
                raise ValueError(f"{name}: the shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                 f"{want3}")
            if attn_mask.ndim not in (2, 3):
                raise ValueError(f"{name}: attn_mask's dimension {attn_mask.ndim} is not supported (expected a "
                                 f"2-D {want2} or 3-D {want3} mask)")
        return batched

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        return s + (", batch_first=True" if self.batch_first else "")
