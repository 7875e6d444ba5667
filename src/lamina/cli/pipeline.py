"""A run's input pipeline: every transform between a raw input and the model's input.

    pre = Preprocess.load("runs/mlp_digits/preprocess.safetensors")
    x = pre.prepare(sklearn.datasets.load_digits().data)        # raw features -> model input
    x = pre.prepare(["zero.png", "one.png"], kind="images")      # image files -> model input
    ids = pre.prepare(["The striker scored twice."], kind="texts")   # texts -> token ids

``Preprocess.prepare`` is the one function that turns raw input into model input: ``predict``
and ``evaluate`` use it, and so can a server or an exporter (everything it needs is in the run
directory: ``preprocess.safetensors`` holds the steps as JSON in its header and the
standardisation statistics as tensors, beside ``tokenizer.json`` for text runs).
``pre.describe()`` says in words what a raw input looks like; ``pre.steps()`` lists the steps.

features  raw rows ``(N, ...)`` as the dataset's own files hold them (digits: 64 values 0..16)
          1. float32; NaN/Inf refused (unless ``allow_nonfinite``)
          2. ``/ divide_by``: the dataset's own scaling (digits 16, MNIST and CIFAR-10 pixels 255;
             1 for csv, npy and mnist1d data)
          3. reshape to the model's ``input_shape`` (any row with as many values)
          4. standardise ``(x - mean) / std`` with the training split's statistics
             (``data.standardize = true``; per feature, or per channel for images)
images    files decoded by Pillow, converted to the run's mode, resized (bilinear) to its size,
          pixel / 255, then steps 3 and 4
texts     the run's tokenizer: int64 token ids, truncated to ``max_length`` and padded with the
          pad id (a character-level language model: one id per character)

Training data comes from the dataset loader, which has already applied step 2: it enters at
step 3 (``pre.from_loaded(x)``). So a model sees the same numbers for a training sample as for
the same sample given raw to ``predict``.
"""
from __future__ import annotations

import os

import numpy as np

from ..data.transforms import Standardize
from .errors import ConfigError, one_line
from .registry import RAW_INPUT

__all__ = ["FORMAT", "Preprocess"]

FORMAT = 2  # 1: no raw_input (runs before the pipeline held the dataset's scaling)


