"""Environments: ids with suggestions, seeding, action-space checks, state capture, normalisation."""
import io as pyio

import gymnasium as gym
import numpy as np
import pytest

import lamina
from lamina.rl import NormalizeObservation, NormalizeReward, RunningMeanStd, check_env_id, make_env, make_vec_env
from lamina.rl.envs import check_action_space, get_env_state, set_env_state


def test_unknown_env_id_names_close_ones():
    with pytest.raises(ValueError, match=r"unknown environment id 'Cartpole-v1'; did you mean 'CartPole-v1'"):
        check_env_id("Cartpole-v1")
    with pytest.raises(ValueError, match="CartPole-v"):
        make_env("CartPole-v7")
    with pytest.raises(ValueError, match="unknown environment id 'NoSuchThing-v0'$"):
        make_vec_env("NoSuchThing-v0")
    from lamina.rl import DQN
    with pytest.raises(ValueError, match="did you mean 'Pendulum-v1'"):
        DQN("Pendulumm-v1")


def test_action_space_check_messages():
    with pytest.raises(ValueError, match=r"^SAC needs a continuous action space \(Box\), but CartPole-v1 has discrete"):
        check_action_space(make_vec_env("CartPole-v1"), "continuous", "SAC")
    with pytest.raises(ValueError, match=r"^DQN needs a discrete action space \(Discrete\), but Pendulum-v1 has "
                                         "continuous"):
        check_action_space(make_vec_env("Pendulum-v1"), "discrete", "DQN")
    check_action_space(make_vec_env("Pendulum-v1"), "any", "PPO")


def test_vec_env_seeding_and_same_step_autoreset():
    a = make_vec_env("CartPole-v1", n_envs=3, seed=5)
    b = make_vec_env("CartPole-v1", n_envs=3)
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    np.testing.assert_array_equal(oa, ob)
    assert not np.array_equal(oa[0], oa[1])          # copy i gets seed + i
    finals = 0
    for _ in range(60):
        obs, r, term, trunc, info = a.step(np.ones(3, dtype=np.int64))   # always push right: falls fast
        if term.any():
            finals += 1
            i = int(np.flatnonzero(term)[0])
            assert info["_final_obs"][i] and not np.array_equal(info["final_obs"][i], obs[i])
    assert finals > 0


def _roll(env, actions):
    out = []
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        out.append((obs.copy(), r.copy(), term.copy(), trunc.copy()))
    return out


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "MountainCar-v0"])
def test_env_state_capture_continues_exactly(env_id):
    src = make_vec_env(env_id, n_envs=2, seed=1)
    space = src.single_action_space
    acts = [np.stack([space.sample() for _ in range(2)]) for _ in range(260)]
    _roll(src, acts[:150])
    f = pyio.BytesIO()
    lamina.save(get_env_state(src), f)
    f.seek(0)
    after = _roll(src, acts[150:])
    dst = make_vec_env(env_id, n_envs=2, seed=99)         # another seed, another physics state
    assert set_env_state(dst, lamina.load(f)) is True
    again = _roll(dst, acts[150:])
    for (o1, r1, t1, u1), (o2, r2, t2, u2) in zip(after, again):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(u1, u2)         # TimeLimit counters too (Pendulum truncates at 200)


class _Opaque(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.world = object()       # stands for a physics engine's handle

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, a):
        return np.zeros(1, np.float32), 0.0, False, False, {}


def test_env_state_that_cannot_be_captured_resets_with_a_warning():
    env = make_vec_env(_Opaque, 1, seed=0)
    st = get_env_state(env)
    assert st["complete"] is False and "world" in st["opaque"][0]
    with pytest.warns(RuntimeWarning, match="not bitwise-identical"):
        assert set_env_state(env, st, seed=3) is False
    with pytest.raises(ValueError, match="copies"):
        set_env_state(make_vec_env(_Opaque, 2), st)


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, (n, 2)) for n in (5, 17, 1, 40)]
    rms = RunningMeanStd((2,), epsilon=0.0 + 1e-12)
    for p in parts:
        rms.update(p)
    allx = np.concatenate(parts)
    np.testing.assert_allclose(rms.mean, allx.mean(0), rtol=1e-9)
    np.testing.assert_allclose(rms.var, allx.var(0), rtol=1e-9)


def test_normalization_wrappers_and_their_state():
    env = make_vec_env("Pendulum-v1", 2, wrappers=[NormalizeObservation, NormalizeReward], seed=0)
    for _ in range(50):
        obs, r, *_ , info = env.step(np.zeros((2, 1), np.float32))
    norm = env.env                     # NormalizeObservation (NormalizeReward is the outer layer)
    raw = norm.obs_rms
    assert np.all(np.abs(obs) <= 10.0) and raw.count > 100
    # reward: r' = r / sqrt(var_G + eps), the raw reward kept for episode statistics
    np.testing.assert_allclose(r, info["raw_reward"] / np.sqrt(env.return_rms.var + 1e-8), rtol=1e-6)
    st = get_env_state(env)
    f = pyio.BytesIO()
    lamina.save(st, f)
    f.seek(0)
    other = make_vec_env("Pendulum-v1", 2, wrappers=[NormalizeObservation, NormalizeReward], seed=7)
    set_env_state(other, lamina.load(f))
    np.testing.assert_array_equal(other.env.obs_rms.mean, raw.mean)
    np.testing.assert_array_equal(other.returns, env.returns)
    a = env.step(np.ones((2, 1), np.float32))
    b = other.step(np.ones((2, 1), np.float32))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="wrapper layers"):
        set_env_state(make_vec_env("Pendulum-v1", 2), st)


def test_agent_predict_uses_the_training_normalisation():
    from lamina.rl import SAC
    venv = make_vec_env("Pendulum-v1", 1, wrappers=[NormalizeObservation], seed=0)
    agent = SAC(venv, hidden=(8,), learning_starts=1000)
    agent.learn(30)
    raw = np.array([0.3, -0.9, 1.5], dtype=np.float32)
    mu, _ = agent.actor.forward_array(venv.normalize(raw[None]))
    np.testing.assert_allclose(agent.predict(raw), 2.0 * np.tanh(mu[0]), rtol=1e-6)
