"""Data-parallel scaling of lamina.distributed: measured on 1 and 2 processes, modelled beyond.

    python benchmarks/ddp_scaling.py            # runs the workers itself (mpiexec -n 2), prints tables
    python benchmarks/ddp_scaling.py --quick    # fewer steps

What it measures (1 thread per process, per-rank batch = the workload's batch, DESIGN.md shapes):
* steps/s of mlp, cnn and gpt on 1 process, and on 2 processes with DistributedDataParallel;
  on 2 processes also the compute-only step (``no_sync``: same work, no communication);
* on gpt: bucketed + overlapped DDP against one blocking all-reduce per parameter after backward
  (``allreduce_gradients``), and one overlap trace (when each bucket launched and completed,
  relative to the backward's first and last gradient);
* the all-reduce time of 2 processes for messages of 4 B .. 16 MB, fitted to t = alpha + beta * bytes.

The model: a ring all-reduce of n bytes over W workers costs t(W, n) = (W - 1) * alpha + 2 (W - 1) / W
* n * beta (alpha, beta fitted at W = 2, where it is alpha + n * beta); a step costs at most
T(W) = T_compute + t(W, 4 * params) (no overlap), and the efficiency is T_compute / T(W). The
2-process prediction is checked against the measurement; the plot goes to benchmarks/ddp_scaling.png.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
WORKERS = [8, 16, 32, 64, 128, 256, 512, 1024]


def _build(name):
    import lamina
    from lamina import nn, optim
    import models_gpt
    import models_vision
    import workloads
    lamina.manual_seed(0)
    if name == "mlp":
        x, y = workloads._mlp_batch()
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        loss_fn = lambda out, t: nn.functional.cross_entropy(out, t)  # noqa: E731
        opt = lambda ps: optim.Adam(ps, lr=1e-3)  # noqa: E731
    elif name == "cnn":
        from lamina.nn.layers.conv import Conv2d
        from lamina.nn.layers.pooling import MaxPool2d
        x, y = models_vision._batch((64, 1, 28, 28))
        model = nn.Sequential(Conv2d(1, 32, 3, padding=1), nn.ReLU(), MaxPool2d(2), Conv2d(32, 64, 3, padding=1),
                              nn.ReLU(), MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(),
                              nn.Linear(128, 10))
        loss_fn = lambda out, t: nn.functional.cross_entropy(out, t)  # noqa: E731
        opt = lambda ps: optim.Adam(ps, lr=1e-3)  # noqa: E731
    else:
        from lamina.models.gpt import GPT, GPTConfig
        g = models_gpt
        x, y = g._batch()
        model = GPT(GPTConfig(g.VOCAB, g.CONTEXT, g.LAYERS, g.HEADS, g.D_MODEL, mlp_hidden=g.MLP))
        loss_fn = lambda out, t: out[1]  # noqa: E731  (GPT returns (logits, loss))
        opt = lambda ps: optim.AdamW(ps, lr=3e-4, weight_decay=0.01)  # noqa: E731
    return model, loss_fn, opt, lamina.tensor(x), lamina.tensor(y), name == "gpt"


def _time_steps(step, n, warmup=2):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def worker(steps: int) -> None:
    from lamina.distributed import DistributedDataParallel, allreduce_gradients, init_process_group
    pg = init_process_group()
    out = {"world_size": pg.world_size, "workloads": {}}
    for name in ("mlp", "cnn", "gpt"):
        model, loss_fn, make_opt, x, y, gpt = _build(name)
        opt = make_opt(model.parameters())
        n_params = sum(p.numel() for p in model.parameters())
        call = (lambda m: m(x, y)) if gpt else (lambda m: m(x))
        rec = {"params": int(n_params), "bytes": int(4 * n_params)}
        if pg.world_size == 1:
            def plain():
                opt.zero_grad()
                loss_fn(call(model), y).backward()
                opt.step()
            rec["step_s"] = _time_steps(plain, steps)
        else:
            ddp = DistributedDataParallel(model)
            rec["buckets"] = len(ddp.reducer.buckets)

            def compute_only():
                opt.zero_grad()
                with ddp.no_sync():
                    loss_fn(call(ddp), y).backward()
                opt.step()

            def bucketed():
                opt.zero_grad()
                loss_fn(call(ddp), y).backward()
                opt.step()

            def per_parameter():
                opt.zero_grad()
                loss_fn(call(model), y).backward()
                allreduce_gradients(model, pg)
                opt.step()
            pg.barrier()
            rec["compute_s"] = _time_steps(compute_only, steps)
            pg.barrier()
            rec["step_s"] = _time_steps(bucketed, steps)
            if gpt:
                pg.barrier()
                rec["per_parameter_s"] = _time_steps(per_parameter, steps)
                ddp.reducer.trace = True
                ddp.reducer.events.clear()
                bucketed()
                ev = ddp.reducer.events
                t0 = min(t for t, k, _ in ev if k == "ready")
                last_ready = max(t for t, k, _ in ev if k == "ready")
                rec["trace"] = {"backward_grad_span_ms": 1e3 * (last_ready - t0),
                                "launch_ms": [round(1e3 * (t - t0), 2) for t, k, _ in ev if k == "launch"],
                                "done_ms": [round(1e3 * (t - t0), 2) for t, k, _ in ev if k == "done"],
                                "done_before_last_gradient": sum(1 for t, k, _ in ev if k == "done" and t < last_ready),
                                "launched_before_last_gradient": sum(1 for t, k, _ in ev
                                                                     if k == "launch" and t < last_ready)}
        out["workloads"][name] = rec
    if pg.world_size > 1:  # all-reduce microbenchmark
        sizes = [2 ** k for k in range(0, 23, 2)]  # float32 elements: 4 B .. 16 MB
        rows = []
        for n in sizes:
            buf = np.ones(n, dtype=np.float32)
            reps = 20 if n < 2 ** 16 else 5
            pg.barrier()
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                pg.all_reduce(buf)
                ts.append(time.perf_counter() - t)
            rows.append((4 * n, float(np.median(ts))))
        out["allreduce"] = rows
    if pg.rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


def _run(cmd):
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[k] = "1"
    env["PYTHONPATH"] = os.path.join(HERE, os.pardir, "src") + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed: {out.stderr[-3000:]}")


def ring_time(alpha, beta, w, nbytes):
    return (w - 1) * alpha + 2 * (w - 1) / w * nbytes * beta


def main() -> None:
    steps = 3 if "--quick" in sys.argv else 6
    if "--worker" in sys.argv:
        worker(steps)
        return
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    me = os.path.abspath(__file__)
    one = _run([sys.executable, me, "--worker", f"--steps={steps}"] + (["--quick"] if steps == 3 else []))
    two = _run([mpiexec, "-n", "2", sys.executable, me, "--worker"] + (["--quick"] if steps == 3 else []))
    sizes, times = np.array(two["allreduce"], dtype=np.float64).T
    A = np.stack([np.ones_like(sizes), sizes], 1)
    (alpha, beta), *_ = np.linalg.lstsq(A, times, rcond=None)
    alpha = max(alpha, 0.0)
    print(f"lamina.distributed scaling (1 thread per process; {os.cpu_count()} cores, shared with other jobs)")
    print(f"\nall-reduce, 2 processes: fitted t = alpha + beta*bytes, alpha = {alpha * 1e6:.1f} us, "
          f"beta = {beta * 1e9:.3f} ns/B ({1 / beta / 1e9:.2f} GB/s)")
    print(f"{'bytes':>10} {'measured us':>12} {'model us':>10}")
    for n, t in zip(sizes, times):
        print(f"{int(n):>10} {t * 1e6:>12.1f} {(alpha + beta * n) * 1e6:>10.1f}")
    print(f"\n{'workload':<8} {'params':>9} {'1p steps/s':>11} {'2p steps/s':>11} {'2p compute':>11} "
          f"{'2p model':>9} {'model err':>9} {'buckets':>7}")
    eff = {}
    for name, r1 in one["workloads"].items():
        r2 = two["workloads"][name]
        pred = r2["compute_s"] + ring_time(alpha, beta, 2, r2["bytes"])
        err = (pred - r2["step_s"]) / r2["step_s"]
        print(f"{name:<8} {r1['params']:>9} {1 / r1['step_s']:>11.2f} {1 / r2['step_s']:>11.2f} "
              f"{1 / r2['compute_s']:>11.2f} {1 / pred:>9.2f} {100 * err:>8.1f}% {r2['buckets']:>7}")
        eff[name] = [r1["step_s"] / (r1["step_s"] + ring_time(alpha, beta, w, r2["bytes"])) for w in WORKERS]
    g = two["workloads"]["gpt"]
    print(f"\ngpt gradient averaging, 2 processes: bucketed+overlapped {g['step_s'] * 1e3:.1f} ms/step, "
          f"per-parameter blocking after backward {g['per_parameter_s'] * 1e3:.1f} ms/step "
          f"(compute alone {g['compute_s'] * 1e3:.1f} ms)")
    tr = g["trace"]
    print(f"gpt overlap trace (ms from the first gradient; the last gradient at {tr['backward_grad_span_ms']:.1f}): "
          f"bucket launches {tr['launch_ms']}, completions {tr['done_ms']}; "
          f"{tr['launched_before_last_gradient']} buckets launched and {tr['done_before_last_gradient']} completed "
          "while backward was still producing gradients")
    print("\npredicted efficiency T_compute / (T_compute + t_ring(W, 4*params)), no overlap, 1-process compute:")
    print(f"{'workers':>8} " + " ".join(f"{n:>8}" for n in eff))
    for i, w in enumerate(WORKERS):
        print(f"{w:>8} " + " ".join(f"{eff[n][i]:>8.3f}" for n in eff))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for n, e in eff.items():
            ax.semilogx(WORKERS, e, marker="o", label=f"{n} ({two['workloads'][n]['params'] / 1e6:.2f}M params)")
        ax.set_xlabel("workers (ring all-reduce)")
        ax.set_ylabel("predicted efficiency")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"alpha={alpha * 1e6:.0f} us, beta={beta * 1e9:.2f} ns/B (fitted, 2 processes)")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        path = os.path.join(HERE, "ddp_scaling.png")
        fig.savefig(path, dpi=100)
        print(f"\nplot: {path}")
    except ImportError:
        print("\n(matplotlib missing: no plot)")


if __name__ == "__main__":
    main()
