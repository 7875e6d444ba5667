"""``export``: write a lamina model as an ONNX file that onnxruntime runs with the same numbers.

The model runs once on the example inputs while each module's converter writes its nodes
(see ``_context.py``); the graph gets a dynamic batch axis by default, ``onnx.checker`` (with
shape inference) must pass, and onnxruntime's output on the example inputs is compared with
lamina's before the file is written (``verify=True``): a file is never written wrong silently.

    model_proto = lamina.onnx.export(model, lamina.randn(1, 64), "mlp.onnx",
                                     metadata={"classes": list(range(10))})
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from ._context import ExportContext, ExportError, Value, _np

__all__ = ["DEFAULT_OPSET", "export", "flatten_outputs", "read_metadata", "require_onnx"]

DEFAULT_OPSET = 17
_IR_VERSION = 8  # every onnxruntime since 1.10 reads it


def require_onnx():
    """Import and return ``onnx``, or fail with the install line that brings it."""
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - the test extras install it
        raise ImportError("ONNX export needs the 'onnx' package: pip install 'lamina[onnx]'") from e
    return onnx


def _elem_type(dtype) -> int:
    from onnx import helper
    try:
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError) as e:
        raise ExportError(f"dtype {dtype} has no ONNX tensor type") from e


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _flatten(result) -> list:
    """The model's outputs in order, nested tuples (``(out, (h, c))``) flattened; None kept as None."""
    if result is None or isinstance(result, Value):
        return [result]
    return [v for r in result for v in _flatten(r)]


def flatten_outputs(out) -> list:
    """lamina's outputs flattened the way ``export`` names them (nested tuples in order, None dropped)."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flatten_outputs(o)]
    return [out]


def _value_info(name: str, tensor, axes: dict):
    from onnx import helper
    shape = [axes.get(i, d) for i, d in enumerate(tensor.shape)]
    return helper.make_tensor_value_info(name, _elem_type(tensor.array.dtype), shape)


def _resolve_axes(names, dynamic_axes, default):
    out = {}
    for n in names:
        spec = default if dynamic_axes is None else dynamic_axes.get(n, {})
        if isinstance(spec, (list, tuple)):
            spec = {int(i): f"{n}_dim{i}" for i in spec}
        out[n] = {int(k): str(v) for k, v in spec.items()}
    return out


def export(model, example_inputs, path=None, *, input_names=None, output_names=None, dynamic_axes=None,
           opset: int = DEFAULT_OPSET, metadata: dict | None = None, verify: bool = True,
           atol: float = 1e-4, rtol: float = 1e-4, module_kwargs: dict | None = None):
    """Export ``model`` (in eval mode) to ONNX; returns the ``onnx.ModelProto`` (and writes ``path``).

    ``example_inputs``: a Tensor or a tuple of Tensors the model is called with.
    ``dynamic_axes``: ``{name: {axis: "label"}}`` as in PyTorch; ``None`` makes axis 0 of every
    input and output a dynamic ``"batch"`` axis, ``{}`` exports fully static shapes.
    ``metadata``: extra key/values for the file's ``metadata_props`` (non-strings JSON-encoded).
    """
    onnx = require_onnx()
    from onnx import helper, numpy_helper
    from .. import autograd
    from ..tensor import Tensor
    from . import converters  # noqa: F401  (registers the converters)

    inputs = tuple(x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in _as_tuple(example_inputs))
    input_names = list(input_names or (["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]))
    if len(input_names) != len(inputs):
        raise ValueError(f"export: {len(input_names)} input_names for {len(inputs)} example inputs")
    ctx = ExportContext(opset)
    ctx._used.update(input_names)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with autograd.no_grad():
            result = ctx.call(model, *[Value(n, t) for n, t in zip(input_names, inputs)], name="",
                              **(module_kwargs or {}))
    finally:
        model.train(was_training)
    outputs = tuple(v for v in _flatten(result) if v is not None)
    output_names = list(output_names or (["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]))
    if len(output_names) != len(outputs):
        raise ValueError(f"export: {len(output_names)} output_names for {len(outputs)} model outputs")
    for v, n in zip(outputs, output_names):  # give each graph output its public name
        ctx.nodes.append(helper.make_node("Identity", [v.name], [n], name=ctx.fresh(f"{n}_identity")))

    default = {0: "batch"}
    in_axes = _resolve_axes(input_names, dynamic_axes, default)
    out_axes = _resolve_axes(output_names, dynamic_axes, default)
    unknown = set(dynamic_axes or {}) - set(input_names) - set(output_names)
    if unknown:
        raise ValueError(f"export: dynamic_axes names {sorted(unknown)} are not inputs {input_names} "
                         f"or outputs {output_names}")
    graph = helper.make_graph(
        ctx.nodes, type(model).__name__,
        [_value_info(n, t, in_axes[n]) for n, t in zip(input_names, inputs)],
        [_value_info(n, v.tensor, out_axes[n]) for n, v in zip(output_names, outputs)],
        [numpy_helper.from_array(np.require(a, requirements="C"), name) for name, a in ctx.initializers.items()])
    from .. import __version__
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="lamina", producer_version=str(__version__))
    proto.ir_version = _IR_VERSION
    meta = {"lamina.opset": str(opset), **(metadata or {})}
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(k), v if isinstance(v, str) else json.dumps(v)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"the exported graph of {type(model).__name__} fails onnx.checker: {e}") from e
    if verify:
        check_against_lamina(proto, inputs, [v.tensor for v in outputs], input_names, atol=atol, rtol=rtol)
    if path is not None:
        _atomic_save(proto, os.fspath(path))
    return proto


def check_against_lamina(proto, inputs, expected, input_names, atol=1e-4, rtol=1e-4):
    """Run ``proto`` in onnxruntime on ``inputs`` and raise ExportError where it differs from ``expected``."""
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - verification needs the runtime; export itself does not
        return
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {n: _np(t) for n, t in zip(input_names, inputs)})
    for i, (g, e) in enumerate(zip(got, expected)):
        e = _np(e)
        if g.shape != e.shape:
            raise ExportError(f"onnxruntime output {i} has shape {g.shape}, lamina's has {e.shape}")
        if g.size and not np.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
            diff = float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64))))
            raise ExportError(f"onnxruntime output {i} differs from lamina's by up to {diff:.3g} "
                              f"(atol={atol}, rtol={rtol}): a converter is wrong")


def _atomic_save(proto, path: str):
    """Write the file whole or not at all (a temporary beside it, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".onnx-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(proto.SerializeToString())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_metadata(path_or_proto) -> dict:
    """The ``metadata_props`` of an ONNX file as a dict (JSON values decoded)."""
    onnx = require_onnx()
    proto = path_or_proto if hasattr(path_or_proto, "metadata_props") else onnx.load(os.fspath(path_or_proto))
    out = {}
    for p in proto.metadata_props:
        try:
            out[p.key] = json.loads(p.value)
        except ValueError:
            out[p.key] = p.value
    return out
