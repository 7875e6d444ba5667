"""The code RL and VAE scripts write with torch.distributions, run with lamina: a PPO/A2C policy
loss on a Categorical policy, a Gaussian policy for continuous actions, and a VAE's ELBO; the
losses and parameter gradients match torch with the same weights."""
import numpy as np
import pytest

import lamina
import lamina.distributions as D
from lamina import nn

torch = pytest.importorskip("torch")
TD = torch.distributions


def _twin(in_f, out_f, seed):
    """An nn.Linear in lamina and torch with the same float64 weights."""
    r = np.random.default_rng(seed)
    w, b = r.standard_normal((out_f, in_f)) * 0.3, r.standard_normal(out_f) * 0.1
    lin = nn.Linear(in_f, out_f)
    lin.weight.data = lamina.tensor(w)
    lin.bias.data = lamina.tensor(b)
    tl = torch.nn.Linear(in_f, out_f).double()
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(w))
        tl.bias.copy_(torch.tensor(b))
    return lin, tl


def _grads_match(lin, tl, rtol=1e-9):
    np.testing.assert_allclose(lin.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(lin.bias.grad.numpy(), tl.bias.grad.numpy(), rtol=rtol, atol=1e-12)


def test_ppo_clipped_objective_with_categorical_policy():
    obs = np.random.default_rng(0).standard_normal((8, 5))
    lin, tl = _twin(5, 3, 1)
    lamina.manual_seed(0)
    with lamina.no_grad():
        old = D.Categorical(logits=lin(lamina.tensor(obs)))
        actions = old.sample()
        old_logp = old.log_prob(actions)
    assert actions.shape == (8,) and actions.dtype == lamina.int64
    adv = np.random.default_rng(2).standard_normal(8)

    def loss(mod, lib, layer, x, a, old_lp, advantages):
        pi = mod.Categorical(logits=layer(x) * 1.1)     # the policy moved a little since the rollout
        ratio = (pi.log_prob(a) - old_lp).exp()
        clipped = lib.clamp(ratio, 0.8, 1.2)
        surrogate = -lib.minimum(ratio * advantages, clipped * advantages).mean()
        return surrogate - 0.01 * pi.entropy().mean()

    lv = loss(D, lamina, lin, lamina.tensor(obs), actions, old_logp, lamina.tensor(adv))
    lv.backward()
    tv = loss(TD, torch, tl, torch.tensor(obs), torch.tensor(actions.numpy()), torch.tensor(old_logp.numpy()),
              torch.tensor(adv))
    tv.backward()
    np.testing.assert_allclose(lv.item(), tv.item(), rtol=1e-10)
    _grads_match(lin, tl)


def test_single_environment_step_sampling():
    pi = D.Categorical(logits=lamina.tensor([0.1, 2.0, -1.0]))
    a = pi.sample()
    assert a.shape == () and isinstance(a.item(), int) and 0 <= a.item() < 3
    assert pi.log_prob(a).shape == ()


def test_gaussian_policy_log_prob_and_entropy_sum_over_action_dims():
    obs = np.random.default_rng(0).standard_normal((6, 4))
    act = np.random.default_rng(1).standard_normal((6, 2))
    lin, tl = _twin(4, 2, 3)
    log_std_np = np.array([-0.5, 0.2])

    def loss(mod, layer, x, a, log_std):
        pi = mod.Normal(layer(x), log_std.exp())
        return -(pi.log_prob(a).sum(-1)).mean() - 0.01 * pi.entropy().sum(-1).mean()

    ls = lamina.tensor(log_std_np, requires_grad=True)
    lv = loss(D, lin, lamina.tensor(obs), lamina.tensor(act), ls)
    lv.backward()
    tls = torch.tensor(log_std_np, requires_grad=True)
    tv = loss(TD, tl, torch.tensor(obs), torch.tensor(act), tls)
    tv.backward()
    np.testing.assert_allclose(lv.item(), tv.item(), rtol=1e-10)
    _grads_match(lin, tl)
    np.testing.assert_allclose(ls.grad.numpy(), tls.grad.numpy(), rtol=1e-10)


def test_vae_elbo_with_bernoulli_decoder():
    x_np = (np.random.default_rng(0).random((4, 6)) < 0.4).astype(np.float64)
    enc, tenc = _twin(6, 4, 1)     # -> mu (2) and log_var (2)
    dec, tdec = _twin(2, 6, 2)
    eps = np.random.default_rng(3).standard_normal((4, 2))

    def elbo(mod, lib, e, d, x, noise):
        h = e(x)
        mu, log_var = h[:, :2], h[:, 2:]
        q = mod.Normal(mu, (log_var * 0.5).exp())
        z = mu + (log_var * 0.5).exp() * noise          # q.rsample() with fixed noise
        recon = mod.Bernoulli(logits=d(z)).log_prob(x).sum(-1)
        kl = mod.kl_divergence(q, mod.Normal(lib.zeros_like(mu), lib.ones_like(mu))).sum(-1)
        return -(recon - kl).mean()

    lv = elbo(D, lamina, enc, dec, lamina.tensor(x_np), lamina.tensor(eps))
    lv.backward()
    tv = elbo(TD, torch, tenc, tdec, torch.tensor(x_np), torch.tensor(eps))
    tv.backward()
    np.testing.assert_allclose(lv.item(), tv.item(), rtol=1e-10)
    _grads_match(enc, tenc)
    _grads_match(dec, tdec)


def test_vae_rsample_reaches_the_encoder():
    enc, _ = _twin(6, 4, 1)
    h = enc(lamina.tensor(np.ones((3, 6))))
    q = D.Normal(h[:, :2], (h[:, 2:] * 0.5).exp())
    z = q.rsample()
    assert z.requires_grad and z.shape == (3, 2)
    (z * z).sum().backward()
    assert enc.weight.grad is not None and np.abs(enc.weight.grad.numpy()).sum() > 0
    assert not q.sample().requires_grad


def test_reprs():
    assert repr(D.Normal(lamina.zeros(2), lamina.ones(2))) == "Normal(loc: (2,), scale: (2,))"
    assert repr(D.Exponential(1.0)) == "Exponential(rate: 1.0)"
    assert repr(D.constraints.positive) == "GreaterThan(lower_bound=0.0)"
    assert repr(D.Categorical(logits=lamina.zeros(3)).support) == "IntegerInterval(lower_bound=0, upper_bound=2)"


def test_sampling_first_keeps_gradients_of_derived_parameters():
    logits_np = np.random.default_rng(0).standard_normal((2, 4))
    for cls in (D.Categorical, D.Bernoulli, D.Geometric):
        l1 = lamina.tensor(logits_np, requires_grad=True)
        d = cls(logits=l1)
        d.sample((3,))                                # computes probs under no_grad
        (d.entropy().sum() + d.probs.sum()).backward()
        l2 = lamina.tensor(logits_np, requires_grad=True)
        e = cls(logits=l2)
        (e.entropy().sum() + e.probs.sum()).backward()
        np.testing.assert_allclose(l1.grad.numpy(), l2.grad.numpy(), rtol=1e-12, err_msg=cls.__name__)


def test_second_derivatives_for_trpo_style_hessian_vector_products():
    from helpers import gradgradcheck

    r = np.random.default_rng(0)
    mu, sd = r.standard_normal(3), r.uniform(0.5, 1.5, 3)
    gradgradcheck(lambda m, s: D.kl_divergence(D.Normal(m, s), D.Normal(lamina.tensor(mu), lamina.tensor(sd))),
                  mu + 0.1, sd * 1.1)
    logits = r.standard_normal((2, 4))
    gradgradcheck(lambda l: D.kl_divergence(D.Categorical(logits=lamina.tensor(logits)), D.Categorical(logits=l)),
                  logits + 0.2)
    tril = np.array([[1.0, 0.0], [0.3, 0.8]])
    x = r.standard_normal((3, 2))
    gradgradcheck(lambda m, l: D.MultivariateNormal(m, scale_tril=l.tril()).log_prob(lamina.tensor(x)),
                  r.standard_normal(2), tril)
    gradgradcheck(lambda l: D.Bernoulli(logits=l).log_prob(lamina.tensor([0.0, 1.0, 1.0])), r.standard_normal(3))
