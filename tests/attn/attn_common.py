"""Shared helpers for the attention / transformer / normalization tests: build a lamina module
with a torch module's weights, run both, compare outputs and every gradient."""
import numpy as np
from helpers import rng

import lamina

try:
    import torch
except Exception:  # pragma: no cover
    torch = None


def load_from_torch(lm, tm):
    """Copy torch's state_dict into the lamina module by name (strict)."""
    lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return lm


def pair(a, requires_grad=True):
    """The same array as a lamina and a torch tensor (grad only for float arrays)."""
    rg = requires_grad and a.dtype.kind == "f"
    return lamina.tensor(a, requires_grad=rg), torch.tensor(a, requires_grad=rg)


def close(a, b, what, tol=1e-9):
    a = a.detach().numpy() if isinstance(a, lamina.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"{what}: lamina shape {a.shape}, torch shape {b.shape}"
    np.testing.assert_allclose(a, b, atol=tol, rtol=tol, err_msg=what)


def backward_both(louts, touts, seed=7):
    """Backpropagate the same random cotangents through both frameworks' outputs."""
    r = rng(seed)
    seeds = [r.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype) for t in touts]
    total = None
    for lo, s in zip(louts, seeds):
        term = (lo * lamina.tensor(s)).sum()
        total = term if total is None else total + term
    total.backward()
    sum((to * torch.tensor(s)).sum() for to, s in zip(touts, seeds)).backward()


def check_param_grads(lm, tm, tol=1e-9):
    tgrads = dict(tm.named_parameters())
    names = [n for n, _ in lm.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()], "parameter names/order differ from torch"
    for name, p in lm.named_parameters():
        tg = tgrads[name].grad
        if tg is None:
            assert p.grad is None or np.allclose(p.grad.numpy(), 0), f"{name}: torch has no gradient"
            continue
        assert p.grad is not None, f"{name}: lamina has no gradient"
        close(p.grad, tg, f"gradient of {name}", tol)
