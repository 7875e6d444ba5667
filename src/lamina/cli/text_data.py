"""Text data for the command line: ``char_lm`` and ``text_classification`` -> token-id arrays.

``[data] name = "char_lm"``: character-level language modelling. The text (``path``, UTF-8; without
it the docstrings of Python's standard library, ``lamina.models.gpt_data.default_text``) is cut
to ``max_chars``, encoded one id per character, and split *contiguously*: the first part trains,
the next ``val_fraction`` validates, the last ``test_fraction`` tests (no window straddles two
splits). Each split becomes windows ``x = ids[s : s+T]``, ``y = ids[s+1 : s+T+1]`` with
``T = block_size``, starting every ``stride`` characters (default T: non-overlapping). The
vocabulary is the text's own characters (``vocab = "text"``) or the 96 printable ASCII symbols
(``vocab = "ascii"``, other characters dropped). A model sees ``(B, T)`` ids and returns
``(B, T, vocab)`` logits; ``vocab_size`` and ``block_size`` of the model come from here.

``[data] name = "text_classification"``: a CSV file with a text column and a label column
(``path``, ``text_column``, ``label_column``; labels are class names or integers), or, without
``path``, the built-in topic sentences (``lamina.text.datasets``; 4 classes, its own held-out test
split). Texts are tokenized with ``tokenizer`` ("minilm": all-MiniLM-L6-v2's WordPiece
tokenizer; or a ``tokenizer.json`` / a directory holding one), truncated to ``max_length``
tokens and padded with the pad id: inputs are ``(N, L)`` int64 ids.

The tokenizer is saved in the run directory (``tokenizer.json``) beside the preprocessing
info, so evaluating a run encodes text exactly as training did.
"""
from __future__ import annotations

import numpy as np

from .data import labels, run_labels, split_arrays
from .errors import ConfigError, one_line
from .pipeline import Preprocess
from .readers import Table, read_rows
from .tokenizers import TOKENIZER_FILE, load_tokenizer, save_tokenizer, wordpiece

__all__ = ["TOKENIZER_FILE", "char_windows", "load_text_splits", "load_tokenizer", "read_text_table",
           "save_tokenizer", "encode_texts"]

_one_line = one_line


# ---------------------------------------------------------------- char_lm
def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ConfigError(f"data.path: {path} is not UTF-8 text ({_one_line(e)})") from None
    except OSError as e:
        raise ConfigError(f"data.path: cannot read {path}: {_one_line(e)}") from None


def char_windows(ids: np.ndarray, block_size: int, stride: int):
    """``(x, y)``: windows ``ids[s:s+T]`` and ``ids[s+1:s+T+1]`` for s = 0, stride, ... (int64, (N, T))."""
    starts = np.arange(0, len(ids) - block_size, stride)
    idx = starts[:, None] + np.arange(block_size + 1)
    w = ids[idx]
    return np.ascontiguousarray(w[:, :-1]), np.ascontiguousarray(w[:, 1:])


def _char_lm(d: dict, tokenizer):
    from ..models.gpt_data import CharTokenizer, default_text, to_printable_ascii
    path, max_chars = d.get("path"), d.get("max_chars")
    if path is None:
        try:
            text = default_text(max_chars) if max_chars else default_text()
        except RuntimeError as e:
            raise ConfigError(f"data (char_lm): {_one_line(e)}; set data.path") from None
    else:
        text = _read_text(path)
        text = text[:max_chars] if max_chars else text
    if d["vocab"] == "ascii":
        text = to_printable_ascii(text)
    if tokenizer is None:
        tokenizer = CharTokenizer.ascii() if d["vocab"] == "ascii" else CharTokenizer.from_text(text)
    try:
        ids = tokenizer.encode(text)
    except KeyError as e:
        raise ConfigError(f"data: {_one_line(e)} (the run's vocabulary); evaluate it on text with the same "
                          "characters") from None
    T, stride = d["block_size"], d.get("stride") or d["block_size"]
    n = len(ids)
    n_test, n_val = int(round(n * d["test_fraction"])), int(round(n * d["val_fraction"]))
    parts = {"train": ids[:n - n_val - n_test], "val": ids[n - n_val - n_test:n - n_test], "test": ids[n - n_test:]}
    where = f"{path!r}" if path else "the default text"
    out = {}
    for split, part in parts.items():
        if split != "train" and len(part) == 0:
            out[split] = None
            continue
        if len(part) < T + 1:
            fix = "a longer text" + ("" if split == "train" else f", a larger data.{split}_fraction") + \
                  " or a smaller data.block_size"
            raise ConfigError(f"data: the {split} split of {where} has {len(part)} characters, too few for one window "
                              f"of block_size + 1 = {T + 1}; use {fix}")
        out[split] = char_windows(part, T, stride)
    if d.get("limit"):
        out["train"] = (out["train"][0][:d["limit"]], out["train"][1][:d["limit"]])
    info = {"dataset": "char_lm", "task": "language_model", "input_kind": "tokens", "input_shape": [T],
            "block_size": T, "vocab_size": tokenizer.vocab_size, "classes": None, "image": None,
            "tokenizer": {"kind": "char", "file": TOKENIZER_FILE},
            "num_chars": {k: int(len(v)) for k, v in parts.items()}}
    return (out["train"], out["val"], out["test"]), tokenizer, None, info


