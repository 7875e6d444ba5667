"""``lamina.autograd.functional``: Jacobians, Hessians and their products for a function of tensors
(``torch.autograd.functional``), built on ``lamina.grad``.

    J = jacobian(f, x)          # J[i..., j...] = d f(x)[i...] / d x[j...], shape f(x).shape + x.shape
    H = hessian(f, x)           # H = d² f / dx²  (f returns a scalar)
    y, vJ = vjp(f, x, v)        # vᵀ J   (one backward pass)
    y, Jv = jvp(f, x, v)        # J v    (two backward passes: the double-vjp trick)
    y, Hv = hvp(f, x, v)        # H v;   vhp gives vᵀ H

``inputs`` is a Tensor or a tuple of Tensors, and results follow the same structure (a tuple of
tuples for several outputs and inputs). jacobian and hessian take one backward pass per output
element, so they are meant for small problems (tests, analysis), not for whole networks.
"""
from __future__ import annotations

from .. import autograd as _ag
from ..ops.shape import stack
from ..tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _as_tuple(x, what: str, fn_name: str):
    if isinstance(x, Tensor):
        return (x,), False
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return tuple(x), True
    raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of Tensors but the given "
                    f"{what} has type {type(x).__name__}")


def _prepare(inputs, create_graph: bool):
    """Inputs the function will be differentiated against: fresh leaves, or (create_graph) an
    alias that keeps the caller's graph so the result can be differentiated again."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x * 1)
        else:
            out.append(x.detach().requires_grad_(x.is_floating_point()))
    return tuple(out)


def _grads(outputs, inputs, grad_outputs, create_graph: bool, strict: bool, fn_name: str, out_index=None):
    """d(outputs · grad_outputs)/d inputs, zeros where an input is unused (strict: an error)."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if strict:
        for k, o in enumerate(outputs):
            if not o.requires_grad:
                raise RuntimeError(f"Output {k if out_index is None else out_index} of the user-provided function "
                                   "does not require gradients. The outputs must be computed in a differentiable "
                                   "manner from the input when running in strict mode.")
    grads = (None,) * len(inputs)
    if pairs:
        grads = _ag.grad([o for o, _ in pairs], inputs, grad_outputs=[g for _, g in pairs],
                         retain_graph=True, create_graph=create_graph, allow_unused=True)
    result = []
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                                   "not allowed in strict mode.")
            g = Tensor._wrap(x.xp.zeros(x.shape, dtype=x.dtype))
        result.append(g)
    return tuple(result)


def _detach_all(ts, create_graph: bool):
    return tuple(t if create_graph else t.detach() for t in ts)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), vᵀ J): the vector-Jacobian product, one backward pass.

    ``v`` has the outputs' structure; it may be omitted when the output is a single element.
    """
    ins, in_tuple = _as_tuple(inputs, "inputs", "vjp")
    with _ag.enable_grad():
        ins = _prepare(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "vjp")
        if v is None:
            if len(outs) != 1 or outs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                                   "Tensor with a single element.")
            vs = (Tensor._wrap(outs[0].xp.ones(outs[0].shape, dtype=outs[0].dtype)),)
        else:
            vs, _ = _as_tuple(v, "v", "vjp")
            _check_shapes(vs, outs, "v", "outputs")
        g = _grads(outs, ins, vs, create_graph, strict, "vjp")
    outs, g = _detach_all(outs, create_graph), _detach_all(g, create_graph)
    return (outs if out_tuple else outs[0]), (g if in_tuple else g[0])


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v): the Jacobian-vector product, by differentiating u ↦ uᵀ J with respect to u
    (the double-vjp trick: needs ops whose backward is differentiable, as most of lamina's are)."""
    ins, in_tuple = _as_tuple(inputs, "inputs", "jvp")
    with _ag.enable_grad():
        ins = _prepare(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "jvp")
        if v is None:
            if len(ins) != 1 or ins[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                                   "single Tensor with a single element.")
            vs = (Tensor._wrap(ins[0].xp.ones(ins[0].shape, dtype=ins[0].dtype)),)
        else:
            vs, _ = _as_tuple(v, "v", "jvp")
            _check_shapes(vs, ins, "v", "inputs")
        us = tuple(Tensor._wrap(o.xp.zeros(o.shape, dtype=o.dtype)).requires_grad_() for o in outs)
        g = _grads(outs, ins, us, True, strict, "jvp")
        pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if pairs:
            jv = _ag.grad([p for p, _ in pairs], us, grad_outputs=[q for _, q in pairs], create_graph=create_graph,
                          allow_unused=True)
        else:
            jv = (None,) * len(us)
        jv = tuple(Tensor._wrap(u.xp.zeros(u.shape, dtype=u.dtype)) if j is None else j for j, u in zip(jv, us))
    outs, jv = _detach_all(outs, create_graph), _detach_all(jv, create_graph)
    return (outs if out_tuple else outs[0]), (jv if out_tuple else jv[0])


