"""Exact resume: a run interrupted anywhere (an exception, SIGKILL from inside or outside, a
crash while a checkpoint is being written) and resumed from its last checkpoint ends with
bitwise the same weights, history and logs as an uninterrupted run."""
import glob
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from train_helpers import blobs, loader, mlp, same_weights, weights

import lamina
from lamina import nn, optim
from lamina.io import CheckpointError
from lamina.train import CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, Trainer, load_training_state

HERE = os.path.dirname(os.path.abspath(__file__))


class Crash(Exception):
    pass


def crash_at(step):
    def hook(batch, logs):
        if trainer_ref[0].global_step == step:
            raise Crash(step)
    return LambdaCallback(on_train_batch_end=hook)


trainer_ref = [None]


class Noise(nn.Module):
    """Adds noise from its own generator while training."""

    def __init__(self, g):
        super().__init__()
        self.g = g

    def forward(self, x):
        return x + lamina.randn(*x.shape, generator=self.g) * 0.05 if self.training else x


def jitter(batch):
    """A batch_fn drawing from NumPy's and Python's global generators."""
    x, y = batch
    return x * (1.0 + 0.05 * np.random.rand() - 0.05 * random.random()), y


def run(tmp, seed=0, crash=None, resume=False, accum=1, extra=(), rngs=False):
    """3 epochs of 5 batches: dropout, shuffling, Adam + StepLR, metric, validation, early stopping
    (restoring best weights), CSV log; a checkpoint every 4 optimizer steps. With ``rngs``, also a
    loader with its own generator, a layer with a named generator, and a batch_fn drawing from
    NumPy's and Python's global generators."""
    lamina.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    x, y = blobs(n=80, seed=1)
    model = mlp(dropout=0.25, seed=seed)
    kw, gens = {}, None
    if rngs:
        noise_gen = lamina.Generator().manual_seed(seed + 1)
        model = nn.Sequential(Noise(noise_gen), model)
        kw = {"generator": lamina.Generator().manual_seed(seed + 2)}
        gens = {"noise": noise_gen}
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    cbs = [EarlyStopping(patience=100, restore_best_weights=True), CSVLogger(os.path.join(tmp, "m.csv")),
           ModelCheckpoint(tmp, every_n_epochs=None, every_n_steps=4, save_best=False), *extra]
    if crash is not None:
        cbs.append(crash_at(crash))
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, metrics=["accuracy"], callbacks=cbs,
                grad_accum_steps=accum, generators=gens, batch_fn=jitter if rngs else None)
    trainer_ref[0] = t
    h = t.fit(loader(x, y, batch_size=16, shuffle=True, **kw), validation=loader(x, y, batch_size=40), epochs=3,
              verbose=False, resume_from=tmp if resume else None)
    return t, h


@pytest.mark.parametrize("crash,rngs", [(3, False), (11, False), (11, True)])  # 3: before the first checkpoint
def test_exception_then_resume_is_bitwise_identical(tmp_path, crash, rngs):
    ref_t, ref_h = run(tmp_path / "ref", rngs=rngs)
    with pytest.raises(Crash):
        run(tmp_path / "b", crash=crash, rngs=rngs)
    if crash < 4:
        with pytest.raises(FileNotFoundError):
            run(tmp_path / "b", seed=123, resume=True)
        return
    state = lamina.io.read_metadata(tmp_path / "b" / "last.safetensors")
    assert state["global_step"] == "8"
    t, h = run(tmp_path / "b", seed=123, resume=True, rngs=rngs)
    assert same_weights(weights(t.model), weights(ref_t.model))
    assert h.history == ref_h.history and h.epoch == [0, 1, 2]
    assert t.global_step == ref_t.global_step == 15
    # the epoch-1 row written after the step-8 checkpoint was dropped, then written again
    assert open(tmp_path / "b" / "m.csv").read() == open(tmp_path / "ref" / "m.csv").read()


