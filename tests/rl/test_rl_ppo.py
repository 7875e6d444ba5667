"""PPO: the clipped objective and its gradient (hand values, a torch reference), the actor-critic's
log-probabilities/entropies against torch.distributions, acting, quick learning on CartPole,
continuous actions, and bitwise-exact resume."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import lamina  # noqa: E402
from lamina.rl import PPO, ActorCritic, StopAtStep, load_agent, ppo_loss  # noqa: E402
from lamina.tensor import Tensor  # noqa: E402

torch = pytest.importorskip("torch")

BOX4 = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)


def _leaf(a):
    return lamina.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_ppo_clip_hand_computed():
    # ratios 1.5, 0.5, 1.1, 0.7 with advantages 1, 1, -1, -1 and ε = 0.2:
    # min(ρA, clip(ρ)A) = 1.2 (clipped), 0.5, -1.1, -0.8 (clipped) -> L = -(1.2 + .5 - 1.1 - .8)/4 = 0.05
    # dL/dlog π = -ρA/4 where not clipped: [0, -0.125, 0.275, 0]
    ratio = np.array([1.5, 0.5, 1.1, 0.7])
    lp = _leaf(np.log(ratio))
    adv = np.array([1.0, 1.0, -1.0, -1.0])
    v = _leaf(np.zeros(4))
    loss, parts = ppo_loss(lp, np.zeros(4), adv, v, np.zeros(4), np.zeros(4), None, 0.2, vf_coef=0.0)
    assert loss.item() == pytest.approx(0.05 + 0.0 * np.mean(np.log(ratio)), abs=1e-12)
    loss.backward()
    np.testing.assert_allclose(lp.grad.detach().numpy(), [0.0, -0.125, 0.275, 0.0], atol=1e-12)
    assert parts["clip_fraction"] == pytest.approx(0.75)  # 1.5, 0.5 and 0.7 are outside [0.8, 1.2]


def _torch_ppo_loss(lp, olp, adv, v, ov, ret, ent, clip, clip_vf, c_h, c_v):
    ratio = torch.exp(lp - olp)
    pg = -torch.min(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv).mean()
    if clip_vf is None:
        vl = ((v - ret) ** 2).mean()
    else:
        vc = ov + torch.clamp(v - ov, -clip_vf, clip_vf)
        vl = torch.max((v - ret) ** 2, (vc - ret) ** 2).mean()
    el = -ent.mean() if ent is not None else lp.mean()
    return pg + c_h * el + c_v * vl


@pytest.mark.parametrize("clip_vf", [None, 0.1])
@pytest.mark.parametrize("with_entropy", [True, False])
def test_ppo_loss_and_gradient_match_torch(clip_vf, with_entropy):
    rng = np.random.default_rng(0)
    B = 64
    olp = rng.normal(-1.0, 0.3, B)
    lp0 = olp + rng.normal(0, 0.3, B)          # ratios well inside and outside [0.8, 1.2]
    adv, ret = rng.normal(size=B), rng.normal(size=B)
    ov = rng.normal(size=B)
    v0 = ov + rng.normal(0, 0.2, B)
    ent0 = rng.random(B)
    lp, v, ent = _leaf(lp0), _leaf(v0), _leaf(ent0)
    loss, _ = ppo_loss(lp, olp, adv, v, ov, ret, ent if with_entropy else None, 0.2, clip_vf, 0.01, 0.5)
    loss.backward()
    tl = [torch.tensor(a, requires_grad=True) for a in (lp0, v0, ent0)]
    T = [torch.tensor(a) for a in (olp, adv, ov, ret)]
    ref = _torch_ppo_loss(tl[0], T[0], T[1], tl[1], T[2], T[3], tl[2] if with_entropy else None, 0.2, clip_vf,
                          0.01, 0.5)
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), abs=1e-12)
    np.testing.assert_allclose(lp.grad.detach().numpy(), tl[0].grad.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(v.grad.detach().numpy(), tl[1].grad.detach().numpy(), atol=1e-12)
    if with_entropy:
        np.testing.assert_allclose(ent.grad.detach().numpy(), tl[2].grad.detach().numpy(), atol=1e-12)


def _torch_mlp(net):
    """The lamina Sequential's Linear weights as float64 torch leaves, in order."""
    import lamina.nn as nn
    return [(torch.tensor(m.weight.detach().numpy(), dtype=torch.float64, requires_grad=True),
             torch.tensor(m.bias.detach().numpy(), dtype=torch.float64, requires_grad=True)) for m in net if isinstance(m, nn.Linear)]


