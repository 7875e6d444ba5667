"""The export context: the ONNX graph being built while a lamina model runs on example inputs.

Every value in the graph is a :class:`Value`: its ONNX name plus the lamina Tensor it stands
for on the example inputs (so a converter can read shapes and dtypes, and the exporter can
check the finished file against lamina's own output). Converters emit nodes through
``ctx.op(...)`` and call sub-modules through ``ctx.call(module, *values)``, which finds the
sub-module's converter and keeps the module path for error messages.

    def convert_linear(ctx, m, x):
        w = ctx.param(m.weight, "weight")
        y = ctx.op("MatMul", x, ctx.op("Transpose", w, perm=[1, 0]))
        return ctx.op("Add", y, ctx.param(m.bias, "bias")) if m.bias is not None else y
"""
from __future__ import annotations

import itertools

import numpy as np

from ._registry import converter_for

__all__ = ["ExportContext", "ExportError", "Value"]


class ExportError(RuntimeError):
    """A module or op that cannot be written as ONNX; the message names it and its module path."""


class Value:
    """One ONNX value: ``name`` in the graph and ``tensor``, its lamina Tensor on the example inputs."""

    __slots__ = ("name", "tensor")

    def __init__(self, name: str, tensor=None):
        self.name = name
        self.tensor = tensor

    @property
    def shape(self) -> tuple:
        if self.tensor is None:
            raise ExportError(f"the shape of ONNX value {self.name!r} is not known (no example tensor)")
        return tuple(self.tensor.shape)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Value({self.name!r}, shape={tuple(self.tensor.shape) if self.tensor is not None else '?'})"


def _np(t) -> np.ndarray:
    """The host NumPy array of a lamina Tensor, a NumPy array or a number."""
    arr = getattr(t, "array", t)
    if hasattr(arr, "get"):  # a CuPy array
        arr = arr.get()
    return np.asarray(arr)


class ExportContext:
    """Collects nodes and initializers; ``call`` dispatches a module to its converter."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes = []
        self.initializers = {}      # name -> numpy array
        self._param_names = {}      # id(tensor) -> initializer name (a shared parameter is stored once)
        self._used = set()
        self._counter = itertools.count()
        self.path = []              # module path stack, for names and errors

    # -- names ---------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A name not used before in the graph, built from the module path and ``hint``."""
        base = ".".join([p for p in self.path if p] + [hint]) or hint
        name = base
        while name in self._used:
            name = f"{base}_{next(self._counter)}"
        self._used.add(name)
        return name

    def where(self) -> str:
        return ".".join(p for p in self.path if p) or "<root>"

    def error(self, what: str) -> ExportError:
        return ExportError(f"cannot export {what} at module path {self.where()!r}")

    # -- initializers ---------------------------------------------------------------------------
    def param(self, tensor, hint: str) -> Value:
        """A parameter or buffer as an initializer named by its module path (stored once per tensor)."""
        key = id(tensor)
        if key not in self._param_names:
            name = self.fresh(hint)
            self.initializers[name] = _np(tensor.detach() if hasattr(tensor, "detach") else tensor)
            self._param_names[key] = (name, tensor)
        return Value(self._param_names[key][0], tensor)

    def const(self, array, hint: str = "const", dtype=None) -> Value:
        """A constant initializer from an array or a Python sequence (``dtype`` to force one)."""
        arr = np.asarray(_np(array), dtype=dtype)
        name = self.fresh(hint)
        self.initializers[name] = arr
        from ..tensor import Tensor
        return Value(name, Tensor(arr))

    def ints(self, values, hint: str = "ints") -> Value:
        """A 1-D int64 constant (shapes, axes, pads for ops that take them as inputs)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    # -- nodes ---------------------------------------------------------------------------------
    def op(self, op_type: str, *inputs, outputs: int = 1, out=None, domain: str = "", **attrs):
        """Emit one node; returns a Value (or a tuple of ``outputs`` Values).

        ``out`` is the lamina Tensor (or tuple) the node computes on the example inputs, when the
        converter knows it; later converters that need a shape read it from there. An input of
        ``None`` is ONNX's empty optional input.
        """
        from onnx import helper

        names = [("" if v is None else v.name) for v in inputs]
        outs = [self.fresh(f"{op_type}_out") for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, names, outs, name=self.fresh(op_type), domain=domain, **attrs))
        if outputs == 1:
            return Value(outs[0], out)
        tensors = out if isinstance(out, tuple) else (None,) * outputs
        return tuple(Value(n, t) for n, t in zip(outs, tensors))

    # -- modules -------------------------------------------------------------------------------
    def call(self, module, *inputs, name: str = "", **kwargs):
        """Convert ``module`` applied to ``inputs`` (Values); returns Value(s) with example tensors.

        The module runs in lamina on the example tensors too, so every output Value knows its
        tensor; the converter only writes the graph.
        """
        self.path.append(name)
        try:
            for hid, hook in list(module._forward_pre_hooks.items()):
                # pruning, weight norm and parametrizations recompute weights here; a hook that
                # replaces the inputs would be a graph of its own, which a converter cannot see
                examples = tuple(None if v is None else v.tensor for v in inputs)
                with_kwargs = hid in module._forward_pre_hooks_with_kwargs
                if (hook(module, examples, dict(kwargs)) if with_kwargs else hook(module, examples)) is not None:
                    raise self.error(f"{type(module).__name__}: a forward pre-hook that replaces the inputs")
            fn = getattr(module, "onnx_export", None) or converter_for(module)
            if fn is None:
                raise self.error(f"{type(module).__name__}: no ONNX converter is registered for it "
                                 f"(register one with lamina.onnx.register_converter({type(module).__name__}) "
                                 f"or give the module an onnx_export(ctx, *inputs) method)")
            result = fn(self, module, *inputs, **kwargs) if not hasattr(module, "onnx_export") \
                else fn(self, *inputs, **kwargs)
            if any((v.tensor is None) for v in _flat(result)):
                examples = module(*[None if v is None else v.tensor for v in inputs], **kwargs)
                _attach(result, examples)
            return result
        finally:
            self.path.pop()


def _flat(result):
    if isinstance(result, Value):
        return [result]
    out = []
    for r in result:
        out.extend(_flat(r) if r is not None else [])
    return out


def _attach(result, examples):
    """Give each output Value its example tensor from the module's lamina output (same structure)."""
    if isinstance(result, Value):
        if result.tensor is None:
            result.tensor = examples
        return
    for r, e in zip(result, examples):
        if r is not None:
            _attach(r, e)
