"""Conditional GAN on digits (lamina against PyTorch) and the DCGAN step time.

    .venv/bin/python benchmarks/gan_digits.py [--steps 4400] [--seeds 3] [--no-timing] [--timing-only]

Data: scikit-learn's 8x8 digits scaled to [-1, 1] (pixel / 8 - 1), a fixed split (a seed-0
permutation: 1437 train, 360 test images).

1. The judge: an MLP 64-256-10 (ReLU) classifier trained in lamina on the real training images
   (Adam 1e-3, 60 epochs, batch 64); it must reach >= 97 % test accuracy. Its 256 penultimate
   features are where the Frechet distance is measured.
2. The cGAN (issue 12): MLP generator [z(32), embed(y)(10)] -> 256 -> 256 -> 64 tanh, MLP
   discriminator [x(64), embed(y)(10)] -> 256 -> 256 -> 1, LeakyReLU(0.2), non-saturating loss,
   Adam(2e-4, betas (0.5, 0.999)) for both, batch 64 (drop_last), ``--steps`` steps (G + D each).
   lamina trains it with ``GANTrainer``; PyTorch trains the same architecture, steps and
   optimiser, written plainly, with its own initialisation and shuffling. Both are judged by the
   same judge on 1000 generated images (100 per class): the share labelled as the class asked for
   (bar: >= 97 %), and the Frechet distance between the generated images' and the real test
   images' judge features (bar: lamina's median over seeds within 1.25x of PyTorch's).
3. The step time: one DCGAN training step (D step + G step), batch 64, 28x28 (digits upscaled
   bilinearly), latent 100, base width 64 (G: ConvT 100->128 k7, ->64, ->1; D: Conv 1->64, ->128
   + BN, ->1 k7), Adam 2e-4. Each framework times in its own child process (PyTorch's never
   imports lamina), alternating over rounds; median ms per step; bar: ratio <= 1.5.

(PyTorch is a benchmark/test oracle only.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

LATENT, EMBED, HIDDEN, CLASSES = 32, 10, (256, 256), 10
BATCH, LR, BETAS = 64, 2e-4, (0.5, 0.999)
N_GEN_PER_CLASS = 100


def digits(seed: int = 0):
    """(x_train (1437, 1, 8, 8), y_train, x_test (360, 1, 8, 8), y_test): float32 in [-1, 1], int64 labels."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 8.0 - 1.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    te, tr = order[:360], order[360:]
    return x[tr], y[tr], x[te], y[te]


# ---------------------------------------------------------------- the judge and the Frechet distance
def train_judge(x_train, y_train, x_test, y_test, epochs: int = 60, seed: int = 0):
    """An MLP 64-256-10 classifier trained in lamina; returns (model, test accuracy)."""
    import lamina
    from lamina import optim
    from lamina.data import DataLoader, TensorDataset
    from lamina.models import MLP
    from lamina.train import Trainer

    lamina.manual_seed(seed)
    judge = MLP(64, [256], 10)
    loader = DataLoader(TensorDataset(lamina.tensor(x_train), lamina.tensor(y_train)), batch_size=64, shuffle=True)
    Trainer(judge, "cross_entropy", optim.Adam(judge.parameters(), lr=1e-3)).fit(loader, epochs=epochs, verbose=False)
    acc = float((judge_logits(judge, x_test).argmax(1) == y_test).mean())
    return judge, acc


def judge_logits(judge, x) -> np.ndarray:
    import lamina
    judge.eval()
    with lamina.no_grad():
        return judge(lamina.tensor(np.asarray(x, np.float32).reshape(len(x), -1))).numpy()


def judge_features(judge, x) -> np.ndarray:
    """The judge's penultimate features: ReLU(W1 x + b1), (N, 256)."""
    import lamina
    judge.eval()
    with lamina.no_grad():
        h = lamina.tensor(np.asarray(x, np.float32).reshape(len(x), -1))
        return judge[1](judge[0](h)).numpy().astype(np.float64)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) between two feature sets (rows = samples)."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # tr (S1 S2)^1/2 = sum of the square roots of the eigenvalues of S1^1/2 S2 S1^1/2 (symmetric PSD:
    # stable even when dead ReLU features make both covariances singular)
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def asked_labels() -> np.ndarray:
    return np.repeat(np.arange(CLASSES), N_GEN_PER_CLASS)


def judge_samples(judge, images, labels, x_test) -> dict:
    acc = float((judge_logits(judge, images).argmax(1) == labels).mean())
    fd = frechet_distance(judge_features(judge, images), judge_features(judge, x_test))
    return {"label_accuracy": acc, "frechet": fd}