class Preprocess:
    """What the model expects of an input, and how a raw input becomes one (see the module docstring).

    ``info`` is JSON: ``dataset``, ``task``, ``input_shape`` (one sample), ``num_classes`` /
    ``num_outputs``, ``classes`` (names or None), ``image`` (``[mode, [h, w]]`` or None),
    ``raw_input`` (``{divide_by, description}``). Text data (``input_kind = "tokens"``) adds
    ``vocab_size`` and ``tokenizer`` (``{kind, file, ...}``), and holds the ``tokenizer`` itself;
    ``save`` writes it beside the preprocessing file.
    """

    def __init__(self, info: dict, scaler: Standardize | None = None, tokenizer=None,
                 tokenizer_source: str | None = None):
        info = dict(info)
        if "raw_input" not in info and info.get("input_kind") != "tokens":
            divide_by, text = RAW_INPUT.get(info.get("dataset"), (1.0, "rows of numbers"))
            info["raw_input"] = {"divide_by": divide_by, "description": text}
        self.info, self.scaler = info, scaler
        self.tokenizer, self.tokenizer_source = tokenizer, tokenizer_source

    @staticmethod
    def fit(x_train: np.ndarray, standardize: bool) -> Standardize | None:
        """The standardisation of the training split's inputs (None when ``standardize`` is off)."""
        if not standardize:
            return None
        dim = 0 if x_train.ndim <= 2 else (0,) + tuple(range(2, x_train.ndim))  # per feature / per channel
        return Standardize(dim=dim).fit(x_train)

    # ------------------------------------------------------------ raw input -> model input
    @property
    def divide_by(self) -> float:
        return float(self.info.get("raw_input", {}).get("divide_by", 1.0))

    def prepare(self, inputs, kind: str = "features", allow_nonfinite: bool = False, where: str = "INPUTS"):
        """Model input from raw ``inputs``: an array of raw features ``(N, ...)`` (``kind='features'``),
        image file paths (``'images'``) or a list of texts (``'texts'``). Raises ConfigError when the
        inputs don't fit the run (wrong number of values, non-finite numbers, unknown characters)."""
        if kind == "texts":
            return self._tokenize(inputs, where)
        if self.info.get("input_kind") == "tokens":
            raise ConfigError(f"{where}: this run reads text ({self.info['dataset']}); give texts, not {kind}")
        if kind == "images":
            if not self.info.get("image"):
                raise ConfigError(f"{where}: this model was trained on {self.info['dataset']} features, not images: "
                                  "give a .csv, .npy or .npz file")
            from .readers import load_images
            mode, size = self.info["image"]
            return self.from_loaded(load_images(list(inputs), mode, size, where))
        if kind != "features":
            raise ValueError(f"Preprocess.prepare: kind must be 'features', 'images' or 'texts', got {kind!r}")
        x = np.asarray(inputs)
        if x.dtype.kind not in "fiub":
            raise ConfigError(f"{where}: inputs must be numbers, got dtype {x.dtype}")
        x = x.astype(np.float32)
        if not allow_nonfinite and not np.isfinite(x).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ConfigError(f"{where}: input [{', '.join(map(str, idx))}] = {x[idx]!r} is not a finite number")
        if self.divide_by != 1.0:
            x = x / np.float32(self.divide_by)
        return self.from_loaded(x, where)

    __call__ = prepare

    def from_loaded(self, x: np.ndarray, where: str = "INPUTS") -> np.ndarray:
        """Steps 3 and 4: arrays as the dataset loader gives them (already scaled) -> model input."""
        if self.info.get("input_kind") == "tokens":
            return np.asarray(x, dtype=np.int64)
        shape = tuple(self.info["input_shape"])
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 0:
            raise ConfigError(f"{where}: expected one row per input, got a single number")
        if x.shape[1:] != shape:
            n, want = int(np.prod(x.shape[1:])), int(np.prod(shape))
            if n != want:
                raise ConfigError(f"{where}: inputs have shape {tuple(x.shape[1:])} per sample ({n} values) but the "
                                  f"model takes {shape} ({want} values); raw input for this run: {want} "
                                  f"values per row ({self.info['raw_input']['description']})")
            x = x.reshape((len(x),) + shape)
        return np.ascontiguousarray(self.scaler(x)) if self.scaler is not None else x

    def _tokenize(self, texts, where: str) -> np.ndarray:
        if self.tokenizer is None:
            raise ConfigError(f"{where}: this run was trained on {self.info['dataset']} numbers, not text")
        texts = list(texts)
        if self.info["tokenizer"]["kind"] == "char":
            try:
                return [self.tokenizer.encode(t) for t in texts]
            except KeyError as e:
                raise ConfigError(f"{where}: {one_line(e)} (the run's vocabulary)") from None
        if not texts:
            return np.zeros((0, 1), dtype=np.int64)
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.info["tokenizer"]["max_length"])
        return np.asarray(enc["input_ids"], dtype=np.int64)

    # ------------------------------------------------------------ what it is, in words
    def steps(self) -> list:
        """The pipeline as a list of JSON steps (what ``prepare`` does, in order)."""
        if self.info.get("input_kind") == "tokens":
            return [{"step": "tokenize", **self.info["tokenizer"]}]
        out = [{"step": "float32"}]
        if self.divide_by != 1.0:
            out.append({"step": "divide", "by": self.divide_by})
        out.append({"step": "reshape", "shape": list(self.info["input_shape"])})
        if self.scaler is not None:
            out.append({"step": "standardize", "dim": list(self.scaler.dim)})
        return out

    def describe(self) -> str:
        """What a raw input of this run looks like and what is done to it, in one paragraph."""
        info = self.info
        if info.get("input_kind") == "tokens":
            if info.get("task") == "language_model":
                return (f"a character-level language model: text made of the run's {info['vocab_size']} characters; "
                        "sample from it with lamina generate RUN --prompt TEXT")
            return (f"texts (--text, a .txt file with one text per line, or a .csv with the run's text column), "
                    f"encoded by the run's tokenizer.json (at most {info['tokenizer'].get('max_length')} tokens)")
        parts = [f"{info['dataset']} run: raw input is {self.values_per_row} values per row "
                 f"({info['raw_input']['description']}), given as a .csv (one row per input; a header row is "
                 "detected), a .npy, or an .npz with an array x"]
        if info.get("image"):
            mode, size = info["image"]
            parts.append(f"or image files (converted to {mode}, resized to {size[0]}x{size[1]}, pixel / 255)")
        steps = [f"divides by {self.divide_by:g}"] if self.divide_by != 1.0 else []
        steps.append(f"reshapes each row to {tuple(info['input_shape'])}")
        if self.scaler is not None:
            steps.append("standardises with its training statistics")
        return "; ".join(parts) + ". The run " + ", ".join(steps) + "."

    @property
    def values_per_row(self) -> int:
        return int(np.prod(self.info["input_shape"]))

    # ------------------------------------------------------------ on disk
    def state(self) -> dict:
        return {"format": FORMAT, "info": self.info, "steps": self.steps(),
                "standardize": None if self.scaler is None else self.scaler.state_dict()}

    def save(self, path: str) -> None:
        """Write the info, steps and statistics to ``path`` (and the tokenizer of text data beside it)."""
        from .. import io
        if self.tokenizer is not None:
            from .tokenizers import save_tokenizer
            self.tokenizer_source = save_tokenizer(self.tokenizer, self.info["tokenizer"],
                                                   os.path.dirname(os.path.abspath(path)), self.tokenizer_source)
        io.save(self.state(), path)

    def to_metadata(self) -> dict:
        """The whole pipeline as string key/values for a file's metadata (an ONNX file's
        ``metadata_props``): ``lamina.preprocess`` (info, steps, statistics as JSON) and, for text
        runs, ``lamina.tokenizer`` (the tokenizer.json text), so the file alone serves raw inputs."""
        import json
        state = self.state()
        if self.scaler is not None:
            state["standardize"] = {k: (np.asarray(getattr(v, "array", v)).tolist() if hasattr(v, "array") else v)
                                    for k, v in self.scaler.state_dict().items()}
            state["standardize_dtype"] = str(np.asarray(self.scaler.mean).dtype)
        meta = {"lamina.preprocess": json.dumps(state)}
        if self.tokenizer is not None:
            import tempfile
            with tempfile.TemporaryDirectory() as d:
                path = self._save_tokenizer_to(d)
                with open(path, encoding="utf-8") as f:
                    meta["lamina.tokenizer"] = f.read()
        return meta

    def _save_tokenizer_to(self, directory: str) -> str:
        from .tokenizers import save_tokenizer
        return save_tokenizer(self.tokenizer, self.info["tokenizer"], directory, self.tokenizer_source)

    @classmethod
    def from_metadata(cls, meta: dict) -> "Preprocess":
        """The pipeline written by :meth:`to_metadata` (values may be JSON strings or decoded)."""
        import json
        raw = meta.get("lamina.preprocess")
        if raw is None:
            raise ConfigError("the file's metadata has no lamina.preprocess entry (export it with lamina export)")
        state = json.loads(raw) if isinstance(raw, str) else raw
        info = state["info"]
        scaler = None
        if state.get("standardize") is not None:
            dt = np.dtype(state.get("standardize_dtype", "float32"))
            scaler = Standardize()
            scaler.load_state_dict({k: (np.asarray(v, dtype=dt) if isinstance(v, list) else v)
                                    for k, v in state["standardize"].items()})
        tokenizer = source = None
        if info.get("tokenizer"):
            text = meta.get("lamina.tokenizer")
            if not isinstance(text, str):
                text = json.dumps(text) if text is not None else None
            if text is None:
                raise ConfigError("the file's metadata has a text pipeline but no lamina.tokenizer entry")
            import tempfile
            from .tokenizers import load_tokenizer
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, info["tokenizer"]["file"]), "w", encoding="utf-8") as f:
                    f.write(text)
                tokenizer, _ = load_tokenizer(info["tokenizer"], d)
        return cls(info, scaler, tokenizer, None)

    @classmethod
    def load(cls, path: str) -> "Preprocess":
        """The pipeline saved at ``path`` (a run's ``preprocess.safetensors``); ConfigError when it is
        missing, corrupt or not a preprocessing file."""
        from .. import io
        if not os.path.isfile(path):
            raise ConfigError(f"the run's preprocessing file is missing: {path} (written by lamina train)")
        try:
            state = io.load(path, as_numpy=True)
            info = state["info"]
            if not isinstance(info, dict) or "input_shape" not in info or "task" not in info:
                raise ValueError("it has no info with input_shape and task")
            scaler = None
            if state.get("standardize") is not None:
                scaler = Standardize()
                scaler.load_state_dict(state["standardize"])
        except (io.CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"cannot read the run's preprocessing file {path}: {one_line(e)}") from None
        tokenizer = source = None
        if info.get("tokenizer"):
            from .tokenizers import load_tokenizer
            tokenizer, source = load_tokenizer(info["tokenizer"], os.path.dirname(os.path.abspath(path)))
        return cls(info, scaler, tokenizer, source)
