"""lamina.summary: a table of a model's layers, output shapes and parameter counts.

    >>> print(lamina.summary(model, (1, 784)))
    ----------------------------------------------------------------------
    Layer (type)                     Output Shape                 Param #
    ======================================================================
    Sequential                       (1, 10)                      669,706
      0 (Linear)                     (1, 512)                     401,920
      ...

It runs one forward pass on zeros of ``input_shape`` (batch dimension included) with forward
hooks on every submodule, in eval mode and without recording a graph, then restores the model's
training flags. Each row counts the parameters of that module's subtree.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import backend
from .autograd import no_grad
from .tensor import Tensor


@dataclass
class SummaryRow:
    name: str           # attribute path ("" for the model itself)
    type: str           # class name
    depth: int
    output_shape: object
    num_params: int     # parameters of the module's subtree
    trainable: int


@dataclass
class ModelSummary:
    """What ``lamina.summary`` returns; ``str()`` (and ``print``) gives the table."""

    rows: list = field(default_factory=list)
    input_shape: tuple = ()
    output_shape: object = None
    total_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        lines = []
        name_w = max([28] + [len(_label(r)) + 2 for r in self.rows])
        shape_w = max([20] + [len(_shape_str(r.output_shape)) + 2 for r in self.rows])
        width = name_w + shape_w + 12
        lines.append("-" * width)
        lines.append(f"{'Layer (type)':<{name_w}}{'Output Shape':<{shape_w}}{'Param #':>12}")
        lines.append("=" * width)
        for r in self.rows:
            lines.append(f"{_label(r):<{name_w}}{_shape_str(r.output_shape):<{shape_w}}{r.num_params:>12,}")
        lines.append("=" * width)
        lines.append(f"Total params: {self.total_params:,}")
        lines.append(f"Trainable params: {self.trainable_params:,}")
        lines.append(f"Non-trainable params: {self.non_trainable_params:,}")
        lines.append("-" * width)
        lines.append(f"Input shape: {_shape_str(self.input_shape)}")
        lines.append(f"Output shape: {_shape_str(self.output_shape)}")
        lines.append(f"Params size (MB): {self.param_bytes / 2 ** 20:.2f}")
        lines.append("-" * width)
        return "\n".join(lines)

    __repr__ = __str__


def _label(r: SummaryRow) -> str:
    return "  " * r.depth + (f"{r.name} ({r.type})" if r.name else r.type)


def _shape_of(out):
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_shape_of(o) for o in out]
    if isinstance(out, dict):
        return {k: _shape_of(v) for k, v in out.items()}
    return None


def _shape_str(shape) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, tuple):
        return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_str(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_shape_str(v)}" for k, v in shape.items()) + "}"
    return str(shape)


def summary(model, input_shape, dtype=None, device=None, depth: int | None = None) -> ModelSummary:
    """Run ``model`` on zeros of ``input_shape`` and tabulate every module that ran.

    ``input_shape`` includes the batch dimension; pass a list of shapes for several inputs.
    ``dtype`` defaults to the model's parameter dtype (float32); give an integer dtype for
    token inputs. ``depth`` limits how deep the table goes (None: every level).
    Returns a ``ModelSummary`` (``print`` it for the table; ``.total_params`` etc. for numbers).
    """
    shapes = [tuple(s) for s in input_shape] if input_shape and isinstance(input_shape[0], (tuple, list)) \
        else [tuple(input_shape)]
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else backend.get_default_dtype()
    dtype = backend.as_dtype(dtype)
    if device is None:
        device = params[0].device if params else backend.cpu
    inputs = [Tensor(np.zeros(s, dtype=dtype), device=device) for s in shapes]

    names = {id(m): (n, n.count(".") + 1 if n else 0) for n, m in model.named_modules()}
    rows, handles, open_rows = [], [], {}

    def pre_hook(module, args):
        name, d = names.get(id(module), ("?", 0))
        if depth is None or d <= depth:
            n_all = sum(p.numel() for p in module.parameters())
            n_tr = sum(p.numel() for p in module.parameters() if p.requires_grad)
            row = SummaryRow(name, type(module).__name__, d, None, n_all, n_tr)
            rows.append(row)
            open_rows.setdefault(id(module), []).append(row)

    def hook(module, args, out):
        pending = open_rows.get(id(module))
        if pending:
            pending.pop().output_shape = _shape_of(out)

    flags = {id(m): m.training for m in model.modules()}
    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(hook))
        model.eval()
        with no_grad():
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.__dict__["training"] = flags[id(m)]

    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    nbytes = sum(p.nbytes for p in params)
    return ModelSummary(rows, shapes[0] if len(shapes) == 1 else shapes, _shape_of(out), total, trainable, nbytes)
