"""``lamina federate CONFIG --clients 10 --rounds 20``: federated training with Flower on this machine."""
from __future__ import annotations

import csv
import io
import os
import time

import numpy as np

from ..errors import ConfigError

HELP = "train a model by federated learning (Flower: FedAvg / FedProx, optional DP) on simulated clients"
DESCRIPTION = """\
Federated learning on this machine: the training split of CONFIG's data is dealt out to --clients
clients (IID, or non-IID by label with --alpha: class proportions per client ~ Dirichlet(alpha));
each round the Flower server samples --fraction of them, each trains the config's model with the
config's optimizer and loss for --local-epochs epochs on its own share (lamina's Trainer behind a
Flower NumPyClient), and the server averages the weights (FedAvg, or FedProx with --mu). After every
round the global model is scored on the test split (the validation split when there is none).

  runs/<name>/config.toml             the config (train.final_weights = "last": the global model)
  runs/<name>/preprocess.safetensors  the input pipeline, as lamina train writes it
  runs/<name>/checkpoints/last.safetensors   the final global model's weights
  runs/<name>/rounds.csv, rounds.json per round: global loss and metrics (accuracy), the clients' mean
                                      training loss, epsilon (with DP), elapsed seconds
  runs/<name>/federated.json          the settings, each client's label counts, the final result
  runs/<name>/test_metrics.json       the final global model on the test split
  runs/<name>/clients/                the client processes' logs (--engine processes)

`lamina evaluate RUN` and `lamina predict RUN INPUTS` use the final global model.

Engines: 'processes' (default) starts a Flower server on 127.0.0.1 (a free port, loopback only) in
this process and one client process per client, talking gRPC (flwr.server.start_server /
flwr.client.start_client); 'inprocess' runs the same Flower server loop with the clients in this
process (no network; reproducible bit for bit, and much faster to start). Flower's Ray-based
simulation engine is not used (Ray is not a dependency).

Differential privacy (--dp-clip C --dp-noise Z): each client clips its update to L2 norm C, the
server averages the clipped updates unweighted and adds Gaussian noise of std Z*C/m (m clients per
round; Flower's DifferentialPrivacyClientSideFixedClipping). The (epsilon, --dp-delta) guarantee
per client is computed with a Renyi-DP accountant of the sampled Gaussian mechanism
(lamina.federated.privacy) and written per round.

The config's [scheduler], [[transforms]] and [callbacks] are not used: each client trains at the
optimizer's lr with a fresh optimizer state every round. Needs pip install 'lamina[federated]'.

examples:
  lamina federate configs/mlp_digits.toml --clients 10 --rounds 20 --alpha 0.5
  lamina federate configs/mlp_digits.toml --clients 10 --rounds 20 --strategy fedprox --mu 0.01
  lamina federate configs/mlp_digits.toml --clients 10 --rounds 20 --dp-clip 1.0 --dp-noise 0.5
  lamina evaluate runs/mlp_digits_federated
"""

ENGINES = ("processes", "inprocess")
ROUNDS_CSV, ROUNDS_JSON, FEDERATED_JSON = "rounds.csv", "rounds.json", "federated.json"
FACTORY = "lamina.cli.commands.federate:build_client"


