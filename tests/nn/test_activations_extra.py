"""The second family of activations: gradcheck, torch parity (functions and modules), reprs, errors."""
import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, parity, rng

import lamina
import lamina.nn.functional as F
from lamina import nn

try:
    import torch
    import torch.nn as tnn
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = tnn = TF = None

# (id, lamina fn, torch fn, kwargs) -- same kwargs in both frameworks
CASES = [
    ("hardswish", F.hardswish, "hardswish", {}),
    ("hardsigmoid", F.hardsigmoid, "hardsigmoid", {}),
    ("hardshrink", F.hardshrink, "hardshrink", {}),
    ("hardshrink_1", F.hardshrink, "hardshrink", {"lambd": 1.2}),
    ("softshrink", F.softshrink, "softshrink", {}),
    ("softshrink_1", F.softshrink, "softshrink", {"lambd": 1.2}),
    ("threshold", F.threshold, "threshold", {"threshold": 0.3, "value": -2.0}),
    ("celu", F.celu, "celu", {}),
    ("celu_a", F.celu, "celu", {"alpha": 0.6}),
    ("logsigmoid", F.logsigmoid, "logsigmoid", {}),
    ("softsign", F.softsign, "softsign", {}),
    ("tanhshrink", F.tanhshrink, "tanhshrink", {}),
    ("softmin1", F.softmin, "softmin", {"dim": 1}),
    ("softmin-1", F.softmin, "softmin", {"dim": -1}),
    ("glu", F.glu, "glu", {}),
    ("glu0", F.glu, "glu", {"dim": 0}),
    ("rrelu_eval", F.rrelu, "rrelu", {}),
    ("rrelu_eval_b", F.rrelu, "rrelu", {"lower": 0.05, "upper": 0.5}),
    ("gelu_tanh", F.gelu, "gelu", {"approximate": "tanh"}),
    ("hardtanh", F.hardtanh, "hardtanh", {"min_val": -0.7, "max_val": 1.3}),
]
IDS = [c[0] for c in CASES]


def _x(shape=(4, 6, 2), seed=0, scale=3.0):
    x = rng(seed).standard_normal(shape) * scale
    for kink in (0.0, 0.3, 0.5, 0.6, 0.7, 1.0, 1.2, 1.3, 3.0):   # keep finite differences off the kinks
        for s in (1, -1):
            x[np.abs(x - s * kink) < 2e-3] = 0.123
    return x


@pytest.mark.parametrize("name,fn,tname,kw", CASES, ids=IDS)
def test_gradcheck(name, fn, tname, kw):
    gradcheck(lambda x: fn(x, **kw), _x((2, 4, 2)))


@pytest.mark.parametrize("name,fn,tname,kw", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parity(name, fn, tname, kw, dtype):
    # torch's float64 hardsigmoid/celu backwards use float32 constants (1/6, 1/alpha): ~1e-8 off
    tol = 1e-5 if dtype == np.float32 else 1e-7
    parity(lambda x: fn(x, **kw), _x().astype(dtype), torch_fn=lambda x: getattr(TF, tname)(x, **kw),
           atol=tol, rtol=tol)


def test_parity_at_the_kinks():
    """PyTorch's subgradients exactly at the corners (hardswish at +-3, shrink at +-lambd, threshold)."""
    x = np.array([-3.0, -2.5, 0.0, 0.5, -0.5, 3.0, 4.0, 0.3, -3.5])
    for f, t in ((F.hardswish, TF.hardswish), (F.hardsigmoid, TF.hardsigmoid), (F.hardshrink, TF.hardshrink),
                 (F.softshrink, TF.softshrink),
                 (lambda v: F.threshold(v, 0.3, 9.0), lambda v: TF.threshold(v, 0.3, 9.0)),
                 (F.hardtanh, TF.hardtanh), (F.celu, TF.celu), (F.softsign, TF.softsign)):
        parity(f, x, torch_fn=t, atol=1e-7, rtol=1e-7)


@pytest.mark.parametrize("name", ["celu", "logsigmoid", "softsign", "tanhshrink", "softmin1", "glu", "hardswish",
                                  "gelu_tanh"])
def test_second_derivatives(name):
    _, fn, _, kw = CASES[IDS.index(name)]
    gradgradcheck(lambda x: fn(x, **kw), _x((2, 4)))


# ---------------------------------------------------------------- prelu
@pytest.mark.parametrize("shape,n", [((4, 3, 5), 3), ((4, 3, 2, 2), 3), ((4, 3), 1), ((5,), 1), ((), 1),
                                     ((2, 3, 4), 1)])
def test_prelu_parity_and_gradcheck(shape, n):
    x = _x(shape) if shape else np.array(-1.5)
    w = rng(1).uniform(-0.5, 0.8, n)
    gradcheck(F.prelu, x, w)
    parity(F.prelu, x.astype(np.float32), w.astype(np.float32), torch_fn=TF.prelu)
    gradgradcheck(F.prelu, x, w)


def test_prelu_errors_match_torch():
    x = lamina.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="parameter numbers = 2 and channel size = 3"):
        F.prelu(x, lamina.randn(2))
    with pytest.raises(RuntimeError):
        TF.prelu(torch.randn(2, 3, 4), torch.randn(2))
    with pytest.raises(RuntimeError, match="channel size = 1"):
        F.prelu(lamina.randn(3), lamina.randn(3))


