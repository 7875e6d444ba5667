"""LIF neurons, spike surrogates and spike encodings: against references written with PyTorch ops."""
import math

import numpy as np
import pytest

import lamina
from lamina.data.spike_encoding import LatencyEncoding, RateEncoding, latency, rate
from lamina.nn import LIF
from lamina.ops import surrogate as S

from helpers import gradcheck, gradgradcheck, requires_torch, rng, torch

SURROGATES = [("atan", 2.0), ("fast_sigmoid", 25.0), ("sigmoid", 5.0)]


def _torch_surrogate(u, name, k):
    if name == "fast_sigmoid":
        return 1.0 / (k * u.abs() + 1.0) ** 2
    if name == "atan":
        return (k / 2) / (1 + (math.pi / 2 * k * u) ** 2)
    y = torch.sigmoid(k * u)
    return k * y * (1 - y)


if torch is not None:
    class TorchSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u, name, k):
            ctx.save_for_backward(u)
            ctx.name, ctx.k = name, k
            return (u > 0).to(u.dtype)

        @staticmethod
        def backward(ctx, g):
            (u,) = ctx.saved_tensors
            return g * _torch_surrogate(u, ctx.name, ctx.k), None, None


def _torch_lif(cur, beta, thr, reset, name, k, mem0=None):
    """LIF over time in torch ops: the reset is the detached [m_{t-1} > thr]."""
    mem = torch.zeros_like(cur[0]) if mem0 is None else mem0
    b = beta.clamp(0, 1)
    spikes, mems = [], []
    for t in range(cur.shape[0]):
        r = (mem > thr).to(cur.dtype).detach()
        if reset == "subtract":
            mem = b * mem + cur[t] - r * thr
        elif reset == "zero":
            mem = b * ((1 - r) * mem) + cur[t]
        else:
            mem = b * mem + cur[t]
        spikes.append(TorchSpike.apply(mem - thr, name, k))
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


# ---------------------------------------------------------------- the spike and its surrogates
@pytest.mark.parametrize("name,k", SURROGATES)
def test_smooth_surrogate_gradcheck(name, k):
    u = rng(0).standard_normal((3, 4)) * 0.5
    gradcheck(lambda a: S.surrogate_smooth(a, name, k), u)
    gradcheck(lambda a: S.surrogate_grad(a, name, k), u)


@pytest.mark.parametrize("name,k", SURROGATES)
def test_spike_forward_and_backward_formula(name, k):
    """The spike's forward is the step; its backward equals the surrogate formula, which is the true
    derivative of the smooth function (checked by autograd of surrogate_smooth, itself gradchecked)."""
    u = lamina.Tensor(rng(1).standard_normal((5, 6))).requires_grad_()
    s = S.spike(u, name, k)
    np.testing.assert_array_equal(s.detach().numpy(), (u.detach().numpy() > 0).astype(np.float64))
    g = rng(2).standard_normal((5, 6))
    (du,) = lamina.grad(s, [u], lamina.Tensor(g))
    (dsmooth,) = lamina.grad(S.surrogate_smooth(u, name, k), [u], lamina.Tensor(g))
    np.testing.assert_allclose(du.numpy(), dsmooth.numpy(), rtol=1e-12, atol=1e-12)
    # and the formula by hand
    x = u.detach().numpy()
    formula = {"fast_sigmoid": 1 / (k * abs(x) + 1) ** 2, "atan": (k / 2) / (1 + (math.pi * k * x / 2) ** 2),
               "sigmoid": k * np.exp(-k * x) / (1 + np.exp(-k * x)) ** 2}[name]
    np.testing.assert_allclose(du.numpy(), g * formula, rtol=1e-10)


@pytest.mark.parametrize("name,k", SURROGATES)
def test_spike_second_derivative(name, k):
    gradgradcheck(lambda a: S.spike(a, name, k), rng(3).standard_normal((2, 3)) * 0.3)


