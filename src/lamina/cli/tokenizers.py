"""The tokenizers of text runs: built from a config, saved in the run directory, loaded back.

``char``: a character vocabulary (``lamina.models.gpt_data.CharTokenizer``), written as
``tokenizer.json`` ({"itos": [...]}). ``wordpiece``: a Hugging Face ``tokenizer.json``
("minilm": all-MiniLM-L6-v2's), copied into the run directory. The run's preprocessing records
which (``info["tokenizer"] = {kind, file, max_length, pad_token}``), so evaluating, predicting or
resuming a run encodes text exactly as training did.
"""
from __future__ import annotations

import os

from .errors import ConfigError, one_line

__all__ = ["TOKENIZER_FILE", "load_tokenizer", "save_tokenizer", "wordpiece"]

TOKENIZER_FILE = "tokenizer.json"


def wordpiece(spec: str, max_length: int):
    """``(Tokenizer, path of its tokenizer.json)`` for data.tokenizer = 'minilm', a directory or a file."""
    from ..text.tokenizer import Tokenizer
    try:
        if spec.strip().lower() == "minilm":
            from ..text.pretrained import minilm_path
            directory = minilm_path()
            return Tokenizer.from_pretrained(directory, max_length=max_length), str(directory / TOKENIZER_FILE)
        if os.path.isdir(spec):
            if not os.path.isfile(os.path.join(spec, TOKENIZER_FILE)):
                raise ConfigError(f"data.tokenizer: no {TOKENIZER_FILE} in {os.path.abspath(spec)}")
            return Tokenizer.from_pretrained(spec, max_length=max_length), os.path.join(spec, TOKENIZER_FILE)
        return Tokenizer.from_file(spec, model_max_length=max_length), spec
    except ConfigError:
        raise
    except (ImportError, FileNotFoundError, ValueError) as e:
        raise ConfigError(f"data.tokenizer: {one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises plain Exceptions on a bad file
        raise ConfigError(f"data.tokenizer: cannot read {spec} as a tokenizer.json: {one_line(e)}") from None


def save_tokenizer(tokenizer, info: dict, directory: str, source: str | None = None) -> str:
    """Write the run's tokenizer as ``directory/tokenizer.json`` (a char vocabulary, or a copy of the
    WordPiece ``tokenizer.json`` at ``source``); returns the path."""
    from ..io import atomic_write_text
    dest = os.path.join(directory, info["file"])
    if info["kind"] == "char":
        tokenizer.save(dest)
    elif source is None or os.path.abspath(source) != os.path.abspath(dest):
        if source is None:
            raise ConfigError("cannot save the run's tokenizer: the path of its tokenizer.json is unknown")
        with open(source, encoding="utf-8") as f:
            atomic_write_text(dest, f.read())
    return dest


def load_tokenizer(info: dict, directory: str):
    """``(tokenizer, its file)`` of a run from ``directory`` (the run directory)."""
    path = os.path.join(directory, info["file"])
    if not os.path.isfile(path):
        raise ConfigError(f"the run's tokenizer is missing: {path} (written by lamina train beside "
                          "preprocess.safetensors)")
    try:
        if info["kind"] == "char":
            from ..models.gpt_data import CharTokenizer
            return CharTokenizer.load(path), path
        from ..text.tokenizer import Tokenizer
        return Tokenizer.from_file(path, model_max_length=info.get("max_length"), pad_token=info.get("pad_token")), \
            path
    except (ImportError, ValueError, OSError, KeyError, TypeError) as e:
        raise ConfigError(f"cannot load the run's tokenizer {path}: {one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises plain Exceptions on a bad file
        raise ConfigError(f"cannot load the run's tokenizer {path}: {one_line(e)}") from None
