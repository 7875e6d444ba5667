"""normalize / rms_norm / local_response_norm (+ RMSNorm, LocalResponseNorm), gumbel_softmax,
alpha dropout (+ modules), cosine_similarity's eps, one_hot: torch parity, gradchecks, statistics."""
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


# ---------------------------------------------------------------- normalize
@pytest.mark.parametrize("kw", [{}, {"p": 1.0}, {"p": 3.0, "dim": 0}, {"dim": -1, "eps": 0.5}, {"p": np.inf}])
def test_normalize(kw):
    x = rng(0).standard_normal((4, 5))
    x[1] = 0.0                                # a zero row: the eps clamp keeps it finite (and its gradient)
    x[2] *= 1e-3
    gradcheck(lambda a: F.normalize(a, **kw), np.delete(x, 1, 0))
    parity(lambda a: F.normalize(a, **kw), x, torch_fn=lambda a: TF.normalize(a, **kw), atol=1e-10, rtol=1e-9)
    parity(lambda a: F.normalize(a, **kw), x.astype(np.float32), torch_fn=lambda a: TF.normalize(a, **kw))


# ---------------------------------------------------------------- rms norm
@pytest.mark.parametrize("shape,norm_shape", [((3, 4), (4,)), ((2, 3, 4), (3, 4)), ((2, 3, 4), 4)])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm(shape, norm_shape, eps, weighted):
    r = rng(1)
    x = r.standard_normal(shape)
    ns = (norm_shape,) if isinstance(norm_shape, int) else norm_shape
    if weighted:
        w = r.uniform(0.5, 1.5, ns)
        gradcheck(lambda a, b: F.rms_norm(a, norm_shape, b, eps), x, w)
        for dt in (np.float32, np.float64):
            parity(lambda a, b: F.rms_norm(a, norm_shape, b, eps), x.astype(dt), w.astype(dt),
                   torch_fn=lambda a, b: TF.rms_norm(a, ns, b, eps))
    else:
        gradcheck(lambda a: F.rms_norm(a, norm_shape, None, eps), x)
        gradgradcheck(lambda a: F.rms_norm(a, norm_shape, None, eps), x)
        parity(lambda a: F.rms_norm(a, norm_shape, None, eps), x.astype(np.float32),
               torch_fn=lambda a: TF.rms_norm(a, ns, None, eps))


def test_rmsnorm_module():
    for kw in ({"normalized_shape": 6}, {"normalized_shape": [2, 3], "eps": 1e-3, "elementwise_affine": False}):
        m, tm = nn.RMSNorm(**kw), tnn.RMSNorm(**kw)
        assert repr(m) == repr(tm)
        assert list(m.state_dict()) == list(tm.state_dict())
        x = rng(2).standard_normal((4, 2, 3)).astype(np.float32)
        if m.weight is not None:
            np.testing.assert_array_equal(m.weight.detach().numpy(), 1.0)
            with lamina.no_grad():
                m.weight.copy_(lamina.tensor(np.linspace(0.5, 1.5, 6).astype(np.float32)))
            with torch.no_grad():
                tm.weight.copy_(torch.tensor(np.linspace(0.5, 1.5, 6).astype(np.float32)))
            x = x.reshape(4, 6)
        parity(lambda a: m(a), x, torch_fn=lambda a: tm(a))
        if m.weight is not None:
            out = m(lamina.tensor(x))
            out.sum().backward()
            tout = tm(torch.tensor(x))
            tout.sum().backward()
            np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        nn.RMSNorm(5)(lamina.randn(2, 4))
    with pytest.raises(RuntimeError):
        tnn.RMSNorm(5)(torch.randn(2, 4))


# ---------------------------------------------------------------- local response norm
@pytest.mark.parametrize("shape", [(2, 7, 3), (2, 7, 3, 2), (1, 5, 2, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm(shape, size):
    x = rng(3).standard_normal(shape)
    kw = {"alpha": 0.3, "beta": 0.7, "k": 1.5}
    gradcheck(lambda a: F.local_response_norm(a, size, **kw), x)
    parity(lambda a: F.local_response_norm(a, size, **kw), x, torch_fn=lambda a: TF.local_response_norm(a, size, **kw),
           atol=1e-10, rtol=1e-9)


def test_local_response_norm_module():
    m, tm = nn.LocalResponseNorm(3, alpha=1e-2), tnn.LocalResponseNorm(3, alpha=1e-2)
    assert repr(m) == repr(tm)
    parity(lambda a: m(a), rng(4).standard_normal((2, 6, 3, 3)).astype(np.float32), torch_fn=lambda a: tm(a))
    with pytest.raises(ValueError):
        F.local_response_norm(lamina.randn(3, 4), 2)


# ---------------------------------------------------------------- gumbel softmax
def test_gumbel_softmax_distribution_follows_softmax():
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    x = lamina.tensor(np.tile(logits, (20000, 1)))
    y = F.gumbel_softmax(x, tau=0.5, hard=True).numpy()
    np.testing.assert_array_equal(y.sum(1), 1.0)
    assert set(np.unique(y)) == {0.0, 1.0}
    freq = y.mean(0)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)   # the Gumbel-max trick
    soft = F.gumbel_softmax(x, tau=1.0).numpy()
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-10)
    assert (soft > 0).all() and (soft < 1).all()


def test_gumbel_softmax_uses_lamina_generator_and_dim():
    x = lamina.randn(3, 5, 4)
    lamina.manual_seed(11)
    a = F.gumbel_softmax(x, dim=1).numpy()
    lamina.manual_seed(11)
    b = F.gumbel_softmax(x, dim=1).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-6)
    g = lamina.Generator().manual_seed(3)
    c = F.gumbel_softmax(x, dim=1, generator=g).numpy()
    assert not np.allclose(a, c)


