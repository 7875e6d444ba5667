"""Trainer: fit / evaluate / predict, history, batch layouts, gradient accumulation, clipping,
non-finite losses, schedulers, reproducibility."""
import math

import numpy as np
import pytest
from train_helpers import blobs, loader, make_trainer, mlp, same_weights, weights

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets import load_digits_splits
from lamina.train import Callback, LambdaCallback, Trainer


def test_digits_fit_evaluate_predict():
    pytest.importorskip("sklearn")
    tr, va, te = load_digits_splits(seed=0)
    model = mlp(d=64, classes=10, hidden=64, dropout=0.1)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2), metrics=["accuracy"])
    hist = trainer.fit(DataLoader(tr, batch_size=64, shuffle=True), validation=DataLoader(va, batch_size=256),
                       epochs=6, verbose=False)
    h = hist.history
    assert hist.epoch == list(range(6))
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 6 for v in h.values())
    assert h["loss"][-1] < h["loss"][0] / 3 and h["val_accuracy"][-1] > 0.9
    assert h["lr"] == [1e-2] * 6
    res = trainer.evaluate(DataLoader(te, batch_size=100))
    assert set(res) == {"loss", "accuracy"} and res["accuracy"] > 0.9
    x_te, y_te = te.tensors
    probs = trainer.predict(x_te, batch_size=50)
    assert probs.shape == (len(te), 10) and not probs.requires_grad
    acc = float((probs.numpy().argmax(1) == y_te.numpy()).mean())
    assert acc == pytest.approx(res["accuracy"])
    # evaluate's loss is the sample-weighted mean of the batch losses
    full = float(nn.CrossEntropyLoss()(probs, y_te).array)
    assert res["loss"] == pytest.approx(full, rel=1e-5)
    assert model.training  # modes restored


def test_predict_from_loader_and_evaluate_tuple():
    x, y = blobs()
    t = make_trainer()
    out_loader = t.predict(loader(x, y, batch_size=10))
    out_tensor = t.predict(lamina.tensor(x), batch_size=7)
    np.testing.assert_allclose(out_loader.numpy(), out_tensor.numpy(), rtol=1e-6, atol=1e-6)
    res = t.evaluate((lamina.tensor(x), lamina.tensor(y)), batch_size=32)
    assert res["loss"] == pytest.approx(t.evaluate(loader(x, y, batch_size=96))["loss"], rel=1e-6)


def test_epoch_loss_is_sample_weighted_mean_of_batch_losses():
    x, y = blobs(n=50)
    seen = []
    t = make_trainer(lr=0.0, opt="sgd", callbacks=[LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append((logs["loss"], logs["batch_size"])))])
    h = t.fit(loader(x, y, batch_size=16), epochs=1, verbose=False).history
    assert [n for _, n in seen] == [16, 16, 16, 2]
    assert h["loss"][0] == pytest.approx(sum(l * n for l, n in seen) / 50)


def test_dict_batches_and_batch_fn():
    x, y = blobs(n=32)
    batches = [{"x": lamina.tensor(x[i:i + 8]), "y": lamina.tensor(y[i:i + 8])} for i in range(0, 32, 8)]
    t1 = make_trainer(model=mlp(seed=1))
    t1.fit(batches, epochs=2, verbose=False)
    swapped = [(b["y"], b["x"]) for b in batches]
    t2 = make_trainer(model=mlp(seed=1), batch_fn=lambda b: (b[1], b[0]))
    t2.fit(swapped, epochs=2, verbose=False)
    assert same_weights(weights(t1.model), weights(t2.model))
    with pytest.raises(ValueError, match="3 elements"):
        make_trainer().fit([(1, 2, 3)], verbose=False)


def test_multiple_inputs_are_unpacked():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(4, 2)

        def forward(self, u, v):
            return self.a(u) + self.b(v)

    u, v = lamina.randn(10, 3), lamina.randn(10, 4)
    y = lamina.tensor(np.arange(10) % 2)
    model = Two()
    t = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1))
    h = t.fit([((u, v), y)], epochs=2, verbose=False)
    assert len(h.history["loss"]) == 2 and t.global_step == 2