def configure(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="a TOML config file (its model, data, optimizer, loss, metrics)")
    p.add_argument("--clients", type=int, default=10, metavar="N", help="number of clients (default 10)")
    p.add_argument("--rounds", type=int, default=20, metavar="R", help="federated rounds (default 20)")
    p.add_argument("--alpha", type=float, metavar="A",
                   help="non-IID: class proportions per client ~ Dirichlet(A) (0.5: skewed); default IID")
    p.add_argument("--fraction", type=float, default=1.0, metavar="F",
                   help="fraction of the clients sampled each round (default 1.0)")
    p.add_argument("--local-epochs", type=int, default=1, metavar="E", help="local epochs per round (default 1)")
    p.add_argument("--strategy", choices=("fedavg", "fedprox"), default="fedavg", help="aggregation (default fedavg)")
    p.add_argument("--mu", type=float, metavar="MU", help="FedProx's proximal coefficient (default 0.01 with fedprox)")
    p.add_argument("--dp-clip", type=float, metavar="C", help="DP: clip each client's update to L2 norm C")
    p.add_argument("--dp-noise", type=float, metavar="Z", help="DP: noise multiplier (noise std Z*C on the sum)")
    p.add_argument("--dp-delta", type=float, default=1e-5, metavar="D", help="DP: the delta of epsilon (default 1e-5)")
    p.add_argument("--engine", choices=ENGINES, default="processes",
                   help="client processes talking gRPC on 127.0.0.1 (default), or in this process")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optimizer.lr=0.01 (repeatable)")
    p.add_argument("--name", help="run name (default <config name>_federated)")
    p.add_argument("--run-dir", dest="run_dir", metavar="DIR", help="the run directory itself (overrides --name)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


# ---------------------------------------------------------------- the pieces both engines build
def _check_args(args) -> None:
    if args.clients < 1:
        raise ConfigError(f"--clients must be >= 1, got {args.clients}")
    if args.rounds < 1:
        raise ConfigError(f"--rounds must be >= 1, got {args.rounds}")
    if args.local_epochs < 1:
        raise ConfigError(f"--local-epochs must be >= 1, got {args.local_epochs}")
    if args.alpha is not None and not (np.isfinite(args.alpha) and args.alpha > 0):
        raise ConfigError(f"--alpha must be a positive number, got {args.alpha}")
    if not 0 < args.fraction <= 1:
        raise ConfigError(f"--fraction must be in (0, 1], got {args.fraction}")
    if (args.dp_clip is None) != (args.dp_noise is None):
        raise ConfigError("differential privacy needs both --dp-clip C and --dp-noise Z")
    if args.dp_clip is not None and not (args.dp_clip > 0 and args.dp_noise >= 0):
        raise ConfigError(f"--dp-clip must be > 0 and --dp-noise >= 0, got {args.dp_clip} and {args.dp_noise}")
    if not 0 < args.dp_delta < 1:
        raise ConfigError(f"--dp-delta must be in (0, 1), got {args.dp_delta}")
    if args.mu is not None and args.strategy != "fedprox":
        raise ConfigError("--mu is FedProx's proximal coefficient: add --strategy fedprox")
    if args.mu is not None and not args.mu > 0:
        raise ConfigError(f"--mu must be > 0, got {args.mu}")


def _check_config(cfg: dict, alpha) -> None:
    from .. import generative
    from ..config import data_task
    task = data_task(cfg["data"])
    if generative.family_of(cfg.get("model")) is not None or task not in ("classification", "regression"):
        raise ConfigError(f"lamina federate trains classifiers and regressors; this config's task is {task}"
                          + (" (a generative model)" if generative.family_of(cfg.get("model")) else ""))
    if cfg["model"].get("ensemble"):
        raise ConfigError("lamina federate trains one model: remove model.ensemble")
    if alpha is not None and task != "classification":
        raise ConfigError("--alpha splits the clients' data by class: it needs a classification dataset")


def prepare(raw: dict, num_clients: int, alpha, check_files: bool = True):
    """``(cfg, data bundle, client index arrays)`` of a config: the same in the server and in every worker."""
    from ... import backend
    from ...federated.splits import split_indices
    from .. import build, config
    cfg = config.validate(raw, check_files=check_files)
    _check_config(cfg, alpha)
    seed = cfg["train"]["seed"]
    backend.manual_seed(seed)
    np.random.seed(seed)
    data = build.build_data(cfg)
    x, y = data.arrays[0]
    if num_clients > len(x):
        raise ConfigError(f"--clients {num_clients} but the training split has only {len(x)} samples")
    try:
        parts = split_indices(np.asarray(y).reshape(len(y), -1)[:, 0] if alpha is None else y, num_clients, alpha,
                              seed=seed)
    except ValueError as e:
        raise ConfigError(f"cannot split the training data over {num_clients} clients: {e}") from None
    return cfg, data, parts


def _trainer(cfg: dict, model, info: dict):
    from ...train import Trainer
    from .. import build
    t = cfg["train"]
    try:
        return Trainer(model, build.build_loss(cfg, info), build.build_optimizer(cfg, model),
                       metrics=build.build_metrics(cfg, info), grad_accum_steps=t["grad_accum_steps"],
                       clip_grad_norm=t.get("clip_grad_norm"), nonfinite=t["nonfinite"])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"train: {' '.join(str(e).split())}") from None


