"""Transforms and TransformedDistribution (SAC's tanh-squashed Gaussian, relaxed distributions)
against torch.distributions (float64)."""
import math

import numpy as np
import pytest

import lamina
import lamina.distributions as D
from _dist_parity import pos, real
from helpers import gradcheck, parity

torch = pytest.importorskip("torch")
TD = torch.distributions
T = D.transforms

S = (2, 3)


def _both(make):
    return make(D.transforms), make(TD.transforms)


@pytest.mark.parametrize("name,x", [
    ("ExpTransform", real(S)), ("SigmoidTransform", real(S)), ("TanhTransform", real(S)),
    ("SoftplusTransform", real(S)), ("AbsTransform", real(S)),
])
def test_elementwise_transforms(name, x):
    def make(mod):
        def fn(x):
            t = getattr(mod, name)()
            y = t(x)
            out = [y]
            if name != "AbsTransform":
                out += [t.inv(y.detach() if hasattr(y, "detach") else y), t.log_abs_det_jacobian(x, y)]
            return tuple(out)
        return fn
    parity(make(T), x, torch_fn=make(TD.transforms), atol=1e-10, rtol=1e-8)


def test_elementwise_transform_gradcheck():
    for t in (T.TanhTransform(), T.SigmoidTransform(), T.SoftplusTransform(), T.ExpTransform()):
        gradcheck(lambda x: t.log_abs_det_jacobian(x, t(x)), real(S))
        gradcheck(lambda x: t.inv(t(x)), real(S) * 0.5)


def test_affine_and_power_transforms():
    def make(mod):
        def fn(loc, scale, x):
            t = mod.AffineTransform(loc, scale)
            y = t(x)
            return y, t.inv(y), t.log_abs_det_jacobian(x, y)
        return fn
    parity(make(T), real((3,)), real(S, 1), real(S, 2), torch_fn=make(TD.transforms), atol=1e-10)

    def make_ev(mod):
        def fn(scale, x):
            t = mod.AffineTransform(0.5, scale, event_dim=1)
            return t.log_abs_det_jacobian(x, t(x))
        return fn
    parity(make_ev(T), real(S, 1), real(S, 2), torch_fn=make_ev(TD.transforms), atol=1e-10)

    def make_pow(mod):
        def fn(x):
            t = mod.PowerTransform(2.5)
            y = t(x)
            return y, t.inv(y), t.log_abs_det_jacobian(x, y)
        return fn
    parity(make_pow(T), pos(S), torch_fn=make_pow(TD.transforms), atol=1e-10)
    t = T.AffineTransform(1.0, -2.0)
    assert t.sign == -1 and t.inv.sign == -1 and t.bijective


def test_compose_transform():
    def make(mod):
        def fn(x):
            t = mod.ComposeTransform([mod.AffineTransform(0.3, 2.0), mod.TanhTransform(), mod.AffineTransform(1.0, 3.0)])
            y = t(x)
            return y, t.inv(y), t.log_abs_det_jacobian(x, y)
        return fn
    parity(make(T), real(S) * 0.5, torch_fn=make(TD.transforms), atol=1e-9)
    c = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(0.0, 2.0)])
    assert c.inv.inv is c and c.bijective and repr(c.codomain) == "Real()"
    assert T.ComposeTransform([T.ExpTransform()]) == T.ComposeTransform([T.ExpTransform()])


def test_inverse_transform_cache_returns_the_forward_input():
    t = T.TanhTransform(cache_size=1)
    x = lamina.tensor([30.0, -40.0, 0.5], dtype=lamina.float64)
    y = t(x)
    assert t.inv(y) is x                     # cached: atanh(±1) would be inf
    assert np.isinf(T.TanhTransform().inv(y).numpy()[:2]).all()
    with pytest.raises(ValueError):
        T.ExpTransform(cache_size=2)


def test_transformed_distribution_log_prob_cdf_icdf():
    def make(mod):
        def fn(loc, scale, x, u):
            base = mod.Normal(loc, scale)
            d = mod.TransformedDistribution(base, [mod.transforms.AffineTransform(1.0, -2.0),
                                                   mod.transforms.ExpTransform()])
            return d.log_prob(x), d.cdf(x), d.icdf(u)
        return fn
    u = np.random.default_rng(3).uniform(0.1, 0.9, S)
    parity(make(D), real(S) * 0.3, pos(S, 1, 0.3, 1.0), pos(S, 2), u, torch_fn=make(TD), atol=1e-9)


