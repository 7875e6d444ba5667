"""DQN: hand-computed targets, the dueling head, one update against PyTorch, schedules, learning."""
import numpy as np
import pytest

pytest.importorskip("gymnasium")

import lamina
from lamina.rl import DQN, QNetwork, double_dqn_target, dqn_target


def test_dqn_and_double_dqn_targets_by_hand():
    r = np.array([1.0, 0.5, -1.0], dtype=np.float32)
    d = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    q_online = np.array([[1.0, 3.0], [0.0, 2.0], [5.0, 4.0]], dtype=np.float32)
    q_target = np.array([[2.0, 0.5], [9.0, 9.0], [1.0, 7.0]], dtype=np.float32)
    # DQN: y = r + 0.9 (1 - d) max_a' Qbar
    np.testing.assert_allclose(dqn_target(r, d, q_target, 0.9), [1 + 0.9 * 2.0, 0.5, -1 + 0.9 * 7.0], rtol=1e-6)
    # Double DQN: the online net picks a' = [1, 1, 0]; the target net rates it: [0.5, 9, 1]
    np.testing.assert_allclose(double_dqn_target(r, d, q_online, q_target, 0.9), [1 + 0.9 * 0.5, 0.5, -1 + 0.9 * 1.0], rtol=1e-6)