# ---------------------------------------------------------------- text_classification
def read_text_table(path: str, text_column, label_column=None, delimiter: str = ",", header="auto",
                    where: str = "data.path"):
    """``(texts, labels or None)`` from a CSV file (quoted fields may hold the delimiter and newlines),
    read by the one CSV reader (``lamina.cli.readers``). ``header = "auto"`` is a header row: names
    can't be told from texts by looking (give ``header = false`` for a file without one)."""
    rows, lines = read_rows(path, delimiter, where)
    if header == "auto":
        header = True
    names = [c.strip() for c in rows[0]] if header else None
    if header:
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise ConfigError(f"{where}: {path} has no rows of data")
    cells = np.empty((len(rows), len(rows[0])), dtype=object)
    cells[:] = rows
    table = Table(names, cells, np.asarray(lines))
    t = table.column(text_column, "data.text_column", path)
    texts = [r[t] for r in rows]
    if label_column is None:
        return texts, None
    lab = table.column(label_column, "data.label_column", path)
    if lab == t:
        raise ConfigError("data.label_column and data.text_column name the same column")
    return texts, np.asarray([r[lab].strip() for r in rows])


def encode_texts(tokenizer, texts: list, max_length: int) -> np.ndarray:
    """(N, L) int64 ids: truncated to max_length tokens, padded to the longest text with the pad id."""
    if not texts:
        return np.zeros((0, 1), dtype=np.int64)
    return tokenizer(texts, padding=True, truncation=True, max_length=max_length)["input_ids"].astype(np.int64)


def _text_classification(d: dict, tokenizer, source, run_info=None):
    classes = run_info.get("classes") if run_info is not None else None
    if tokenizer is None:
        tokenizer, source = wordpiece(d["tokenizer"], d["max_length"])
    path, test = d.get("path"), None
    if path is None:
        from ..text.datasets import TOPIC_CLASSES, topic_sentences
        texts, y, texts_te, y_te = topic_sentences(seed=d["seed"])
        classes = list(TOPIC_CLASSES)
        test = (encode_texts(tokenizer, texts_te, d["max_length"]), y_te)
    else:
        texts, y = read_text_table(path, d["text_column"], d["label_column"], d["delimiter"], d["header"])
    if run_info is not None and path is not None:  # a trained run's classes: read labels by their names
        y = run_labels(y, run_info, f"data.path: {path}")
    else:
        y, found = labels(y, "classification", classes)
        classes = classes if classes is not None else found
    x = encode_texts(tokenizer, texts, d["max_length"])
    train, val, test = split_arrays({**d, "task": "classification"}, {"train": (x, y), "test": test})
    seen = int(max(p[1].max() for p in (train, val, test) if p is not None and len(p[1]))) + 1
    info = {"dataset": "text_classification", "task": "classification", "input_kind": "tokens",
            "input_shape": [int(x.shape[1])], "num_classes": max(seen, len(classes or ())), "classes": classes,
            "image": None, "vocab_size": tokenizer.vocab_size, "pad_token_id": int(tokenizer.pad_token_id),
            "tokenizer": {"kind": "wordpiece", "file": TOKENIZER_FILE, "max_length": d["max_length"],
                          "pad_token": tokenizer.pad_token}}
    return (train, val, test), tokenizer, source, info


# ---------------------------------------------------------------- entry point
def load_text_splits(d: dict, preprocess=None):
    """``((train, val, test), Preprocess)`` for a text [data] table; ``preprocess`` (a trained run's)
    supplies the tokenizer and the info instead of building new ones. Splits are ``(x, y)`` pairs
    of int64 arrays, or None when empty."""
    tok = preprocess.tokenizer if preprocess is not None else None
    src = preprocess.tokenizer_source if preprocess is not None else None
    if d["name"] == "char_lm":
        splits, tok, src, info = _char_lm(d, tok)
    else:
        splits, tok, src, info = _text_classification(d, tok, src, None if preprocess is None else preprocess.info)
    if preprocess is not None:
        info = dict(preprocess.info)
    else:
        train = splits[0]
        if train is None or len(train[0]) == 0:
            raise ConfigError("data: the training split is empty")
    info.update({f"num_{k}": 0 if p is None else int(len(p[0])) for k, p in zip(("train", "val", "test"), splits)})
    return splits, Preprocess(info, tokenizer=tok, tokenizer_source=src)
