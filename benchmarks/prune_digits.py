"""Magnitude pruning on the digits MLP: dense vs pruned (no fine-tuning) vs gradually pruned with
fine-tuning (Zhu & Gupta's schedule, ``lamina.train.GradualPruning``), with per-layer sparsity.

    .venv/bin/python benchmarks/prune_digits.py [--sparsity 0.8] [--seed 0] [--scope global]

Data: scikit-learn's 8x8 digits, stratified 70/10/20 split (seed). Model: 64 -> 256 -> ReLU -> 128
-> ReLU -> 10, Adam 3e-3. A pretrained dense model either trains on densely (the reference), or
prunes gradually over the first epochs of the same number of epochs and trains the sparse
network on; the one-shot model is the final dense one with its smallest weights cut at once.
"""
from __future__ import annotations

import argparse
import copy
import time

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets.digits import load_digits_splits
from lamina.nn.utils import prune
from lamina.train import GradualPruning, Trainer


def make_model(seed: int) -> nn.Module:
    lamina.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def layers(model) -> list:
    return [(m, "weight") for m in model.modules() if isinstance(m, nn.Linear)]


def accuracy(model, data) -> float:
    x, y = data.tensors
    model.eval()
    with lamina.no_grad():
        pred = model(x).numpy().argmax(axis=1)
    model.train()
    return float((pred == y.numpy()).mean())


def fit(model, train, epochs: int, lr: float, seed: int, callbacks=()):
    lamina.manual_seed(seed)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=lr), callbacks=list(callbacks))
    trainer.fit(loader, epochs=epochs, verbose=False)
    return model


def run(sparsity: float = 0.8, seed: int = 0, scope: str = "global", pretrain_epochs: int = 15,
        finetune_epochs: int = 10, prune_epochs: int = 5, lr: float = 3e-3) -> dict:
    """Pretrain dense; then (a) train it on densely, (b) cut (a) one-shot, (c) prune the pretrained model
    gradually over ``prune_epochs`` while fine-tuning for ``finetune_epochs`` (the same epochs as (a)).
    Returns test accuracies, sparsity reports, the schedule and times."""
    train, _val, test = load_digits_splits(seed=seed)
    t0 = time.perf_counter()
    pretrained = fit(make_model(seed), train, pretrain_epochs, lr, seed)
    dense = fit(copy.deepcopy(pretrained), train, finetune_epochs, lr, seed + 1)
    t_dense = time.perf_counter() - t0

    oneshot = copy.deepcopy(dense)
    if scope == "global":
        prune.global_unstructured(layers(oneshot), prune.L1Unstructured, amount=sparsity)
    else:
        for m, name in layers(oneshot):
            prune.l1_unstructured(m, name, amount=sparsity)

    t0 = time.perf_counter()
    pruner = GradualPruning(final_sparsity=sparsity, begin=0, end=prune_epochs - 1, unit="epoch", scope=scope,
                            make_permanent=True)
    tuned = fit(copy.deepcopy(pretrained), train, finetune_epochs, lr, seed + 1, callbacks=[pruner])
    t_tuned = time.perf_counter() - t0
    return {"dense": accuracy(dense, test), "oneshot": accuracy(oneshot, test), "finetuned": accuracy(tuned, test),
            "oneshot_report": prune.sparsity(oneshot, layers(oneshot)),
            "finetuned_report": prune.sparsity(tuned, layers(tuned)), "schedule": pruner.history,
            "seconds": {"dense": t_dense, "prune+finetune": t_tuned}, "test_size": len(test),
            "epochs": (pretrain_epochs, finetune_epochs, prune_epochs)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsity", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scope", choices=["global", "layer"], default="global")
    args = ap.parse_args(argv)
    r = run(args.sparsity, args.seed, args.scope)
    pre, ft, pe = r["epochs"]
    print(f"digits MLP 64-256-128-10, {args.scope} unstructured L1 pruning to {args.sparsity:.0%} "
          f"(seed {args.seed}, test set {r['test_size']} images)")
    print(f"dense: {pre} + {ft} epochs; gradual: {pre} dense epochs, then {ft} epochs pruning over the first {pe}\n")
    print(f"{'model':<34}{'test accuracy':>14}")
    print(f"{'dense':<34}{100 * r['dense']:>13.2f}%")
    print(f"{'pruned one-shot, no fine-tuning':<34}{100 * r['oneshot']:>13.2f}%")
    print(f"{'pruned gradually + fine-tuning':<34}{100 * r['finetuned']:>13.2f}%")
    print("\nschedule (epoch, target sparsity): " + ", ".join(f"({t}, {s:.3f})" for t, s in r["schedule"]))
    print("\nsparsity of the one-shot model:\n" + str(r["oneshot_report"]))
    print("\nsparsity of the fine-tuned model (masks made permanent):\n" + str(r["finetuned_report"]))
    print(f"\ntime: dense training ({pre} + {ft} epochs) {r['seconds']['dense']:.1f} s, gradual pruning + fine-tuning "
          f"{r['seconds']['prune+finetune']:.1f} s")


if __name__ == "__main__":
    main()
