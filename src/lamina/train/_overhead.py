"""How much ``Trainer.fit`` costs on top of a hand-written loop (DESIGN.md's ``mlp`` workload).

    >>> from lamina.train._overhead import measure_overhead
    >>> hand_ms, fit_ms, ratio = measure_overhead(steps=50)

Both run the same model, optimizer and DataLoader over random data (``steps`` batches of 128
per epoch). Rounds alternate hand loop / fit so that machine load hits both alike; each
round's time per step is the epoch time over ``steps``, and the result is the best (minimum)
over rounds, as ``timeit`` reports: on a shared machine the minimum is the least disturbed
measurement. ``clock='cpu'`` times with ``time.process_time`` instead (CPU seconds of this
process, all threads): on a busy machine it is far less noisy than wall time, and the two loops
do the same kind of work (no I/O waits). The goal is ``ratio <= 1.05``.
"""
from __future__ import annotations

import time

import numpy as np


def _setup(steps: int, batch: int, seed: int):
    import lamina
    from lamina import nn, optim
    from lamina.data import DataLoader, TensorDataset

    lamina.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch * steps, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch * steps).astype(np.int64)
    loader = DataLoader(TensorDataset(lamina.tensor(x), lamina.tensor(y)), batch_size=batch, shuffle=True)
    return model, opt, loader


def measure_overhead(steps: int = 50, rounds: int = 5, batch: int = 128, seed: int = 0, clock: str = "wall") -> tuple:
    """``(hand ms/step, fit ms/step, fit / hand)`` on the mlp workload (best of ``rounds``)."""
    if clock not in ("wall", "cpu"):
        raise ValueError(f"measure_overhead: clock must be 'wall' or 'cpu', got {clock!r}")
    timer = time.perf_counter if clock == "wall" else time.process_time
    from lamina import nn
    from lamina.nn import functional as F
    from lamina.train import Trainer

    model, opt, loader = _setup(steps, batch, seed)
    loss_fn = nn.CrossEntropyLoss()
    trainer = Trainer(model, loss_fn, opt)

    def hand_epoch():
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()

    def fit_epoch():
        trainer.fit(loader, epochs=1, verbose=False)

    hand_epoch()  # warm-up: Numba kernels, BLAS, allocator
    fit_epoch()
    hand, fit = [], []
    for r in range(rounds):
        order = (hand_epoch, fit_epoch) if r % 2 == 0 else (fit_epoch, hand_epoch)
        for fn in order:
            t0 = timer()
            fn()
            ms = (timer() - t0) * 1e3 / steps
            (hand if fn is hand_epoch else fit).append(ms)
    h, f = min(hand), min(fit)
    return h, f, f / h


if __name__ == "__main__":  # python -m lamina.train._overhead
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    for clock in ("wall", "cpu"):
        h, f, r = measure_overhead(steps=n, clock=clock)
        print(f"{clock:4s} clock: hand loop {h:.3f} ms/step, Trainer.fit {f:.3f} ms/step, ratio {r:.4f}")
