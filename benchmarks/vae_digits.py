"""Bernoulli VAE on binarised digits, lamina against PyTorch: test ELBO and IWAE-100 log-likelihood.

    .venv/bin/python benchmarks/vae_digits.py [--epochs 200] [--seed 0] [--same-init]

Data: scikit-learn's 8x8 digits, binarised (pixel / 16 > 0.5), a fixed split (a seed-0
permutation: 1437 train, 360 test images). Model (issue 12): encoder 64-256-256-2x16, decoder
16-256-256-64, ReLU, Bernoulli logits; Adam 1e-3, batch 100, the negative ELBO (summed over pixels,
mean over the batch) with one sample of z. lamina trains with its Trainer (``VAE`` + ``ELBOLoss``);
PyTorch runs the same architecture, epochs, batch order and optimiser, with its own default
initialisation (``--same-init`` copies lamina's initial weights instead). Reported on the test
images, in nats per image: the ELBO (averaged over 10 samples of z) and the 100-sample
importance-weighted estimate of log p(x). The bar: both within 0.5 nat of PyTorch's.

(PyTorch is a benchmark/test oracle only. Both run in this process, one after the other: the
times printed are indicative, not the benchmark runner's.)
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import lamina
from lamina import optim
from lamina.models import VAE, ELBOLoss
from lamina.train import Trainer

IN, LATENT, HIDDEN = 64, 16, (256, 256)
BATCH, LR = 100, 1e-3


def binarized_digits(seed: int = 0):
    """(x_train (1437, 64), x_test (360, 64)) float32 in {0, 1}: load_digits().data / 16 > 0.5, split by a seeded permutation."""
    from sklearn.datasets import load_digits
    x = (load_digits().data / 16.0 > 0.5).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = 360
    return x[order[n_test:]], x[order[:n_test]]


def epoch_orders(n: int, epochs: int, seed: int) -> np.ndarray:
    """The shuffled sample order of every epoch, (epochs, n), shared by both frameworks."""
    rng = np.random.default_rng(seed + 1)
    return np.stack([rng.permutation(n) for _ in range(epochs)])


class _OrderedBatches:
    """A loader yielding ``(x[idx],)`` batches in a given per-epoch order (the same order torch sees)."""

    def __init__(self, x, orders, batch_size):
        self.x, self.orders, self.batch_size, self.epoch = x, orders, batch_size, 0

    def __len__(self):
        return -(-self.x.shape[0] // self.batch_size)

    def __iter__(self):
        order = self.orders[self.epoch]
        self.epoch += 1
        for s in range(0, len(order), self.batch_size):
            yield (lamina.tensor(self.x[order[s:s + self.batch_size]]),)


# ---------------------------------------------------------------- lamina
def lamina_model(seed: int) -> VAE:
    lamina.manual_seed(seed)
    return VAE(IN, LATENT, HIDDEN, activation="relu", likelihood="bernoulli")


def train_lamina(model, x_train, orders, seed: int) -> float:
    lamina.manual_seed(seed + 2)
    trainer = Trainer(model, ELBOLoss(), optim.Adam(model.parameters(), lr=LR))
    t0 = time.perf_counter()
    trainer.fit(_OrderedBatches(x_train, orders, BATCH), epochs=len(orders), verbose=False)
    return time.perf_counter() - t0


def eval_lamina(model, x_test, seed: int) -> dict:
    g = lamina.Generator().manual_seed(seed + 3)
    x = lamina.tensor(x_test)
    model.eval()
    with lamina.no_grad():
        elbo = float(model.elbo(x, k=10, generator=g).mean())
        iwae = float(model.iwae_log_likelihood(x, k=100, generator=g).mean())
    return {"elbo": elbo, "iwae100": iwae}


# ---------------------------------------------------------------- PyTorch (the same computation with torch ops)
def torch_model(seed: int, init_from=None):
    import torch
    from torch import nn
    torch.manual_seed(seed)
    def mlp(sizes):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers[:-1])
    model = nn.ModuleDict({"encoder": mlp((IN,) + HIDDEN + (2 * LATENT,)),
                           "decoder": mlp((LATENT,) + HIDDEN[::-1] + (IN,))})
    if init_from is not None:
        model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in init_from.state_dict().items()})
    return model


def torch_neg_elbo(model, x):
    import torch
    import torch.nn.functional as F
    h = model["encoder"](x)
    mu, logvar = h[:, :LATENT], h[:, LATENT:]
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    logits = model["decoder"](z)
    rec = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
    return (kl - rec).mean()


def train_torch(model, x_train, orders, seed: int) -> float:
    import torch
    torch.manual_seed(seed + 2)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xt = torch.from_numpy(x_train)
    t0 = time.perf_counter()
    for order in orders:
        for s in range(0, len(order), BATCH):
            loss = torch_neg_elbo(model, xt[order[s:s + BATCH]])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def torch_log_weights(model, x, k: int):
    """log p(x, z_k) - log q(z_k | x) for k samples, (k, N), all samples decoded as one batch."""
    import torch
    import torch.nn.functional as F
    h = model["encoder"](x)
    mu, logvar = h[:, :LATENT], h[:, LATENT:]
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((k,) + tuple(mu.shape), dtype=mu.dtype)
    z = mu + std * eps
    logits = model["decoder"](z)
    log_px = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_qz = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    return log_px, log_pz - log_qz, mu, logvar


def eval_torch(model, x_test, seed: int) -> dict:
    import torch
    torch.manual_seed(seed + 3)
    x = torch.from_numpy(x_test)
    with torch.no_grad():
        log_px, _, mu, logvar = torch_log_weights(model, x, 10)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        elbo = float((log_px.mean(0) - kl).mean())
        log_px, log_ratio, _, _ = torch_log_weights(model, x, 100)
        iwae = float((torch.logsumexp(log_px + log_ratio, 0) - math.log(100)).mean())
    return {"elbo": elbo, "iwae100": iwae}


def run(epochs: int = 200, seed: int = 0, same_init: bool = False) -> dict:
    """Train both and evaluate: {'lamina': {...}, 'torch': {...}} (nats per test image, seconds)."""
    x_train, x_test = binarized_digits(seed)
    orders = epoch_orders(len(x_train), epochs, seed)
    lm = lamina_model(seed)
    tm = torch_model(seed, init_from=lm if same_init else None)
    t_lam = train_lamina(lm, x_train, orders, seed)
    t_torch = train_torch(tm, x_train, orders, seed)
    lam, tor = eval_lamina(lm, x_test, seed), eval_torch(tm, x_test, seed)
    lam["seconds"], tor["seconds"] = t_lam, t_torch
    return {"lamina": lam, "torch": tor}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--same-init", action="store_true", help="start PyTorch from lamina's initial weights")
    args = p.parse_args(argv)
    res = run(args.epochs, args.seed, args.same_init)
    lam, tor = res["lamina"], res["torch"]
    print(f"Bernoulli VAE 64-256-256-2x16 / 16-256-256-64 on binarised digits, {args.epochs} epochs, Adam {LR}, "
          f"batch {BATCH}, seed {args.seed}{', same init' if args.same_init else ''}")
    print(f"{'':8s} {'test ELBO':>10s} {'IWAE-100':>10s} {'train s':>8s}")
    for name, r in (("lamina", lam), ("pytorch", tor)):
        print(f"{name:8s} {r['elbo']:10.3f} {r['iwae100']:10.3f} {r['seconds']:8.1f}")
    d_elbo, d_iwae = lam["elbo"] - tor["elbo"], lam["iwae100"] - tor["iwae100"]
    ok = abs(d_elbo) <= 0.5 and abs(d_iwae) <= 0.5
    print(f"difference (lamina - pytorch): ELBO {d_elbo:+.3f}, IWAE-100 {d_iwae:+.3f} nats/image -> "
          f"{'within' if ok else 'NOT within'} 0.5 nat")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
