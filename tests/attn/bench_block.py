"""Time forward + backward of one pre-LN Transformer block, lamina vs PyTorch (not a test).

The `gpt` benchmark's block: causal self-attention, batch 32, T=128, d_model 128, 4 heads,
MLP 512 with GELU, pre-LayerNorm, dropout 0. Both run TransformerEncoderLayer with the same
weights, interleaved in one process; prints the median and min milliseconds per step.

    .venv/bin/python tests/attn/bench_block.py [--threads 1] [--steps 20] [--activation relu] [--profile]
"""
import argparse
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=0, help="0 = library defaults")
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--activation", default="gelu", help="gelu (the gpt workload) or relu")
ap.add_argument("--profile", action="store_true")
args = ap.parse_args()
if args.threads:
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[v] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina.nn.layers.transformer import TransformerEncoderLayer, generate_square_subsequent_mask  # noqa: E402

if args.threads:
    torch.set_num_threads(args.threads)
B, T, D, H, M = 32, 128, 128, 4, 512
kw = dict(dim_feedforward=M, dropout=0.0, activation=args.activation, batch_first=True, norm_first=True)
tl = torch.nn.TransformerEncoderLayer(D, H, **kw)
ll = TransformerEncoderLayer(D, H, **kw)
ll.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
x = np.random.default_rng(0).standard_normal((B, T, D)).astype(np.float32)
tx, lx = torch.tensor(x, requires_grad=True), lamina.tensor(x, requires_grad=True)
tmask, lmask = torch.nn.Transformer.generate_square_subsequent_mask(T), generate_square_subsequent_mask(T)


def step_torch():
    tl(tx, src_mask=tmask, is_causal=True).sum().backward()


def step_lamina():
    ll(lx, src_mask=lmask, is_causal=True).sum().backward()


if args.profile:
    import cProfile
    import pstats
    step_lamina()
    cProfile.run("for _ in range(5): step_lamina()", "/tmp/attn_prof")
    pstats.Stats("/tmp/attn_prof").sort_stats("tottime").print_stats(25)
    raise SystemExit
times = {"torch": [], "lamina": []}
for i in range(args.steps + 3):
    for name, f in (("torch", step_torch), ("lamina", step_lamina)):
        t0 = time.perf_counter()
        f()
        if i >= 3:
            times[name].append(time.perf_counter() - t0)
for name, ts in times.items():
    ts = np.array(ts) * 1e3
    print(f"{name:7s} median {np.median(ts):7.2f} ms   min {ts.min():7.2f} ms")
print(f"ratio lamina/torch: median {np.median(times['lamina']) / np.median(times['torch']):.2f}  "
      f"min {min(times['lamina']) / min(times['torch']):.2f}")
