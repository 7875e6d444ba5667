"""Tokenizer: a thin wrapper over the ``tokenizers`` library (``tokenizer.json``) that gives padded
id arrays, attention masks and token types in Hugging Face's calling convention.

    tok = Tokenizer.from_pretrained(minilm_path())              # max_length 256 for MiniLM
    batch = tok(["a short one", "a longer sentence here"])      # dict of (B, L) int64 arrays
    batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]

Truncation (``longest_first`` for pairs) counts the special tokens ([CLS], [SEP]) in
``max_length``; padding goes on the right with the pad id and mask 0.
Needs the optional ``tokenizers`` package (``pip install lamina[text]``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .pretrained import read_json

__all__ = ["Tokenizer"]

_NO_LIMIT = 10 ** 6        # Hugging Face writes a huge sentinel model_max_length when there is none


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise ImportError("lamina.text.Tokenizer needs the `tokenizers` package: pip install 'lamina[text]' "
                          "(or pip install tokenizers)") from None
    return tokenizers


class Tokenizer:
    """Text -> token ids with a ``tokenizers.Tokenizer`` (WordPiece for BERT), batched and padded.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``; its own padding and truncation settings are
            cleared (this class applies them per call).
        model_max_length: the default ``max_length`` for truncation (None: no limit).
        pad_token: the padding token (its id pads ``input_ids``).

    ``tok(texts)`` returns ``{'input_ids', 'attention_mask', 'token_type_ids'}``, each (B, L).
    """

    def __init__(self, tokenizer, model_max_length: int | None = 512, pad_token: str = "[PAD]"):
        self._tok = tokenizer
        self._tok.no_padding()
        self._tok.no_truncation()
        self._trunc = None
        self.model_max_length = model_max_length
        self.pad_token = pad_token
        self.pad_token_id = tokenizer.token_to_id(pad_token)
        if self.pad_token_id is None:
            raise ValueError(f"Tokenizer: pad token {pad_token!r} is not in the vocabulary")

    # ------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path, model_max_length: int | None = 512, pad_token: str | None = None) -> "Tokenizer":
        """From a ``tokenizer.json``; ``pad_token`` defaults to the file's padding token or [PAD]."""
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise FileNotFoundError(f"Tokenizer.from_file: no such file: {p!r}")
        tok = _tokenizers().Tokenizer.from_file(p)
        if pad_token is None:
            pad_token = (tok.padding or {}).get("pad_token", "[PAD]")
        return cls(tok, model_max_length, pad_token)

    @classmethod
    def from_pretrained(cls, directory, max_length: int | None = None) -> "Tokenizer":
        """From a model directory's ``tokenizer.json``.

        ``max_length`` defaults to the sentence-transformers ``max_seq_length`` when there is one
        (256 for MiniLM), else ``tokenizer_config.json``'s ``model_max_length``, else
        ``config.json``'s ``max_position_embeddings``, else 512.
        """
        d = Path(os.fspath(directory))
        if max_length is None:
            sb = read_json(d, "sentence_bert_config.json", {}) or {}
            tc = read_json(d, "tokenizer_config.json", {}) or {}
            mc = read_json(d, "config.json", {}) or {}
            cands = [sb.get("max_seq_length"), tc.get("model_max_length"), mc.get("max_position_embeddings"), 512]
            max_length = next(int(v) for v in cands if v is not None and v < _NO_LIMIT)
        tc = read_json(d, "special_tokens_map.json", {}) or {}
        pad = tc.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        return cls.from_file(d / "tokenizer.json", max_length, pad)

    # ------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        return self._tok.id_to_token(int(id))

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` (no special tokens): 'Hello!' -> ['hello', '!']."""
        return self._tok.encode(text, add_special_tokens=False).tokens

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self._tok.decode([int(i) for i in np.asarray(ids).reshape(-1)], skip_special_tokens=skip_special_tokens)

    # ------------------------------------------------------------ encoding
    def _set_truncation(self, max_length: int | None) -> None:
        if max_length == self._trunc:
            return
        if max_length is None:
            self._tok.no_truncation()
        else:
            self._tok.enable_truncation(max_length, strategy="longest_first")
        self._trunc = max_length

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True,
               truncation: bool = True, max_length: int | None = None) -> list[int]:
        """The ids of one text (or pair), with [CLS] ... [SEP], truncated but not padded."""
        return self(text if text_pair is None else [(text, text_pair)], padding=False, truncation=truncation,
                    max_length=max_length, add_special_tokens=add_special_tokens, return_tensors=None)["input_ids"][0]

    def __call__(self, text, text_pair=None, padding=True, truncation: bool = True, max_length: int | None = None,
                 pad_to_multiple_of: int | None = None, add_special_tokens: bool = True, return_tensors="np") -> dict:
        """Encode a text or a list of texts (pairs: ``text_pair``, or a list of (text, pair) tuples).

        padding: True / 'longest' (to the longest in the batch), 'max_length', or False.
        truncation: cut to ``max_length`` (default ``model_max_length``) tokens, special tokens included.
        return_tensors: 'np' (int64 arrays (B, L)), 'lamina' (Tensors) or None (lists; needed with padding=False).
        A single string is a batch of one.
        """
        texts = [text] if isinstance(text, str) else list(text)
        if text_pair is not None:
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
            if len(pairs) != len(texts):
                raise ValueError(f"Tokenizer: {len(texts)} texts but {len(pairs)} text_pairs")
            texts = list(zip(texts, pairs))
        for t in texts:
            pair = isinstance(t, tuple) and len(t) == 2 and all(isinstance(s, str) for s in t)
            if not (isinstance(t, str) or pair):
                raise TypeError(f"Tokenizer: expected str texts (or pairs of str), got {type(t).__name__}: {t!r:.60}")
        if max_length is None:
            max_length = self.model_max_length
        if padding not in (True, False, "longest", "max_length", "do_not_pad"):
            raise ValueError(f"Tokenizer: padding must be True, False, 'longest' or 'max_length', got {padding!r}")
        if padding == "max_length" and max_length is None:
            raise ValueError("Tokenizer: padding='max_length' needs a max_length")
        self._set_truncation(max_length if truncation else None)
        encs = self._tok.encode_batch(texts, add_special_tokens=add_special_tokens)
        ids = [e.ids for e in encs]
        types = [e.type_ids for e in encs]
        if padding in (False, "do_not_pad"):
            if return_tensors is not None:
                raise ValueError(f"Tokenizer: return_tensors={return_tensors!r} needs padding (sequences of "
                                 "different lengths cannot form one array); use return_tensors=None")
            return {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids], "token_type_ids": types}
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        L = int(lengths.max(initial=0))
        if padding == "max_length":                 # longer (untruncated) rows keep their length
            L = max(L, int(max_length))
        if pad_to_multiple_of:
            L = -(-L // pad_to_multiple_of) * pad_to_multiple_of
        out_ids = np.full((len(ids), L), self.pad_token_id, dtype=np.int64)
        out_types = np.zeros((len(ids), L), dtype=np.int64)
        for r, (i, t) in enumerate(zip(ids, types)):        # one row copy per text (C-speed slices)
            out_ids[r, :len(i)] = i
            out_types[r, :len(t)] = t
        mask = (np.arange(L)[None, :] < lengths[:, None]).astype(np.int64)
        batch = {"input_ids": out_ids, "attention_mask": mask, "token_type_ids": out_types}
        if return_tensors is None:
            return {k: v.tolist() for k, v in batch.items()}
        if return_tensors == "lamina":
            from ..tensor import Tensor
            return {k: Tensor(v) for k, v in batch.items()}
        if return_tensors != "np":
            raise ValueError(f"Tokenizer: return_tensors must be 'np', 'lamina' or None, got {return_tensors!r}")
        return batch

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, model_max_length={self.model_max_length})"
