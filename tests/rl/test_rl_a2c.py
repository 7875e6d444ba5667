"""A2C: the actor-critic loss and its gradient (hand values and a torch reference), quick learning
on CartPole, and bitwise-exact resume."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import lamina  # noqa: E402
from lamina.rl import A2C, StopAtStep, a2c_loss, load_agent  # noqa: E402


def _leaf(a):
    return lamina.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_a2c_loss_hand_computed():
    # L = -mean(A log π) + 0.5 mean((V - R)²) + 0.1 (-mean H)
    lp, v, ent = _leaf([-0.5, -1.0]), _leaf([1.0, 2.0]), _leaf([0.6, 0.4])
    loss, parts = a2c_loss(lp, np.array([2.0, -1.0]), v, np.array([0.0, 4.0]), ent, ent_coef=0.1, vf_coef=0.5)
    # policy: -(2*-0.5 + -1*-1)/2 = 0;  value: (1 + 4)/2 = 2.5;  entropy: -0.5
    assert parts["policy_loss"] == pytest.approx(0.0) and parts["value_loss"] == pytest.approx(2.5)
    assert loss.item() == pytest.approx(0.0 + 0.5 * 2.5 - 0.1 * 0.5)
    loss.backward()
    np.testing.assert_allclose(lp.grad.numpy(), [-1.0, 0.5])          # -A / B
    np.testing.assert_allclose(v.grad.numpy(), [0.5, -1.0])           # c_V * 2 (V - R) / B
    np.testing.assert_allclose(ent.grad.numpy(), [-0.05, -0.05])


def test_a2c_loss_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = [rng.normal(size=32) for _ in range(5)]
    lp, v, ent = _leaf(a[0]), _leaf(a[1]), _leaf(a[2])
    loss, _ = a2c_loss(lp, a[3], v, a[4], ent, 0.01, 0.25)
    loss.backward()
    t = [torch.tensor(x, requires_grad=True) for x in a[:3]]
    adv, ret = torch.tensor(a[3]), torch.tensor(a[4])
    ref = -(adv * t[0]).mean() + 0.25 * ((t[1] - ret) ** 2).mean() - 0.01 * t[2].mean()
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), abs=1e-12)
    for mine, theirs in zip((lp, v, ent), t):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), atol=1e-12)


def test_a2c_learns_cartpole_quickly():
    agent = A2C("CartPole-v1", n_envs=8, learning_rate=2e-3, seed=0)
    agent.learn(8000)
    assert agent.n_updates == agent.iterations == 200      # one gradient step per 5 x 8 rollout
    mean, _ = agent.evaluate("CartPole-v1", episodes=5)
    assert mean > 150                                      # ~10-40 before training


def test_a2c_resume_is_bitwise_identical(tmp_path):
    kw = dict(n_envs=2, n_steps=5, seed=1, policy_kwargs={"hidden": [16]}, ent_coef=0.01, normalize_advantage=True)
    full = A2C("CartPole-v1", **kw).learn(100)
    part = A2C("CartPole-v1", **kw).learn(100, callback=StopAtStep(46))
    assert part.buffer.pos == 3
    part.save(tmp_path / "a2c.safetensors")
    resumed = load_agent(tmp_path / "a2c.safetensors").learn(100)
    for a, b in zip(full.policy.parameters(), resumed.policy.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert np.array_equal(full._obs, resumed._obs)
