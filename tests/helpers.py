"""The two test helpers every op test uses.

* ``gradcheck(fn, *arrays)``: analytical gradients (float64) against central finite differences;
  ``gradgradcheck`` does the same for the gradient itself (second derivatives).
* ``parity(fn, *arrays, torch_fn=None)``: runs ``fn`` on lamina tensors and on torch tensors
  (``torch_fn`` if the call differs), compares every output and every input gradient.
  Skips the test when torch is not installed.

Arrays with a float dtype become tensors that require grad; integer/bool arrays are passed as
constant tensors. A Python object that is not an ndarray is passed through unchanged.
"""
from __future__ import annotations

import numpy as np
import pytest

import lamina

try:
    import torch
except Exception:  # pragma: no cover - torch is an optional test dependency
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install -e '.[parity]')")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values as ``a`` in a strided (non-contiguous) view."""
    a = np.asarray(a)
    big = np.zeros(a.shape + (2,), dtype=a.dtype)
    big[..., 1] = a
    view = big[..., 1]
    assert not view.flags.c_contiguous or a.size <= 1
    return view


def transposed(a: np.ndarray) -> np.ndarray:
    """The same values as ``a`` stored in Fortran order (a transposed view)."""
    return np.asfortranarray(a)


def _as_outputs(out):
    if isinstance(out, lamina.Tensor) or (torch is not None and isinstance(out, torch.Tensor)):
        return [out]
    return [o for o in out]


def _float_mask(arrays):
    return [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]


def _to_lamina(arrays, dtype=None, grad=True):
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            arr = a.astype(dtype) if (dtype is not None and a.dtype.kind == "f") else a
            t = lamina.Tensor(arr)
            if grad and arr.dtype.kind == "f":
                t.requires_grad_()
            out.append(t)
        else:
            out.append(a)
    return out


# ---------------------------------------------------------------- finite differences
def _scalarise(fn, weights_seed=1):
    """loss(xs) = sum_k <fn(xs)_k, W_k> with fixed random weights W_k (a random projection)."""
    cache = {}

    def loss(*ts):
        outs = [o for o in _as_outputs(fn(*ts)) if o is not None and o.dtype.kind == "f"]
        total = None
        for k, o in enumerate(outs):
            if k not in cache:
                cache[k] = rng(weights_seed + k).standard_normal(o.shape)
            term = (o * lamina.Tensor(cache[k].astype(o.dtype))).sum()
            total = term if total is None else total + term
        return total

    return loss


def _numeric_grad(loss, tensors, idx, eps):
    x = tensors[idx]
    g = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(np.zeros(x.shape), flags=["multi_index"])
    with lamina.no_grad():
        for _ in it:
            i = it.multi_index
            orig = x.array[i]
            x.array[i] = orig + eps
            fp = loss(*tensors).item()
            x.array[i] = orig - eps
            fm = loss(*tensors).item()
            x.array[i] = orig
            g[i] = (fp - fm) / (2 * eps)
    return g


def gradcheck(fn, *arrays, eps=1e-6, atol=1e-6, rtol=1e-5):
    """Check ``fn``'s gradients w.r.t. every float input in float64 against finite differences."""
    arrays = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    # keep the caller's memory layout (non-contiguous views stay non-contiguous) but own the data
    arrays = [_same_layout_copy(a) if isinstance(a, np.ndarray) else a for a in arrays]
    tensors = _to_lamina(arrays)
    loss = _scalarise(fn)
    floats = [i for i, m in enumerate(_float_mask(arrays)) if m]
    analytic = lamina.grad(loss(*tensors), [tensors[i] for i in floats], allow_unused=True)
    for i, ga in zip(floats, analytic):
        gn = _numeric_grad(loss, tensors, i, eps)
        ga = np.zeros_like(gn) if ga is None else ga.array
        np.testing.assert_allclose(ga, gn, atol=atol, rtol=rtol, err_msg=f"gradient of input {i} differs from finite differences")
    return True


