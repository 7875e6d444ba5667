"""Callbacks: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateMonitor,
LearningRateScheduler, CSVLogger, TensorBoard, ProgressBar, History."""
import csv
import glob
import io
import os
import sys

import numpy as np
import pytest
from train_helpers import blobs, loader, make_trainer, mlp, read_events, same_weights, weights

import lamina
from lamina import optim
from lamina.train import (Callback, CSVLogger, EarlyStopping, LambdaCallback, LearningRateMonitor,
                          LearningRateScheduler, ModelCheckpoint, ProgressBar, ReduceLROnPlateau, Trainer,
                          load_training_state)
from lamina.train.callbacks.base import resolve_mode


class Script(Callback):
    """Writes scripted values into the epoch logs (before the monitors read them) and records
    the weights at the end of every epoch."""

    order = -50

    def __init__(self, key, values):
        self.key, self.values, self.snapshots = key, values, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.snapshots.append(weights(self.model))


def fit(callbacks, epochs, **kw):
    x, y = blobs(n=48)
    t = make_trainer(callbacks=callbacks, **kw)
    h = t.fit(loader(x, y, batch_size=16), epochs=epochs, verbose=False)
    return t, h


def test_early_stopping_stops_at_the_right_epoch_and_restores_best():
    script = Script("val_loss", [1.0, 0.5, 0.6, 0.55, 0.7, 0.1, 0.1])
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    t, h = fit([script, es], epochs=7)
    assert h.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best_epoch == 1
    assert es.best == 0.5
    assert same_weights(weights(t.model), script.snapshots[1])
    assert not same_weights(script.snapshots[1], script.snapshots[3])


def test_early_stopping_max_mode_min_delta_and_missing_key():
    script = Script("val_accuracy", [0.5, 0.6, 0.605, 0.61, 0.9])
    es = EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.05)  # auto -> max
    t, h = fit([script, es], epochs=5)
    assert h.epoch == [0, 1, 2, 3] and es.best == 0.6
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs"):
        t, h = fit([EarlyStopping(patience=0)], epochs=2)
    assert h.epoch == [0, 1]


def test_resolve_mode():
    assert resolve_mode("val_loss", "auto") == "min"
    assert resolve_mode("val_accuracy", "auto") == "max"
    assert resolve_mode("val_mae", "auto", make_trainer(metrics=["mae"])) == "min"
    assert resolve_mode("r2", "auto", make_trainer(metrics=["r2"])) == "max"
    with pytest.raises(ValueError, match="mode"):
        resolve_mode("loss", "lowest")


def test_model_checkpoint_best_and_last(tmp_path):
    script = Script("val_loss", [0.9, 0.4, 0.6, 0.3, 0.5])
    ck = ModelCheckpoint(tmp_path / "ck", monitor="val_loss")
    t, h = fit([script, ck], epochs=5)
    best = lamina.io.load(tmp_path / "ck" / "best.safetensors", as_numpy=True)
    assert same_weights(best, script.snapshots[3])
    meta = lamina.io.read_metadata(tmp_path / "ck" / "best.safetensors")
    assert meta["epoch"] == "3" and meta["monitor"] == "val_loss" and float(meta["score"]) == 0.3
    assert ck.best_score == 0.3 and ck.best_epoch == 3
    # last is a full training state: it loads into a fresh trainer with the final weights
    fresh = make_trainer(model=mlp(seed=5))
    state = load_training_state(tmp_path / "ck" / "last.safetensors", fresh)
    assert same_weights(weights(fresh.model), weights(t.model))
    assert fresh.epoch == 4 and fresh.global_step == t.global_step == 15
    assert state["callbacks"]["ModelCheckpoint"]["best_score"] == 0.3
    assert state["callbacks"]["History"]["history"]["val_loss"] == [0.9, 0.4, 0.6, 0.3, 0.5]
    assert not glob.glob(str(tmp_path / "ck" / ".*tmp"))  # no temporary files left


def test_model_checkpoint_every_n_steps_and_epochs(tmp_path):
    saved = []
    ck = ModelCheckpoint(tmp_path, save_best=False, every_n_epochs=2, every_n_steps=4)
    orig = ck._save_last
    ck._save_last = lambda: (saved.append(ck.trainer.global_step), orig())
    fit([ck], epochs=4)  # 3 steps per epoch: steps 4, 8, 12 and the ends of epochs 2 and 4 (steps 6, 12)
    assert saved == [4, 6, 8, 12, 12]  # step 12 twice: mid-epoch state, then the finished epoch
    with pytest.raises(ValueError, match="monitor"):
        ModelCheckpoint(tmp_path, monitor=None)


def test_trainer_checkpoint_dir_shortcut(tmp_path):
    t, _ = fit([], epochs=1, checkpoint_dir=tmp_path, checkpoint_every_n_steps=2)
    assert os.listdir(tmp_path) == ["last.safetensors"]
    with pytest.raises(ValueError, match="checkpoint_dir"):
        make_trainer(checkpoint_every_n_steps=2)


