"""SimCLR on digits with 10 % of the labels: linear probe on frozen features vs a random encoder.

    .venv/bin/python benchmarks/simclr_digits.py [--epochs 100] [--seed 0] [--encoder conv]

Data: scikit-learn's 8x8 digits, a stratified 80/20 split (1437 train, 360 test); the training
images are used without labels for SimCLR, and 10 % of them (stratified, 144) keep their labels.
Model: ``SimCLR(encoder='conv')`` (conv 32 -> conv 64 -> max-pool -> Linear 128, BatchNorm, ReLU;
projection head 128 -> 128 -> 64), views from ``simclr_augment(8)`` (random resized crop of
60-100 % of the area, rotation up to 12 degrees, shifts up to 10 %, Gaussian pixel noise 0.05),
NT-Xent with temperature 0.5, Adam 1e-3, batch 256, trained with lamina's Trainer.

Reported, all on the 360 test images:
  * the linear probe (standardised frozen features, a Linear classifier, Adam, 300 full-batch
    steps) on the encoder at random initialisation and after SimCLR — the bar: >= 5 points better;
  * fine-tuning the SimCLR encoder with a new head on the 10 % labels;
  * the same encoder + head trained from scratch on the same 10 % (supervised baseline).
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--encoder", default="conv", choices=["conv", "mlp"])
    ap.add_argument("--label-fraction", type=float, default=0.1)
    ap.add_argument("--finetune-epochs", type=int, default=60)
    args = ap.parse_args()

    import lamina
    from lamina import optim
    from lamina.data import DataLoader, TensorDataset
    from lamina.data.datasets.digits import load_digits_splits
    from lamina.data.ssl_views import TwoViewDataset, simclr_augment
    from lamina.models import SimCLR, fine_tune, linear_probe
    from lamina.nn import NTXentLoss
    from lamina.train import Trainer

    train, _, test = load_digits_splits(val_fraction=0.0, test_fraction=0.2, seed=0, as_images=True)
    (xtr, ytr), (xte, yte) = train.tensors, test.tensors
    rng = np.random.default_rng(args.seed)
    ya = ytr.numpy()
    lab = np.concatenate([rng.choice(np.flatnonzero(ya == c), int(round(args.label_fraction * (ya == c).sum())),
                                     replace=False) for c in range(10)])
    print(f"digits: {len(xtr)} unlabeled training images, {len(lab)} labelled ({args.label_fraction:.0%}), "
          f"{len(xte)} test images; encoder {args.encoder}, {args.epochs} SimCLR epochs")

    lamina.manual_seed(args.seed)
    model = SimCLR(encoder=args.encoder, input_size=8)
    random_probe = linear_probe(model, xtr[lab], ytr[lab], xte, yte)
    scratch_model = SimCLR(encoder=args.encoder, input_size=8)  # fresh weights for the supervised baseline

    loader = DataLoader(TwoViewDataset(TensorDataset(xtr), simclr_augment(8)), batch_size=256, shuffle=True,
                        drop_last=True)
    trainer = Trainer(model, NTXentLoss(0.5), optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-6))
    start = time.perf_counter()
    hist = trainer.fit(loader, epochs=args.epochs, verbose=False)
    pretrain_s = time.perf_counter() - start
    probe = linear_probe(model, xtr[lab], ytr[lab], xte, yte)
    tuned = fine_tune(model, xtr[lab], ytr[lab], xte, yte, epochs=args.finetune_epochs, lr=1e-3, batch_size=32)
    scratch = fine_tune(scratch_model, xtr[lab], ytr[lab], xte, yte, epochs=args.finetune_epochs, lr=1e-3,
                        batch_size=32)

    losses = hist.history["loss"]
    print(f"SimCLR pre-training: {pretrain_s:.1f} s, NT-Xent {losses[0]:.3f} -> {losses[-1]:.3f}")
    print(f"{'test accuracy, 10% labels':<46}{'acc':>8}")
    print(f"{'linear probe, random-init encoder':<46}{random_probe.test_accuracy:>8.4f}")
    print(f"{'linear probe, SimCLR encoder (frozen)':<46}{probe.test_accuracy:>8.4f}")
    print(f"{'fine-tuned SimCLR encoder + head':<46}{tuned.test_accuracy:>8.4f}")
    print(f"{'supervised from scratch (same net)':<46}{scratch.test_accuracy:>8.4f}")
    gain = 100 * (probe.test_accuracy - random_probe.test_accuracy)
    print(f"probe gain over random encoder: {gain:+.1f} points (bar: >= +5): {'met' if gain >= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