def gradgradcheck(fn, *arrays, eps=1e-6, atol=1e-5, rtol=1e-4):
    """Check second derivatives: the gradient of (dfn/dx · w) against finite differences."""
    loss = _scalarise(fn)
    floats = [i for i, m in enumerate(_float_mask(arrays)) if m]

    def first_grads(*ts):
        with lamina.enable_grad():
            gs = lamina.grad(loss(*ts), [ts[i] for i in floats], create_graph=True, allow_unused=True)
        return [g for g in gs if g is not None]

    return gradcheck(first_grads, *arrays, eps=eps, atol=atol, rtol=rtol)


def _same_layout_copy(a: np.ndarray) -> np.ndarray:
    if a.flags.c_contiguous or a.ndim == 0:
        return a.copy()
    if a.flags.f_contiguous:
        return np.asfortranarray(a.copy())
    return noncontiguous(a.copy())


# ---------------------------------------------------------------- parity with PyTorch
def _to_torch(arrays, grad=True):
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            t = torch.from_numpy(np.array(a, order="C", copy=True))
            if grad and a.dtype.kind == "f":
                t.requires_grad_()
            out.append(t)
        else:
            out.append(a)
    return out


def _np(x):
    if isinstance(x, lamina.Tensor):
        return x.detach().numpy()
    return x.detach().cpu().numpy()


def parity(fn, *arrays, torch_fn=None, atol=1e-5, rtol=1e-4, grad=True, grad_atol=None, grad_rtol=None,
           seed=3):
    """Run ``fn`` in lamina and torch on the same inputs; compare outputs and input gradients."""
    if torch is None:
        pytest.skip("PyTorch is not installed (pip install -e '.[parity]')")
    torch_fn = torch_fn or fn
    lt = _to_lamina(arrays, grad=grad)
    tt = _to_torch(arrays, grad=grad)
    lo = _as_outputs(fn(*lt))
    to = _as_outputs(torch_fn(*tt))
    assert len(lo) == len(to), f"lamina gave {len(lo)} outputs, torch {len(to)}"
    for k, (a, b) in enumerate(zip(lo, to)):
        assert tuple(a.shape) == tuple(b.shape), f"output {k}: lamina shape {a.shape}, torch shape {tuple(b.shape)}"
        an, bn = _np(a), _np(b)
        if bn.dtype.kind == "f":
            assert an.dtype.kind == "f", f"output {k}: lamina dtype {an.dtype}, torch dtype {bn.dtype}"
        np.testing.assert_allclose(an, bn, atol=atol, rtol=rtol, err_msg=f"output {k} differs from torch")
    if not grad:
        return lo
    r = rng(seed)
    pairs = [(a, b) for a, b in zip(lo, to) if b.dtype.is_floating_point and b.requires_grad]
    if not pairs:
        return lo
    seeds = [r.standard_normal(tuple(b.shape)).astype(_np(b).dtype) for _, b in pairs]
    l_inputs = [t for t in lt if isinstance(t, lamina.Tensor) and t.requires_grad]
    t_inputs = [t for t in tt if isinstance(t, torch.Tensor) and t.requires_grad]
    lg = lamina.grad([a for a, _ in pairs], l_inputs, [lamina.Tensor(s) for s in seeds], allow_unused=True)
    tg = torch.autograd.grad([b for _, b in pairs], t_inputs, [torch.from_numpy(s) for s in seeds], allow_unused=True)
    for k, (a, b) in enumerate(zip(lg, tg)):
        if b is None:
            assert a is None or np.allclose(_np(a), 0), f"input {k}: torch has no gradient, lamina does"
            continue
        assert a is not None, f"input {k}: lamina has no gradient, torch does"
        np.testing.assert_allclose(_np(a), _np(b), atol=grad_atol or atol, rtol=grad_rtol or rtol,
                                   err_msg=f"gradient of input {k} differs from torch")
    return lo