def test_reduce_lr_on_plateau_callback():
    script = Script("val_loss", [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    rl = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    t, h = fit([script, rl], epochs=6, lr=0.1, opt="sgd")
    # epoch 0 sets best; bad epochs 1, 2 -> reduce after epoch 2; again after epoch 4
    assert h.history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025])
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    assert rl.state_dict()["num_bad_epochs"] == 1


def test_learning_rate_monitor_and_scheduler():
    model = mlp()
    opt = optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.2}],
                    lr=0.1, momentum=0.9)
    step_lrs = []
    mon = LearningRateMonitor(logging_interval="step", log_momentum=True)
    probe = LambdaCallback(on_train_batch_end=lambda b, logs: step_lrs.append(logs["lr_group1"]))
    sched = LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    x, y = blobs(n=32)
    h = Trainer(model, "cross_entropy", opt, callbacks=[probe, mon, sched]).fit(loader(x, y), epochs=2,
                                                                               verbose=False).history
    assert h["lr_group0"] == pytest.approx([0.1, 0.05]) and h["lr_group1"] == pytest.approx([0.1, 0.05])
    assert h["momentum_group0"] == [0.9, 0.9]
    assert step_lrs == pytest.approx([0.1, 0.1, 0.05, 0.05])


def test_csv_logger(tmp_path):
    path = tmp_path / "logs" / "metrics.csv"
    t, h = fit([CSVLogger(path)], epochs=3, metrics=["accuracy"])
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "accuracy", "loss", "lr"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for r, i in zip(rows[1:], range(3)):
        assert float(r[2]) == h.history["loss"][i] and float(r[1]) == h.history["accuracy"][i]
    fit([CSVLogger(path, append=True)], epochs=1, metrics=["accuracy"])
    assert len(list(csv.reader(open(path)))) == 5  # appended, header kept once
    fit([CSVLogger(path)], epochs=1, metrics=["accuracy"])
    assert len(list(csv.reader(open(path)))) == 2  # a new run starts a new file


def _import_tensorboardx():
    """tensorboardX imports torch when it is installed (seconds); it needs only protobuf and NumPy,
    so keep torch out of that import when nothing has loaded it yet."""
    if "tensorboardX" in sys.modules or "torch" in sys.modules:
        return pytest.importorskip("tensorboardX")
    sys.modules["torch"] = None
    try:
        return pytest.importorskip("tensorboardX")
    finally:
        del sys.modules["torch"]


def test_tensorboard_event_files(tmp_path):
    _import_tensorboardx()
    from lamina.train import TensorBoard

    tb = TensorBoard(tmp_path / "tb", histogram_freq=1, update_freq=2)
    t, h = fit([tb], epochs=2, metrics=["accuracy"])
    files = glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    assert len(files) == 1
    scalars, hists, texts = {}, set(), []
    for ev in read_events(files[0]):
        for v in ev.summary.value:
            if v.HasField("histo"):
                hists.add(v.tag)
                assert v.histo.num > 0
            elif v.metadata.plugin_data.plugin_name == "text":
                texts.append(v.tensor.string_val[0].decode())
            else:
                scalars.setdefault(v.tag, []).append((ev.step, v.simple_value))
    assert [s for s, _ in scalars["epoch/loss"]] == [3, 6]  # steps: the global step at each epoch end
    np.testing.assert_allclose([v for _, v in scalars["epoch/loss"]], h.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars["epoch/accuracy"]], h.history["accuracy"], rtol=1e-6)
    assert [v for _, v in scalars["epoch/lr"]] == pytest.approx([1e-2, 1e-2])
    assert [s for s, _ in scalars["step/loss"]] == [2, 4, 6] and "step/lr" in scalars
    names = [n for n, _ in t.model.named_parameters()]
    assert hists == {f"weights/{n}" for n in names} | {f"grads/{n}" for n in names}
    assert texts and "Linear(in_features=6" in texts[0]


def test_tensorboard_missing_dependency_message(monkeypatch):
    import builtins

    from lamina.train.callbacks import tensorboard as tbmod

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("tensorboardX"):
            raise ImportError("no")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"pip install 'lamina\[tensorboard\]'"):
        tbmod.TensorBoard("x")


def test_progress_bar_plain_when_not_a_tty(capsys):
    fit([ProgressBar()], epochs=2, metrics=["accuracy"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - ") and "samples/s - loss: " in lines[0] and "accuracy: " in lines[0]
    fit([], epochs=2)  # verbose='auto' off a terminal: silent
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal_uses_tqdm():
    pytest.importorskip("tqdm")

    class TTY(io.StringIO):
        def isatty(self):
            return True

    out = TTY()
    fit([ProgressBar(file=out)], epochs=2, log_every=1)
    text = out.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "samples/s" in text and "3/3" in text


def test_history_and_lambda_callback_errors():
    t, h = fit([], epochs=2)
    assert h is t.history and h.epoch == [0, 1] and "History(epochs=2" in repr(h)
    with pytest.raises(ValueError, match="unknown hook"):
        LambdaCallback(on_batch_end=print)