def test_prelu_module_matches_torch():
    m, tm = nn.PReLU(3, init=0.1), tnn.PReLU(3, init=0.1)
    assert repr(m) == repr(tm) == "PReLU(num_parameters=3)"
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
    np.testing.assert_array_equal(m.weight.detach().numpy(), tm.weight.detach().numpy())
    np.testing.assert_allclose(nn.PReLU().weight.detach().numpy(), [0.25])
    x = _x((2, 3, 4)).astype(np.float32)
    y = m(lamina.tensor(x))
    y.sum().backward()
    ty = tm(torch.tensor(x))
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
    with pytest.raises(ValueError):
        nn.PReLU(0)


# ---------------------------------------------------------------- rrelu
def test_rrelu_training_draws_slopes_from_lamina_generator():
    x = -np.abs(rng(0).standard_normal((200, 50))) - 0.1
    lamina.manual_seed(7)
    y1 = F.rrelu(lamina.tensor(x), 0.1, 0.3, training=True).numpy()
    lamina.manual_seed(7)
    y2 = F.rrelu(lamina.tensor(x), 0.1, 0.3, training=True).numpy()
    np.testing.assert_array_equal(y1, y2)
    slopes = y1 / x
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.005                      # U(0.1, 0.3): mean 0.2
    assert abs(slopes.std() - 0.2 / np.sqrt(12)) < 0.003         # std (b - a) / sqrt(12)
    assert len(np.unique(slopes)) > 9000                         # one slope per element
    pos = np.abs(x)
    np.testing.assert_array_equal(F.rrelu(lamina.tensor(pos), training=True).numpy(), pos)


def test_rrelu_training_gradient_is_the_drawn_slope():
    x = lamina.tensor(np.array([[-1.0, 2.0, -3.0, 0.5]]), requires_grad=True)
    y = F.rrelu(x, 0.2, 0.4, training=True)
    y.sum().backward()
    slope = y.detach().numpy() / x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), slope)
    gradcheck(lambda v: F.rrelu(v, 0.2, 0.4, training=True, generator=lamina.Generator().manual_seed(3)),
              _x((3, 4)))


def test_rrelu_module_train_eval():
    m = nn.RReLU(0.1, 0.3)
    assert repr(m) == repr(tnn.RReLU(0.1, 0.3))
    x = lamina.tensor(-np.ones((4, 5)))
    np.testing.assert_allclose(m.eval()(x).numpy(), -0.2)
    assert len(np.unique(m.train()(x).numpy())) > 1
    with pytest.raises(RuntimeError, match="Lower bound"):
        F.rrelu(x, 0.5, 0.1, training=True)


# ---------------------------------------------------------------- modules
MODULES = [
    ("GLU", {}, {}), ("GLU", {"dim": 1}, {}), ("Hardswish", {}, {}), ("Hardsigmoid", {}, {}),
    ("Hardshrink", {"lambd": 0.7}, {}), ("Softshrink", {}, {}), ("Threshold", {"threshold": 0.1, "value": 20.0}, {}),
    ("CELU", {"alpha": 0.5}, {}), ("LogSigmoid", {}, {}), ("Softsign", {}, {}), ("Tanhshrink", {}, {}),
    ("Softmin", {"dim": 1}, {}), ("Softmax2d", {}, {}), ("Hardswish", {"inplace": True}, {}),
    ("Threshold", {"threshold": 0.1, "value": 20.0, "inplace": True}, {}),
    ("CELU", {"alpha": 0.5, "inplace": True}, {}),
    ("GELU", {"approximate": "tanh"}, {}), ("Hardtanh", {"min_val": -2.0, "max_val": 2.0}, {}),
]


