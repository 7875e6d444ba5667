"""BERT (Devlin et al., 2019): a post-LayerNorm transformer encoder with Hugging Face's names.

    e   = LayerNorm(word[ids] + position[0..L-1] + token_type[types])        (then dropout)
    per layer:  a = LayerNorm(h + dropout(W_o MHA(h, mask)))                  attention.output
                h = LayerNorm(a + dropout(W_2 act(W_1 a)))                    intermediate / output
    pooler(h) = tanh(W_p h[:, 0])                                             ([CLS] token)

Every submodule and parameter has the name it has in ``transformers.BertModel``
(``encoder.layer.3.attention.self.query.weight``, ``embeddings.LayerNorm.bias``, ...), so a
safetensors file exported from Hugging Face loads by name:

>>> model = BertModel.from_pretrained("all-MiniLM-L6-v2/")          # config.json + model.safetensors
>>> out = model(input_ids, attention_mask)                         # out.last_hidden_state (B, L, H)
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import os
import warnings
from typing import NamedTuple

import numpy as np

from ..nn import functional as F
from ..nn import init
from ..nn.containers import ModuleList
from ..nn.layers.dropout import Dropout
from ..nn.layers.embedding import Embedding
from ..nn.layers.linear import Linear
from ..nn.layers.normalization import LayerNorm
from ..nn.module import Module
from ..ops.attention import scaled_dot_product_attention
from ..tensor import Tensor
from .registry import _closest, register_model

__all__ = ["BertConfig", "BertModel", "BaseModelOutputWithPooling", "bert_key_map"]

_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),                              # exact: x Phi(x)
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu, "silu": F.silu, "swish": F.silu, "tanh": F.tanh,
}


@dataclasses.dataclass
class BertConfig:
    """The hyper-parameters of a BERT encoder, with the names of Hugging Face's ``config.json``.

    Defaults are BERT-base (uncased). ``BertConfig.from_json_file("config.json")`` reads a Hugging
    Face config and ignores the keys BERT does not use (``architectures``, ``use_cache``, ...).
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self):
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"BertConfig: {name} must be a positive int, got {v!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size ({self.hidden_size}) must be a multiple of "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.hidden_act not in _ACTIVATIONS:
            hint = _closest(self.hidden_act, _ACTIVATIONS)
            raise ValueError(f"BertConfig: unknown hidden_act {self.hidden_act!r}{hint} "
                             f"Valid: {', '.join(sorted(_ACTIVATIONS))}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"BertConfig: {name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"BertConfig: pad_token_id {self.pad_token_id} is outside the vocabulary "
                             f"(vocab_size {self.vocab_size})")

    @classmethod
    def from_dict(cls, config: dict) -> "BertConfig":
        """The fields of ``config`` that BertConfig has (a Hugging Face config dict carries more)."""
        pet = config.get("position_embedding_type", "absolute")
        if pet != "absolute":
            raise NotImplementedError(f"BertConfig: position_embedding_type {pet!r} is not supported "
                                      "(only 'absolute' learned positions)")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})

    @classmethod
    def from_json_file(cls, path) -> "BertConfig":
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        model_type = config.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"BertConfig: {os.fspath(path)!r} describes a {model_type!r} model, not 'bert'")
        return cls.from_dict(config)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class BaseModelOutputWithPooling(NamedTuple):
    """What ``BertModel`` returns: ``out.last_hidden_state`` (B, L, H) and ``out.pooler_output``
    (B, H), or None without a pooler; unpacks and indexes like a tuple (``out[0]``)."""

    last_hidden_state: Tensor
    pooler_output: Tensor | None = None


class BertEmbeddings(Module):
    """e = LayerNorm(word[ids] + position[pos] + token_type[types]), then dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", Tensor(np.arange(config.max_position_embeddings)[None]),
                             persistent=False)

    def forward(self, input_ids: Tensor, token_type_ids=None, position_ids=None) -> Tensor:
        L = input_ids.shape[1]
        if position_ids is None:
            position_ids = self.position_ids.array[:, :L]
        if token_type_ids is None:
            token_type_ids = np.zeros((1, L), dtype=np.int64)
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        e = e + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(e))

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys, error_msgs):
        # Older checkpoints store the constant ``position_ids`` buffer; it is not state, skip it.
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys, unexpected_keys, error_msgs)
        if prefix + "position_ids" in unexpected_keys:
            unexpected_keys.remove(prefix + "position_ids")


class BertSelfAttention(Module):
    """Multi-head attention: softmax(q k^T / sqrt(d) + mask) v per head, q/k/v = Linear(h)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        H = config.hidden_size
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = H // config.num_attention_heads
        self.query, self.key, self.value = Linear(H, H), Linear(H, H), Linear(H, H)
        self.dropout_p = config.attention_probs_dropout_prob

    def _heads(self, x: Tensor) -> Tensor:
        B, L, _ = x.shape
        return x.reshape(B, L, self.num_attention_heads, self.attention_head_size).permute(0, 2, 1, 3)

    def forward(self, hidden_states: Tensor, attn_mask=None) -> Tensor:
        B, L, H = hidden_states.shape
        q, k, v = (self._heads(f(hidden_states)) for f in (self.query, self.key, self.value))
        ctx = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p=self.dropout_p if self.training else 0.0)
        return ctx.permute(0, 2, 1, 3).reshape(B, L, H)


