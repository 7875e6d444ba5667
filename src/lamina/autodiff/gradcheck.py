"""``lamina.autograd.gradcheck`` / ``gradgradcheck``: analytical gradients against central finite
differences, as ``torch.autograd.gradcheck`` (use float64 inputs; small shapes: one function
evaluation pair per input element and one backward pass per output element).

    x = lamina.randn(3, dtype=lamina.float64, requires_grad=True)
    assert lamina.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
"""
from __future__ import annotations

import numpy as np

from .. import autograd as _ag
from ..tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _outputs(out):
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _numerical(func, inputs, i, eps):
    """d outputs / d inputs[i], one column per element of inputs[i] (central differences)."""
    x = inputs[i]
    base = x.detach().numpy().astype(x.dtype).copy()
    cols = []
    for k in range(base.size):
        vals = []
        for sign in (1, -1):
            pert = base.copy()
            pert.flat[k] += sign * eps
            args = list(inputs)
            args[i] = Tensor(pert, requires_grad=x.requires_grad)  # func may differentiate itself (gradgradcheck)
            with _ag.enable_grad():
                vals.append([np.asarray(o.detach().numpy(), dtype=np.float64).ravel() for o in _outputs(func(*args))])
        cols.append([(a - b) / (2 * eps) for a, b in zip(*vals)])
    return cols  # cols[k][out] = d out / d x.flat[k]


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              fast_mode: bool = False, **unused) -> bool:
    """True when, for every input that requires grad, the gradient lamina computes matches
    central differences within ``atol + rtol * |numerical|``; otherwise raises
    :class:`GradcheckError` (or returns False with ``raise_exception=False``)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")
    with _ag.enable_grad():
        outs = _outputs(func(*inputs))
        analytical = {}  # (out, in) -> (out.size, in.size) matrix
        for o_idx, o in enumerate(outs):
            flat = o.reshape(-1)
            for e in range(flat.shape[0]):
                if not o.requires_grad:
                    continue
                seed = np.zeros(flat.shape, dtype=o.dtype)
                seed[e] = 1
                gs = _ag.grad(flat, [inputs[i] for i in diff], grad_outputs=Tensor(seed), retain_graph=True,
                              allow_unused=True)
                for i, g in zip(diff, gs):
                    m = analytical.setdefault((o_idx, i), np.zeros((o.numel(), inputs[i].numel())))
                    if g is not None:
                        m[e] = np.asarray(g.detach().numpy(), dtype=np.float64).ravel()
    for i in diff:
        cols = _numerical(func, inputs, i, eps)
        for o_idx, o in enumerate(outs):
            num = np.stack([c[o_idx] for c in cols], axis=1) if cols else np.zeros((o.numel(), 0))
            ana = analytical.get((o_idx, i), np.zeros_like(num))
            if not np.allclose(ana, num, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(f"Jacobian mismatch for output {o_idx} with respect to input {i},\n"
                                     f"numerical:{num}\nanalytical:{ana}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True, **unused) -> bool:
    """gradcheck of the gradient itself: checks second derivatives (``create_graph=True`` backward)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with _ag.enable_grad():
        outs = _outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.shape).astype(o.dtype), requires_grad=True) for o in outs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    n = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        os = [o for o in _outputs(func(*xs)) if o.requires_grad]
        gs = _ag.grad(os, [xs[i] for i in diff], grad_outputs=list(vs[:len(os)]), create_graph=True,
                      allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
