"""Fused pointwise formulas of three operands: lerp, addcmul, addcdiv.

Each is a composition of differentiable ops, so its gradients follow from theirs:

    lerp(s, e, w)         = s + w (e - s)       ds = dy (1 - w),  de = dy w,  dw = dy (e - s)
    addcmul(x, a, b, v)   = x + v a b           dx = dy,  da = dy v b,  db = dy v a
    addcdiv(x, a, b, v)   = x + v a / b         dx = dy,  da = dy v / b,  db = -dy v a / b**2

    >>> lamina.lerp(lamina.zeros(2), lamina.ones(2), 0.25)    # tensor([0.2500, 0.2500])
"""
from __future__ import annotations

from ..tensor import Tensor
from .arithmetic import add, div, mul, sub
from .promotion import _check_shapes


def _check_tensor(op: str, name: str, t) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(t).__name__}")


def _check_broadcast(op: str, *tensors) -> None:
    shapes = [t.shape for t in tensors if isinstance(t, Tensor)]
    for s in shapes[1:]:
        _check_shapes(op, shapes[0], s)
    if len(shapes) == 3:
        _check_shapes(op, shapes[1], shapes[2])


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """Linear interpolation input + weight * (end - input); ``weight`` is a number or a tensor
    (broadcast). ``input`` and ``end`` must share one floating dtype."""
    _check_tensor("lerp", "input", input)
    _check_tensor("lerp", "end", end)
    if input.dtype != end.dtype:
        raise RuntimeError(f"lerp: expected dtype {input.dtype} for `end` but got dtype {end.dtype}")
    if input.dtype.kind != "f":
        raise NotImplementedError(f"lerp: only floating point tensors are supported, got {input.dtype}")
    if isinstance(weight, Tensor) and weight.dtype != input.dtype:
        raise RuntimeError(f"lerp: expected dtype {input.dtype} for `weight` but got dtype {weight.dtype}")
    _check_broadcast("lerp", input, end, weight)
    return add(input, mul(weight, sub(end, input)))


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """y = input + value * tensor1 * tensor2 (broadcast)."""
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        _check_tensor("addcmul", name, t)
    _check_broadcast("addcmul", input, tensor1, tensor2)
    prod = mul(tensor1, tensor2)
    return add(input, prod if value == 1 else mul(prod, value))


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """y = input + value * tensor1 / tensor2 (broadcast); integer tensor1 and tensor2 are refused,
    as in PyTorch (integer division would be ambiguous)."""
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        _check_tensor("addcdiv", name, t)
    if tensor1.dtype.kind in "biu" and tensor2.dtype.kind in "biu":
        raise RuntimeError("addcdiv: integer division with addcdiv is not supported; convert tensor1 or "
                           "tensor2 to a floating dtype (or use (tensor1 / tensor2).floor())")
    _check_broadcast("addcdiv", input, tensor1, tensor2)
    q = div(tensor1, tensor2)
    return add(input, q if value == 1 else mul(q, value))