def test_gumbel_softmax_gradients():
    """Soft: the gradient of softmax((x + g) / tau); hard: straight-through, the same gradient."""
    x = rng(5).standard_normal((3, 4))
    tau = 0.7
    for hard in (False, True):
        g1 = lamina.Generator().manual_seed(9)
        xl = lamina.tensor(x, requires_grad=True)
        y = F.gumbel_softmax(xl, tau=tau, hard=hard, generator=g1)
        w = rng(6).standard_normal((3, 4))
        (y * lamina.tensor(w)).sum().backward()
        # recompute with the same noise: z = (x + gumbel) / tau
        e = np.asarray(lamina.Generator().manual_seed(9).numpy.standard_exponential((3, 4)))
        z = torch.tensor((x - np.log(e)) / tau, requires_grad=True)
        soft = torch.softmax(z, -1)
        (soft * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(xl.grad.numpy(), z.grad.numpy() / tau, rtol=1e-10)
        if hard:
            np.testing.assert_array_equal(y.detach().numpy(), TF.one_hot(soft.argmax(-1), 4).numpy())
        else:
            np.testing.assert_allclose(y.detach().numpy(), soft.detach().numpy(), rtol=1e-12)
    gradcheck(lambda a: F.gumbel_softmax(a, tau=0.5, generator=lamina.Generator().manual_seed(1)), x)
    with pytest.warns(UserWarning, match="deprecated"):
        F.gumbel_softmax(lamina.tensor(x), eps=1e-3)


# ---------------------------------------------------------------- alpha dropout
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_keeps_selu_statistics(p):
    x = lamina.randn(400, 500, dtype=lamina.float64)
    y = F.alpha_dropout(x, p, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1.0) < 0.01
    t = torch.nn.functional.alpha_dropout(torch.tensor(x.numpy()), p, training=True).numpy()
    a = 1.0 / np.sqrt((1.7580993408473766 ** 2 * p + 1) * (1 - p))
    dropped = np.isclose(y, -1.7580993408473766 * a + 1.7580993408473766 * a * p)
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(y[~dropped], a * x.numpy()[~dropped] + 1.7580993408473766 * a * p, rtol=1e-12)
    t_dropped = np.isclose(t, -1.7580993408473766 * a + 1.7580993408473766 * a * p)
    np.testing.assert_allclose(t[~t_dropped], a * x.numpy()[~t_dropped] + 1.7580993408473766 * a * p, rtol=1e-12)


def test_alpha_dropout_gradient_and_eval():
    x = lamina.randn(6, 7, requires_grad=True)
    y = F.alpha_dropout(x, 0.3, training=True)
    y.sum().backward()
    kept = ~np.isclose(y.detach().numpy(), y.detach().numpy().min())
    a = 1.0 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, a, 0.0), rtol=1e-6)
    assert F.alpha_dropout(x, 0.3) is x                      # the function's default is training=False
    np.testing.assert_array_equal(F.alpha_dropout(x, 1.0, training=True).detach().numpy(), 0.0)
    gradcheck(lambda v: F.alpha_dropout(v, 0.4, training=True, generator=lamina.Generator().manual_seed(2)),
              rng(7).standard_normal((3, 4)))


def test_feature_alpha_dropout_drops_channels():
    x = lamina.randn(8, 16, 5, 5)
    y = F.feature_alpha_dropout(x, 0.5, training=True).numpy()
    per_channel = y.reshape(8, 16, -1)
    const = np.all(per_channel == per_channel[..., :1], axis=2)
    assert 0.25 < const.mean() < 0.75                         # whole channels set to one value
    with pytest.raises(RuntimeError):
        F.feature_alpha_dropout(lamina.randn(5), 0.5, training=True)


def test_alpha_dropout_modules():
    for name in ("AlphaDropout", "FeatureAlphaDropout"):
        m, tm = getattr(nn, name)(0.2), getattr(tnn, name)(0.2)
        assert repr(m) == repr(tm)
        x = lamina.randn(4, 3, 2, 2)
        assert not np.allclose(m.train()(x).numpy(), x.numpy())
        assert m.eval()(x) is x
    with pytest.raises(ValueError):
        nn.AlphaDropout(1.5)
    with pytest.raises(ValueError):
        F.alpha_dropout(lamina.randn(3), -0.1)


# ---------------------------------------------------------------- cosine_similarity / one_hot
@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_cosine_similarity_eps(eps):
    """torch clamps each norm separately: x.y / (max(|x|, eps) max(|y|, eps))."""
    r = rng(8)
    a, b = r.standard_normal((5, 3)), r.standard_normal((5, 3))
    a[0] *= 1e-3
    b[1] = 0.0
    parity(lambda u, v: F.cosine_similarity(u, v, 1, eps), a, b,
           torch_fn=lambda u, v: TF.cosine_similarity(u, v, 1, eps), atol=1e-10, rtol=1e-9)
    parity(lambda u, v: F.cosine_similarity(u, v, 0, eps), a, b[:1],
           torch_fn=lambda u, v: TF.cosine_similarity(u, v, 0, eps), atol=1e-10, rtol=1e-9)


def test_one_hot_exists():
    np.testing.assert_array_equal(F.one_hot(lamina.tensor([0, 2]), 3).numpy(),
                                  TF.one_hot(torch.tensor([0, 2]), 3).numpy())
