"""The model behind the server: one interface, two backends.

    rt = load_runtime("runs/mlp_digits")                   # lamina runs the run's model
    rt = load_runtime("runs/mlp_digits", runtime="onnx")   # exported in memory, run by onnxruntime
    rt = load_runtime("mlp_digits.onnx")                   # a file written by lamina export
    probs = rt.postprocess(rt.predict(rt.preprocess.prepare(rows)))

A :class:`Runtime` has ``preprocess`` (the run's :class:`~lamina.cli.pipeline.Preprocess`: raw
input -> model input), ``metadata`` (what ``GET /metadata`` shows), ``predict(batch) -> outputs``
(the model's raw outputs for a batch of model inputs) and ``postprocess(outputs)`` (class
probabilities for a classifier, as ``lamina predict`` computes them; the outputs otherwise).
``predict`` is called from one worker thread at a time (the batcher's).
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..cli.errors import ConfigError, one_line

__all__ = ["LaminaRuntime", "OnnxRuntime", "Runtime", "load_runtime", "probabilities"]


def probabilities(out: np.ndarray, loss: str | None) -> np.ndarray:
    """Class probabilities ``(N, K)`` from a classifier's outputs, as ``lamina predict`` computes them:
    ``exp(out)`` for an ``nll`` model (log-probabilities), ``[1 - p, p]`` for a one-output ``bce``
    model (``p = sigmoid(out)`` for ``bce_with_logits``), ``softmax(out)`` otherwise."""
    loss = (loss or "").lower()
    x = np.asarray(out, dtype=np.float64)
    with np.errstate(all="ignore"):
        if loss == "nll":
            return np.exp(x)
        if loss in ("bce", "bce_with_logits") and x.shape[1] == 1:
            p1 = 1 / (1 + np.exp(-x)) if loss == "bce_with_logits" else x
            return np.concatenate([1 - p1, p1], axis=1)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Runtime:
    """What the server needs of a model (see the module docstring); subclasses set the fields."""

    name = "?"

    def __init__(self, preprocess, source: str, model_hash: str, loss: str | None, opset: int | None):
        info = preprocess.info
        if info.get("task") == "language_model":
            raise ConfigError(f"{source} is a language model ({info.get('dataset')}): lamina serve classifies "
                              "inputs; generate text with lamina generate RUN")
        self.preprocess, self.source, self.loss = preprocess, source, loss
        self.task = info.get("task", "classification")
        self.input_kind = "texts" if info.get("input_kind") == "tokens" else "features"
        self.metadata = {
            "runtime": self.name, "source": source, "model_hash": model_hash, "opset": opset,
            "task": self.task, "dataset": info.get("dataset"), "input_kind": self.input_kind,
            "input_shape": list(info.get("input_shape", [])),
            "values_per_row": None if self.input_kind == "texts" else preprocess.values_per_row,
            "image": info.get("image"), "classes": info.get("classes"),
            "num_classes": info.get("num_classes"), "description": preprocess.describe(),
            "steps": preprocess.steps(), "loss": loss,
        }

    def predict(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def postprocess(self, outputs: np.ndarray) -> np.ndarray:
        """Probabilities of a classifier's outputs (the outputs themselves for another task)."""
        outputs = np.asarray(outputs)
        if outputs.ndim == 1:
            outputs = outputs[:, None]
        if self.task != "classification":
            return outputs.reshape(len(outputs), -1).astype(np.float64)
        return probabilities(outputs.reshape(len(outputs), -1), self.loss)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """``postprocess(predict(batch))``: what the batcher's worker thread runs."""
        return self.postprocess(self.predict(batch))

    def warmup(self) -> None:
        """One forward pass on a dummy input, so that the first request does not pay for first-call setup."""
        if self.input_kind == "texts":
            x = np.zeros((1, 8), dtype=np.int64)
        else:
            x = np.zeros((1, *self.preprocess.info["input_shape"]), dtype=np.float32)
        self.infer(x)


class LaminaRuntime(Runtime):
    """A run directory's model run by lamina itself (``load_run``: the run's final weights)."""

    name = "lamina"

    def __init__(self, path: str):
        from ..cli.rundir import load_run
        loaded = load_run(path)
        self.loaded, self.model = loaded, loaded.model
        super().__init__(loaded.preprocess, os.path.abspath(path), _sha256(loaded.checkpoint),
                         loaded.cfg["loss"]["name"], None)
        self.metadata["checkpoint"] = loaded.checkpoint

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from ..autograd import no_grad
        from ..tensor import Tensor
        with no_grad(), np.errstate(all="ignore"):  # no_grad is per thread: entered in the worker's
            out = self.model(Tensor._wrap(np.ascontiguousarray(batch)))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return np.asarray(out.array)


