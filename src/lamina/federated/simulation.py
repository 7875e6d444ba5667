"""Run a Flower server and N clients on this machine.

Two engines, the same server loop (Flower's ``Server``: its client manager samples the clients,
the strategy configures and aggregates every round, centralised evaluation after each):

``simulate`` (engine 'inprocess')   the clients live in this process behind ``InProcessClientProxy``
        (a ``ClientProxy`` that calls the client directly, one at a time): no network, reproducible
        bit for bit, fast. Flower's own simulation engine (``flwr.simulation``) needs Ray, which is
        neither a dependency of lamina nor installable offline everywhere; this engine does what it
        does for the server loop, without the actors.
``run_processes`` (engine 'processes')   a real federation: ``flwr.server.start_server`` listening on
        127.0.0.1 (only) in this process and one OS process per client (``python -m
        lamina.federated.worker``) connecting with ``flwr.client.start_client`` over gRPC. Each
        worker builds its client with a factory named ``"module:function"`` and JSON arguments, so it
        loads its own share of the data itself. A worker that dies makes the run fail with its log.

Both return a ``FederatedResult``: one row per round (global loss and accuracy from the
strategy's ``evaluate_fn``, the clients' mean training metrics, epsilon when DP is on, elapsed
seconds) and the final global weights.

    result = simulate(lambda cid: make_client(int(cid)), num_clients=10, strategy=strategy, rounds=20)
    result.rounds[-1]["accuracy"], result.parameters
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ._flwr import flwr

__all__ = ["FederatedResult", "InProcessClientProxy", "free_port", "run_processes", "simulate"]

HOST = "127.0.0.1"  # servers listen on the loopback interface only


@dataclass
class FederatedResult:
    """What a federated run produced: per-round rows, the final global weights, Flower's History."""
    rounds: list
    parameters: list
    history: object = None
    seconds: float = 0.0
    privacy: dict = field(default_factory=dict)

    @property
    def final(self) -> dict:
        return self.rounds[-1] if self.rounds else {}


class InProcessClientProxy(flwr.server.client_proxy.ClientProxy):
    """A ``ClientProxy`` that calls a Flower client in this process (made once, on first use, by
    ``client_fn(cid)``; a NumPyClient is converted with ``to_client()``)."""

    def __init__(self, cid: str, client_fn):
        super().__init__(cid)
        self.client_fn, self._client = client_fn, None

    @property
    def client(self):
        if self._client is None:
            c = self.client_fn(self.cid)
            self._client = c.to_client() if hasattr(c, "to_client") else c
        return self._client

    def get_properties(self, ins, timeout, group_id):
        return self.client.get_properties(ins)

    def get_parameters(self, ins, timeout, group_id):
        return self.client.get_parameters(ins)

    def fit(self, ins, timeout, group_id):
        return self.client.fit(ins)

    def evaluate(self, ins, timeout, group_id):
        return self.client.evaluate(ins)

    def reconnect(self, ins, timeout, group_id):
        return flwr.common.DisconnectRes(reason="")


@contextlib.contextmanager
def _flwr_logging(quiet: bool):
    logger = logging.getLogger("flwr")
    old = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


class _Timed:
    """Wraps the strategy's evaluate_fn to note when each round's evaluation ran."""

    def __init__(self):
        self.start, self.times = time.perf_counter(), {}

    def mark(self, server_round):
        self.times[int(server_round)] = time.perf_counter() - self.start


def _rows(history, timer: _Timed, rounds: int, accountant=None) -> list:
    """One dict per round (0 = the initial model) from Flower's History."""
    rows = {}
    for r, loss in history.losses_centralized:
        rows.setdefault(r, {"round": r})["loss"] = float(loss)
    for name, pairs in history.metrics_centralized.items():
        for r, v in pairs:
            rows.setdefault(r, {"round": r})[name] = float(v)
    for name, pairs in history.metrics_distributed_fit.items():
        for r, v in pairs:
            rows.setdefault(r, {"round": r})[name] = float(v)
    for r, loss in history.losses_distributed:
        rows.setdefault(r, {"round": r})["client_eval_loss"] = float(loss)
    for name, pairs in history.metrics_distributed.items():
        for r, v in pairs:
            rows.setdefault(r, {"round": r})[f"client_eval_{name}"] = float(v)
    out = []
    for r in sorted(rows):
        row = rows[r]
        if "clients" in row:
            row["clients"] = int(row["clients"])
        if accountant is not None:
            row["epsilon"] = accountant(r)
        if r in timer.times:
            row["seconds"] = round(timer.times[r], 3)
        out.append(row)
    return out


def _timed_strategy(strategy, timer: _Timed):
    inner = strategy
    while hasattr(inner, "strategy"):  # the wrappers (DP, ordering) delegate evaluate to the FedAvg inside
        inner = inner.strategy
    fn = getattr(inner, "evaluate_fn", None)
    if fn is not None:
        def evaluate_fn(server_round, parameters, config):
            try:
                return fn(server_round, parameters, config)
            finally:
                timer.mark(server_round)
        inner.evaluate_fn = evaluate_fn
    return strategy


def _seed(seed: int) -> None:
    # Flower's client sampling draws from `random`; its DP noise from NumPy's global generator
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)


