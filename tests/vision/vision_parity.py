"""Module parity with PyTorch: copy torch's state_dict into the lamina module, run both on the
same input, compare the outputs, the input gradient and every parameter's gradient by name."""
from __future__ import annotations

import numpy as np
import pytest

import lamina

try:
    import torch
except Exception:  # pragma: no cover - torch is an optional test dependency
    torch = None


def copy_weights(lam_module, torch_module):
    """torch -> lamina by state_dict name, as NumPy arrays (the way pretrained weights load)."""
    state = {k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()}
    lam_module.load_state_dict(state)


def module_parity(lam_module, torch_module, x: np.ndarray, atol=1e-5, rtol=1e-4, seed=0, call=None,
                  copy=True):
    """Forward values, dL/dx and dL/dparam for L = sum(y * g) with a fixed random g; returns lamina's output."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    if copy:
        copy_weights(lam_module, torch_module)
    call = call or (lambda m, t: m(t))
    lam_module.zero_grad()
    torch_module.zero_grad(set_to_none=True)
    xl = lamina.Tensor(x.copy(), requires_grad=x.dtype.kind == "f")
    xt = torch.from_numpy(x.copy()).requires_grad_(x.dtype.kind == "f")
    yl, yt = call(lam_module, xl), call(torch_module, xt)
    if isinstance(yt, tuple):  # (values, indices)
        for extra_l, extra_t in zip(yl[1:], yt[1:]):
            np.testing.assert_array_equal(extra_l.numpy(), extra_t.numpy())
        yl, yt = yl[0], yt[0]
    assert tuple(yl.shape) == tuple(yt.shape), f"lamina output {yl.shape}, torch {tuple(yt.shape)}"
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), atol=atol, rtol=rtol,
                               err_msg="output differs from torch")
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(yt.detach().numpy().dtype)
    (yl * lamina.Tensor(g)).sum().backward()
    (yt * torch.from_numpy(g)).sum().backward()
    if x.dtype.kind == "f":
        np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), atol=atol, rtol=rtol,
                                   err_msg="input gradient differs from torch")
    tparams = dict(torch_module.named_parameters())
    lparams = dict(lam_module.named_parameters())
    assert set(lparams) == set(tparams), f"parameter names differ: {sorted(lparams)} vs {sorted(tparams)}"
    for name, p in tparams.items():
        if p.grad is None:
            assert lparams[name].grad is None or np.allclose(lparams[name].grad.numpy(), 0), name
            continue
        assert lparams[name].grad is not None, f"lamina has no gradient for {name}"
        np.testing.assert_allclose(lparams[name].grad.numpy(), p.grad.numpy(), atol=atol, rtol=rtol,
                                   err_msg=f"gradient of {name} differs from torch")
    return yl