def test_tanh_normal_sac_policy():
    """The SAC actor: a = tanh(u), u ~ N(mu, std); log pi(a) from the cached pre-tanh u."""
    mu_np, std_np = real((4, 2)), pos((4, 2), 1, 0.3, 1.0)

    mu, log_std = lamina.tensor(mu_np, requires_grad=True), lamina.tensor(np.log(std_np), requires_grad=True)
    lamina.manual_seed(0)
    pi = D.TransformedDistribution(D.Normal(mu, log_std.exp()), [D.transforms.TanhTransform(cache_size=1)])
    a = pi.rsample()
    logp = pi.log_prob(a).sum(-1)
    assert a.shape == (4, 2) and logp.shape == (4,)
    assert (np.abs(a.detach().numpy()) < 1).all() and np.isfinite(logp.detach().numpy()).all()
    (logp.sum() + a.sum()).backward()

    # the same pre-tanh noise in torch: u = mu + std * eps
    u = np.arctanh(a.detach().numpy())
    eps = (u - mu_np) / std_np
    tmu = torch.tensor(mu_np, requires_grad=True)
    tls = torch.tensor(np.log(std_np), requires_grad=True)
    tpi = TD.TransformedDistribution(TD.Normal(tmu, tls.exp()), [TD.transforms.TanhTransform(cache_size=1)])
    tu = tmu + tls.exp() * torch.tensor(eps)
    ta = torch.tanh(tu)
    tlogp = (tpi.base_dist.log_prob(tu) - tpi.transforms[0].log_abs_det_jacobian(tu, ta)).sum(-1)
    (tlogp.sum() + ta.sum()).backward()
    np.testing.assert_allclose(logp.detach().numpy(), tlogp.detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(mu.grad.numpy(), tmu.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(log_std.grad.numpy(), tls.grad.numpy(), atol=1e-6)


def test_tanh_normal_log_prob_matches_torch_on_given_actions():
    def make(mod):
        def fn(mu, std, a):
            d = mod.TransformedDistribution(mod.Normal(mu, std), [mod.transforms.TanhTransform()])
            return d.log_prob(a)
        return fn
    a = np.tanh(real(S, 4))
    parity(make(D), real(S), pos(S), a, torch_fn=make(TD), atol=1e-8)


def test_transformed_distribution_shapes_and_support():
    d = D.TransformedDistribution(D.Normal(lamina.zeros(3), lamina.ones(3)), D.transforms.SigmoidTransform())
    assert d.batch_shape == (3,) and d.event_shape == () and d.has_rsample
    assert repr(d.support) == "Interval(lower_bound=0.0, upper_bound=1.0)"
    assert d.sample((5, 2)).shape == (5, 2, 3)
    e = d.expand((4, 3))
    assert e.batch_shape == (4, 3) and e.sample().shape == (4, 3)
    iv = D.TransformedDistribution(D.Normal(lamina.zeros(2, 3), lamina.ones(2, 3)),
                                   D.transforms.IndependentTransform(D.transforms.ExpTransform(), 1))
    assert iv.batch_shape == (2,) and iv.event_shape == (3,)
    assert iv.log_prob(iv.sample()).shape == (2,)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_relaxed_bernoulli(param):
    p = pos(S, 0, 0.1, 0.9) if param == "probs" else real(S)
    x = pos(S, 1, 0.05, 0.95)

    def make(mod):
        def fn(temp, p, x):
            d = mod.RelaxedBernoulli(temp, **{param: p})
            return d.log_prob(x), d.base_dist.log_prob(d.transforms[0].inv(x))
        return fn
    parity(make(D), np.array(0.7), p, x, torch_fn=make(TD), atol=1e-9)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_relaxed_one_hot_categorical(param):
    p = np.random.default_rng(0).dirichlet(np.ones(4), 2) if param == "probs" else real((2, 4))
    x = np.random.default_rng(1).dirichlet(np.ones(4) * 2, (3, 2))

    def make(mod):
        def fn(temp, p, x):
            return mod.RelaxedOneHotCategorical(temp, **{param: p}).log_prob(x)
        return fn
    parity(make(D), np.array(0.5), p, x, torch_fn=make(TD), atol=1e-9)


def test_relaxed_samples_and_gradients():
    logits = lamina.tensor(real((2, 4)), requires_grad=True)
    d = D.RelaxedOneHotCategorical(lamina.tensor(0.5, dtype=lamina.float64), logits=logits)
    y = d.rsample((3,))
    assert y.shape == (3, 2, 4)
    np.testing.assert_allclose(y.detach().numpy().sum(-1), 1.0, atol=1e-12)
    (y[..., 0]).sum().backward()
    assert logits.grad is not None and np.abs(logits.grad.numpy()).sum() > 0
    b = D.RelaxedBernoulli(0.3, logits=lamina.tensor(real((5,))))
    s = b.rsample((100,)).numpy()
    assert s.shape == (100, 5) and ((s > 0) & (s < 1)).all()
    cold = D.RelaxedBernoulli(0.01, probs=lamina.tensor([0.2] * 4000, dtype=lamina.float64)).sample().numpy()
    assert abs((cold > 0.5).mean() - 0.2) < 0.03   # low temperature: close to Bernoulli(0.2) draws


def test_lognormal_and_gumbel_are_transformed_distributions():
    assert isinstance(D.LogNormal(0.0, 1.0), D.TransformedDistribution)
    assert isinstance(D.Gumbel(0.0, 1.0), D.TransformedDistribution)
    assert isinstance(D.HalfNormal(1.0), D.TransformedDistribution)
    assert math.isclose(D.LogNormal(0.0, 1.0).mean.item(), math.exp(0.5), rel_tol=1e-6)
