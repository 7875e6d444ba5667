"""Activations: float64 gradcheck, second derivatives, and parity with torch (functions and modules)."""
import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, parity, rng

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.ops.special import erf

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = TF = None

# (name, lamina fn, torch fn name, kwargs); kwargs are the same in both frameworks
CASES = [
    ("relu", F.relu, "relu", {}),
    ("relu6", F.relu6, "relu6", {}),
    ("leaky_relu", F.leaky_relu, "leaky_relu", {}),
    ("leaky_relu_0.2", F.leaky_relu, "leaky_relu", {"negative_slope": 0.2}),
    ("elu", F.elu, "elu", {}),
    ("elu_alpha", F.elu, "elu", {"alpha": 0.7}),
    ("selu", F.selu, "selu", {}),
    ("gelu", F.gelu, "gelu", {}),
    ("gelu_tanh", F.gelu, "gelu", {"approximate": "tanh"}),
    ("silu", F.silu, "silu", {}),
    ("mish", F.mish, "mish", {}),
    ("sigmoid", F.sigmoid, "sigmoid", {}),
    ("tanh", F.tanh, "tanh", {}),
    ("softplus", F.softplus, "softplus", {}),
    ("softplus_beta", F.softplus, "softplus", {"beta": 2.0, "threshold": 3.0}),
    ("hardtanh", F.hardtanh, "hardtanh", {}),
    ("hardtanh_range", F.hardtanh, "hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("softmax0", F.softmax, "softmax", {"dim": 0}),
    ("softmax1", F.softmax, "softmax", {"dim": 1}),
    ("softmax-1", F.softmax, "softmax", {"dim": -1}),
    ("log_softmax1", F.log_softmax, "log_softmax", {"dim": 1}),
    ("log_softmax-1", F.log_softmax, "log_softmax", {"dim": -1}),
]
IDS = [c[0] for c in CASES]


def _x(shape=(3, 4, 5), seed=0, scale=2.0):
    x = rng(seed).standard_normal(shape) * scale
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from kinks
    x[np.abs(np.abs(x) - 1) < 1e-3] = 0.5
    return x


@pytest.mark.parametrize("name,fn,tname,kw", CASES, ids=IDS)
def test_gradcheck(name, fn, tname, kw):
    gradcheck(lambda x: fn(x, **kw), _x())


@pytest.mark.parametrize("name,fn,tname,kw", CASES, ids=IDS)
def test_parity_float32(name, fn, tname, kw):
    x = _x((4, 7, 3)).astype(np.float32)
    parity(lambda x: fn(x, **kw), x, torch_fn=lambda x: getattr(TF, tname)(x, **kw), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name,fn,tname,kw", CASES, ids=IDS)
def test_parity_float64_large_values(name, fn, tname, kw):
    x = np.concatenate([_x((50,), scale=8.0), [-40.0, -25.0, 25.0, 40.0, 300.0, -300.0]])
    parity(lambda x: fn(x, **kw) if "dim" not in kw else fn(x, dim=0),
           x, torch_fn=lambda x: getattr(TF, tname)(x, **kw) if "dim" not in kw else getattr(TF, tname)(x, dim=0),
           atol=1e-10, rtol=1e-9)


SMOOTH = ["elu", "selu", "gelu", "gelu_tanh", "silu", "mish", "sigmoid", "tanh", "softplus", "softmax1",
          "log_softmax1"]


@pytest.mark.parametrize("name", SMOOTH)
def test_second_derivatives(name):
    _, fn, _, kw = CASES[IDS.index(name)]
    gradgradcheck(lambda x: fn(x, **kw), _x((2, 3)))


def test_noncontiguous_and_transposed_inputs():
    from helpers import noncontiguous, transposed

    x = _x((4, 5))
    for f in (lambda t: F.gelu(t), lambda t: F.softmax(t, dim=1), lambda t: F.log_softmax(t, dim=0),
              lambda t: F.silu(t), lambda t: F.leaky_relu(t, 0.1)):
        gradcheck(f, noncontiguous(x))
        gradcheck(f, transposed(x))


def test_softmax_stability_and_sums():
    x = lamina.tensor([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    y = F.softmax(x, dim=1).numpy()
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-6)
    ly = F.log_softmax(x, dim=1).numpy()
    np.testing.assert_allclose(ly[0], [np.log(0.5), np.log(0.5), -2000 - np.log(2)], rtol=1e-6)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        F.softmax(lamina.zeros(2, 3))
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        F.softmax(lamina.zeros(2, 3), dim=2)


def test_erf_matches_math():
    import math

    for dt in (np.float32, np.float64):
        x = np.linspace(-5, 5, 101).astype(dt)
        y = erf(lamina.tensor(x))
        assert y.dtype == dt
        np.testing.assert_allclose(y.numpy(), [math.erf(v) for v in x.astype(np.float64)], rtol=1e-6, atol=1e-7)
    gradcheck(erf, _x((3, 3)))
    gradgradcheck(erf, _x((2, 2)))
    assert erf(lamina.tensor([0, 1])).dtype == np.float32


def test_errors():
    with pytest.raises(TypeError, match="relu: expected a floating-point tensor"):
        F.relu(lamina.tensor([1, 2]))
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(lamina.zeros(2), approximate="fast")
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)


MODULES = [
    (nn.ReLU(), "ReLU", {}), (nn.ReLU6(), "ReLU6", {}), (nn.LeakyReLU(0.3), "LeakyReLU", {"negative_slope": 0.3}),
    (nn.ELU(0.5), "ELU", {"alpha": 0.5}), (nn.SELU(), "SELU", {}), (nn.GELU(), "GELU", {}),
    (nn.GELU("tanh"), "GELU", {"approximate": "tanh"}), (nn.SiLU(), "SiLU", {}), (nn.Mish(), "Mish", {}),
    (nn.Sigmoid(), "Sigmoid", {}), (nn.Tanh(), "Tanh", {}), (nn.Softplus(2.0, 5.0), "Softplus",
                                                            {"beta": 2.0, "threshold": 5.0}),
    (nn.Hardtanh(-2.0, 0.5), "Hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    (nn.Softmax(dim=-1), "Softmax", {"dim": -1}), (nn.LogSoftmax(dim=1), "LogSoftmax", {"dim": 1}),
]


@pytest.mark.parametrize("mod,tname,kw", MODULES, ids=[f"{m[1]}-{i}" for i, m in enumerate(MODULES)])
def test_modules_parity_and_repr(mod, tname, kw):
    if torch is None:
        pytest.skip("torch not installed")
    tmod = getattr(torch.nn, tname)(**kw)
    assert repr(mod) == repr(tmod)
    parity(mod, _x((3, 6)).astype(np.float32), torch_fn=tmod)
    assert list(mod.parameters()) == [] and mod.state_dict() == {}


@pytest.mark.parametrize("name,fn,tname,kw", [c for c in CASES if "softmax" not in c[0]],
                         ids=[c[0] for c in CASES if "softmax" not in c[0]])
def test_zero_dim_and_empty_inputs(name, fn, tname, kw):
    for arr in (np.array(0.7), np.array(-1.3), np.zeros((0, 3))):
        parity(lambda x: fn(x, **kw), arr.astype(np.float32), torch_fn=lambda x: getattr(TF, tname)(x, **kw))


hyp = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_softmax_family_any_shape_and_dim(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rng(len(shape)).standard_normal(shape).astype(np.float32) * 3
    parity(lambda t: F.softmax(t, dim=dim), x, torch_fn=lambda t: TF.softmax(t, dim=dim))
    parity(lambda t: F.log_softmax(t, dim=dim), x, torch_fn=lambda t: TF.log_softmax(t, dim=dim))
