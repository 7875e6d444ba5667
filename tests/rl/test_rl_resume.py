"""Kill and resume: a run saved at step k and resumed from its file ends bitwise-identical."""
import random

import numpy as np
import pytest

pytest.importorskip("gymnasium")

import lamina
from lamina.io import CheckpointError
from lamina.rl import DQN, SAC, CheckpointCallback, StopAtStep, load_agent, save_agent

DQN_KW = dict(seed=3, hidden=(16,), learning_starts=100, train_freq=8, gradient_steps=4, buffer_size=200,
              target_update_interval=40, batch_size=16, exploration_fraction=0.5)


def _scramble_process_state():
    """A fresh process starts from other global generator states; the checkpoint must not depend on them."""
    lamina.manual_seed(12345)
    np.random.seed(999)
    random.seed(7)


def _assert_same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    for comp in sa["components"]:
        _assert_tree_equal(sa["components"][comp], sb["components"][comp], comp)
    _assert_tree_equal(sa["env"], sb["env"], "env")
    _assert_tree_equal(sa["episodes"], sb["episodes"], "episodes")
    _assert_tree_equal(sa["rng"], sb["rng"], "rng")
    np.testing.assert_array_equal(sa["obs"], sb["obs"])
    assert sa["num_timesteps"] == sb["num_timesteps"] and sa["extra"] == sb["extra"]


def _assert_tree_equal(x, y, where):
    if isinstance(x, dict):
        assert set(x) == set(y), where
        for k in x:
            _assert_tree_equal(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y)):
            _assert_tree_equal(u, v, f"{where}[{i}]")
    elif hasattr(x, "shape") or hasattr(y, "shape"):
        u, v = np.asarray(getattr(x, "array", x)), np.asarray(getattr(y, "array", y))
        assert u.dtype == v.dtype and u.shape == v.shape, where
        assert np.array_equal(u, v, equal_nan=True), f"{where} differs"
    else:
        assert x == y or (x != x and y != y), f"{where}: {x!r} != {y!r}"


@pytest.mark.parametrize("extra", [{}, {"prioritized": True, "double_q": True, "dueling": True, "tau": 0.5}])
def test_dqn_killed_and_resumed_ends_bitwise_identical(tmp_path, extra):
    total, k = 600, 311      # k: mid-episode, between training rounds, after the buffer wrapped
    full = DQN("CartPole-v1", **DQN_KW, **extra).learn(total)

    first = DQN("CartPole-v1", **DQN_KW, **extra)
    first.learn(total, callback=StopAtStep(k))
    assert first.num_timesteps == k
    path = tmp_path / "ckpt" / "last.safetensors"
    save_agent(first, path)
    del first
    _scramble_process_state()
    resumed = load_agent(path)                      # rebuilt from the file's config alone
    assert resumed.num_timesteps == k and isinstance(resumed, DQN)
    resumed.learn(total)
    assert resumed.num_timesteps == full.num_timesteps == total
    _assert_same(full, resumed)
    # the parameters themselves, bitwise
    for p, q in zip(full.q_net.parameters(), resumed.q_net.parameters()):
        assert np.array_equal(p.array, q.array)


def test_sac_resume_is_bitwise_identical(tmp_path):
    kw = dict(seed=1, hidden=(16,), learning_starts=30, batch_size=16, buffer_size=100)
    full = SAC("Pendulum-v1", **kw).learn(120)
    first = SAC("Pendulum-v1", **kw)
    cb = CheckpointCallback(tmp_path / "sac.safetensors", every=50, at_end=False)
    first.learn(120, callback=[cb, StopAtStep(73)])
    # the checkpoint on disk is the one of step 50; resuming from it repeats steps 51..120
    _scramble_process_state()
    resumed = SAC.load(tmp_path / "sac.safetensors")
    assert resumed.num_timesteps == 50
    resumed.learn(120)
    _assert_same(full, resumed)
    assert resumed.alpha == full.alpha


def test_bad_checkpoints_are_refused(tmp_path):
    lamina.save({"w": lamina.zeros(2)}, tmp_path / "weights.safetensors")
    with pytest.raises(CheckpointError, match="not an RL agent checkpoint"):
        load_agent(tmp_path / "weights.safetensors")
    agent = DQN("CartPole-v1", seed=0, hidden=(4,))
    agent.save(tmp_path / "a.safetensors")
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_agent(tmp_path / "cut.safetensors")
    with pytest.raises(ValueError, match="'dqn' agent"):
        SAC.load(tmp_path / "a.safetensors")
    other = DQN("CartPole-v1", seed=0, hidden=(5,))
    with pytest.raises(Exception, match="shape"):
        other.load_state_dict(agent.state_dict())