@requires_torch
@pytest.mark.parametrize("name,k", SURROGATES)
def test_spike_parity(name, k):
    u = rng(4).standard_normal((4, 7)).astype(np.float32)
    g = rng(5).standard_normal((4, 7)).astype(np.float32)
    ul, ut = lamina.Tensor(u).requires_grad_(), torch.tensor(u, requires_grad=True)
    S.spike(ul, name, k).backward(lamina.Tensor(g))
    TorchSpike.apply(ut, name, k).backward(torch.tensor(g))
    np.testing.assert_allclose(ul.grad.numpy(), ut.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_spike_errors():
    with pytest.raises(ValueError, match="surrogate must be one of"):
        S.spike(lamina.zeros(2), "relu")
    with pytest.raises(ValueError, match="slope"):
        S.spike(lamina.zeros(2), "atan", -1.0)
    with pytest.raises(TypeError, match="floating point"):
        S.spike(lamina.tensor([1, 2]))


# ---------------------------------------------------------------- the LIF layer
@requires_torch
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name,k", [("atan", 2.0), ("fast_sigmoid", 25.0)])
def test_lif_parity(reset, fused, name, k):
    r = rng(6)
    cur = (r.random((12, 3, 5)) * 0.7).astype(np.float64)
    gs, gm = r.standard_normal(cur.shape), r.standard_normal(cur.shape)
    beta = np.array([0.6, 0.9, 1.0, 0.8, 0.95])
    lif = LIF(beta=beta, reset=reset, surrogate=name, slope=k, learn_beta=True, fused=fused).double()
    cl = lamina.Tensor(cur).requires_grad_()
    spk, mem = lif.run(cl)
    assert spk.detach().numpy().sum() > 0  # the test exercises spikes and resets
    dcur, dbeta = lamina.grad([spk, mem], [cl, lif.beta], [lamina.Tensor(gs), lamina.Tensor(gm)])
    ct = torch.tensor(cur, requires_grad=True)
    bt = torch.tensor(lif.beta.detach().numpy(), requires_grad=True)
    st, mt = _torch_lif(ct, bt, 1.0, reset, name, k)
    tdc, tdb = torch.autograd.grad([st, mt], [ct, bt], [torch.tensor(gs), torch.tensor(gm)])
    np.testing.assert_array_equal(spk.detach().numpy(), st.detach().numpy())
    np.testing.assert_allclose(mem.detach().numpy(), mt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dcur.numpy(), tdc.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dbeta.numpy(), tdb.numpy(), rtol=1e-10, atol=1e-10)


@requires_torch
def test_lif_step_float32_and_mem0_parity():
    r = rng(7)
    cur = (r.random((8, 4, 6)) * 0.8).astype(np.float32)
    m0 = (r.random((4, 6)) * 1.5).astype(np.float32)
    cl, ml = lamina.Tensor(cur).requires_grad_(), lamina.Tensor(m0).requires_grad_()
    spk, mem = S.lif_sequence(cl, 0.9, 1.0, "subtract", "atan", 2.0, mem0=ml)
    (spk.sum() + (mem * mem).sum()).backward()
    ct, mt0 = torch.tensor(cur, requires_grad=True), torch.tensor(m0, requires_grad=True)
    st, mt = _torch_lif(ct, torch.tensor(np.float32(0.9)), 1.0, "subtract", "atan", 2.0, mem0=mt0)
    (st.sum() + (mt * mt).sum()).backward()
    np.testing.assert_array_equal(spk.detach().numpy(), st.detach().numpy())
    np.testing.assert_array_equal(mem.detach().numpy(), mt.detach().numpy())  # same float32 op order: bitwise
    np.testing.assert_allclose(cl.grad.numpy(), ct.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ml.grad.numpy(), mt0.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_lif_fused_array_path_matches_numba(monkeypatch, reset):
    r = rng(8)
    cur = r.random((10, 4, 3)) * 0.7
    g = r.standard_normal(cur.shape)
    outs = []
    for numba in (True, False):
        monkeypatch.setattr(S, "_USE_NUMBA", numba)
        c = lamina.Tensor(cur).requires_grad_()
        beta = lamina.Tensor(np.array([0.5, 0.9, 0.99])).requires_grad_()
        spk, mem = S.lif_sequence(c, beta, reset=reset, surrogate="sigmoid", slope=4.0)
        outs.append([spk.detach().numpy(), mem.detach().numpy(),
                     *[x.numpy() for x in lamina.grad([spk, mem], [c, beta], [lamina.Tensor(g), lamina.Tensor(g)])]])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_lif_single_step_and_errors():
    lif = LIF(beta=0.5, threshold=1.0)
    spk, mem = lif(lamina.tensor([0.6, 1.2, 2.5]))
    np.testing.assert_array_equal(spk.numpy(), [0, 1, 1])
    spk, mem = lif(lamina.tensor([0.6, 0.0, 0.0]), mem)  # subtract reset of the neurons that fired
    np.testing.assert_allclose(mem.numpy(), [0.9, -0.4, 0.25])
    np.testing.assert_array_equal(spk.numpy(), [0, 0, 0])
    assert "beta=0.5" in repr(lif)
    with pytest.raises(ValueError, match="reset must be one of"):
        LIF(reset="soft")
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\]"):
        LIF(beta=1.5)
    with pytest.raises(ValueError, match="threshold"):
        LIF(threshold=0)
    with pytest.raises(ValueError, match="does not match"):
        lif(lamina.zeros(3), lamina.zeros(4))
    with pytest.raises(ValueError, match="per-neuron betas"):
        LIF(beta=[0.5, 0.6]).run(lamina.zeros(4, 2, 3))
    with pytest.raises(ValueError, match=r"\(T, batch"):
        lif.run(lamina.zeros(3))


# ---------------------------------------------------------------- encodings
def test_rate_encoding_seeded_and_rates():
    x = np.linspace(0, 1, 11, dtype=np.float32)[None].repeat(400, 0)
    a = rate(lamina.Tensor(x), 50, generator=lamina.Generator().manual_seed(3))
    b = RateEncoding(50, generator=lamina.Generator().manual_seed(3))(lamina.Tensor(x))
    assert a.shape == (50, 400, 11) and a.dtype == lamina.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(a.numpy().mean((0, 1)), x[0], atol=0.02)
    assert set(np.unique(a.numpy())) <= {0.0, 1.0}
    assert rate(x, 5, gain=0.0).sum() == 0 and isinstance(rate(x, 5), np.ndarray)
    with pytest.raises(ValueError, match="num_steps"):
        rate(x, 0)


def test_latency_encoding():
    x = np.array([[1.0, 0.2, 0.05, 0.0]], dtype=np.float32)
    s = latency(x, 20, tau=50, threshold=0.01)
    assert s.shape == (20, 1, 4)
    np.testing.assert_array_equal(s.sum(0), np.ones((1, 4)))  # exactly one spike each
    times = s.argmax(0)[0]
    assert times[0] < times[1] < times[2] and times[3] == 19  # brighter fires earlier; silent ones last
    expected = np.clip(np.rint(50 * np.log(x[0, :3] / (x[0, :3] - 0.01))), 0, 19)
    np.testing.assert_array_equal(times[:3], expected)
    np.testing.assert_array_equal(times, [1, 3, 11, 19])
    clipped = LatencyEncoding(20, tau=50, clip=True)(lamina.Tensor(x)).numpy()
    assert clipped[:, 0, 3].sum() == 0 and clipped.sum() == 3
    norm = latency(x, 10, tau=5, normalize=True)
    assert norm.argmax(0)[0, 2] == 9  # the latest firing pixel is stretched to the last step
    np.testing.assert_array_equal(norm.argmax(0)[0, :3], [0, 2, 9])
    lin = latency(x, 11, tau=10, linear=True)
    np.testing.assert_array_equal(lin.argmax(0)[0], [0, 8, 9, 10])  # t = tau (1 - x), rounded