@pytest.mark.parametrize("n,bs,k", [(32, 8, 4), (40, 8, 3)])
def test_grad_accumulation_matches_one_big_batch(n, bs, k):
    lamina.set_default_dtype(lamina.float64)
    x, y = blobs(n=n, dtype=np.float64)
    small = make_trainer(model=mlp(seed=3), lr=0.5, opt="sgd", grad_accum_steps=k)
    small.fit(loader(x, y, batch_size=bs), epochs=1, verbose=False)
    # reference: one SGD step per group of k micro-batches with the group's gradient
    # sum_j grad(loss_j) / k (the last, shorter group too)
    ref = mlp(seed=3)
    opt = optim.SGD(ref.parameters(), lr=0.5)
    groups = [list(range(s, min(s + bs * k, n))) for s in range(0, n, bs * k)]
    for g in groups:
        opt.zero_grad()
        for s in range(g[0], g[-1] + 1, bs):
            xb, yb = lamina.tensor(x[s:s + bs]), lamina.tensor(y[s:s + bs])
            (nn.functional.cross_entropy(ref(xb), yb) / k).backward()
        opt.step()
    assert small.global_step == len(groups)
    for (name, a), b in zip(weights(small.model).items(), weights(ref).values()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)
    if n % (bs * k) == 0:  # full groups: k micro-batches of bs == one batch of k*bs
        big = make_trainer(model=mlp(seed=3), lr=0.5, opt="sgd")
        big.fit(loader(x, y, batch_size=bs * k), epochs=1, verbose=False)
        for a, b in zip(weights(small.model).values(), weights(big.model).values()):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


class GradProbe(Callback):
    def __init__(self):
        self.norms, self.maxabs = [], []

    def on_before_optimizer_step(self, step):
        gs = [p.grad.numpy() for p in self.model.parameters()]
        self.norms.append(math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in gs)))
        self.maxabs.append(max(float(np.abs(g).max()) for g in gs))


def test_clip_grad_norm_and_value():
    x, y = blobs()
    x = x * 100  # large gradients
    probe = GradProbe()
    t = make_trainer(opt="sgd", clip_grad_norm=0.5, callbacks=[probe])
    t.fit(loader(x, y), epochs=1, verbose=False)
    assert max(probe.norms) <= 0.5 * (1 + 1e-5) and t.last_grad_norm > 0.5
    probe = GradProbe()
    t = make_trainer(opt="sgd", clip_grad_value=0.01, callbacks=[probe])
    t.fit(loader(x, y), epochs=1, verbose=False)
    assert max(probe.maxabs) <= 0.01 + 1e-9


class NaNAt:
    """Cross-entropy that returns NaN on the given (0-based) calls."""

    def __init__(self, bad, value=float("nan")):
        self.bad, self.value, self.calls = set(bad), value, 0

    def __call__(self, out, y):
        loss = nn.functional.cross_entropy(out, y)
        self.calls += 1
        return loss * self.value if self.calls - 1 in self.bad else loss


def test_nonfinite_raise_names_epoch_step_and_value():
    x, y = blobs(n=64)
    model = mlp()
    t = Trainer(model, NaNAt({5}, float("inf")), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match=r"loss is inf .*epoch 2, batch 2 of the epoch, global step 5"):
        t.fit(loader(x, y, batch_size=16), epochs=2, verbose=False)


def test_nonfinite_skip_counts_and_skips_update():
    x, y = blobs(n=64)
    model = mlp()
    t = Trainer(model, NaNAt({1, 2}), optim.SGD(model.parameters(), lr=0.1), nonfinite="skip")
    h = t.fit(loader(x, y, batch_size=16), epochs=2, verbose=False).history
    assert h["skipped_batches"] == [2, 0]
    assert t.global_step == 8 - 2
    assert all(np.isfinite(w).all() for w in weights(model).values())
    # the same run without the two bad batches (same data, same order) gives the same weights
    ref = mlp()
    opt = optim.SGD(ref.parameters(), lr=0.1)
    for epoch in range(2):
        for i in range(4):
            if epoch == 0 and i in (1, 2):
                continue
            opt.zero_grad()
            s = slice(16 * i, 16 * i + 16)
            nn.functional.cross_entropy(ref(lamina.tensor(x[s])), lamina.tensor(y[s])).backward()
            opt.step()
    assert same_weights(weights(model), weights(ref))