def make_client(cfg: dict, data, parts: list, client_index: int, local_epochs: int):
    """The LaminaClient of client ``client_index``: the config's model, loss and optimizer on its share."""
    from ...federated.client import LaminaClient
    from .. import build
    model, _ = build.build_model(dict(cfg["model"]), data.info)
    x, y = data.arrays[0]
    idx = parts[client_index]
    return LaminaClient(_trainer(cfg, model, data.info), (x[idx], y[idx]), local_epochs=local_epochs,
                        batch_size=cfg["data"]["batch_size"], seed=cfg["train"]["seed"] + 1000 + client_index,
                        client_id=client_index)


def build_client(client_index: int, config: dict, num_clients: int, alpha, local_epochs: int):
    """A worker process's client (``--engine processes``): the config's data split again, share ``client_index``."""
    cfg, data, parts = prepare(config, num_clients, alpha)
    return make_client(cfg, data, parts, client_index, local_epochs)


# ---------------------------------------------------------------- the run directory
def _run_dir(args) -> str:
    from .train import _taken
    if args.run_dir:
        return args.run_dir
    from .. import config
    raw = config.load_config(args.config)
    base = (raw.get("run") or {}).get("dir", "runs") if isinstance(raw.get("run"), dict) else "runs"
    name = args.name or f"{os.path.splitext(os.path.basename(os.path.normpath(args.config)))[0]}_federated"
    path = os.path.join(base, name)
    i = 2
    candidate = path
    while _taken(candidate):
        candidate = f"{path}-{i}"
        i += 1
    return candidate


def _write_rows(run_dir: str, rows: list) -> None:
    from ...io import atomic_write_text
    from .. import rundir
    cols = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    atomic_write_text(os.path.join(run_dir, ROUNDS_CSV), buf.getvalue())
    rundir.write_json(os.path.join(run_dir, ROUNDS_JSON), rows)


def _progress(row: dict, rounds: int) -> str:
    shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("round", "seconds") and isinstance(v, float))
    return f"round {row['round']}/{rounds}: {shown}"


