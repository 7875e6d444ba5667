"""lamina.federated with Flower: the NumPyClient, FedProx's proximal term, the strategies, and the two
engines (in-process proxies; real client processes on 127.0.0.1) agreeing bit for bit."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("flwr", reason="Flower is not installed: pip install 'lamina[federated]'")

import fedworker_factory as fw  # noqa: E402

import lamina  # noqa: E402
from lamina import nn, optim  # noqa: E402
from lamina.federated import strategies  # noqa: E402
from lamina.federated.client import LaminaClient, ProximalTerm, get_parameters, set_parameters  # noqa: E402
from lamina.federated.simulation import run_processes, simulate  # noqa: E402
from lamina.train import Trainer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _weights_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------- parameters <-> NumPy
def test_parameters_round_trip_in_state_dict_order_with_buffers():
    lamina.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    keys = list(m.state_dict())
    arrays = get_parameters(m)
    assert len(arrays) == len(keys) and "1.running_mean" in keys and "1.num_batches_tracked" in keys
    new = [a + 1 if a.dtype.kind == "f" else a + 3 for a in arrays]
    new[keys.index("1.num_batches_tracked")] = np.array(4.6)  # an averaged counter: rounded, cast back
    set_parameters(m, new)
    got = get_parameters(m)
    assert got[keys.index("1.num_batches_tracked")] == 5 and got[keys.index("1.num_batches_tracked")].dtype == np.int64
    np.testing.assert_array_equal(got[0], arrays[0] + 1)
    got[0][...] = 0  # copies: changing them does not touch the model
    assert not np.array_equal(get_parameters(m)[0], got[0])
    with pytest.raises(ValueError, match="state-dict entries"):
        set_parameters(m, arrays[:-1])
    with pytest.raises(ValueError, match="shape"):
        set_parameters(m, [np.zeros((1, 1))] + arrays[1:])


# ---------------------------------------------------------------- FedProx's proximal term
def test_proximal_term_equals_the_gradient_of_the_penalty():
    """Trainer + ProximalTerm(mu) follows the same SGD trajectory as the loss + mu/2 ||w - w0||^2 by autograd."""
    x, y = fw.data(48)
    mu = 0.7

    def run(with_callback):
        m = fw.model(3)
        w0 = [p.detach().numpy().copy() for p in m.parameters()]
        ce = nn.CrossEntropyLoss()
        if with_callback:
            t = Trainer(m, ce, optim.SGD(m.parameters(), lr=0.2))
            cbs = [ProximalTerm(mu, w0)]
        else:
            anchors = [lamina.tensor(w) for w in w0]

            def loss(out, target):
                prox = sum(((p - a) ** 2).sum() for p, a in zip(m.parameters(), anchors))
                return ce(out, target) + mu / 2 * prox
            t = Trainer(m, loss, optim.SGD(m.parameters(), lr=0.2))
            cbs = []
        loader = LaminaClient(t, (x, y), batch_size=16, seed=None).train_loader
        t.fit(loader, epochs=2, callbacks=cbs, verbose=False)
        return get_parameters(m), w0

    (a, w0), (b, _) = run(True), run(False)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[0], w0[0])  # it trained
    with pytest.raises(ValueError, match="mu"):
        ProximalTerm(-1.0, w0)


# ---------------------------------------------------------------- the client
def test_client_fit_and_evaluate():
    c = fw.build_client(0, 2)
    start = get_parameters(fw.model(0))
    new, n, metrics = c.fit(start, {"local_epochs": 2})
    assert n == 120 and metrics["client_id"] == 0 and metrics["num_examples"] == 120
    assert {"train_loss", "train_accuracy"} <= set(metrics) and "train_lr" not in metrics
    assert len(c.trainer.history.history["loss"]) == 2  # the server's local_epochs
    assert not _weights_equal(new, start)
    loss, n_eval, m_eval = c.evaluate(new, {})
    ref = c.trainer.evaluate(c.val_loader)
    assert n_eval == 120 and loss == pytest.approx(ref["loss"]) and m_eval["accuracy"] == pytest.approx(ref["accuracy"])
    # DP: the update is clipped to the norm the strategy sends, and the client weighs 1
    from lamina.federated.privacy import update_norm
    clipped, n1, m1 = c.fit(start, {"clipping_norm": 0.05, "uniform_weights": True})
    assert n1 == 1 and m1["num_examples"] == 120 and m1["update_norm"] > 0.05
    assert update_norm(clipped, start) == pytest.approx(0.05, rel=1e-4)
    # FedProx: the server's proximal_mu pulls the local model towards the global one
    free, _, _ = c.fit(start, {})
    held, _, _ = c.fit(start, {"proximal_mu": 5.0})
    assert update_norm(held, start) < 0.7 * update_norm(free, start)
    with pytest.raises(ValueError, match="local_epochs"):
        LaminaClient(c.trainer, fw.data(10), local_epochs=0)


def test_client_resets_the_optimizer_each_round():
    c = fw.build_client(1, 2)
    start = get_parameters(fw.model(0))
    first, _, _ = c.fit(start, {})
    assert c.trainer.optimizer.state  # momentum buffers exist after a round
    c.train_loader.generator.manual_seed(8)  # the same batches again
    second, _, _ = c.fit(start, {})
    assert _weights_equal(first, second)  # a fresh optimizer state: the same round from the same start


# ---------------------------------------------------------------- strategies
def test_make_strategy_kinds_and_errors():
    from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg, FedProx
    s = strategies.make_strategy("fedprox", num_clients=4, proximal_mu=0.1, local_epochs=3)
    assert isinstance(s.strategy, FedProx)
    s = strategies.make_strategy("fedavg", num_clients=10, fraction=0.3, dp_clip=1.0, dp_noise=0.5)
    assert isinstance(s, DifferentialPrivacyClientSideFixedClipping) and isinstance(s.strategy.strategy, FedAvg)
    assert s.num_sampled_clients == 3 == strategies.num_sampled(10, 0.3)
    for kwargs, match in [({"name": "fedsgd"}, "unknown strategy"), ({"fraction": 0}, "fraction"),
                          ({"dp_clip": 1.0}, "both"), ({"name": "fedprox"}, "proximal_mu"),
                          ({"proximal_mu": 0.1}, "FedProx"), ({"num_clients": 0}, "num_clients")]:
        args = {"num_clients": 4, **kwargs}
        with pytest.raises(ValueError, match=match):
            strategies.make_strategy(**args)


def test_weighted_metrics_uses_true_example_counts():
    out = strategies.weighted_metrics([(1, {"train_loss": 1.0, "num_examples": 30, "client_id": 0}),
                                       (1, {"train_loss": 2.0, "num_examples": 10, "client_id": 1})])
    assert out == {"train_loss": pytest.approx(1.25), "clients": 2}


# ---------------------------------------------------------------- the engines
def _strategy(n, evaluate=True, **kw):
    server = fw.model(0)
    t = fw.trainer(server)
    x, y = fw.data()

    def evaluate_fn(rnd, params, cfg):
        set_parameters(server, params)
        out = t.evaluate((x, y))
        return out["loss"], {"accuracy": float(out["accuracy"])}
    return strategies.make_strategy(num_clients=n, initial_parameters=get_parameters(server),
                                    evaluate_fn=evaluate_fn if evaluate else None, **kw), get_parameters(server)


def test_one_fedavg_round_is_the_weighted_mean_of_the_local_models():
    n = 3
    strategy, start = _strategy(n, evaluate=False)
    result = simulate(lambda cid: fw.build_client(int(cid), n), n, strategy, rounds=1)
    local = [fw.build_client(i, n).fit(start, {"local_epochs": 1}) for i in range(n)]
    total = sum(k for _, k, _ in local)
    mean = [sum(w[j].astype(np.float64) * k for w, k, _ in local) / total for j in range(len(start))]
    for got, want in zip(result.parameters, mean):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_simulate_learns_is_reproducible_and_reports_rounds():
    n = 4
    runs = []
    for _ in range(2):
        strategy, _ = _strategy(n)
        runs.append(simulate(lambda cid: fw.build_client(int(cid), n), n, strategy, rounds=3, seed=5))
    a, b = runs
    assert _weights_equal(a.parameters, b.parameters)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in run.rounds] for run in runs]
    assert strip[0] == strip[1]
    assert [r["round"] for r in a.rounds] == [0, 1, 2, 3]
    acc = [r["accuracy"] for r in a.rounds]
    assert acc[-1] > acc[0] + 0.3 and acc[-1] > 0.7
    assert a.rounds[1]["clients"] == n and "train_loss" in a.rounds[1] and "seconds" in a.rounds[1]


def test_dp_noise_and_sampling():
    n = 4
    clip = 1e3  # no clipping in effect, no noise: DP-FedAvg is then the unweighted mean
    strategy, start = _strategy(n, evaluate=False, dp_clip=clip, dp_noise=0.0)
    result = simulate(lambda cid: fw.build_client(int(cid), n), n, strategy, rounds=1,
                      accountant=lambda r: float(r))
    local = [fw.build_client(i, n).fit(start, {})[0] for i in range(n)]
    for j, got in enumerate(result.parameters):
        np.testing.assert_allclose(got, np.mean([w[j] for w in local], axis=0), rtol=1e-5, atol=1e-6)
    assert [(r["round"], r["epsilon"]) for r in result.rounds] == [(1, 1.0)]  # no evaluate_fn: no round 0
    noisy, _ = _strategy(n, evaluate=False, dp_clip=clip, dp_noise=0.01)
    r2 = simulate(lambda cid: fw.build_client(int(cid), n), n, noisy, rounds=1, seed=1)
    diff = np.concatenate([(g - w).ravel() for g, w in zip(r2.parameters, result.parameters)])
    assert diff.std() == pytest.approx(0.01 * clip / n, rel=0.2)  # N(0, (z C / m)^2) on the mean
    half, _ = _strategy(n, evaluate=False, fraction=0.5)
    r3 = simulate(lambda cid: fw.build_client(int(cid), n), n, half, rounds=2)
    assert [r["clients"] for r in r3.rounds if "clients" in r] == [2, 2]


def test_real_client_processes_on_loopback_match_the_in_process_engine():
    """2 client processes over gRPC on 127.0.0.1 give bit for bit the global model of the in-process engine."""
    n, rounds = 2, 2
    strategy, _ = _strategy(n)
    env = {"PYTHONPATH": os.pathsep.join([HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    real = run_processes("fedworker_factory:build_client", {"num_clients": n}, n, strategy, rounds, env=env)
    strategy, _ = _strategy(n)
    local = simulate(lambda cid: fw.build_client(int(cid), n), n, strategy, rounds)
    assert _weights_equal(real.parameters, local.parameters)
    assert [r["accuracy"] for r in real.rounds] == [r["accuracy"] for r in local.rounds]


def test_a_dying_client_process_fails_the_run_with_its_log(tmp_path):
    strategy, _ = _strategy(1)
    env = {"PYTHONPATH": HERE}
    with pytest.raises(RuntimeError, match=r"client process 0 exited") as e:
        run_processes("fedworker_factory:no_such_factory", {"num_clients": 1}, 1, strategy, 1, env=env,
                      log_dir=str(tmp_path), connect_timeout=120)
    assert "no_such_factory" in str(e.value)
