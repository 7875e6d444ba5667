"""nn.utils.parametrize / parametrizations (weight_norm, spectral_norm) and the older hook-based
weight_norm / spectral_norm: state-dict keys, values and gradients against torch, removal, caching."""
import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.utils import parametrizations as P
from lamina.nn.utils import parametrize

try:
    import torch
    import torch.nn as tnn
    from torch.nn.utils import parametrizations as TP
    from torch.nn.utils import parametrize as tparametrize
except Exception:  # pragma: no cover
    torch = tnn = TP = tparametrize = None


def _pair(make_l, make_t):
    """The same layer in both frameworks with torch's initial values."""
    tm = make_t()
    m = make_l()
    m.load_state_dict(tm.state_dict())
    return m, tm


def _sd_close(m, tm, rtol=1e-5):
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(sd[k].numpy(), tsd[k].detach().numpy(), rtol=rtol, atol=1e-6, err_msg=k)


def _grads_close(m, tm, x, rtol=1e-4):
    y, ty = m(lamina.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=1e-5)
    w = np.random.default_rng(9).standard_normal(ty.shape).astype(np.float32)
    (y * lamina.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    named = dict(m.named_parameters())
    for k, p in tm.named_parameters():
        np.testing.assert_allclose(named[k].grad.numpy(), p.grad.numpy(), rtol=rtol, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_linear(dim):
    m, tm = _pair(lambda: nn.Linear(3, 4), lambda: tnn.Linear(3, 4))
    P.weight_norm(m, dim=dim)
    TP.weight_norm(tm, dim=dim)
    assert type(m).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert repr(m).replace("lamina", "torch") == repr(tm)
    _sd_close(m, tm)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _grads_close(m, tm, np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))


def test_weight_norm_conv_and_training_step():
    m, tm = _pair(lambda: nn.Conv2d(2, 3, 3), lambda: tnn.Conv2d(2, 3, 3))
    P.weight_norm(m)
    TP.weight_norm(tm)
    _sd_close(m, tm)
    opt, topt = lamina.optim.SGD(m.parameters(), lr=0.1), torch.optim.SGD(tm.parameters(), lr=0.1)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5)).astype(np.float32)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (m(lamina.tensor(x)) ** 2).mean().backward()
        (tm(torch.tensor(x)) ** 2).mean().backward()
        opt.step()
        topt.step()
    _sd_close(m, tm, rtol=1e-4)


@pytest.mark.parametrize("train", [True, False])
def test_spectral_norm_matches_torch(train):
    tm = tnn.Linear(5, 4)
    TP.spectral_norm(tm)
    m = nn.Linear(5, 4)
    P.spectral_norm(m)
    assert list(m.state_dict()) == list(tm.state_dict()) == [
        "bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    m.load_state_dict(tm.state_dict())          # same u, v: torch's random start
    m.train(train)
    tm.train(train)
    _grads_close(m, tm, np.random.default_rng(2).standard_normal((3, 5)).astype(np.float32))
    _sd_close(m, tm)                             # the power-iteration step updated u and v the same way
    w = m.weight.detach().numpy()
    if not train:
        return
    for _ in range(30):
        m(lamina.randn(1, 5))
    assert np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    assert w.shape == (4, 5)


def test_spectral_norm_conv_transpose_uses_dim_1():
    tm = tnn.ConvTranspose2d(3, 2, 3)
    TP.spectral_norm(tm)
    m = nn.ConvTranspose2d(3, 2, 3)
    P.spectral_norm(m)
    assert m.parametrizations.weight[0]._u.shape == (2,) == tuple(tm.parametrizations.weight[0]._u.shape)
    m.load_state_dict(tm.state_dict())
    _grads_close(m, tm, np.random.default_rng(3).standard_normal((1, 3, 4, 4)).astype(np.float32))


def test_remove_parametrizations():
    m = nn.Linear(3, 3)
    w = m.weight
    P.spectral_norm(m)
    value = m.weight.detach().numpy().copy()
    m.eval()
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and "parametrizations" not in m._modules
    assert m.weight is w                                     # the original object, now holding the value
    np.testing.assert_allclose(m.weight.detach().numpy(), value, rtol=1e-6)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight"]
    m2 = nn.Linear(3, 4)
    P.weight_norm(m2)
    v = m2.weight.detach().numpy().copy()
    parametrize.remove_parametrizations(m2, "weight")
    np.testing.assert_allclose(m2.weight.detach().numpy(), v, rtol=1e-6)
    with pytest.raises(ValueError):
        parametrize.remove_parametrizations(m2, "weight")


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).mT

    def right_inverse(self, A):
        return A.triu()