def test_dueling_head_and_array_forward_match_the_module():
    lamina.manual_seed(0)
    net = QNetwork(3, 4, hidden=(5,), dueling=True)
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    q = net(lamina.tensor(x)).detach().numpy()
    h = np.maximum(x @ net.trunk[0].weight.array.T + net.trunk[0].bias.array, 0)
    v = h @ net.value.weight.array.T + net.value.bias.array
    a = h @ net.advantage.weight.array.T + net.advantage.bias.array
    np.testing.assert_allclose(q, v + a - a.mean(1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.forward_array(x), q, rtol=1e-6, atol=1e-6)
    plain = QNetwork(3, 4, hidden=(5, 5))
    np.testing.assert_allclose(plain.forward_array(x), plain(lamina.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("double_q,dueling", [(False, False), (True, True)])
def test_one_update_matches_pytorch(double_q, dueling):
    torch = pytest.importorskip("torch")
    agent = DQN("CartPole-v1", seed=0, hidden=(8,), learning_starts=10_000, batch_size=16, double_q=double_q,
                dueling=dueling, learning_rate=0.01, max_grad_norm=0.5, gamma=0.9)
    agent.learn(50)                      # fills the buffer with random play, no update yet
    # make the target net differ from the online net, so Double DQN's choice matters
    for p in agent.q_target.parameters():
        p.array[...] = p.array * 0.5 + 0.1
    before = {k: v.numpy().copy() for k, v in agent.q_net.state_dict().items()}
    target = {k: v.numpy().copy() for k, v in agent.q_target.state_dict().items()}
    rng = np.random.Generator(np.random.PCG64(0))
    rng.bit_generator.state = agent.rng.bit_generator.state
    idx = rng.integers(0, len(agent.replay), 16)
    agent.train(1)

    def tnet(sd):
        tn = torch.nn.ModuleDict({"trunk": torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                                               *([] if dueling else [torch.nn.Linear(8, 2)])) })
        if dueling:
            tn["value"], tn["advantage"] = torch.nn.Linear(8, 1), torch.nn.Linear(8, 2)
        tn.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
        return tn

    def q_of(tn, x):
        h = tn["trunk"](x)
        if not dueling:
            return h
        a = tn["advantage"](h)
        return tn["value"](h) + a - a.mean(1, keepdim=True)

    online, tgt = tnet(before), tnet(target)
    buf = agent.replay
    obs, nxt = torch.tensor(buf.obs[idx]), torch.tensor(buf.next_obs[idx])
    r, d, a = torch.tensor(buf.rewards[idx]), torch.tensor(buf.dones[idx]), torch.tensor(buf.actions[idx])
    with torch.no_grad():
        qt = q_of(tgt, nxt)
        best = q_of(online, nxt).argmax(1) if double_q else qt.argmax(1)
        y = r + 0.9 * (1 - d) * qt.gather(1, best[:, None])[:, 0]
    opt = torch.optim.Adam(online.parameters(), lr=0.01)
    loss = torch.nn.functional.smooth_l1_loss(q_of(online, obs).gather(1, a[:, None])[:, 0], y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(online.parameters(), 0.5)
    opt.step()
    after = agent.q_net.state_dict()
    for k, v in online.state_dict().items():
        np.testing.assert_allclose(after[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert agent.train_info["loss"] == pytest.approx(loss.item(), rel=1e-5)


def test_epsilon_schedule_and_target_updates():
    agent = DQN("CartPole-v1", seed=0, hidden=(4,), exploration_fraction=0.5, exploration_initial_eps=1.0,
                exploration_final_eps=0.1, learning_starts=10_000, tau=0.25)
    agent._total_steps = 1000
    assert agent.epsilon(0) == 1.0
    assert agent.epsilon(250) == pytest.approx(0.55)
    assert agent.epsilon(500) == pytest.approx(0.1) and agent.epsilon(900) == pytest.approx(0.1)
    s = [p.detach().numpy().copy() for p in agent.q_net.parameters()]
    for p in agent.q_target.parameters():
        p.array[...] = 1.0
    agent._update_target()                   # Polyak: 0.25 * theta + 0.75 * theta_bar
    for t, w in zip(agent.q_target.parameters(), s):
        np.testing.assert_allclose(t.detach().numpy(), 0.25 * w + 0.75, rtol=1e-6)
    hard = DQN("CartPole-v1", seed=0, hidden=(4,), tau=1.0)
    for p in hard.q_net.parameters():
        p.array[...] += 1.0
    hard._update_target()
    for t, w in zip(hard.q_target.parameters(), hard.q_net.parameters()):
        np.testing.assert_array_equal(t.array, w.array)
    with pytest.raises(ValueError, match="tau"):
        DQN("CartPole-v1", tau=0.0)


def test_predict_shapes_and_evaluate_is_deterministic():
    agent = DQN("CartPole-v1", seed=0, hidden=(8,))
    obs = np.zeros(4, dtype=np.float32)
    assert np.ndim(agent.predict(obs)) == 0
    assert agent.predict(np.zeros((5, 4))).shape == (5,)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        agent.predict(np.zeros(3))
    state = agent.rng.bit_generator.state
    m1, s1 = agent.evaluate("CartPole-v1", episodes=3)
    assert agent.evaluate("CartPole-v1", episodes=3) == (m1, s1)
    assert agent.rng.bit_generator.state == state         # evaluation leaves training randomness alone
    assert m1 > 0 and s1 >= 0


def test_dqn_learns_cartpole_quickly():
    # small bar, seconds: a random policy averages about 22 on CartPole
    agent = DQN("CartPole-v1", seed=0, learning_starts=500, train_freq=16, gradient_steps=8, target_update_interval=50,
                exploration_fraction=0.25, buffer_size=10_000, hidden=(64, 64))
    agent.learn(3000)
    mean, _ = agent.evaluate("CartPole-v1", episodes=5)
    assert mean >= 60, mean
    assert agent.stats.episodes > 0 and agent.num_timesteps == 3000


def test_progress_hook_reports_steps_per_second_return_and_length(capsys):
    from lamina.rl import Callback

    class Logs(Callback):
        def __init__(self):
            self.logs, self.calls = [], 0

        def on_log(self, agent, logs):
            self.logs.append(logs)

        def on_step(self, agent):
            self.calls += 1

    cb = Logs()
    agent = DQN("CartPole-v1", seed=0, hidden=(4,), learning_starts=10_000, log_interval=50, verbose=1)
    agent.learn(200, callback=cb)
    assert cb.calls == 200 and [d["steps"] for d in cb.logs] == [50, 100, 150, 200]
    last = cb.logs[-1]
    assert last["steps_per_s"] > 0 and last["episodes"] == agent.stats.episodes > 0
    assert last["ep_return_mean"] == pytest.approx(np.mean(agent.stats.done_returns))
    assert last["ep_length_mean"] == last["ep_return_mean"]          # CartPole: +1 per step
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 4 and "steps/s" in out[-1] and "return" in out[-1] and out[-1].startswith("dqn step      200")
    agent.learn(200)                                                 # already there: nothing to do
    assert agent.num_timesteps == 200
    with pytest.raises(TypeError, match="callback"):
        agent.learn(300, callback=42)
