"""lamina's main job: train an MLP on scikit-learn's bundled digits and report test accuracy.

    python examples/mlp_digits.py [--epochs 40] [--hidden 256] [--lr 2e-3] [--seed 0]

The data needs no download: 1797 8×8 images shipped with scikit-learn, split 70/10/20 into
train/validation/test (stratified). Features are standardised with statistics of the
training split only. The model with the best validation accuracy is the one tested.
"""
from __future__ import annotations

import argparse
import sys
import time

import lamina
import lamina.nn.functional as F
from lamina import nn, optim
from lamina.data import DataLoader, TensorDataset
from lamina.data.datasets.digits import load_digits_splits
from lamina.data.transforms import Standardize


def accuracy(model: nn.Module, x: lamina.Tensor, y: lamina.Tensor) -> float:
    model.eval()
    with lamina.no_grad():
        pred = model(x).argmax(dim=1)
    model.train()
    return (pred == y).float().mean().item()


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)

    lamina.manual_seed(a.seed)
    train, val, test = load_digits_splits(val_fraction=0.1, test_fraction=0.2, seed=a.seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = train.tensors, val.tensors, test.tensors
    scale = Standardize().fit(x_train)
    x_train, x_val, x_test = scale(x_train), scale(x_val), scale(x_test)

    model = nn.Sequential(
        nn.Linear(64, a.hidden), nn.ReLU(), nn.Dropout(a.dropout),
        nn.Linear(a.hidden, a.hidden), nn.ReLU(), nn.Dropout(a.dropout),
        nn.Linear(a.hidden, 10),
    )
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=a.batch_size, shuffle=True)
    opt = optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs * len(loader))
    if not a.quiet:
        print(model)
        print(f"train {len(x_train)}, validation {len(x_val)}, test {len(x_test)} samples")

    best_val, best_state, t0 = -1.0, None, time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(yb)
        val_acc = accuracy(model, x_val, y_val)
        if val_acc > best_val:
            best_val = val_acc
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        if not a.quiet and (epoch % 5 == 0 or epoch == 1):
            print(f"epoch {epoch:3d}  loss {total / len(x_train):.4f}  val acc {val_acc:.4f}")
    model.load_state_dict(best_state)
    test_acc = accuracy(model, x_test, y_test)
    print(f"best val acc {best_val:.4f} — test accuracy {test_acc:.4f} ({time.perf_counter() - t0:.1f} s)")
    return test_acc


if __name__ == "__main__":
    main()
    sys.exit(0)
