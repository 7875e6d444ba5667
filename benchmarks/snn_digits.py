"""Spiking MLP on digits, lamina against snnTorch: test accuracy and training time.

    .venv/bin/python benchmarks/snn_digits.py [--epochs 40] [--seed 0] [--skip-recorded] [--rival torch]

Network (issue 12): rate-coded inputs (Bernoulli(pixel/16), 25 time steps), Linear(64, 256) ->
LIF -> Linear(256, 10) -> LIF; LIF beta 0.95, threshold 1, reset by subtraction, arctan surrogate
(slope 2, snnTorch's default); loss = cross-entropy on the output spike counts (snnTorch's
``ce_count_loss``), prediction = the most active output neuron; Adam 1e-3, batch 128; a stratified
80/20 split of scikit-learn's 8x8 digits (1437 train, 360 test). The bar: >= 97 % test accuracy,
and lamina's training time within 1.5x snnTorch's for the same network, steps and epochs.

Runs, each in its own process (so the frameworks' threads and caches do not mix), alternating:
  * lamina, fused: ``SpikingMLP`` (each LIF layer's time loop is one Function, BPTT in one kernel);
  * lamina, recorded (one epoch, timing only): every LIF step recorded by the autograd engine;
  * snnTorch: ``snn.Leaky`` layers stepped over time in a Python loop (its tutorials' way).
snnTorch is a benchmark-only dependency (``pip install snntorch``); ``--rival torch`` uses the same
network written in plain PyTorch ops instead (also used automatically when snnTorch is missing).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

STEPS, HIDDEN, BATCH, LR, BETA = 25, 256, 128, 1e-3, 0.95


def digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)


def batches(n, epoch, seed):
    order = np.random.default_rng(seed * 1000 + epoch).permutation(n)
    return [order[i:i + BATCH] for i in range(0, n, BATCH)]


def run_lamina(epochs, seed, fused=True):
    import lamina
    from lamina import nn, optim
    from lamina.models import SpikingMLP
    xtr, xte, ytr, yte = digits_split()
    lamina.manual_seed(seed)
    model = SpikingMLP(64, [HIDDEN], 10, num_steps=STEPS, beta=BETA, surrogate="atan", fused=fused, seed=seed)
    opt = optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = lamina.Tensor(xtr), lamina.Tensor(ytr)
    start = time.perf_counter()
    for epoch in range(epochs):
        for idx in batches(len(xtr), epoch, seed):
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    train_s = time.perf_counter() - start
    with lamina.no_grad():
        pred = model(lamina.Tensor(xte)).numpy().argmax(1)
    return {"train_s": train_s, "accuracy": float((pred == yte).mean())}


def run_torch(epochs, seed, use_snntorch=True):
    import torch
    torch.manual_seed(seed)
    xtr, xte, ytr, yte = digits_split()
    fc1, fc2 = torch.nn.Linear(64, HIDDEN), torch.nn.Linear(HIDDEN, 10)
    if use_snntorch:
        import snntorch as snn
        from snntorch import surrogate
        lif1, lif2 = snn.Leaky(beta=BETA, spike_grad=surrogate.atan()), snn.Leaky(beta=BETA, spike_grad=surrogate.atan())
    else:
        class ATan(torch.autograd.Function):
            @staticmethod
            def forward(ctx, u):
                ctx.save_for_backward(u)
                return (u > 0).float()

            @staticmethod
            def backward(ctx, g):
                (u,) = ctx.saved_tensors
                return g / (1 + (torch.pi * u) ** 2)   # atan surrogate, slope 2

        def leaky(cur, mem):
            reset = (mem > 1.0).float().detach()
            mem = BETA * mem + cur - reset
            return ATan.apply(mem - 1.0), mem
        lif1 = lif2 = leaky
    params = list(fc1.parameters()) + list(fc2.parameters())
    opt = torch.optim.Adam(params, lr=LR)

    def forward(x):
        spk_in = (torch.rand((STEPS,) + tuple(x.shape)) < x).float()   # rate coding
        mem1 = torch.zeros(x.shape[0], HIDDEN)
        mem2 = torch.zeros(x.shape[0], 10)
        count = 0
        for t in range(STEPS):
            s1, mem1 = lif1(fc1(spk_in[t]), mem1)
            s2, mem2 = lif2(fc2(s1), mem2)
            count = count + s2
        return count

    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    start = time.perf_counter()
    for epoch in range(epochs):
        for idx in batches(len(xtr), epoch, seed):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(forward(xt[idx]), yt[idx]).backward()
            opt.step()
    train_s = time.perf_counter() - start
    with torch.no_grad():
        pred = forward(torch.from_numpy(xte)).argmax(1).numpy()
    return {"train_s": train_s, "accuracy": float((pred == yte).mean())}


def child(which, epochs, seed):
    if which == "lamina":
        out = run_lamina(epochs, seed)
    elif which == "lamina_recorded":
        out = run_lamina(epochs, seed, fused=False)
    else:
        out = run_torch(epochs, seed, use_snntorch=(which == "snntorch"))
    print("RESULT " + json.dumps(out))


def spawn(which, epochs, seed):
    env = dict(os.environ)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", which, "--epochs", str(epochs), "--seed", str(seed)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{which} failed:\n{res.stderr[-3000:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rival", choices=["snntorch", "torch"], default="snntorch")
    ap.add_argument("--skip-recorded", action="store_true")
    ap.add_argument("--child", default=None)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.epochs, args.seed)
    rival = args.rival
    if rival == "snntorch":
        try:
            import snntorch  # noqa: F401
        except ImportError:
            print("snnTorch is not installed: the rival is the same network in plain PyTorch")
            rival = "torch"
    spawn("lamina", 1, args.seed)  # warm the Numba cache so no run pays for compiling
    lam = spawn("lamina", args.epochs, args.seed)
    print(f"lamina: {lam}", flush=True)
    riv = spawn(rival, args.epochs, args.seed)
    print(f"{rival}: {riv}", flush=True)
    print(f"digits, rate-coded 64-{HIDDEN}-10 LIF MLP, {STEPS} steps, {args.epochs} epochs, batch {BATCH}, Adam {LR}")
    print(f"{'run':<26}{'test acc':>10}{'train s':>10}")
    print(f"{'lamina (fused LIF)':<26}{lam['accuracy']:>10.4f}{lam['train_s']:>10.2f}")
    print(f"{rival:<26}{riv['accuracy']:>10.4f}{riv['train_s']:>10.2f}")
    print(f"time ratio lamina / {rival}: {lam['train_s'] / riv['train_s']:.2f}  (bar: <= 1.5)")
    print(f"accuracy bar (>= 0.97): {'met' if lam['accuracy'] >= 0.97 else 'NOT met'}")
    if not args.skip_recorded:
        rec = spawn("lamina_recorded", 1, args.seed)
        fus = spawn("lamina", 1, args.seed)
        print(f"one epoch, lamina recorded time loop {rec['train_s']:.2f} s vs fused {fus['train_s']:.2f} s "
              f"({rec['train_s'] / fus['train_s']:.1f}x)")


if __name__ == "__main__":
    main()