def _check_shapes(vs, ts, vname, tname):
    if len(vs) != len(ts):
        raise RuntimeError(f"{vname} is a tuple of {len(vs)} Tensors but the user-provided function's {tname} are "
                           f"{len(ts)}")
    for i, (a, b) in enumerate(zip(vs, ts)):
        if a.shape != b.shape:
            raise RuntimeError(f"Mismatch in shape: {vname}[{i}] has shape {a.shape} but {tname}[{i}] has shape "
                               f"{b.shape}")


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """J[i..., j...] = d func(inputs)[i...] / d inputs[j...], one backward pass per output element.

    One input and one output give a Tensor of shape ``out.shape + in.shape``; several give
    ``J[out_index][in_index]``. ``vectorize`` and ``strategy`` are accepted; only reverse mode exists.
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f'Expected strategy to be either "forward-mode" or "reverse-mode", got {strategy!r}')
    ins, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
    with _ag.enable_grad():
        ins = _prepare(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "jacobian")
        rows = []
        for k, out in enumerate(outs):
            flat = out.reshape(-1)
            per_input = [[] for _ in ins]
            for e in range(flat.shape[0]):
                onehot = out.xp.zeros(flat.shape, dtype=out.dtype)
                onehot[e] = 1
                g = _grads((flat,), ins, (Tensor._wrap(onehot),), create_graph, strict, "jacobian", out_index=k)
                for i, gi in enumerate(g):
                    per_input[i].append(gi)
            row = []
            for i, x in enumerate(ins):
                if per_input[i]:
                    j = stack(per_input[i], 0).reshape(*(out.shape + x.shape))
                else:
                    j = Tensor._wrap(x.xp.zeros(out.shape + x.shape, dtype=x.dtype))
                row.append(j if create_graph else j.detach())
            rows.append(tuple(row))
    if out_tuple and in_tuple:
        return tuple(rows)
    if out_tuple:
        return tuple(r[0] for r in rows)
    return rows[0] if in_tuple else rows[0][0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """H[i][j] = d² func / d inputs[i] d inputs[j] for a function returning a single-element Tensor."""
    ins, in_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single element Tensor")
        return _grads((out,), xs, (Tensor._wrap(out.xp.ones(out.shape, dtype=out.dtype)),), True, strict, "hessian")

    h = jacobian(gradient, ins, create_graph=create_graph, strict=strict)
    return h if in_tuple else h[0][0]


def _second(func, inputs, v, create_graph, strict, name):
    ins, in_tuple = _as_tuple(inputs, "inputs", name)
    with _ag.enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError(f"The function given to {name} should return a single element Tensor")
        if v is None:
            if len(ins) != 1 or ins[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                                   "single Tensor with a single element.")
            vs = (Tensor._wrap(ins[0].xp.ones(ins[0].shape, dtype=ins[0].dtype)),)
        else:
            vs, _ = _as_tuple(v, "v", name)
            _check_shapes(vs, ins, "v", "inputs")
        g = _grads((out,), ins, (Tensor._wrap(out.xp.ones(out.shape, dtype=out.dtype)),), True, strict, name)
        hv = _grads(g, ins, vs, create_graph, strict, name)  # Σ_i vᵢ·gᵢ differentiated: vᵀH (= Hv, H symmetric)
    out, hv = _detach_all((out,), create_graph)[0], _detach_all(hv, create_graph)
    return out, (hv if in_tuple else hv[0])


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), vᵀ H) for a function returning a single-element Tensor."""
    return _second(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v); equal to vhp because a Hessian of a twice-differentiable function is symmetric."""
    return _second(func, inputs, v, create_graph, strict, "hvp")