def simulate(client_fn, num_clients: int, strategy, rounds: int, seed: int = 0, quiet: bool = True,
             accountant=None) -> FederatedResult:
    """Run ``rounds`` rounds of ``strategy`` over ``num_clients`` in-process clients ``client_fn(cid)``
    (``cid`` = '0' .. str(num_clients - 1)). ``accountant(round) -> epsilon`` adds an epsilon column."""
    if int(rounds) < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    _seed(seed)
    manager = flwr.server.SimpleClientManager()
    for i in range(int(num_clients)):
        manager.register(InProcessClientProxy(str(i), client_fn))
    server = flwr.server.Server(client_manager=manager, strategy=strategy)
    server.set_max_workers(1)  # one client at a time: lamina's global state (grad mode, generators) is shared
    timer = _Timed()
    _timed_strategy(strategy, timer)
    with _flwr_logging(quiet):
        history, elapsed = server.fit(num_rounds=int(rounds), timeout=None)
    params = flwr.common.parameters_to_ndarrays(server.parameters)
    return FederatedResult(_rows(history, timer, rounds, accountant), params, history, elapsed)


# ---------------------------------------------------------------- real processes on 127.0.0.1
def free_port(host: str = HOST) -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _WatchedClientManager(flwr.server.SimpleClientManager):
    """Waits for clients like Flower's, but gives up (sampling no one) once a worker process has died,
    instead of waiting a day for a client that will never connect."""

    def __init__(self, procs: list, connect_timeout: float):
        super().__init__()
        self.procs, self.connect_timeout, self.failed, self.timed_out = procs, connect_timeout, None, False

    def _check(self):
        for i, p in enumerate(self.procs):
            code = p.poll()
            if code is not None and code != 0 and self.failed is None:
                self.failed = (i, code)
        return self.failed is None

    def wait_for(self, num_clients: int, timeout: int = 86400) -> bool:
        if self.failed is not None or self.timed_out:  # the run is lost: let the server's loop run out
            return False
        deadline = time.monotonic() + min(float(timeout), self.connect_timeout)
        with self._cv:
            while len(self.clients) < num_clients:
                if not self._check():
                    return False
                if time.monotonic() > deadline:
                    self.timed_out = True
                    return False
                self._cv.wait(timeout=0.5)
        return True


@contextlib.contextmanager
def _keep_signal_handlers():
    """``start_server`` installs its own SIGINT/SIGTERM handlers; put the caller's back afterwards."""
    sigs = [s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGQUIT")) if s is not None]
    old = {s: signal.getsignal(s) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _tail(path: str, n: int = 2000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def run_processes(factory: str, factory_kwargs: dict, num_clients: int, strategy, rounds: int, seed: int = 0,
                  quiet: bool = True, accountant=None, log_dir: str | None = None, connect_timeout: float = 300.0,
                  round_timeout: float | None = None, env: dict | None = None) -> FederatedResult:
    """A Flower server on 127.0.0.1 (this process, main thread) and ``num_clients`` client processes.

    Worker ``i`` runs ``factory(client_index=i, **factory_kwargs)`` (``factory`` = "module:function",
    the arguments JSON) to build its client, then connects. Workers' output goes to
    ``log_dir/client_<i>.log`` (a temporary folder by default). Raises RuntimeError naming the worker
    and showing its log when one exits with an error or the clients do not connect in time.
    """
    if int(rounds) < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_processes: Flower's start_server must run in the main thread")
    _seed(seed)
    tmp = None
    if log_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="lamina-federated-")
        log_dir = tmp.name
    os.makedirs(log_dir, exist_ok=True)
    spec_path = os.path.join(log_dir, "worker_spec.json")
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump({"factory": factory, "kwargs": factory_kwargs}, f)
    port = free_port()
    address = f"{HOST}:{port}"
    child_env = dict(os.environ, **(env or {}))
    child_env.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        child_env.setdefault(var, "1")  # N clients share the cores: one thread each
    procs, logs = [], []
    try:
        for i in range(int(num_clients)):
            log = os.path.join(log_dir, f"client_{i}.log")
            logs.append(log)
            with open(log, "wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "lamina.federated.worker", "--address", address, "--spec", spec_path,
                     "--client-index", str(i)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=child_env))
        manager = _WatchedClientManager(procs, connect_timeout)
        server = flwr.server.Server(client_manager=manager, strategy=strategy)
        timer = _Timed()
        _timed_strategy(strategy, timer)
        start = time.perf_counter()
        with _flwr_logging(quiet), _keep_signal_handlers():
            history = flwr.server.start_server(
                server_address=address, server=server,
                config=flwr.server.ServerConfig(num_rounds=int(rounds), round_timeout=round_timeout))
        elapsed = time.perf_counter() - start
        if manager.failed is not None:
            i, code = manager.failed
            raise RuntimeError(f"federated client process {i} exited with code {code} before the run finished; "
                               f"its log ({logs[i]}):\n{_tail(logs[i])}")
        if manager.timed_out:
            raise RuntimeError(f"only {len(manager.clients)} of {num_clients} federated clients connected to "
                               f"{address} within {connect_timeout:g} s; the first client's log:\n{_tail(logs[0])}")
        deadline = time.monotonic() + 30
        for i, p in enumerate(procs):
            try:
                code = p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                continue
            if code != 0:
                raise RuntimeError(f"federated client process {i} exited with code {code}; its log ({logs[i]}):\n"
                                   f"{_tail(logs[i])}")
        params = flwr.common.parameters_to_ndarrays(server.parameters)
        return FederatedResult(_rows(history, timer, rounds, accountant), params, history, elapsed)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if tmp is not None:
            tmp.cleanup()
