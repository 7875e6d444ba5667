"""Child process for the kill-and-resume tests (not a test module).

    python resume_child.py full   DIR OUT            # uninterrupted run, final weights -> OUT (.npz)
    python resume_child.py kill   DIR OUT STEP       # SIGKILLs itself right after optimizer step STEP
    python resume_child.py resume DIR OUT            # resumes from DIR/last.safetensors
    python resume_child.py slow   DIR OUT            # sleeps a little per step (killed from outside)

Small MLP with dropout, shuffled loader (default generator), Adam + per-step scheduler,
accuracy metric, validation, EarlyStopping (never triggers) and CSVLogger; checkpoints every
3 optimizer steps. Everything random comes from lamina's default generator.
"""
import os
import signal
import sys
import time

import numpy as np

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, TensorDataset
from lamina.train import CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, Trainer

EPOCHS, EVERY = 3, 3


def build(seed):
    lamina.manual_seed(seed)
    rng = np.random.default_rng(123)
    x = rng.standard_normal((200, 12)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64) + (x[:, 3] > 1).astype(np.int64)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    sched = optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.9)
    train = DataLoader(TensorDataset(lamina.tensor(x[:160]), lamina.tensor(y[:160])), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(lamina.tensor(x[160:]), lamina.tensor(y[160:])), batch_size=20)
    return model, opt, sched, train, val


def main():
    mode, d, out = sys.argv[1], sys.argv[2], sys.argv[3]
    model, opt, sched, train, val = build(0 if mode != "resume" else 999)  # resume must not depend on the seed
    cbs = [EarlyStopping(patience=50), CSVLogger(os.path.join(d, "metrics.csv")),
           ModelCheckpoint(d, monitor="val_loss", every_n_steps=EVERY)]
    if mode == "kill":
        step = int(sys.argv[4])
        cbs.append(LambdaCallback(on_train_batch_end=lambda b, logs: (
            os.kill(os.getpid(), signal.SIGKILL) if trainer.global_step == step else None)))
    if mode == "slow":
        cbs.append(LambdaCallback(on_train_batch_end=lambda b, logs: time.sleep(0.05)))
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, scheduler_interval="step",
                      metrics=["accuracy"], callbacks=cbs)
    history = trainer.fit(train, validation=val, epochs=EPOCHS, verbose=False,
                          resume_from=d if mode == "resume" else None)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    np.savez(out, **weights, __val_loss=np.asarray(history.history["val_loss"]),
             __global_step=np.asarray(trainer.global_step))


if __name__ == "__main__":
    main()