# ---------------------------------------------------------------- lamina's cGAN
def train_lamina_cgan(x_train, y_train, steps: int, seed: int) -> tuple:
    """(generated images (1000, 1, 8, 8) for asked_labels(), seconds)."""
    import lamina
    from lamina.data import DataLoader, TensorDataset
    from lamina.models import ConditionalGAN
    from lamina.train import LambdaCallback
    from lamina.train.gan_trainer import GANTrainer

    lamina.manual_seed(seed)
    gan = ConditionalGAN("mlp", latent_dim=LATENT, image_shape=(1, 8, 8), num_classes=CLASSES, embedding_dim=EMBED,
                         hidden_sizes=HIDDEN)
    loader = DataLoader(TensorDataset(lamina.tensor(x_train), lamina.tensor(y_train)), batch_size=BATCH,
                        shuffle=True, drop_last=True, generator=lamina.Generator().manual_seed(seed + 1))
    epochs = -(-steps // len(loader))
    trainer = GANTrainer(gan, loss="non_saturating", seed=seed + 2)
    stop = LambdaCallback(on_train_batch_end=lambda b, logs: setattr(
        trainer, "stop_training", trainer.global_step >= steps))
    t0 = time.perf_counter()
    trainer.fit(loader, epochs=epochs, callbacks=[stop], verbose=False)
    seconds = time.perf_counter() - t0
    labels = asked_labels()
    images = gan.sample(len(labels), labels=lamina.tensor(labels), generator=lamina.Generator().manual_seed(seed + 3))
    return images.numpy(), seconds, trainer.global_step


# ---------------------------------------------------------------- PyTorch's cGAN (the same computation)
def _torch_cgan_nets():
    import torch
    from torch import nn

    class Gen(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(CLASSES, EMBED)
            self.net = nn.Sequential(nn.Linear(LATENT + EMBED, HIDDEN[0]), nn.LeakyReLU(0.2),
                                     nn.Linear(HIDDEN[0], HIDDEN[1]), nn.LeakyReLU(0.2), nn.Linear(HIDDEN[1], 64),
                                     nn.Tanh())

        def forward(self, z, y):
            return self.net(torch.cat([z, self.embedding(y)], 1)).reshape(-1, 1, 8, 8)

    class Disc(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(CLASSES, EMBED)
            self.net = nn.Sequential(nn.Linear(64 + EMBED, HIDDEN[0]), nn.LeakyReLU(0.2),
                                     nn.Linear(HIDDEN[0], HIDDEN[1]), nn.LeakyReLU(0.2), nn.Linear(HIDDEN[1], 1))

        def forward(self, x, y):
            return self.net(torch.cat([x.reshape(len(x), -1), self.embedding(y)], 1)).reshape(-1)

    return Gen(), Disc()


def train_torch_cgan(x_train, y_train, steps: int, seed: int) -> tuple:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)  # tiny products: PyTorch's thread pool only spins on a shared machine (quality run)
    torch.manual_seed(seed)
    G, D = _torch_cgan_nets()
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(seed + 1))
    step = 0
    t0 = time.perf_counter()
    while step < steps:
        for x, y in loader:
            fake = G(torch.randn(len(x), LATENT), y)
            opt_d.zero_grad()
            d_loss = F.softplus(-D(x, y)).mean() + F.softplus(D(fake.detach(), y)).mean()
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            for p in D.parameters():
                p.requires_grad_(False)
            g_loss = F.softplus(-D(fake, y)).mean()
            g_loss.backward()
            for p in D.parameters():
                p.requires_grad_(True)
            opt_g.step()
            step += 1
            if step >= steps:
                break
    seconds = time.perf_counter() - t0
    labels = asked_labels()
    G.eval()
    with torch.no_grad():
        images = G(torch.randn(len(labels), LATENT, generator=torch.Generator().manual_seed(seed + 3)),
                   torch.from_numpy(labels)).numpy()
    return images, seconds, step


# ---------------------------------------------------------------- DCGAN step timing (child processes)
T_LATENT, T_BATCH, T_BASE = 100, 64, 64


def _upscaled_batch():
    """64 digits bilinearly upscaled to 28x28, in [-1, 1] (NumPy, shared by both frameworks)."""
    from scipy.ndimage import zoom
    x, _, _, _ = digits()
    return np.clip(zoom(x[:T_BATCH], (1, 1, 3.5, 3.5), order=1), -1, 1).astype(np.float32)


def dcgan_step_lamina():
    import lamina
    from lamina.models import GAN
    from lamina.train.gan_trainer import GANTrainer

    lamina.manual_seed(0)
    gan = GAN("dcgan", latent_dim=T_LATENT, image_shape=(1, 28, 28), base_channels=T_BASE)
    trainer = GANTrainer(gan, loss="non_saturating")
    x = lamina.tensor(_upscaled_batch())
    return lambda: trainer.train_step(x)


def dcgan_step_torch():
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    b = T_BASE
    G = nn.Sequential(nn.ConvTranspose2d(T_LATENT, 2 * b, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * b), nn.ReLU(),
                      nn.ConvTranspose2d(2 * b, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(),
                      nn.ConvTranspose2d(b, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, b, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(b, 2 * b, 4, 2, 1, bias=False),
                      nn.BatchNorm2d(2 * b), nn.LeakyReLU(0.2), nn.Conv2d(2 * b, 1, 7, 1, 0))
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    x = torch.from_numpy(_upscaled_batch())

    def step():
        fake = G(torch.randn(T_BATCH, T_LATENT, 1, 1))
        opt_d.zero_grad()
        d_loss = F.softplus(-D(x).reshape(-1)).mean() + F.softplus(D(fake.detach()).reshape(-1)).mean()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = F.softplus(-D(fake).reshape(-1)).mean()
        g_loss.backward()
        for p in D.parameters():
            p.requires_grad_(True)
        opt_g.step()
        return float(d_loss), float(g_loss)

    return step


def _child(framework: str, steps: int, warmup: int) -> dict:
    step = dcgan_step_lamina() if framework == "lamina" else dcgan_step_torch()
    if framework != "lamina" and "lamina" in sys.modules:
        raise RuntimeError("the PyTorch timing process imported lamina")
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"times": times}


def time_dcgan(steps: int = 10, warmup: int = 3, rounds: int = 3) -> dict:
    times = {"lamina": [], "torch": []}
    for _ in range(rounds):
        for f in ("lamina", "torch"):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", f, str(steps), str(warmup)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{f} timing child failed: {out.stderr.strip()[-2000:]}")
            times[f] += json.loads(out.stdout.strip().splitlines()[-1])["times"]
    return {f: statistics.median(t) for f, t in times.items()}


# ---------------------------------------------------------------- main
def run_cgan(steps: int, seeds) -> dict:
    x_tr, y_tr, x_te, y_te = digits()
    judge, judge_acc = train_judge(x_tr, y_tr, x_te, y_te)
    real_fd = frechet_distance(judge_features(judge, x_tr), judge_features(judge, x_te))
    rows = []
    for seed in seeds:
        for name, fn in (("lamina", train_lamina_cgan), ("pytorch", train_torch_cgan)):
            images, seconds, done = fn(x_tr, y_tr, steps, seed)
            r = judge_samples(judge, images, asked_labels(), x_te)
            rows.append({"framework": name, "seed": seed, "seconds": seconds, "steps": done, **r})
            print(f"  {name:8s} seed {seed}: label accuracy {r['label_accuracy']:.3f}  Frechet {r['frechet']:7.2f}  "
                  f"({done} steps, {seconds:.1f} s)", flush=True)
    return {"judge_accuracy": judge_acc, "real_train_vs_test_fd": real_fd, "runs": rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=4400, help="cGAN training steps (22 per epoch)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--timing-only", action="store_true")
    p.add_argument("--timing-steps", type=int, default=10)
    p.add_argument("--timing-rounds", type=int, default=3)
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.child[0], int(a.child[1]), int(a.child[2]))))
        return 0
    ok = True
    if not a.timing_only:
        print(f"cGAN on digits: MLP {LATENT}+{EMBED}-256-256-64 / 64+{EMBED}-256-256-1, non-saturating, "
              f"Adam {LR} {BETAS}, batch {BATCH}, {a.steps} steps, seeds 0..{a.seeds - 1}", flush=True)
        res = run_cgan(a.steps, range(a.seeds))
        print(f"judge (MLP 64-256-10) test accuracy {res['judge_accuracy']:.4f}; Frechet(real train, real test) "
              f"{res['real_train_vs_test_fd']:.2f}")
        med = {}
        for name in ("lamina", "pytorch"):
            rs = [r for r in res["runs"] if r["framework"] == name]
            med[name] = {k: statistics.median(r[k] for r in rs) for k in ("label_accuracy", "frechet", "seconds")}
            print(f"{name:8s} median: label accuracy {med[name]['label_accuracy']:.3f}, Frechet "
                  f"{med[name]['frechet']:.2f}, train {med[name]['seconds']:.1f} s")
        ratio = med["lamina"]["frechet"] / med["pytorch"]["frechet"]
        checks = {"judge >= 97%": res["judge_accuracy"] >= 0.97,
                  "lamina label accuracy >= 97%": med["lamina"]["label_accuracy"] >= 0.97,
                  f"Frechet ratio {ratio:.2f} <= 1.25": ratio <= 1.25}
        for k, v in checks.items():
            print(f"  {'PASS' if v else 'FAIL'}  {k}")
        ok = ok and all(checks.values())
    if not a.no_timing:
        t = time_dcgan(a.timing_steps, rounds=a.timing_rounds)
        ratio = t["lamina"] / t["torch"]
        print(f"DCGAN step (G + D, batch {T_BATCH}, 28x28, base {T_BASE}): lamina {t['lamina']:.1f} ms, "
              f"PyTorch {t['torch']:.1f} ms, ratio {ratio:.2f} -> {'PASS' if ratio <= 1.5 else 'FAIL'} (<= 1.5)")
        ok = ok and ratio <= 1.5
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