def test_resume_in_the_middle_of_gradient_accumulation(tmp_path):
    ref_t, ref_h = run(tmp_path / "ref", accum=3)
    path = str(tmp_path / "mid.safetensors")

    def save_and_crash(batch, logs):
        t = trainer_ref[0]
        if t.epoch == 1 and batch == 3:  # batches 0..2 stepped, batch 3 accumulated: micro = 1
            assert t._micro == 1
            t.config = {"run": "mid", "lr": 1e-2}
            t.save_checkpoint(path)
            raise Crash()

    with pytest.raises(Crash):
        run(tmp_path / "b", accum=3, extra=[LambdaCallback(on_train_batch_end=save_and_crash)])
    saved = lamina.io.load(path)
    assert set(saved["grads"]) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    assert saved["config"] == {"run": "mid", "lr": 1e-2}
    t2_model = mlp(dropout=0.25, seed=9)
    opt = optim.Adam(t2_model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    t2 = Trainer(t2_model, nn.CrossEntropyLoss(), opt, scheduler=sched, metrics=["accuracy"], grad_accum_steps=3,
                 callbacks=[EarlyStopping(patience=100, restore_best_weights=True)])
    x, y = blobs(n=80, seed=1)
    h2 = t2.fit(loader(x, y, batch_size=16, shuffle=True), validation=loader(x, y, batch_size=40), epochs=3,
                verbose=False, resume_from=path)
    assert same_weights(weights(t2_model), weights(ref_t.model))
    assert h2.history == ref_h.history


def test_resume_errors(tmp_path):
    lamina.io.save({"w": lamina.ones(2)}, tmp_path / "plain.safetensors")
    t = Trainer(mlp(), "cross_entropy", optim.SGD(mlp().parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match="not a training-state checkpoint"):
        load_training_state(tmp_path / "plain.safetensors", t)
    run(tmp_path / "a")
    with pytest.raises(CheckpointError, match=r"(?s)the model \(Sequential\) does not match.*Missing key"):
        load_training_state(tmp_path / "a" / "last.safetensors", t)
    m = mlp(dropout=0.25)
    other = Trainer(m, "cross_entropy", optim.Adam(m.parameters(), lr=0.1), metrics=[])
    with pytest.raises(CheckpointError, match="metric"):
        load_training_state(tmp_path / "a" / "last.safetensors", other)
    open(tmp_path / "trunc.safetensors", "wb").write(open(tmp_path / "a" / "last.safetensors", "rb").read()[:500])
    with pytest.raises(CheckpointError, match="trunc.safetensors"):
        load_training_state(tmp_path / "trunc.safetensors", t)


@pytest.mark.parametrize("where", ["write", "fsync", "rename"])
def test_interrupted_checkpoint_write_keeps_previous_checkpoint(tmp_path, monkeypatch, where):
    ref_t, _ = run(tmp_path / "ref")
    before = open(tmp_path / "ref" / "last.safetensors", "rb").read()

    class Boom(Exception):
        pass

    from lamina.io import atomic, safe

    if where == "write":
        def half_write(arrays, filename, metadata):
            safe.safetensors.numpy.save_file(arrays, filename, metadata=metadata)
            with open(filename, "r+b") as f:
                f.truncate(os.path.getsize(filename) // 2)
            raise Boom()
        monkeypatch.setattr(safe, "_write_file", half_write)
    elif where == "fsync":
        monkeypatch.setattr(atomic, "_fsync_file", lambda p: (_ for _ in ()).throw(Boom()))
    else:
        monkeypatch.setattr(atomic, "_commit", lambda tmp, path: (_ for _ in ()).throw(Boom()))
    with pytest.raises(Boom):
        ref_t.save_checkpoint(tmp_path / "ref" / "last.safetensors")
    monkeypatch.undo()
    assert open(tmp_path / "ref" / "last.safetensors", "rb").read() == before
    assert not glob.glob(str(tmp_path / "ref" / ".*.tmp"))
    fresh = Trainer(mlp(dropout=0.25, seed=3), "cross_entropy", optim.Adam(mlp().parameters()),
                    metrics=["accuracy"])
    fresh.optimizer = optim.Adam(fresh.model.parameters(), lr=1e-2)
    fresh.scheduler = optim.lr_scheduler.StepLR(fresh.optimizer, step_size=1, gamma=0.7)
    load_training_state(tmp_path / "ref" / "last.safetensors", fresh)
    assert fresh.global_step == 12  # the last step checkpoint of the run (every 4 steps)


def test_crash_during_a_step_checkpoint_then_resume(tmp_path, monkeypatch):
    """The write at step 8 fails mid-file; resuming from the step-4 checkpoint still ends exactly."""
    ref_t, ref_h = run(tmp_path / "ref")
    from lamina.io import safe

    real = safe._write_file

    def failing(arrays, filename, metadata):
        if trainer_ref[0].global_step == 8:
            real(arrays, filename, metadata)
            with open(filename, "r+b") as f:
                f.truncate(100)
            raise Crash()
        real(arrays, filename, metadata)

    monkeypatch.setattr(safe, "_write_file", failing)
    with pytest.raises(Crash):
        run(tmp_path / "b")
    monkeypatch.undo()
    assert lamina.io.read_metadata(tmp_path / "b" / "last.safetensors")["global_step"] == "4"
    t, h = run(tmp_path / "b", seed=77, resume=True)
    assert same_weights(weights(t.model), weights(ref_t.model)) and h.history == ref_h.history


# ---------------------------------------------------------------- real processes, SIGKILL
def _child(mode, d, out, *args):
    # the NumPy code paths: identical in every child, and no Numba import (seconds) per process
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), LAMINA_DISABLE_NUMBA="1")
    return subprocess.Popen([sys.executable, os.path.join(HERE, "resume_child.py"), mode, str(d), str(out),
                             *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(p, what):
    out, err = p.communicate(timeout=120)
    return p.returncode, err.decode()


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory):
    """Three children at once: an uninterrupted run, one that SIGKILLs itself right after optimizer
    step 17 (mid-epoch 2; last checkpoint at step 15), and a slow one killed from outside shortly
    after its first checkpoint appears. Then both killed runs are resumed."""
    root = tmp_path_factory.mktemp("kill")
    dirs = {k: root / k for k in ("full", "self", "outside")}
    for d in dirs.values():
        d.mkdir()
    full = _child("full", dirs["full"], root / "full.npz")
    selfk = _child("kill", dirs["self"], root / "self_killed.npz", 17)
    slow = _child("slow", dirs["outside"], root / "slow.npz")
    ckpt = dirs["outside"] / "last.safetensors"
    deadline = time.time() + 120
    while not ckpt.exists() and slow.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # a few more steps (50 ms each): killed mid-epoch, maybe mid-write
    slow.send_signal(signal.SIGKILL)
    codes = {name: _finish(p, name) for name, p in (("full", full), ("self", selfk), ("outside", slow))}
    resumed = {k: _child("resume", dirs[k], root / f"{k}_resumed.npz") for k in ("self", "outside")}
    codes.update({k + "_resumed": _finish(p, k) for k, p in resumed.items()})
    return root, codes


def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(killed_runs):
    root, codes = killed_runs
    assert codes["full"][0] == 0, codes["full"][1]
    assert codes["self"][0] == -signal.SIGKILL, codes["self"][1]
    assert codes["self_resumed"][0] == 0, codes["self_resumed"][1]
    assert not (root / "self_killed.npz").exists()
    full, res = np.load(root / "full.npz"), np.load(root / "self_resumed.npz")
    assert full.files == res.files
    for k in full.files:
        assert np.array_equal(full[k], res[k]), k
    assert open(root / "self" / "metrics.csv").read() == open(root / "full" / "metrics.csv").read()


def test_sigkill_from_outside_then_resume_is_bitwise_identical(killed_runs):
    root, codes = killed_runs
    assert codes["outside"][0] == -signal.SIGKILL, "the slow child finished before it was killed"
    assert codes["outside_resumed"][0] == 0, codes["outside_resumed"][1]
    full, res = np.load(root / "full.npz"), np.load(root / "outside_resumed.npz")
    for k in full.files:
        assert np.array_equal(full[k], res[k]), k


def test_resume_with_a_plain_list_of_batches_skips_the_done_batches(tmp_path):
    x, y = blobs(n=80, seed=2)
    batches = [(lamina.tensor(x[i:i + 16]), lamina.tensor(y[i:i + 16])) for i in range(0, 80, 16)]

    def go(d, crash=None, resume=False):
        model = mlp(seed=4)
        cbs = [ModelCheckpoint(d, every_n_steps=2, save_best=False)] + ([crash_at(crash)] if crash else [])
        t = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1, momentum=0.9), callbacks=cbs)
        trainer_ref[0] = t
        t.fit(batches, epochs=2, verbose=False, resume_from=d if resume else None)
        return weights(model)

    ref = go(tmp_path / "a")
    with pytest.raises(Crash):
        go(tmp_path / "b", crash=7)  # last checkpoint: step 6 = epoch 1 after its first batch
    assert same_weights(go(tmp_path / "b", resume=True), ref)
