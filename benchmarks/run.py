"""Time lamina and PyTorch side by side on the DESIGN.md workloads and print the ratio.

    python benchmarks/run.py                 # every workload lamina can build
    python benchmarks/run.py mlp --steps 200 --markdown

Each (framework, workload) pair runs in its own child process, so its peak memory (the
child's maximum resident set size) is its own; the pairs of one workload run back to back,
alternating frameworks over several rounds, and the reported time is the median ms/step over
all timed steps after warm-up. Ratio = lamina / PyTorch (below 1.0: lamina is faster);
"cpu ratio" compares the median CPU time per step (all threads), which shows how much work
each framework does, whatever the other processes on the machine are doing.

    python benchmarks/run.py cnn --threads 1  # both frameworks on one thread: a contention-proof comparison
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(workload: str, framework: str, steps: int, warmup: int) -> dict:
    sys.path.insert(0, HERE)
    from workloads import WORKLOADS, NotAvailable

    if framework == "lamina" and os.environ.get("LAMINA_BENCH_RECYCLE") == "1":
        import lamina.backends.cpu
        lamina.backends.cpu.recycle_large_arrays()
    try:
        step = WORKLOADS[workload][framework]()
    except NotAvailable as e:
        return {"skipped": str(e)}
    if framework != "lamina" and "lamina" in sys.modules:  # its import-time settings would skew the rival
        raise RuntimeError(f"the {framework} builder of {workload!r} imported lamina")
    for _ in range(warmup):
        step()
    times, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"times": times, "cpu": cpu, "peak_mb": peak_kb / 1024}


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _run_child(workload, framework, steps, warmup, threads=None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", workload, framework, str(steps), str(warmup)]
    env = dict(os.environ)
    if threads:  # every library's thread pool (torch reads OMP_NUM_THREADS) limited alike
        env.update({v: str(threads) for v in THREAD_VARS})
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(workload: str, steps: int, warmup: int, rounds: int, frameworks, threads=None) -> dict:
    results = {f: {"times": [], "cpu": [], "peak_mb": 0.0} for f in frameworks}
    for _ in range(rounds):
        for f in frameworks:
            r = _run_child(workload, f, steps, warmup, threads)
            if "times" not in r:
                results[f] = r
                continue
            if "times" in results[f]:
                results[f]["times"] += r["times"]
                results[f]["cpu"] += r["cpu"]
                results[f]["peak_mb"] = max(results[f]["peak_mb"], r["peak_mb"])
    summary = {}
    for f, r in results.items():
        if "times" in r and r["times"]:
            summary[f] = {"ms": statistics.median(r["times"]), "cpu_ms": statistics.median(r["cpu"]),
                          "peak_mb": r["peak_mb"]}
        else:
            summary[f] = {"skipped": r.get("skipped") or r.get("error")}
    return summary


def machine() -> str:
    try:
        import numpy
        import torch

        libs = f"numpy {numpy.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except Exception:
        libs = ""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {libs}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workloads", nargs="*", default=["mlp", "cnn", "resnet", "gpt", "lstm"])
    p.add_argument("--steps", type=int, default=50, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before timing (JIT, caches)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per framework")
    p.add_argument("--numpy", action="store_true", help="also time the hand-written NumPy baseline")
    p.add_argument("--markdown", action="store_true", help="print a RESULTS.md table row block")
    p.add_argument("--threads", type=int, default=None,
                   help="limit every thread pool (BLAS, OpenMP, Numba, torch) to N threads in both frameworks")
    p.add_argument("--recycle", action="store_true",
                   help="lamina's process calls lamina.backends.cpu.recycle_large_arrays() first (malloc keeps "
                        "freed blocks; the lamina command does this, importing lamina does not)")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.recycle:
        os.environ["LAMINA_BENCH_RECYCLE"] = "1"
    if a.child:
        w, f, steps, warmup = a.child
        print(json.dumps(_child(w, f, int(steps), int(warmup))))
        return 0
    frameworks = ["lamina", "torch"] + (["numpy"] if a.numpy else [])
    threads = (f"; threads limited to {a.threads}" if a.threads else "") + ("; malloc recycling" if a.recycle else "")
    print(f"# {datetime.date.today()} — {machine()}{threads}")
    header = (f"{'workload':<9}{'lamina ms':>11}{'torch ms':>10}{'ratio':>8}{'cpu ratio':>10}"
              f"{'lamina MB':>11}{'torch MB':>10}")
    if a.numpy:
        header += f"{'numpy ms':>10}"
    print(header)
    rows = []
    for w in a.workloads:
        s = bench(w, a.steps, a.warmup, a.rounds, frameworks, a.threads)
        lam, tor = s["lamina"], s["torch"]
        if "ms" not in lam or "ms" not in tor:
            print(f"{w:<9} skipped: {lam.get('skipped') or tor.get('skipped')}")
            continue
        ratio = lam["ms"] / tor["ms"]
        cpu_ratio = lam["cpu_ms"] / tor["cpu_ms"]
        line = (f"{w:<9}{lam['ms']:>11.2f}{tor['ms']:>10.2f}{ratio:>8.2f}{cpu_ratio:>10.2f}"
                f"{lam['peak_mb']:>11.0f}{tor['peak_mb']:>10.0f}")
        if a.numpy and "ms" in s.get("numpy", {}):
            line += f"{s['numpy']['ms']:>10.2f}"
        print(line, flush=True)
        rows.append((w, lam, tor, ratio))
    if a.markdown:
        print("\n| date | workload | lamina ms/step | PyTorch ms/step | ratio | lamina peak MB | PyTorch peak MB |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for w, lam, tor, ratio in rows:
            print(f"| {datetime.date.today()} | {w} | {lam['ms']:.2f} | {tor['ms']:.2f} | {ratio:.2f} | "
                  f"{lam['peak_mb']:.0f} | {tor['peak_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
