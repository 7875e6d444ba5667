"""Observers, fake quantization (straight-through) and prepare_qat, against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
import lamina.nn as nn
from helpers import gradcheck, parity, requires_torch, rng, torch
from lamina.quantization import (FakeQuantize, MinMaxObserver, MovingAverageMinMaxObserver, PerChannelMinMaxObserver,
                                 fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine, prepare_qat,
                                 qat_modules, remove_qat)

_TORCH_DTYPE = {"int8": "qint8", "uint8": "quint8"}


def _torch_observer(cls_name, dtype, qscheme, **kw):
    from torch.ao import quantization as tq
    scheme = {("affine", False): torch.per_tensor_affine, ("symmetric", False): torch.per_tensor_symmetric,
              ("affine", True): torch.per_channel_affine, ("symmetric", True): torch.per_channel_symmetric}
    return getattr(tq, cls_name)(dtype=getattr(torch, _TORCH_DTYPE[dtype]),
                                 qscheme=scheme[(qscheme, "ch_axis" in kw)], **kw)


@requires_torch
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("qscheme", ["affine", "symmetric"])
@pytest.mark.parametrize("name", ["MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver"])
def test_observer_qparams_match_torch(name, dtype, qscheme):
    kw = {"ch_axis": 1} if name == "PerChannelMinMaxObserver" else {}
    ours = {"MinMaxObserver": MinMaxObserver, "MovingAverageMinMaxObserver": MovingAverageMinMaxObserver,
            "PerChannelMinMaxObserver": PerChannelMinMaxObserver}[name](dtype=dtype, qscheme=qscheme, **kw)
    theirs = _torch_observer(name, dtype, qscheme, **kw)
    r = rng(3)
    for shift in (0.5, -0.7, 2.0):  # ranges that straddle 0, lie below it, move
        x = (r.standard_normal((6, 5, 4)) + shift).astype(np.float32)
        ours(lamina.tensor(x))
        theirs(torch.from_numpy(x))
    s, z = ours.calculate_qparams()
    ts, tz = theirs.calculate_qparams()
    np.testing.assert_allclose(s, ts.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(z, tz.numpy())


def test_observer_errors_and_state():
    with pytest.raises(ValueError, match="int8"):
        MinMaxObserver(dtype="int4")
    with pytest.raises(ValueError, match="qscheme"):
        MinMaxObserver(qscheme="log")
    obs = MinMaxObserver()
    with pytest.raises(RuntimeError, match="observed no data"):
        obs.calculate_qparams()
    obs(lamina.tensor(np.zeros(4, np.float32)))  # an all-zero tensor: scale floors at eps, no division by 0
    s, z = obs.calculate_qparams()
    assert s > 0 and z == -128
    assert obs.state_dict() == {}  # statistics are not checkpointed


def _tq(x, s, z, lo, hi):
    return torch.fake_quantize_per_tensor_affine(x, s, z, lo, hi)


@requires_torch
@pytest.mark.parametrize("s, z, lo, hi", [(0.05, 0, -128, 127), (0.013, 17, -128, 127), (0.02, 100, 0, 255)])
def test_fake_quantize_per_tensor_parity(s, z, lo, hi):
    x = (rng(0).standard_normal((5, 7)) * 2).astype(np.float32)  # some values fall outside the range
    parity(lambda t: fake_quantize_per_tensor_affine(t, s, z, lo, hi), x,
           torch_fn=lambda t: _tq(t, s, z, lo, hi), atol=0, rtol=0)


@requires_torch
@pytest.mark.parametrize("axis", [0, 1])
def test_fake_quantize_per_channel_parity(axis):
    x = (rng(1).standard_normal((4, 6, 3)) * 3).astype(np.float32)
    c = x.shape[axis]
    s = (rng(2).uniform(0.01, 0.05, c)).astype(np.float32)
    z = rng(4).integers(-10, 10, c).astype(np.int32)
    parity(lambda t: fake_quantize_per_channel_affine(t, s, z, axis, -128, 127), x,
           torch_fn=lambda t: torch.fake_quantize_per_channel_affine(t, torch.from_numpy(s), torch.from_numpy(z),
                                                                      axis, -128, 127), atol=0, rtol=0)


def test_straight_through_gradient_gradcheck_float64():
    """The STE gradient is the derivative of the surrogate clamp(x, (qmin - z) s, (qmax - z) s): finite
    differences of ``clamp(x).detach() + (fq(x) - fq(x).detach())`` (whose value is the clamp) must equal the
    analytical gradient, which is fq's alone. Points sit away from the clamp edges."""
    s, z, lo, hi = 0.1, 3, -20, 20
    a, b = (lo - z) * s, (hi - z) * s
    x = np.concatenate([rng(5).uniform(a + 0.05, b - 0.05, 12), rng(6).uniform(b + 0.05, b + 1, 4),
                        rng(7).uniform(a - 1, a - 0.05, 4)])

    def fn(t):
        fq = fake_quantize_per_tensor_affine(t, s, z, lo, hi)
        return t.clamp(a, b).detach() + (fq - fq.detach())

    gradcheck(fn, x)
    # the backward is a Tensor op (mask multiply): differentiable w.r.t. the incoming gradient
    xt = lamina.tensor(x, requires_grad=True)
    gy = lamina.tensor(np.ones_like(x), requires_grad=True)
    (gx,) = lamina.autograd.grad(fake_quantize_per_tensor_affine(xt, s, z, lo, hi), (xt,), gy, create_graph=True)
    (ggy,) = lamina.autograd.grad(gx.sum(), (gy,))
    np.testing.assert_array_equal(ggy.numpy(), ((x >= a) & (x <= b)).astype(float))
    w = np.stack([x, -x]).T.copy()  # (20, 2)
    sc, zc = np.array([0.1, 0.2]), np.array([3, -2])

    def fn_c(t):
        fq = fake_quantize_per_channel_affine(t, sc, zc, 1, lo, hi)
        lo_c = lamina.tensor((lo - zc) * sc)
        hi_c = lamina.tensor((hi - zc) * sc)
        return lamina.minimum(lamina.maximum(t, lo_c), hi_c).detach() + (fq - fq.detach())

    gradcheck(fn_c, w)
    # the float64 values are exact multiples of the scale, inside the range
    y = fake_quantize_per_tensor_affine(lamina.tensor(x), s, z, lo, hi).numpy()
    codes = y / s + z
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)
    assert codes.min() >= lo and codes.max() <= hi


