"""Lazy modules: materialise at the first forward with the eager layer's init, become that layer,
work with an optimizer created before the first call (as in PyTorch), load state dicts."""
import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.layers.lazy import UninitializedParameter

try:
    import torch
    import torch.nn as tnn
except Exception:  # pragma: no cover
    torch = tnn = None


def test_lazy_linear_materialises_and_becomes_linear():
    m, tm = nn.LazyLinear(3), tnn.LazyLinear(3)
    assert repr(m) == repr(tm) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert isinstance(m.weight, UninitializedParameter) and repr(m.weight) == "<UninitializedParameter>"
    assert m.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        m.weight.shape
    w_obj = m.weight
    y = m(lamina.randn(4, 7))
    assert y.shape == (4, 3)
    assert type(m) is nn.Linear and repr(m) == "Linear(in_features=7, out_features=3, bias=True)"
    assert m.weight is w_obj and type(m.weight) is nn.Parameter and m.weight.shape == (3, 7)
    assert not m._forward_pre_hooks
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / np.sqrt(7)   # Linear's init: U(+-1/sqrt(in))
    m(lamina.randn(2, 7))                                               # later calls: a plain Linear


def test_lazy_init_draws_like_the_eager_layer():
    lamina.manual_seed(5)
    eager = nn.Linear(7, 3)
    lamina.manual_seed(5)
    lazy = nn.LazyLinear(3)
    lazy(lamina.zeros(1, 7))
    # the lazy layer draws nothing before its first call, then the eager draws, in the same order
    np.testing.assert_array_equal(eager.weight.detach().numpy(), lazy.weight.detach().numpy())
    np.testing.assert_array_equal(eager.bias.detach().numpy(), lazy.bias.detach().numpy())


def test_optimizer_created_before_first_forward():
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    opt = lamina.optim.Adam(model.parameters(), lr=1e-2)
    x, y = lamina.randn(16, 5), lamina.randn(16, 2)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert model[0].weight.shape == (8, 5) and model[2].weight.shape == (2, 8)
    tmodel = tnn.Sequential(tnn.LazyLinear(8), tnn.ReLU(), tnn.LazyLinear(2))   # torch allows the same
    torch.optim.Adam(tmodel.parameters(), lr=1e-2)


@pytest.mark.parametrize("name,eager,x_shape,kw", [
    ("LazyConv1d", "Conv1d", (2, 3, 9), {"kernel_size": 3}),
    ("LazyConv2d", "Conv2d", (2, 3, 6, 6), {"kernel_size": 3, "padding": 1, "groups": 3}),
    ("LazyConv3d", "Conv3d", (1, 2, 4, 4, 4), {"kernel_size": 2, "stride": 2}),
    ("LazyConvTranspose1d", "ConvTranspose1d", (2, 3, 5), {"kernel_size": 3, "stride": 2}),
    ("LazyConvTranspose2d", "ConvTranspose2d", (2, 4, 3, 3), {"kernel_size": 2, "groups": 2}),
    ("LazyConvTranspose3d", "ConvTranspose3d", (1, 2, 2, 2, 2), {"kernel_size": 2}),
])
def test_lazy_convs_match_torch(name, eager, x_shape, kw):
    m, tm = getattr(nn, name)(6, **kw), getattr(tnn, name)(6, **kw)
    assert repr(m) == repr(tm)
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    y, ty = m(lamina.tensor(x)), tm(torch.tensor(x))
    assert type(m).__name__ == type(tm).__name__ == eager
    assert repr(m) == repr(tm)
    assert m.weight.shape == tuple(tm.weight.shape) and y.shape == tuple(ty.shape)
    m.load_state_dict(tm.state_dict())
    np.testing.assert_allclose(m(lamina.tensor(x)).detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    u = getattr(nn, name)(6, **kw)
    u(lamina.tensor(x[0]))                                   # unbatched: channels from dim 0
    assert u.in_channels == x_shape[1]


@pytest.mark.parametrize("name,x_shape", [("LazyBatchNorm1d", (4, 3)), ("LazyBatchNorm2d", (2, 3, 4, 4)),
                                          ("LazyBatchNorm3d", (2, 3, 2, 2, 2)), ("LazyInstanceNorm1d", (2, 3, 5)),
                                          ("LazyInstanceNorm2d", (2, 3, 4, 4)),
                                          ("LazyInstanceNorm3d", (2, 3, 2, 2, 2))])
def test_lazy_norms_match_torch(name, x_shape):
    m, tm = getattr(nn, name)(), getattr(tnn, name)()
    tm_repr = repr(tm).replace(", bias=True", "")       # torch 2.13 prints bias=True; lamina only bias=False
    assert repr(m) == tm_repr
    assert list(m.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
    y, ty = m(lamina.tensor(x)), tm(torch.tensor(x))
    assert type(m).__name__ == type(tm).__name__
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    m2 = getattr(nn, name)(affine=False, track_running_stats=False)
    m2(lamina.tensor(x))
    assert m2.weight is None and m2.running_mean is None and m2.num_features == 3


def test_load_state_dict_materialises():
    m = nn.LazyLinear(3)
    m.load_state_dict(nn.Linear(4, 3).state_dict())
    assert m.weight.shape == (3, 4) and m.in_features == 4
    assert m(lamina.randn(2, 4)).shape == (2, 3) and type(m) is nn.Linear
    bn = nn.LazyBatchNorm2d()
    bn.load_state_dict(nn.BatchNorm2d(5).state_dict())
    assert bn.num_features == 5 and bn.running_mean.shape == (5,)
    assert bn(lamina.randn(2, 5, 3, 3)).shape == (2, 5, 3, 3)


def test_uninitialized_state_dict_and_errors():
    m = nn.LazyLinear(3)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"] and isinstance(sd["weight"], UninitializedParameter)
    with pytest.raises(RuntimeError):
        nn.LazyConv2d(4, 3)(lamina.randn(3, 5))
    with pytest.raises(ValueError):
        nn.LazyConv2d(4, 3, groups=2)(lamina.randn(1, 3, 5, 5))
    m = nn.LazyLinear(3, dtype=lamina.float64)
    assert m(lamina.randn(2, 4, dtype=lamina.float64)).dtype == lamina.float64
