"""Linear (fused op, torch parity, init bounds, errors), Flatten/Unflatten, Dropout statistics."""
import math

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, rng, transposed

import lamina
import lamina.nn.functional as F
from lamina import nn

try:
    import torch
except Exception:  # pragma: no cover
    torch = None


# ---------------------------------------------------------------- Linear
@pytest.mark.parametrize("xshape", [(5, 3), (2, 4, 3), (3,), (2, 1, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(xshape, bias):
    r = rng(1)
    x, w, b = r.standard_normal(xshape), r.standard_normal((4, 3)), r.standard_normal(4)
    if bias:
        gradcheck(lambda x, w, b: F.linear(x, w, b), x, w, b)
    else:
        gradcheck(lambda x, w: F.linear(x, w), x, w)


def test_linear_layouts_and_second_derivative():
    r = rng(2)
    x, w, b = r.standard_normal((5, 3)), r.standard_normal((4, 3)), r.standard_normal(4)
    gradcheck(lambda x, w, b: F.linear(x, w, b), noncontiguous(x), transposed(w), b)
    gradgradcheck(lambda x, w, b: F.linear(x, w, b), x, w, b)


@pytest.mark.parametrize("xshape", [(8, 5), (2, 3, 5)])
def test_linear_parity_functional(xshape):
    torch_ = pytest.importorskip("torch")
    r = rng(3)
    x, w, b = (r.standard_normal(s).astype(np.float32) for s in (xshape, (6, 5), (6,)))
    parity(F.linear, x, w, b, torch_fn=torch_.nn.functional.linear)


def test_linear_module_matches_torch_with_copied_weights():
    torch_ = pytest.importorskip("torch")
    tl = torch_.nn.Linear(20, 7)
    ll = nn.Linear(20, 7)
    ll.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    x = rng(4).standard_normal((16, 20)).astype(np.float32)
    tx, lx = torch_.tensor(x, requires_grad=True), lamina.tensor(x, requires_grad=True)
    ty, ly = tl(tx), ll(lx)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng(5).standard_normal((16, 7)).astype(np.float32)
    ty.backward(torch_.tensor(g))
    ly.backward(lamina.tensor(g))
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ll.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ll.bias.grad.numpy(), tl.bias.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert repr(ll) == repr(tl)
    assert list(ll.state_dict()) == list(tl.state_dict())


def test_linear_default_init_bounds():
    fan_in = 50
    layer = nn.Linear(fan_in, 400)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): gain*sqrt(3/fan_in) = 1/sqrt(fan_in)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # std of U(-a, a) is a/sqrt(3)
    assert layer.weight.dtype == np.float32 and layer.weight.shape == (400, 50)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=lamina.float64).weight.dtype == np.float64


def test_linear_seeded_init_repeats():
    lamina.manual_seed(7)
    a = nn.Linear(4, 3).weight.detach().numpy().copy()
    lamina.manual_seed(7)
    b = nn.Linear(4, 3).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_linear_errors():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError) as e:
        layer(lamina.zeros(32, 100))
    assert str(e.value) == "Linear(in_features=784): input has 100 features (input shape (32, 100))"
    with pytest.raises(TypeError, match="input dtype float64 does not match weight dtype float32"):
        layer(lamina.zeros(2, 784, dtype=lamina.float64))
    with pytest.raises(ValueError, match="weight has shape"):
        F.linear(lamina.zeros(2, 3), lamina.zeros(4, 5))
    with pytest.raises(ValueError, match="non-negative int"):
        nn.Linear(-1, 3)


def test_linear_trains_to_fit():
    lamina.manual_seed(0)
    r = rng(0)
    true_w = r.standard_normal((2, 3)).astype(np.float32)
    x = r.standard_normal((64, 3)).astype(np.float32)
    y = lamina.tensor(x @ true_w.T + 0.5)
    layer = nn.Linear(3, 2)
    for _ in range(200):
        loss = F.mse_loss(layer(lamina.tensor(x)), y)
        layer.zero_grad()
        loss.backward()
        with lamina.no_grad():
            for p in layer.parameters():
                p -= 0.1 * p.grad
    assert loss.item() < 1e-4
    np.testing.assert_allclose(layer.weight.detach().numpy(), true_w, atol=1e-2)


# ---------------------------------------------------------------- Flatten / Unflatten
def test_flatten_unflatten():
    x = lamina.randn(2, 3, 4, 5, requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    y = nn.Unflatten(1, (3, 20))(nn.Flatten()(x))
    assert y.shape == (2, 3, 20)
    assert nn.Unflatten(-1, (2, -1))(lamina.zeros(3, 8)).shape == (3, 2, 4)
    assert repr(nn.Unflatten(1, (2, 2))) == "Unflatten(dim=1, unflattened_size=(2, 2))"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="don't multiply up"):
        nn.Unflatten(1, (3, 3))(lamina.zeros(2, 8))
    with pytest.raises(ValueError, match="cannot come after"):
        F.flatten(x, 2, 1)
    gradcheck(lambda t: F.flatten(t, 1), rng(0).standard_normal((2, 3, 2)))


def test_flatten_parity():
    pytest.importorskip("torch")
    x = rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    parity(nn.Flatten(), x, torch_fn=torch.nn.Flatten())
    parity(nn.Unflatten(2, (2, 2)), x, torch_fn=torch.nn.Unflatten(2, (2, 2)))


# ---------------------------------------------------------------- Dropout
def test_dropout_statistics_and_scaling():
    p = 0.3
    x = lamina.ones(200, 500, requires_grad=True)
    y = F.dropout(x, p, training=True)
    yn = y.detach().numpy()
    kept = yn != 0
    assert abs(kept.mean() - (1 - p)) < 0.01
    np.testing.assert_allclose(yn[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(yn.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)  # gradient flows through kept units only
    np.testing.assert_allclose(x.grad.numpy()[kept], 1 / (1 - p), rtol=1e-6)


def test_dropout_module_modes_and_edges():
    d = nn.Dropout(0.5)
    x = lamina.randn(10, 10)
    assert repr(d) == "Dropout(p=0.5, inplace=False)"
    d.eval()
    assert d(x) is x
    d.train()
    assert (d(x).numpy() == 0).any()
    assert nn.Dropout(0.0)(x) is x
    z = nn.Dropout(1.0)(x.requires_grad_())
    assert (z.detach().numpy() == 0).all()
    z.sum().backward()
    assert (x.grad.numpy() == 0).all()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_dropout_repeatable_with_manual_seed():
    x = lamina.ones(50, 50)
    lamina.manual_seed(123)
    a = F.dropout(x, 0.5).numpy().copy()
    b = F.dropout(x, 0.5).numpy()
    lamina.manual_seed(123)
    c = F.dropout(x, 0.5).numpy()
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    g = lamina.Generator().manual_seed(5)
    d1 = F.dropout(x, 0.5, generator=g).numpy().copy()
    g.manual_seed(5)
    np.testing.assert_array_equal(d1, F.dropout(x, 0.5, generator=g).numpy())


def test_dropout_float64_dtype_kept():
    x = lamina.ones(4, 4, dtype=lamina.float64)
    assert F.dropout(x, 0.2).dtype == np.float64
