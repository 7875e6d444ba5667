"""NT-Xent (SimCLR's contrastive loss): gradcheck, parity with a PyTorch reference, errors."""
import math

import numpy as np
import pytest

import lamina
from lamina.nn import NTXentLoss, nt_xent_loss

from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng, torch


def _torch_nt_xent(z1, z2, temperature=0.5, reduction="mean"):
    """The reference, written out with torch ops."""
    n = z1.shape[0]
    e = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = e @ e.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = (torch.arange(2 * n) + n) % (2 * n)
    return torch.nn.functional.cross_entropy(sim, targets, reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nt_xent_gradcheck(reduction):
    r = rng(0)
    z1, z2 = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    gradcheck(lambda a, b: nt_xent_loss(a, b, 0.3, reduction), z1, z2)


def test_nt_xent_gradgradcheck():
    r = rng(1)
    gradgradcheck(lambda a, b: nt_xent_loss(a, b, 0.7), r.standard_normal((2, 3)), r.standard_normal((2, 3)))


@requires_torch
@pytest.mark.parametrize("temperature,reduction", [(0.5, "mean"), (0.1, "sum"), (1.0, "none")])
def test_nt_xent_parity(temperature, reduction):
    r = rng(2)
    z1, z2 = r.standard_normal((6, 5)).astype(np.float32), r.standard_normal((6, 5)).astype(np.float32)
    parity(lambda a, b: nt_xent_loss(a, b, temperature, reduction), z1, z2,
           torch_fn=lambda a, b: _torch_nt_xent(a, b, temperature, reduction))


def test_nt_xent_values():
    # orthogonal pairs that agree perfectly: each row's positive has similarity 1/tau, the other 2N-2 rows 0
    e = np.eye(4, dtype=np.float64)[:2] * 3.0
    loss = nt_xent_loss(lamina.Tensor(e), lamina.Tensor(e), temperature=0.5).item()
    expected = -2.0 + math.log(math.exp(2.0) + 2 * math.exp(0.0))
    assert loss == pytest.approx(expected, rel=1e-12)
    # a pair that disagrees costs more than one that agrees
    r = rng(3)
    z = r.standard_normal((8, 16))
    good = nt_xent_loss(lamina.Tensor(z), lamina.Tensor(z + 0.01 * r.standard_normal(z.shape))).item()
    bad = nt_xent_loss(lamina.Tensor(z), lamina.Tensor(r.standard_normal(z.shape))).item()
    assert good < bad


def test_nt_xent_module_forms_and_errors():
    r = rng(4)
    z1, z2 = lamina.Tensor(r.standard_normal((4, 3))), lamina.Tensor(r.standard_normal((4, 3)))
    loss = NTXentLoss(0.2)
    assert loss((z1, z2)).item() == pytest.approx(loss(z1, z2).item())
    assert loss((z1, z2), None).item() == pytest.approx(nt_xent_loss(z1, z2, 0.2).item())
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(z1, lamina.Tensor(r.standard_normal((3, 3))))
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(0.0)
    with pytest.raises(ValueError, match="reduction"):
        nt_xent_loss(z1, z2, reduction="avg")
    with pytest.raises(ValueError, match="self-supervised"):
        loss((z1, z2), lamina.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        nt_xent_loss(z1.reshape(-1), z2.reshape(-1))
    with pytest.raises(TypeError, match="Tensor"):
        nt_xent_loss(np.zeros((2, 2)), z2)
