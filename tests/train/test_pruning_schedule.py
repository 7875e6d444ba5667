"""GradualPruning: Zhu & Gupta's schedule as a Trainer callback, and the digits accuracy check."""
import copy

import numpy as np
import pytest
from train_helpers import blobs, loader, make_trainer, mlp

import lamina
from lamina import nn, optim
from lamina.nn.utils import prune
from lamina.train import GradualPruning, Trainer, polynomial_sparsity


def test_polynomial_schedule():
    assert polynomial_sparsity(0, 0.1, 0.9, begin=2, end=10) == 0.0
    assert polynomial_sparsity(2, 0.1, 0.9, begin=2, end=10) == pytest.approx(0.1)
    assert polynomial_sparsity(6, 0.1, 0.9, begin=2, end=10) == pytest.approx(0.9 - 0.8 * 0.5 ** 3)
    assert polynomial_sparsity(10, 0.1, 0.9, begin=2, end=10) == 0.9
    assert polynomial_sparsity(50, 0.1, 0.9, begin=2, end=10) == 0.9
    vals = [polynomial_sparsity(t, 0.0, 0.8, 0, 20) for t in range(21)]
    assert all(b >= a for a, b in zip(vals, vals[1:]))
    assert vals[1] - vals[0] > vals[20] - vals[19]  # prunes fast early, slowly late
    assert polynomial_sparsity(4, 0.0, 0.8, 0, 8, power=1) == pytest.approx(0.4)


@pytest.mark.parametrize("kw", [
    dict(final_sparsity=1.5, end=3), dict(final_sparsity=0.5), dict(final_sparsity=0.5, begin=4, end=2),
    dict(final_sparsity=0.5, initial_sparsity=0.6, end=3), dict(final_sparsity=0.5, end=3, unit="batch"),
    dict(final_sparsity=0.5, end=3, scope="net"), dict(final_sparsity=0.5, end=3, structure="rows"),
    dict(final_sparsity=0.5, end=3, frequency=0), dict(final_sparsity=0.5, end=3, structure="channels")])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        GradualPruning(**kw)


def _masks(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items() if k.endswith("_mask")}


def test_step_schedule_with_trainer_global():
    x, y = blobs(n=96)
    model = mlp(hidden=16)
    seen = []

    class Spy(lamina.train.Callback):  # after the pruner (order), records masks as they change
        order = 5

        def on_train_batch_begin(self, batch, logs=None):
            seen.append((self.trainer.global_step, _masks(self.trainer.model)))

    pruner = GradualPruning(final_sparsity=0.75, initial_sparsity=0.25, begin=2, end=10, frequency=4)
    history = make_trainer(model, callbacks=[pruner, Spy()]).fit(loader(x, y, batch_size=16), epochs=3, verbose=False)
    assert pruner.history == [(2, 0.25), (6, pytest.approx(0.75 - 0.5 * 0.5 ** 3)), (10, 0.75)]
    total = 6 * 16 + 16 * 3
    for step, masks in seen:
        zeros = sum(int((m == 0).sum()) for m in masks.values())
        expected = 0 if step < 2 else round(pruner.target_sparsity(2 if step < 6 else 6 if step < 10 else 10) * total)
        assert zeros == expected, step
    for (_, a), (_, b) in zip(seen, seen[1:]):  # pruned weights stay pruned
        for k in a:
            assert np.all(b[k] <= a[k])
    assert history.history["sparsity"][-1] == pytest.approx(round(0.75 * total) / total)
    # the effective weights are zero where masked, and the model still trains the survivors
    for m in (model[0], model[2]):
        w = m.weight_orig.detach().numpy() * m.weight_mask.numpy()
        xin = np.random.default_rng(1).standard_normal((2, m.in_features)).astype(np.float32)
        np.testing.assert_allclose(m(lamina.tensor(xin)).detach().numpy(), xin @ w.T + m.bias.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert np.all(w[m.weight_mask.numpy() == 0] == 0)
    assert pruner.state_dict()["last_pruned"] == 10


def test_layer_scope_gives_every_layer_the_target():
    x, y = blobs(n=64)
    model = mlp(hidden=16)
    pruner = GradualPruning(final_sparsity=0.6, begin=0, end=2, unit="epoch", scope="layer")
    make_trainer(model, callbacks=[pruner]).fit(loader(x, y), epochs=4, verbose=False)
    rep = prune.sparsity(model)
    assert rep["0.weight"] == round(0.6 * 96) / 96 and rep["2.weight"] == round(0.6 * 48) / 48
    assert [t for t, _ in pruner.history] == [0, 1, 2]


def test_channel_pruning_on_a_conv_net_and_make_permanent():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(6 * 4 * 4, 3))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 4, 4)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    opt = optim.SGD(model.parameters(), lr=0.05)
    params = {id(p) for p in model.parameters()}
    pruner = GradualPruning(final_sparsity=0.5, begin=0, end=2, unit="epoch", scope="layer", structure="channels",
                            n=1, make_permanent=True)
    Trainer(model, "cross_entropy", opt, callbacks=[pruner]).fit(loader(x, y, batch_size=8), epochs=4, verbose=False)
    assert not prune.is_pruned(model)
    assert {id(p) for p in model.parameters()} == params  # the optimizer's Parameter objects, now holding the zeros
    for conv, channels in ((model[0], 8), (model[2], 6)):
        w = conv.weight.detach().numpy()
        dead = np.all(w == 0, axis=(1, 2, 3))
        assert int(dead.sum()) == round(0.5 * channels)
        assert np.all(w[~dead].any(axis=(1, 2, 3)))
    assert prune.sparsity(model)["5.weight"] == 0.0  # Linear layers are not channel-pruned by default


