"""A small deterministic problem on which lamina's and PyTorch's optimizers are run side by side."""
import numpy as np

import lamina

try:
    import torch
except Exception:  # pragma: no cover
    torch = None

SHAPES = [(6, 5), (5,), (3, 4)]


def initial_arrays(dtype=np.float32, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal(s).astype(dtype) for s in SHAPES]


def gradients(arrays, k):
    """A nonlinear gradient field that also changes with the step k; param 2 gets none every 5th step."""
    out = []
    for i, w in enumerate(arrays):
        if i == 2 and k % 5 == 3:
            out.append(None)
            continue
        w64 = np.asarray(w, dtype=np.float64)
        out.append((w64 * (1 + i) + np.sin(3 * w64) + 0.1 * k).astype(w.dtype))
    return out


def lamina_params(arrays, layout=None):
    return [lamina.Tensor(layout(a) if layout else a.copy(), requires_grad=True) for a in arrays]


def torch_params(arrays):
    return [torch.tensor(a.copy(), requires_grad=True) for a in arrays]


def set_lamina_grads(params, k):
    for p, g in zip(params, gradients([p.array for p in params], k)):
        p.grad = None if g is None else lamina.Tensor(g)


def set_torch_grads(params, k):
    for p, g in zip(params, gradients([p.detach().numpy() for p in params], k)):
        p.grad = None if g is None else torch.from_numpy(g)


def groups(params, spec):
    """spec None: a plain list; else a list of (indices, options) pairs."""
    if spec is None:
        return params
    return [dict(params=[params[i] for i in idx], **opts) for idx, opts in spec]