class BertSelfOutput(Module):
    """LayerNorm(input + dropout(dense(h)))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states: Tensor, attn_mask=None) -> Tensor:
        return self.output(self.self(hidden_states, attn_mask), hidden_states)


class BertIntermediate(Module):
    """act(dense(h)): hidden_size -> intermediate_size."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.hidden_act = config.hidden_act

    def forward(self, hidden_states: Tensor) -> Tensor:
        return _ACTIVATIONS[self.hidden_act](self.dense(hidden_states))


class BertOutput(Module):
    """LayerNorm(input + dropout(dense(h))): intermediate_size -> hidden_size."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertLayer(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states: Tensor, attn_mask=None) -> Tensor:
        a = self.attention(hidden_states, attn_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states: Tensor, attn_mask=None) -> Tensor:
        for layer in self.layer:
            hidden_states = layer(hidden_states, attn_mask)
        return hidden_states


class BertPooler(Module):
    """tanh(dense(h[:, 0])): the [CLS] token's vector, as BERT's next-sentence head saw it."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return F.tanh(self.dense(hidden_states[:, 0]))


def _int_ids(x, name: str, shape=None):
    """Token ids / types / masks as an int64 NumPy-or-xp array (from a Tensor, array or nested list)."""
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"BertModel: {name} must hold integers, got dtype {arr.dtype}")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"BertModel: {name} has shape {tuple(arr.shape)}, expected {tuple(shape)} "
                         f"(the shape of input_ids)")
    return arr