def run(args) -> int:
    from ... import io as lio
    from .. import build, config, rundir
    _check_args(args)
    try:
        from ...federated import privacy, strategies
        from ...federated.client import get_parameters, set_parameters
        from ...federated.simulation import run_processes, simulate
    except ImportError as e:
        raise ConfigError(f"{e}") from None
    raw = config.apply_overrides(config.load_config(args.config), args.overrides)
    cfg, data, parts = prepare(raw, args.clients, args.alpha)
    run_dir = _run_dir(args)
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        raise ConfigError(f"run directory {run_dir} already exists and is not empty; choose another --name / --run-dir")
    seed = cfg["train"]["seed"]
    info = data.info
    model, cfg["model"] = build.build_model(cfg["model"], info, check_batch=data.sample_inputs)
    trainer = _trainer(cfg, model, info)
    if data.test_loader is not None:
        eval_split, eval_loader, eval_n = "test", data.test_loader, info["num_test"]
    elif data.val_loader is not None:
        eval_split, eval_loader, eval_n = "val", data.val_loader, info["num_val"]
    else:
        eval_split, eval_loader, eval_n = "train", data.train_loader, info["num_train"]
    m = strategies.num_sampled(args.clients, args.fraction)
    q = m / args.clients
    dp = args.dp_clip is not None

    def eps_at(r: int):
        return privacy.epsilon(args.dp_noise, q, r, args.dp_delta)[0] if dp else None

    started = time.perf_counter()

    def evaluate_fn(server_round, parameters, _config):
        set_parameters(model, parameters)
        out = trainer.evaluate(eval_loader)
        metrics = {k: float(v) for k, v in out.items() if k != "loss" and np.ndim(v) == 0}
        if not args.quiet:
            row = {"round": server_round, "loss": float(out["loss"]), **metrics}
            if dp:
                row["epsilon"] = eps_at(server_round)
            print(_progress(row, args.rounds) + f"  [{time.perf_counter() - started:.1f}s]", flush=True)
        return float(out["loss"]), metrics

    mu = (args.mu if args.mu is not None else 0.01) if args.strategy == "fedprox" else 0.0
    strategy = strategies.make_strategy(args.strategy, num_clients=args.clients,
                                        initial_parameters=get_parameters(model), evaluate_fn=evaluate_fn,
                                        fraction=args.fraction, local_epochs=args.local_epochs, proximal_mu=mu,
                                        dp_clip=args.dp_clip, dp_noise=args.dp_noise)
    # everything is checked: write the run directory
    os.makedirs(run_dir, exist_ok=True)
    cfg["train"]["final_weights"] = "last"
    rundir.write_config(run_dir, cfg)
    data.preprocess.save(os.path.join(run_dir, rundir.PREPROCESS))
    if not args.quiet:
        how = "IID" if args.alpha is None else f"non-IID (Dirichlet alpha = {args.alpha:g})"
        print(f"federating {cfg['model'].get('name', 'layers model')} on {cfg['data']['name']}: {args.clients} clients "
              f"({how}, {m} per round), {args.rounds} rounds of {args.strategy}"
              + (f" with DP (clip {args.dp_clip:g}, noise {args.dp_noise:g})" if dp else "")
              + f", engine {args.engine} -> {run_dir}", flush=True)
    accountant = eps_at if dp else None
    if args.engine == "inprocess":
        clients = {}

        def client_fn(cid):
            i = int(cid)
            if i not in clients:
                clients[i] = make_client(cfg, data, parts, i, args.local_epochs)
            return clients[i]
        result = simulate(client_fn, args.clients, strategy, args.rounds, seed=seed, accountant=accountant)
    else:
        result = run_processes(FACTORY, {"config": raw, "num_clients": args.clients, "alpha": args.alpha,
                                         "local_epochs": args.local_epochs},
                               args.clients, strategy, args.rounds, seed=seed, accountant=accountant,
                               log_dir=os.path.join(run_dir, "clients"))
    set_parameters(model, result.parameters)
    os.makedirs(os.path.join(run_dir, rundir.CHECKPOINTS), exist_ok=True)
    lio.save(model.state_dict(), os.path.join(run_dir, rundir.CHECKPOINTS, rundir.LAST),
             metadata={"kind": "federated_global_model", "rounds": str(args.rounds)})
    _write_rows(run_dir, result.rounds)
    final = trainer.evaluate(eval_loader)
    y_train = np.asarray(data.arrays[0][1])
    from ...federated.splits import label_histogram
    summary = {
        "clients": args.clients, "rounds": args.rounds, "split": "iid" if args.alpha is None else "dirichlet",
        "alpha": args.alpha, "fraction": args.fraction, "clients_per_round": m, "local_epochs": args.local_epochs,
        "strategy": args.strategy, "proximal_mu": mu if args.strategy == "fedprox" else None, "engine": args.engine,
        "seed": seed, "evaluated_on": eval_split, "client_sizes": [int(len(p)) for p in parts],
        "client_label_counts": (label_histogram(y_train, parts, info.get("num_classes")).tolist()
                                if info["task"] == "classification" else None),
        "final": {k: v for k, v in final.items()}, "seconds": round(time.perf_counter() - started, 3),
        "privacy": None if not dp else {
            "clip": args.dp_clip, "noise_multiplier": args.dp_noise, "delta": args.dp_delta, "sample_rate": q,
            "epsilon": eps_at(args.rounds),
            "mechanism": "client-side update clipping + Gaussian noise on the unweighted mean (Flower's "
                         "DifferentialPrivacyClientSideFixedClipping)",
            "accountant": "Renyi DP of the sampled Gaussian mechanism (lamina.federated.privacy)"}}
    rundir.write_json(os.path.join(run_dir, FEDERATED_JSON), summary)
    if eval_split == "test":
        rundir.write_json(os.path.join(run_dir, rundir.TEST_METRICS),
                          {"split": "test", "weights": "last", "num_samples": eval_n, "epochs": args.rounds,
                           "epochs_this_call": args.rounds, "rounds": args.rounds, "metrics": final})
    if not args.quiet:
        shown = ", ".join(f"{k} {float(v):.4f}" for k, v in final.items() if np.ndim(v) == 0)
        eps = f", epsilon {eps_at(args.rounds):.3g} at delta {args.dp_delta:g}" if dp else ""
        print(f"global model after {args.rounds} rounds on the {eval_split} split: {shown}{eps}  ->  {run_dir}")
    return 0