def test_seeded_runs_are_bitwise_identical():
    x, y = blobs(n=80)

    def run():
        lamina.manual_seed(7)
        model = mlp(dropout=0.3, seed=7)
        t = make_trainer(model=model, metrics=["accuracy"], grad_accum_steps=2)
        t.fit(loader(x, y, batch_size=16, shuffle=True), validation=loader(x, y, batch_size=40), epochs=3,
              verbose=False)
        return weights(model), t.history.history

    (w1, h1), (w2, h2) = run(), run()
    assert same_weights(w1, w2) and h1 == h2
    lamina.manual_seed(8)
    model = mlp(dropout=0.3, seed=7)
    make_trainer(model=model).fit(loader(x, y, batch_size=16, shuffle=True), epochs=1, verbose=False)
    assert not same_weights(w1, weights(model))  # the seed matters (shuffling and dropout)


def test_schedulers_epoch_and_step_interval():
    x, y = blobs(n=64)
    t = make_trainer(opt="sgd", lr=0.1)
    t.scheduler = optim.lr_scheduler.StepLR(t.optimizer, step_size=1, gamma=0.5)
    h = t.fit(loader(x, y, batch_size=16), epochs=3, verbose=False).history
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.025])
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    t = Trainer(model, "cross_entropy", opt, scheduler=sched, scheduler_interval="step", grad_accum_steps=2)
    t.fit(loader(x, y, batch_size=16), epochs=2, verbose=False)
    assert t.global_step == 4 and sched.last_epoch == 4
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / 5)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0)
    t = Trainer(model, "cross_entropy", opt, scheduler=plateau)
    h = t.fit(loader(x, y, batch_size=16), epochs=3, verbose=False).history
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.025])  # threshold 10: never "better" after the first


def test_stop_training_from_a_batch_callback():
    x, y = blobs(n=64)
    cb = LambdaCallback(on_train_batch_end=lambda b, logs: setattr(t, "stop_training", b == 1))
    t = make_trainer(callbacks=[cb])
    h = t.fit(loader(x, y, batch_size=16), epochs=5, verbose=False)
    assert h.epoch == [0] and t.global_step == 2


def test_initial_epoch_and_hook_order():
    x, y = blobs(n=32)
    calls = []
    names = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_before_optimizer_step",
             "on_train_batch_end", "on_validation_begin", "on_test_begin", "on_test_end", "on_validation_end",
             "on_epoch_end", "on_train_end"]
    cb = LambdaCallback(**{n: (lambda n: lambda *a: calls.append(n))(n) for n in names})
    t = make_trainer(callbacks=[cb])
    h = t.fit(loader(x, y, batch_size=32), validation=loader(x, y, batch_size=32), epochs=3, initial_epoch=2,
              verbose=False)
    assert h.epoch == [2]
    assert calls == names


def test_argument_errors():
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="nonfinite"):
        Trainer(model, "mse", opt, nonfinite="ignore")
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, "mse", opt, scheduler_interval="batch")
    with pytest.raises(ValueError, match="unknown loss 'crossentropyy'"):
        Trainer(model, "crossentropyy", opt)
    with pytest.raises(ValueError, match="unique"):
        Trainer(model, "mse", opt, metrics=["accuracy", "accuracy"])
    with pytest.raises(ValueError, match="grad_accum_steps"):
        Trainer(model, "mse", opt, grad_accum_steps=0)
    with pytest.raises(TypeError, match="expected a DataLoader"):
        Trainer(model, "mse", opt).fit(3)


def test_measure_overhead_smoke():
    from lamina.train._overhead import measure_overhead

    hand, fit, ratio = measure_overhead(steps=2, rounds=1, clock="cpu")
    assert hand > 0 and fit > 0 and ratio == pytest.approx(fit / hand)
    with pytest.raises(ValueError, match="clock"):
        measure_overhead(steps=1, clock="gpu")
