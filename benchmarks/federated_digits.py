"""Federated learning on the digits: FedAvg over 10 non-IID clients against a centralised baseline, and DP.

    python benchmarks/federated_digits.py                 # the issue's check (about a minute)
    python benchmarks/federated_digits.py --quick         # 4 clients, 3 rounds: seconds
    python benchmarks/federated_digits.py --processes     # also FedAvg with 10 real client processes

Runs ``lamina federate`` (engine 'inprocess', so the numbers are reproducible; --processes adds the
gRPC engine on 127.0.0.1) on one config: an MLP (64 hidden units) on scikit-learn's digits,
Adam lr 3e-3, batch 32. Client data: the training split dealt out by Dirichlet(alpha = 0.5) label
proportions. Rows:

  centralised   lamina train on the pooled training split for rounds x local-epochs epochs
  fedavg        FedAvg, all 10 clients every round, 2 local epochs
  fedprox       FedProx mu = 0.01, otherwise as fedavg
  dp z=...      FedAvg with DP: updates clipped to C, Gaussian noise z C / 10 on the mean; epsilon
                at delta = 1e-5 from the RDP accountant (lamina.federated.privacy)

Prints a Markdown table (test accuracy of the final global model) and, with --json PATH, writes it.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

CONFIG = """
[model]
name = "mlp"
hidden_sizes = [64]

[data]
name = "digits"
val_fraction = 0.1
test_fraction = 0.2
seed = 0
batch_size = 32
standardize = true

[optimizer]
name = "adam"
lr = 3e-3

[train]
epochs = {epochs}
seed = 0
final_weights = "last"

[metrics]
names = ["accuracy"]
"""


def lamina(*args) -> tuple:
    from lamina.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    if code != 0:
        raise SystemExit(f"lamina {' '.join(map(str, args))} failed ({code}): {err.getvalue()}")
    return out.getvalue()


def federate(cfg: str, run: str, clients: int, rounds: int, local_epochs: int, alpha: float, *extra) -> dict:
    t = time.perf_counter()
    lamina("federate", cfg, "--clients", clients, "--rounds", rounds, "--alpha", alpha, "--local-epochs",
           local_epochs, "--run-dir", run, "-q", *(["--engine", "inprocess"] if "--engine" not in extra else []),
           *extra)
    seconds = time.perf_counter() - t
    fed = json.load(open(os.path.join(run, "federated.json")))
    rows = json.load(open(os.path.join(run, "rounds.json")))
    reached = next((r["round"] for r in rows if r.get("accuracy", 0) >= 0.9), None)
    return {"accuracy": fed["final"]["accuracy"], "seconds": round(seconds, 1), "round_90": reached,
            "epsilon": (fed["privacy"] or {}).get("epsilon"), "curve": [round(r["accuracy"], 4) for r in rows]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="4 clients, 3 rounds (a smoke test)")
    p.add_argument("--processes", action="store_true", help="also run FedAvg with real client processes")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = p.parse_args(argv)
    clients, rounds, local_epochs, alpha = (4, 3, 1, 0.5) if args.quick else (10, 20, 2, 0.5)
    results = {}
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "fed.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.replace("{epochs}", str(rounds * local_epochs)))
        t = time.perf_counter()
        lamina("train", cfg, "--run-dir", os.path.join(d, "central"), "-q")
        central = json.load(open(os.path.join(d, "central", "test_metrics.json")))["metrics"]["accuracy"]
        results["centralised"] = {"accuracy": central, "seconds": round(time.perf_counter() - t, 1)}
        common = (cfg, None, clients, rounds, local_epochs, alpha)
        runs = {"fedavg": (), "fedprox mu=0.01": ("--strategy", "fedprox", "--mu", 0.01),
                "fedavg dp C=1 z=0.3": ("--dp-clip", 1.0, "--dp-noise", 0.3),
                "fedavg dp C=1 z=1.0": ("--dp-clip", 1.0, "--dp-noise", 1.0)}
        if args.processes:
            runs["fedavg (processes)"] = ("--engine", "processes")
        for i, (name, extra) in enumerate(runs.items()):
            results[name] = federate(common[0], os.path.join(d, f"run{i}"), *common[2:], *extra)
            print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    print(f"\n{clients} clients, Dirichlet alpha = {alpha}, {rounds} rounds x {local_epochs} local epochs "
          f"(centralised: {rounds * local_epochs} epochs); test accuracy of the final model\n")
    print("| run | test accuracy | first round >= 90 % | epsilon (delta 1e-5) | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in results.items():
        eps = "" if r.get("epsilon") is None else f"{r['epsilon']:.3g}"
        reached = "" if name == "centralised" else str(r.get("round_90") or "never")
        print(f"| {name} | {r['accuracy']:.4f} | {reached} | {eps} | {r['seconds']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"clients": clients, "rounds": rounds, "local_epochs": local_epochs, "alpha": alpha,
                       "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