def _torch_forward(layers, x):
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if i < len(layers) - 1:
            x = torch.tanh(x)
    return x


@pytest.mark.parametrize("kind", ["discrete", "clip", "tanh"])
def test_actor_critic_loss_gradient_matches_torch(kind):
    """log π, entropy, V and the gradient of the whole PPO loss w.r.t. every network weight."""
    lamina.set_default_dtype(lamina.float64)
    if kind == "discrete":
        space = gym.spaces.Discrete(3)
    else:
        space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
    pol = ActorCritic(BOX4, space, hidden=(8, 8), squash="tanh" if kind == "tanh" else "clip", log_std_init=-0.3)
    rng = np.random.default_rng(1)
    B = 16
    obs = rng.normal(size=(B, 4))
    acts = rng.integers(0, 3, B) if kind == "discrete" else rng.normal(size=(B, 2))
    olp, adv, ov, ret = rng.normal(-1, 0.3, B), rng.normal(size=B), rng.normal(size=B), rng.normal(size=B)
    lp, ent, v = pol.evaluate_actions(lamina.tensor(obs), lamina.tensor(acts))
    loss, _ = ppo_loss(lp, olp, adv, v, ov, ret, ent, 0.2, 0.1, 0.01, 0.5)
    pol.zero_grad()
    loss.backward()

    pi_l, vf_l = _torch_mlp(pol.pi_net), _torch_mlp(pol.vf_net)
    x = torch.tensor(obs)
    out, tv = _torch_forward(pi_l, x), _torch_forward(vf_l, x)[:, 0]
    if kind == "discrete":
        d = torch.distributions.Categorical(logits=out)
        tlp, tent = d.log_prob(torch.tensor(acts)), d.entropy()
        params = [p for wb in pi_l + vf_l for p in wb]
    else:
        log_std = torch.tensor(pol.log_std.detach().numpy(), requires_grad=True)
        d = torch.distributions.Normal(out, log_std.exp())
        u = torch.tensor(acts)
        tlp = d.log_prob(u).sum(-1)
        tent = d.entropy().sum(-1)
        if kind == "tanh":
            tlp = tlp - torch.log(1 - torch.tanh(u) ** 2).sum(-1)
            tent = None
        params = [p for wb in pi_l + vf_l for p in wb] + [log_std]
    np.testing.assert_allclose(lp.detach().numpy(), tlp.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(v.detach().numpy(), tv.detach().numpy(), rtol=1e-10, atol=1e-10)
    if tent is None:
        assert ent is None
    else:
        np.testing.assert_allclose(ent.detach().numpy(), tent.detach().numpy(), rtol=1e-10, atol=1e-10)
    ref = _torch_ppo_loss(tlp, torch.tensor(olp), torch.tensor(adv), tv, torch.tensor(ov), torch.tensor(ret), tent,
                          0.2, 0.1, 0.01, 0.5)
    ref.backward()
    mine = [p for m in (pol.pi_net, pol.vf_net) for p in m.parameters()]
    if kind != "discrete":
        mine.append(pol.log_std)
    assert len(mine) == len(params)
    for a, b in zip(mine, params):
        np.testing.assert_allclose(a.grad.detach().numpy(), b.grad.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["discrete", "clip", "tanh"])
def test_act_matches_evaluate_actions(kind):
    space = gym.spaces.Discrete(3) if kind == "discrete" else gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    pol = ActorCritic(BOX4, space, squash="tanh" if kind == "tanh" else "clip", ortho_init=False)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(32, 4)).astype(np.float32)
    env_a, a, logp, v = pol.act(obs, rng)
    lp, _, tv = pol.evaluate_actions(lamina.tensor(obs), Tensor._wrap(a))
    np.testing.assert_allclose(logp, lp.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(v, tv.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert np.array_equal(pol.predict_values(obs), v)
    det = pol.act(obs, None, deterministic=True)[0]
    pi_out, _ = pol(lamina.tensor(obs))
    if kind == "discrete":
        assert env_a.dtype == np.int64 and set(env_a.tolist()) <= {0, 1, 2}
        assert np.array_equal(det, pi_out.detach().numpy().argmax(-1))
    else:
        assert env_a.shape == (32, 2) and env_a.dtype == np.float32
        assert env_a.min() >= -1.0 and env_a.max() <= 1.0
        mean = pi_out.detach().numpy()
        expect = np.tanh(mean) if kind == "tanh" else np.clip(mean, -1, 1)
        np.testing.assert_allclose(det, expect, rtol=1e-5, atol=1e-6)


def test_categorical_sampling_frequencies():
    pol = ActorCritic(BOX4, gym.spaces.Discrete(3), ortho_init=False)
    obs = np.zeros((4000, 4), np.float32)
    logits = pol(lamina.tensor(obs[:1]))[0].detach().numpy()[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    a = pol.act(obs, np.random.default_rng(0))[1]
    freq = np.bincount(a, minlength=3) / len(a)
    np.testing.assert_allclose(freq, p, atol=0.03)


def test_unsupported_action_space():
    with pytest.raises(ValueError, match="not supported"):
        ActorCritic(BOX4, gym.spaces.MultiBinary(3))
    with pytest.raises(ValueError, match="squash"):
        ActorCritic(BOX4, gym.spaces.Discrete(2), squash="sigmoid")
    with pytest.raises(ValueError, match="batch_size"):
        PPO("CartPole-v1", batch_size=0)
    with pytest.raises(ValueError, match="n_steps"):
        PPO("CartPole-v1", n_steps=0)


def test_ppo_learns_cartpole_quickly():
    agent = PPO("CartPole-v1", n_envs=8, n_steps=32, batch_size=256, n_epochs=10, gamma=0.98, gae_lambda=0.8,
                learning_rate=3e-3, anneal_lr=False, seed=0)
    agent.learn(6144)
    assert agent.stats.mean_return > 30        # last 100 training episodes; a random policy gets ~20
    mean, _ = agent.evaluate("CartPole-v1", episodes=5)
    assert mean > 150                          # deterministic policy; ~10-40 before training


def test_ppo_pendulum_runs_in_bounds():
    agent = PPO("Pendulum-v1", n_envs=2, n_steps=64, batch_size=64, n_epochs=2, seed=0,
                policy_kwargs={"squash": "tanh", "hidden": [16]})
    agent.learn(256)
    assert agent.num_timesteps == 256 and np.isfinite(agent.train_info["policy_loss"])
    a = agent.predict(np.zeros((5, 3), np.float32), deterministic=False)
    assert a.shape == (5, 1) and np.all(np.abs(a) <= 2.0)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_ppo_resume_is_bitwise_identical(env_id, tmp_path):
    kw = dict(n_envs=2, n_steps=16, batch_size=16, n_epochs=2, seed=3, policy_kwargs={"hidden": [16]},
              clip_range_vf=0.2, ent_coef=0.01)
    total = 160
    full = PPO(env_id, **kw).learn(total)
    part = PPO(env_id, **kw).learn(total, callback=StopAtStep(70))  # stops mid-rollout
    assert part.num_timesteps == 70 and part.buffer.pos == 3
    path = tmp_path / "ppo.safetensors"
    part.save(path)
    resumed = load_agent(path)
    assert isinstance(resumed, PPO) and resumed.num_timesteps == 70
    resumed.learn(total)
    assert resumed.num_timesteps == full.num_timesteps == total
    for (k, a), b in zip(full.policy.state_dict().items(), resumed.policy.state_dict().values()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy()), k
    sa, sb = full.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    for i in sa:
        assert np.array_equal(sa[i]["exp_avg_sq"].detach().numpy(), sb[i]["exp_avg_sq"].detach().numpy())
    assert np.array_equal(full._obs, resumed._obs)
    assert full.stats.episodes == resumed.stats.episodes