def test_custom_parametrization_assignment_and_cache():
    m = nn.Linear(3, 3)
    w0 = m.weight
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert m.parametrizations.weight.original is w0             # kept, so optimizers stay attached
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    W = m.weight.detach().numpy()
    np.testing.assert_allclose(W, W.T)
    A = lamina.tensor(np.arange(9.0, dtype=np.float32).reshape(3, 3))
    m.weight = A
    np.testing.assert_allclose(m.weight.detach().numpy(), np.triu(A.numpy()) + np.triu(A.numpy(), 1).T)
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    parametrize.register_parametrization(m, "weight", Symmetric())   # a second one is appended
    assert len(m.parametrizations.weight) == 2
    x = lamina.randn(2, 3)
    m(x).sum().backward()
    assert w0.grad is not None


def test_registration_errors_match_torch():
    class Shrink(nn.Module):
        def forward(self, X):
            return X[:1]

    class TShrink(tnn.Module):
        def forward(self, X):
            return X[:1]

    with pytest.raises(ValueError, match="shape"):
        parametrize.register_parametrization(nn.Linear(3, 3), "weight", Shrink())
    with pytest.raises(ValueError):
        tparametrize.register_parametrization(tnn.Linear(3, 3), "weight", TShrink())
    m = nn.Linear(3, 3)
    parametrize.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert m.weight.shape == (1, 3)
    with pytest.raises(ValueError):
        parametrize.register_parametrization(nn.Linear(3, 3), "nothing", Symmetric())

    class NoInverse(nn.Module):
        def forward(self, X):
            return X * 2

    m = nn.Linear(2, 2)
    parametrize.register_parametrization(m, "weight", NoInverse())
    with pytest.raises(RuntimeError, match="right_inverse"):
        m.weight = lamina.ones(2, 2)


# ---------------------------------------------------------------- the older hook-based versions
def test_old_weight_norm_matches_torch():
    m, tm = _pair(lambda: nn.Linear(3, 4), lambda: tnn.Linear(3, 4))
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(m)
    with pytest.warns(FutureWarning):
        tnn.utils.weight_norm(tm)
    _sd_close(m, tm)
    assert list(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    _grads_close(m, tm, np.random.default_rng(4).standard_normal((2, 3)).astype(np.float32))
    nn.utils.remove_weight_norm(m)
    tnn.utils.remove_weight_norm(tm)
    _sd_close(m, tm)


@pytest.mark.parametrize("train", [True, False])
def test_old_spectral_norm_matches_torch(train):
    tm = tnn.utils.spectral_norm(tnn.Linear(5, 4))
    m = nn.utils.spectral_norm(nn.Linear(5, 4))
    assert list(m.state_dict()) == list(tm.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    m.load_state_dict(tm.state_dict())
    m.train(train)
    tm.train(train)
    _grads_close(m, tm, np.random.default_rng(5).standard_normal((3, 5)).astype(np.float32))
    _sd_close(m, tm)
    nn.utils.remove_spectral_norm(m)
    tnn.utils.remove_spectral_norm(tm)
    _sd_close(m, tm)
    with pytest.raises(ValueError):
        nn.utils.remove_spectral_norm(m)


def test_utils_reexports():
    for name in ("clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
                 "parameters_to_vector", "vector_to_parameters", "weight_norm", "remove_weight_norm",
                 "spectral_norm", "remove_spectral_norm", "parametrize", "parametrizations", "rnn"):
        assert hasattr(nn.utils, name), name
    ps = [nn.Parameter(lamina.tensor([3.0, 4.0]))]
    ps[0].grad = lamina.tensor([3.0, 4.0])
    total = nn.utils.get_total_norm([p.grad for p in ps])
    assert float(total) == pytest.approx(5.0)
    nn.utils.clip_grads_with_norm_(ps, 1.0, total)
    np.testing.assert_allclose(ps[0].grad.numpy(), [0.6, 0.8], rtol=1e-5)
