"""GPT against the same network built by hand in torch.nn with the same weights."""
import numpy as np
import pytest

import lamina
from helpers import requires_torch, torch
from models_gpt import torch_gpt  # benchmarks/models_gpt.py
from lamina.models.gpt import GPT, GPTConfig

V, C, L, H, E, M = 19, 16, 2, 4, 32, 48


def pair(dtype):
    lamina.set_default_dtype(dtype)
    lam = GPT(GPTConfig(V, C, L, H, E, mlp_hidden=M))
    tor = torch_gpt(V, C, E, L, H, M).to(torch.float64 if dtype == lamina.float64 else torch.float32)
    missing = tor.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in lam.state_dict().items()})
    assert not missing.missing_keys and not missing.unexpected_keys
    return lam, tor



@requires_torch
def test_one_block_outputs_and_gradients():
    lam, tor = pair(lamina.float64)
    B, T = 3, 11
    x = np.random.default_rng(0).standard_normal((B, T, E))
    xl = lamina.tensor(x.reshape(B * T, E), requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yl = lam.transformer.h[0](xl, B, T)
    yt = tor.transformer.h[0](xt)
    np.testing.assert_allclose(yl.detach().numpy().reshape(B, T, E), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(1).standard_normal((B, T, E))
    (yl * lamina.tensor(w.reshape(B * T, E))).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xl.grad.numpy().reshape(B, T, E), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    gl = dict(lam.transformer.h[0].named_parameters())
    for name, p in tor.transformer.h[0].named_parameters():
        np.testing.assert_allclose(gl[name].grad.numpy(), p.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_whole_model_logits_loss_and_gradients(dtype):
    lam, tor = pair(getattr(lamina, dtype))
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    r = np.random.default_rng(2)
    x, y = r.integers(0, V, (4, C)), r.integers(0, V, (4, C))
    ll, lossl = lam(lamina.tensor(x), lamina.tensor(y))
    lt, losst = tor(torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(ll.detach().numpy(), lt.detach().numpy(), **tol)
    np.testing.assert_allclose(lossl.item(), losst.item(), **tol)
    lossl.backward()
    losst.backward()
    gl = dict(lam.named_parameters())
    for name, p in tor.named_parameters():
        np.testing.assert_allclose(gl[name].grad.numpy(), p.grad.numpy(), err_msg=name, **tol)


@requires_torch
def test_adamw_steps_match_torch():
    from lamina import optim

    lam, tor = pair(lamina.float64)
    ol = optim.AdamW(lam.parameters(), lr=3e-3, weight_decay=0.01)
    ot = torch.optim.AdamW(tor.parameters(), lr=3e-3, weight_decay=0.01)
    r = np.random.default_rng(3)
    for _ in range(3):
        x, y = r.integers(0, V, (2, C)), r.integers(0, V, (2, C))
        ol.zero_grad()
        ot.zero_grad()
        lam(lamina.tensor(x), lamina.tensor(y))[1].backward()
        tor(torch.from_numpy(x), torch.from_numpy(y))[1].backward()
        ol.step()
        ot.step()
    sl = lam.state_dict()
    for k, v in tor.state_dict().items():
        np.testing.assert_allclose(sl[k].numpy(), v.numpy(), rtol=1e-8, atol=1e-10, err_msg=k)