def test_explicit_parameters_and_state_roundtrip():
    x, y = blobs(n=32)
    model = mlp(hidden=8)
    pruner = GradualPruning(final_sparsity=0.5, begin=0, end=0, parameters=[(model[2], "weight")])
    make_trainer(model, callbacks=[pruner]).fit(loader(x, y), epochs=1, verbose=False)
    assert not hasattr(model[0], "weight_mask") and prune.sparsity(model)["2.weight"] == 0.5
    other = GradualPruning(final_sparsity=0.5, begin=0, end=0)
    other.load_state_dict(pruner.state_dict())
    assert other.last_pruned == 0 and other.history == pruner.history


# ---------------------------------------------------------------- the key check: digits, 80% global sparsity
def test_digits_80_percent_sparsity_loses_at_most_one_point():
    pytest.importorskip("sklearn")
    from lamina.data import DataLoader
    from lamina.data.datasets.digits import load_digits_splits

    train, _, test = load_digits_splits(seed=0)
    xt, yt = test.tensors

    def fit(model, epochs, seed, callbacks=()):
        lamina.manual_seed(seed)
        Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=3e-3), callbacks=list(callbacks)).fit(
            DataLoader(train, batch_size=64, shuffle=True), epochs=epochs, verbose=False)
        return model

    def accuracy(model):
        with lamina.no_grad():
            return float((model.eval()(xt).numpy().argmax(1) == yt.numpy()).mean())

    lamina.manual_seed(0)
    pretrained = fit(nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10)), 15, 0)
    dense = fit(copy.deepcopy(pretrained), 10, 1)  # the reference trains as many epochs as the pruned one
    pruner = GradualPruning(final_sparsity=0.8, begin=0, end=4, unit="epoch", make_permanent=True)
    sparse = fit(copy.deepcopy(pretrained), 10, 1, callbacks=[pruner])
    oneshot = copy.deepcopy(dense)
    prune.global_unstructured([(oneshot[0], "weight"), (oneshot[2], "weight")], prune.L1Unstructured, amount=0.8)

    rep = prune.sparsity(sparse)
    assert rep["global"] == round(0.8 * (64 * 256 + 256 * 10)) / (64 * 256 + 256 * 10)
    assert not prune.is_pruned(sparse)
    acc_dense, acc_sparse, acc_oneshot = accuracy(dense), accuracy(sparse), accuracy(oneshot)
    assert acc_dense >= 0.95
    assert acc_sparse >= acc_dense - 0.01, (acc_dense, acc_sparse)
    assert acc_oneshot < acc_sparse  # fine-tuning is what recovers the accuracy