class BertModel(Module):
    """The BERT encoder: token ids (B, L) -> hidden states (B, L, hidden_size) [+ pooled (B, hidden_size)].

    Args:
        config: a :class:`BertConfig` (or a dict of its fields).
        add_pooling_layer: keep the ``pooler`` (tanh(W h[CLS])); sentence encoders don't need it.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, position_ids=None)``:
    ``attention_mask`` (B, L) is 1 for real tokens and 0 for padding (padding keys get no
    attention weight); ``token_type_ids`` default to 0. Returns a
    :class:`BaseModelOutputWithPooling` ``(last_hidden_state, pooler_output)``.

    Weights start as in Hugging Face: Linear and Embedding weights ~ N(0, initializer_range),
    biases 0, LayerNorm 1 / 0, the padding row of the word embeddings 0.

    >>> model = BertModel(BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
    ...                              intermediate_size=512))
    >>> model(lamina.tensor([[101, 7592, 102]])).last_hidden_state.shape          # (1, 3, 128)
    """

    def __init__(self, config: BertConfig | dict | None = None, add_pooling_layer: bool = True):
        super().__init__()
        if config is None:
            config = BertConfig()
        elif isinstance(config, dict):
            config = BertConfig.from_dict(config)
        elif not isinstance(config, BertConfig):
            raise TypeError(f"BertModel: config must be a BertConfig or a dict, got {type(config).__name__}")
        self.config, self.add_pooling_layer = config, bool(add_pooling_layer)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """Hugging Face's BERT init (``_init_weights``)."""
        std = self.config.initializer_range
        for m in self.modules():
            if isinstance(m, Linear):
                init.normal_(m.weight, 0.0, std, generator=generator)
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, Embedding):
                init.normal_(m.weight, 0.0, std, generator=generator)
                m._fill_padding_idx_with_zero()
            elif isinstance(m, LayerNorm):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        ids = _int_ids(input_ids, "input_ids")
        if ids.ndim != 2:
            raise ValueError(f"BertModel: input_ids must be 2-D (batch, seq_len), got shape {tuple(ids.shape)}")
        B, L = ids.shape
        if L > self.config.max_position_embeddings:
            raise ValueError(f"BertModel: sequence length {L} exceeds max_position_embeddings "
                             f"({self.config.max_position_embeddings}); truncate the input (the tokenizer's "
                             f"truncation=True, max_length<={self.config.max_position_embeddings})")
        if token_type_ids is not None:
            token_type_ids = _int_ids(token_type_ids, "token_type_ids", (B, L))
        if position_ids is not None:
            position_ids = _int_ids(position_ids, "position_ids")
        mask = None
        if attention_mask is not None:
            keep = _int_ids(attention_mask, "attention_mask", (B, L)) != 0
            if not bool(keep.all()):     # (B, 1, 1, L): True = this key takes part
                mask = Tensor._wrap(keep[:, None, None, :])
        h = self.embeddings(ids, token_type_ids, position_ids)
        h = self.encoder(h, mask)
        return BaseModelOutputWithPooling(h, self.pooler(h) if self.pooler is not None else None)

    # ------------------------------------------------------------ config and weights
    def get_config(self) -> dict:
        """The BertConfig fields plus ``add_pooling_layer`` (``create_model("bert", **cfg)`` rebuilds it)."""
        return {**self.config.to_dict(), "add_pooling_layer": self.add_pooling_layer}

    @classmethod
    def from_config(cls, config: dict) -> "BertModel":
        config = dict(config)
        pool = config.pop("add_pooling_layer", True)
        return cls(BertConfig.from_dict(config), add_pooling_layer=pool)

    @classmethod
    def from_pretrained(cls, path, add_pooling_layer: bool = True, config: BertConfig | None = None) -> "BertModel":
        """A BertModel with the weights of a Hugging Face directory (``config.json`` + ``model.safetensors``).

        ``path`` is the directory or the ``.safetensors`` file (its ``config.json`` beside it).
        Checkpoints of task models (``bert.`` prefix, ``cls.*`` / ``classifier.*`` heads) and
        TF-style ``gamma`` / ``beta`` names load too; a checkpoint without pooler weights keeps a
        freshly initialised pooler (with a warning). Pickled ``pytorch_model.bin`` files are
        refused: convert them to safetensors first.
        """
        from ..io import load_state_dict_from

        path = os.fspath(path)
        directory, weights = (os.path.dirname(path) or ".", path) if os.path.isfile(path) else \
            (path, os.path.join(path, "model.safetensors"))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"BertModel.from_pretrained: no such directory: {directory!r}")
        if not os.path.exists(weights):
            pickled = [n for n in ("pytorch_model.bin", "tf_model.h5") if os.path.exists(os.path.join(directory, n))]
            hint = (f"; it holds only {pickled[0]}, which lamina never loads (pickle can run code): convert it with "
                    "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')"
                    if pickled else "")
            raise FileNotFoundError(f"BertModel.from_pretrained: no model.safetensors in {directory!r}{hint}")
        if config is None:
            cfg_file = os.path.join(directory, "config.json")
            if not os.path.exists(cfg_file):
                raise FileNotFoundError(f"BertModel.from_pretrained: no config.json in {directory!r}")
            config = BertConfig.from_json_file(cfg_file)
        model = cls(config, add_pooling_layer=add_pooling_layer)
        sd = load_state_dict_from(weights, key_map=bert_key_map)
        if not add_pooling_layer:
            sd = {k: v for k, v in sd.items() if not k.startswith("pooler.")}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if unexpected or any(not k.startswith("pooler.") for k in missing):
            model.load_state_dict(sd, strict=True)            # raises, naming every key at fault
        if missing:
            warnings.warn(f"BertModel.from_pretrained: {weights!r} has no pooler weights; the pooler keeps its "
                          "random initialisation", stacklevel=2)
        return model.eval()

    def extra_repr(self) -> str:
        c = self.config
        return (f"layers={c.num_hidden_layers}, hidden={c.hidden_size}, heads={c.num_attention_heads}, "
                f"vocab={c.vocab_size}")


_HEADS = ("cls.", "classifier.", "qa_outputs.", "lm_head.")


def bert_key_map(name: str) -> str | None:
    """Hugging Face checkpoint key -> BertModel key: drops a ``bert.`` prefix, task heads and the
    constant ``position_ids`` buffer; renames TF-style ``LayerNorm.gamma/beta`` to ``weight/bias``.

    >>> sd = lamina.io.load_state_dict_from("bert-base-uncased/model.safetensors", key_map=bert_key_map)
    """
    if name.startswith(_HEADS) or name.endswith("position_ids"):
        return None
    name = name.removeprefix("bert.")
    if ".LayerNorm." in name or name.startswith("LayerNorm."):
        name = name.replace(".gamma", ".weight").replace(".beta", ".bias")
    return name


# ---------------------------------------------------------------- registry
def _bert_builder(**config) -> BertModel:
    return BertModel.from_config(config)


_KW = inspect.Parameter.KEYWORD_ONLY
_bert_builder.__signature__ = inspect.Signature(       # the registry checks config keys against it
    [inspect.Parameter(f.name, _KW, default=f.default) for f in dataclasses.fields(BertConfig)]
    + [inspect.Parameter("add_pooling_layer", _KW, default=True)])
_bert_builder.__name__ = "bert"
register_model("bert", _bert_builder, description="BERT encoder (Hugging Face names; BertConfig fields as keys)")