class OnnxRuntime(Runtime):
    """An ONNX model (the bytes of the file) run by onnxruntime on the CPU; its pipeline comes from
    the file's metadata (``lamina.preprocess``, written by ``lamina export``). The metadata is read
    through onnxruntime, so serving a file does not import the ``onnx`` package."""

    name = "onnx"

    def __init__(self, model: bytes, source: str, model_hash: str | None = None, loss: str | None = None,
                 threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - the serve extra installs it
            raise ConfigError("serving with onnxruntime needs it installed: pip install 'lamina[serve]'") from None
        from ..cli.pipeline import Preprocess
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy CPU between requests
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ConfigError(f"onnxruntime cannot load {source}: {one_line(e)}") from None
        meta = {}
        for k, v in self.session.get_modelmeta().custom_metadata_map.items():
            try:
                meta[k] = json.loads(v)
            except ValueError:
                meta[k] = v
        pre = Preprocess.from_metadata(meta)
        if model_hash is None:  # lamina export: the checkpoint's sha256, as for the run it came from
            model_hash = str(meta.get("lamina.weights_sha256") or meta.get("lamina.model_hash") or "") \
                or hashlib.sha256(model).hexdigest()
        loss = loss or meta.get("lamina.loss")
        try:
            opset = int(meta.get("lamina.opset"))
        except (TypeError, ValueError):
            opset = None
        super().__init__(pre, source, model_hash, loss, opset)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_dtype = np.int64 if "int64" in first.type else np.int32 if "int32" in first.type \
            else np.float64 if "double" in first.type else np.float32
        self.metadata["onnx_metadata"] = {k: v for k, v in meta.items()
                                          if k not in ("lamina.preprocess", "lamina.tokenizer")}
        self.metadata["onnx_input"] = {"name": first.name, "type": first.type,
                                       "shape": [d if isinstance(d, int) else str(d) for d in first.shape]}

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=self.input_dtype)
        return np.asarray(self.session.run(None, {self.input_name: x})[0])


def _load_onnx_file(path: str) -> OnnxRuntime:
    try:
        with open(path, "rb") as f:
            model = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or one_line(e)}") from None
    return OnnxRuntime(model, os.path.abspath(path))


def _export_run(path: str) -> OnnxRuntime:
    """The run's model exported to ONNX in memory (no file written), with its pipeline as metadata."""
    from .. import onnx as lonnx
    from ..tensor import Tensor
    rt = LaminaRuntime(path)
    pre = rt.preprocess
    if rt.input_kind == "texts":
        length = int(pre.info.get("tokenizer", {}).get("max_length") or 8)
        example = Tensor(np.zeros((1, min(length, 8)), dtype=np.int64))
        axes = {"input": {0: "batch", 1: "sequence"}, "output": {0: "batch"}}
    else:
        example = Tensor(np.zeros((1, *pre.info["input_shape"]), dtype=np.float32))
        axes = None
    meta = {**pre.to_metadata(), "lamina.loss": rt.loss, "lamina.weights_sha256": rt.metadata["model_hash"]}
    try:
        proto = lonnx.export(rt.model, example, dynamic_axes=axes, metadata=meta)
    except lonnx.ExportError as e:
        raise ConfigError(f"cannot serve {path} with --runtime onnx: {one_line(e)} (serve it with --runtime "
                          "lamina)") from None
    out = OnnxRuntime(proto.SerializeToString(), os.path.abspath(path), rt.metadata["model_hash"], rt.loss)
    out.metadata["checkpoint"] = rt.metadata["checkpoint"]
    return out


def load_runtime(path: str, runtime: str | None = None) -> Runtime:
    """The runtime serving ``path``: a run directory (or a checkpoint in one) or an ``.onnx`` file.

    ``runtime``: ``"lamina"`` (a run's default) or ``"onnx"`` (an .onnx file's only choice; a run
    is exported in memory). ConfigError when the path or the choice does not fit."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"RUN_OR_ONNX: not found: {os.path.abspath(path)}")
    is_onnx = os.path.isfile(path) and path.lower().endswith(".onnx")
    if runtime not in (None, "lamina", "onnx"):
        raise ConfigError(f"--runtime must be 'lamina' or 'onnx', got {runtime!r}")
    if is_onnx:
        if runtime == "lamina":
            raise ConfigError(f"{path} is an ONNX file: it is served by onnxruntime (--runtime onnx); "
                              "serve the run directory for --runtime lamina")
        return _load_onnx_file(path)
    if runtime == "onnx":
        return _export_run(path)
    return LaminaRuntime(path)