def test_fake_quantize_errors_like_torch():
    x = lamina.randn(3, 4)
    with pytest.raises(RuntimeError, match="quant_min"):
        fake_quantize_per_tensor_affine(x, 0.1, 0, 10, -10)
    with pytest.raises(RuntimeError, match="zero_point"):
        fake_quantize_per_tensor_affine(x, 0.1, 300, -128, 127)
    with pytest.raises(RuntimeError, match="4 scales"):
        fake_quantize_per_channel_affine(x, np.ones(3), np.zeros(3), 1, -128, 127)
    with pytest.raises(RuntimeError, match="floating"):
        fake_quantize_per_tensor_affine(lamina.tensor([1, 2]), 0.1, 0, -128, 127)


@requires_torch
def test_fake_quantize_module_matches_torch_fake_quantize():
    from torch.ao.quantization import FakeQuantize as TFQ
    from torch.ao.quantization import MovingAverageMinMaxObserver as TObs
    ours = FakeQuantize(MovingAverageMinMaxObserver(dtype="int8"))
    theirs = TFQ(observer=TObs, quant_min=-128, quant_max=127, dtype=torch.qint8)
    r = rng(9)
    for i in range(4):
        x = (r.standard_normal((8, 5)) + 0.3 * i).astype(np.float32)
        y = ours(lamina.tensor(x)).numpy()
        ty = theirs(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(y, ty, rtol=1e-6, atol=1e-7)  # same codes; scales agree to float32 rounding
    ours.eval()
    theirs.eval()
    theirs.disable_observer()  # torch ties observation to a flag; lamina freezes observers in eval mode
    x = (r.standard_normal((8, 5)) * 5).astype(np.float32)
    before = ours.observer.min_val.numpy().copy()
    np.testing.assert_allclose(ours(lamina.tensor(x)).numpy(), theirs(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ours.observer.min_val.numpy(), before)  # frozen in eval mode


def test_prepare_qat_in_place_keeps_parameters_and_optimizer():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 3))
    keys, params = list(model.state_dict()), list(model.parameters())
    opt = lamina.optim.SGD(model.parameters(), lr=0.1)
    assert prepare_qat(model) is model
    assert [n for n, _ in qat_modules(model)] == ["0", "3"]
    assert list(model.parameters()) == params and list(model.state_dict()) == keys
    x = lamina.randn(5, 2, 6)
    model.train()
    loss = model(x).square().sum()
    loss.backward()
    w0 = params[0].detach().numpy().copy()
    opt.step()
    assert not np.allclose(params[0].detach().numpy(), w0)
    # eval output is the fake-quantized one: every output value is on the last layer's grid
    model.eval()
    with lamina.no_grad():
        y = model(x).numpy()
    s, z = model[3].activation_post_process.qparams()
    codes = y / s + z
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
    remove_qat(model)
    assert type(model[0]) is nn.Conv1d and type(model[3]) is nn.Linear and not qat_modules(model)
    assert list(model.parameters()) == params


def test_qat_layer_equals_float_layer_when_fake_quant_is_off():
    lamina.manual_seed(1)
    ref = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    m = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    m.load_state_dict(ref.state_dict())
    prepare_qat(m, quantize_inputs=False)
    for fq in (m.weight_fake_quant, m.activation_post_process):
        fq.disable_fake_quant()
    x = lamina.randn(2, 3, 7, 7)
    np.testing.assert_allclose(m(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError):
        prepare_qat("not a model")
