"""PGD attacks and PGD adversarial training on the digits CNN (inputs in [0, 1]).

    .venv/bin/python benchmarks/robust_digits.py [--seed 0] [--epochs 30] [--adv-epochs 30] [--json]

Data: scikit-learn's 8x8 digits as (1, 8, 8) images in [0, 1], stratified 70/10/20 split (seed).
Model: Conv(1->16, 3, pad 1) ReLU Conv(16->32, 3, pad 1) ReLU MaxPool2 Flatten Linear(512->64) ReLU
Linear(64->10), Adam 1e-3, batch 64. Two models from the same initial weights:

  standard      trained on clean images
  adversarial   trained on L-inf PGD examples (eps 0.1 or --eps-train, 7 steps of 2.5 eps / 7, random start),
                generated per batch by ``lamina.robust.AdversarialBatchFn`` (Madry et al., 2018)

Reported on the test split: clean accuracy, PGD accuracy at eps 0.1 (20 steps, random start) for
both, and the standard model's accuracy under PGD at eps 0.3 with the attack's per-step loss.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets.digits import load_digits_splits
from lamina.robust import AdversarialBatchFn, pgd, robust_accuracy
from lamina.train import Trainer


def make_model(seed: int) -> nn.Module:
    lamina.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def fit(model, train, epochs: int, seed: int, adversarial: dict | None = None, lr: float = 1e-3):
    lamina.manual_seed(seed)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    batch_fn = AdversarialBatchFn.from_config(model, adversarial, generator=lamina.Generator().manual_seed(seed)) \
        if adversarial else None
    Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=lr), batch_fn=batch_fn).fit(
        loader, epochs=epochs, verbose=False)
    return model


def run(seed: int = 0, epochs: int = 30, adv_epochs: int = 30, eps_train: float = 0.1, eps_eval: float = 0.1,
        eval_steps: int = 20, train_steps: int = 7) -> dict:
    train, _val, test = load_digits_splits(seed=seed, as_images=True)
    x_test, y_test = (t.numpy() for t in test.tensors)
    out = {"seed": seed, "epochs": epochs, "adv_epochs": adv_epochs, "eps_train": eps_train, "eps_eval": eps_eval,
           "n_test": int(len(y_test))}
    t0 = time.perf_counter()
    standard = fit(make_model(seed), train, epochs, seed)
    out["time_standard_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    adversarial = fit(make_model(seed), train, adv_epochs, seed,
                      adversarial={"eps": eps_train, "steps": train_steps, "norm": "linf", "random_start": True})
    out["time_adversarial_s"] = time.perf_counter() - t0
    gen = lamina.Generator().manual_seed(seed + 1)
    for name, model in (("standard", standard), ("adversarial", adversarial)):
        r = robust_accuracy(model, x_test, y_test, eps=eps_eval, attack="pgd", steps=eval_steps, generator=gen)
        out[name] = {"clean_accuracy": r["clean_accuracy"], f"pgd{eps_eval}_accuracy": r["robust_accuracy"]}
    r3 = robust_accuracy(standard, x_test, y_test, eps=0.3, attack="pgd", steps=eval_steps, generator=gen)
    out["standard"]["pgd0.3_accuracy"] = r3["robust_accuracy"]
    res = pgd(standard, x_test, y_test, eps=0.3, steps=eval_steps, generator=gen)
    out["pgd0.3_losses_standard"] = [round(v, 4) for v in res.losses.tolist()]
    out["pgd0.3_loss_monotonic"] = bool(np.all(np.diff(res.losses) > 0))
    out["robust_gain_points"] = 100 * (out["adversarial"][f"pgd{eps_eval}_accuracy"]
                                       - out["standard"][f"pgd{eps_eval}_accuracy"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--adv-epochs", type=int, default=50)
    ap.add_argument("--eps-train", type=float, default=0.12, help="PGD budget during adversarial training")
    ap.add_argument("--train-steps", type=int, default=10, help="PGD steps per training batch")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args()
    r = run(a.seed, a.epochs, a.adv_epochs, eps_train=a.eps_train, train_steps=a.train_steps)
    if a.json:
        print(json.dumps(r, indent=2))
        return
    print(f"digits CNN, test n={r['n_test']}, PGD-{r['eps_eval']} eval with 20 steps (seed {r['seed']}); "
          f"adversarial training: PGD eps {r['eps_train']}, {a.train_steps} steps")
    print(f"{'model':<12} {'clean':>7} {'PGD eps=0.1':>12} {'train s':>8}")
    for name, t in (("standard", r["time_standard_s"]), ("adversarial", r["time_adversarial_s"])):
        m = r[name]
        print(f"{name:<12} {m['clean_accuracy']:>7.3f} {m['pgd0.1_accuracy']:>12.3f} {t:>8.1f}")
    print(f"robust accuracy gain: {r['robust_gain_points']:+.1f} points")
    print(f"standard model under PGD eps=0.3: accuracy {r['standard']['pgd0.3_accuracy']:.3f}; "
          f"loss per step monotonic: {r['pgd0.3_loss_monotonic']}")
    print("losses:", r["pgd0.3_losses_standard"])


if __name__ == "__main__":
    main()