@pytest.mark.parametrize("name,kw,_", MODULES, ids=[f"{m[0]}{m[1]}" for m in MODULES])
def test_module_parity_and_repr(name, kw, _):
    m, tm = getattr(nn, name)(**kw), getattr(tnn, name)(**kw)
    assert repr(m) == repr(tm)
    x = _x((2, 4, 3, 2)).astype(np.float32)
    parity(lambda v: m(v * 1.0), x, torch_fn=lambda v: tm(v * 1.0))   # torch's in-place ones refuse leaves


def test_inplace_flag_is_accepted_and_result_is_correct():
    x = lamina.tensor(_x((3, 4)).astype(np.float32))
    before = x.numpy().copy()
    y = F.threshold(x, 0.1, 20.0, inplace=True)
    np.testing.assert_allclose(y.numpy(), TF.threshold(torch.tensor(before), 0.1, 20.0).numpy())
    np.testing.assert_array_equal(x.numpy(), before)   # computed out of place (documented)


def test_errors_match_torch():
    x = lamina.randn(2, 5)
    tx = torch.randn(2, 5)
    for lam, tor in ((lambda: F.glu(x, 1), lambda: TF.glu(tx, 1)),
                     (lambda: F.celu(x, 0.0), lambda: TF.celu(tx, 0.0)),
                     (lambda: F.softshrink(x, -1.0), lambda: TF.softshrink(tx, -1.0))):
        with pytest.raises(RuntimeError):
            tor()
        with pytest.raises(RuntimeError):
            lam()
    with pytest.raises(ValueError, match="3D or 4D"):
        nn.Softmax2d()(lamina.randn(2, 3))
    with pytest.raises(TypeError):
        F.hardswish(lamina.tensor([1, 2]))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        F.softmin(x)


def test_softmax2d_is_channel_softmax():
    x = lamina.randn(2, 3, 4, 5)
    np.testing.assert_allclose(nn.Softmax2d()(x).numpy().sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(nn.Softmax2d()(x[0]).numpy(), nn.Softmax2d()(x).numpy()[0], rtol=1e-6)


def test_glu_and_softmin_options():
    parity(lambda x: F.softmin(x, 1, dtype=lamina.float64), _x((3, 4)).astype(np.float32),
           torch_fn=lambda x: TF.softmin(x, 1, dtype=torch.float64))
    parity(lambda x: F.log_softmax(x, 1, dtype=lamina.float64), _x((3, 4)).astype(np.float32),
           torch_fn=lambda x: TF.log_softmax(x, 1, dtype=torch.float64))
    parity(lambda x: F.softmax(x, -1, dtype=lamina.float64), _x((3, 4)).astype(np.float32),
           torch_fn=lambda x: TF.softmax(x, -1, dtype=torch.float64))


INPLACE = [("relu_", {}), ("elu_", {"alpha": 0.7}), ("selu_", {}), ("celu_", {"alpha": 0.5}),
           ("leaky_relu_", {"negative_slope": 0.2}), ("hardtanh_", {"min_val": -0.5, "max_val": 0.5}),
           ("threshold_", {"threshold": 0.1, "value": 3.0}), ("rrelu_", {})]


@pytest.mark.parametrize("name,kw", INPLACE, ids=[c[0] for c in INPLACE])
def test_explicit_inplace_variants(name, kw):
    x = _x((3, 4))
    t = lamina.tensor(x.copy())
    out = getattr(F, name)(t, **kw)
    assert out is t
    np.testing.assert_allclose(t.numpy(), getattr(TF, name)(torch.tensor(x), **kw).numpy(), rtol=1e-12)
    parity(lambda v: getattr(F, name)(v * 1.0, **kw), x, torch_fn=lambda v: getattr(TF, name)(v * 1.0, **kw))
    leaf = lamina.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError):
        getattr(F, name)(leaf, **kw)
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.tensor(x, requires_grad=True), **kw)
