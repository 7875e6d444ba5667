"""``lamina serve`` under load: dynamic micro-batching against one request per forward pass.

    python benchmarks/serve_load.py                       # trains a digits MLP [256, 256] in a temp dir
    python benchmarks/serve_load.py --run runs/mlp_digits --runtime onnx --requests 5000 --concurrency 64

Starts the real server (``python -m lamina serve`` on 127.0.0.1) twice on the same run: with
micro-batching (``--max-batch 64 --max-wait-ms 5``) and with ``--max-batch 1`` (every request
its own forward pass), sends the same load to each (``--concurrency`` clients sending
``--requests`` requests of one digits row in total, keep-alive connections on asyncio) and prints throughput
and client-side latency percentiles side by side, with the batch sizes the server formed (from
``/metrics``). Client and server share the machine's cores, so the absolute numbers are the
pair's, not the server's alone.

``run_load`` is also the load generator of the server tests (tests/serve/).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

MODEL = """
[model]
name = "mlp"
hidden_sizes = [256, 256]

[data]
name = "digits"
batch_size = 64
standardize = true

[optimizer]
name = "adam"
lr = 0.002

[train]
epochs = 3
"""


class _Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (httpx's pool costs several ms of
    CPU per request at 64 connections, which would measure the client instead of the server)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json"
                          f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        data = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers.get("content-type", ""), data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(url: str, bodies: list, total: int, concurrency: int, timeout: float) -> list:
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    encoded = [json.dumps(b).encode() for b in bodies]
    results = [None] * total
    counter = iter(range(total))

    async def worker():
        conn = _Connection(parts.hostname, parts.port)
        try:
            for i in counter:
                start = time.perf_counter()
                try:
                    status, ctype, data = await asyncio.wait_for(conn.post(parts.path, encoded[i % len(encoded)]),
                                                                 timeout)
                    body = json.loads(data) if ctype.startswith("application/json") else data.decode("latin-1")
                    results[i] = (status, body, time.perf_counter() - start)
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as e:
                    conn.close()
                    results[i] = (None, f"{type(e).__name__}: {e}", time.perf_counter() - start)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def run_load(url: str, bodies: list, total: int, concurrency: int = 64, timeout: float = 60.0) -> tuple:
    """``(results, seconds)``: ``total`` POSTs of ``bodies[i % len(bodies)]`` (JSON) to ``url`` from
    ``concurrency`` concurrent clients; ``results[i] = (status or None, JSON body or error text, seconds)``."""
    start = time.perf_counter()
    results = asyncio.run(_load(url, bodies, total, concurrency, timeout))
    return results, time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(target: str, *args) -> tuple:
    import httpx
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lamina", "serve", target, "--host", "127.0.0.1", "--port",
                             str(port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def _stop(proc) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _train(folder: str) -> str:
    cfg = os.path.join(folder, "mlp.toml")
    with open(cfg, "w") as f:
        f.write(MODEL)
    run_dir = os.path.join(folder, "run")
    subprocess.run([sys.executable, "-m", "lamina", "train", cfg, "--run-dir", run_dir, "-q"], check=True)
    return run_dir


def measure(target: str, runtime: str, server_args: list, bodies: list, total: int, concurrency: int) -> dict:
    import httpx
    proc, url = _start(target, "--runtime", runtime, *server_args)
    try:
        run_load(url + "/predict", bodies, min(200, total), concurrency)  # warm-up: connections, first calls
        before = httpx.get(url + "/metrics").json()
        results, seconds = run_load(url + "/predict", bodies, total, concurrency)
        after = httpx.get(url + "/metrics").json()
    finally:
        code = _stop(proc)
    ok = [r for r in results if r and r[0] == 200]
    lat = np.array([r[2] for r in ok]) * 1000.0
    batches = after["batches"] - before["batches"]
    hist = {int(k): v - before["batch_size_histogram"].get(k, 0) for k, v in after["batch_size_histogram"].items()}
    rows = sum(k * v for k, v in hist.items())
    return {"server": " ".join(server_args), "requests": total, "ok": len(ok), "errors": total - len(ok),
            "seconds": round(seconds, 3), "throughput_rps": round(len(ok) / seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
            "batches": batches, "mean_batch": round(rows / batches, 2) if batches else None,
            "max_batch_seen": max((k for k, v in hist.items() if v), default=None), "exit_code": code}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", help="a run directory or .onnx file (default: train a digits MLP [256, 256])")
    p.add_argument("--runtime", choices=("lamina", "onnx"), default="lamina")
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    from sklearn.datasets import load_digits
    bodies = [{"inputs": [row]} for row in load_digits().data[:256].tolist()]
    with tempfile.TemporaryDirectory() as folder:
        target = args.run or _train(folder)
        rows = [measure(target, args.runtime, ["--max-batch", "64", "--max-wait-ms", "5"], bodies, args.requests,
                        args.concurrency),
                measure(target, args.runtime, ["--max-batch", "1", "--max-wait-ms", "0"], bodies, args.requests,
                        args.concurrency)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"lamina serve, runtime {args.runtime}: {args.requests} requests of one digits row, "
          f"{args.concurrency} concurrent keep-alive clients (asyncio), client and server on {os.cpu_count()} cores")
    print("| server | throughput (req/s) | p50 ms | p99 ms | mean batch | max batch | errors | exit |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['server']} | {r['throughput_rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['mean_batch']} | "
              f"{r['max_batch_seen']} | {r['errors']} | {r['exit_code']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
