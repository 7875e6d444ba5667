"""Helpers for the server tests: a tiny digits run, its ONNX file, ``lamina predict`` as the
reference, and a real ``python -m lamina serve`` subprocess on a free port of 127.0.0.1."""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from lamina.cli.main import main

HOST = "127.0.0.1"

# a 16-unit MLP on standardised digits, 2 epochs: trained in a few seconds
SMALL = """
[model]
name = "mlp"
hidden_sizes = [16]

[data]
name = "digits"
batch_size = 128
standardize = true

[optimizer]
name = "adam"
lr = 0.01

[train]
epochs = 2

[metrics]
names = ["accuracy"]
"""


def run_cli(*args) -> tuple:
    """``(exit code, stdout, stderr)`` of ``lamina *args`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def make_run(folder) -> str:
    run_dir = os.path.join(folder, "run")
    cfg = os.path.join(folder, "small.toml")
    with open(cfg, "w") as f:
        f.write(SMALL)
    code, _, err = run_cli("train", cfg, "--run-dir", run_dir, "-q")
    assert code == 0, err
    return run_dir


def export_onnx(run_dir: str, path: str) -> str:
    """The run's model as an .onnx file with its pipeline, loss and weights' hash in the metadata (the
    keys lamina export writes)."""
    import lamina
    import lamina.onnx as lonnx
    from lamina.cli.rundir import load_run
    from lamina.serve.runtime import _sha256
    loaded = load_run(run_dir)
    meta = {**loaded.preprocess.to_metadata(), "lamina.loss": loaded.cfg["loss"]["name"],
            "lamina.weights_sha256": _sha256(loaded.checkpoint)}
    lonnx.export(loaded.model, lamina.zeros(1, *loaded.preprocess.info["input_shape"]), path, metadata=meta)
    return path


def digits_rows(n: int, start: int = 0) -> np.ndarray:
    from sklearn.datasets import load_digits
    return load_digits().data[start:start + n]


def lamina_predict(run_dir: str, *inputs) -> list:
    """The predictions of ``lamina predict RUN INPUTS --json`` (the reference the server must match)."""
    code, out, err = run_cli("predict", run_dir, *inputs, "--json")
    assert code == 0, err
    return json.loads(out)["predictions"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``python -m lamina serve TARGET ARGS --host 127.0.0.1 --port <free>`` in a subprocess."""

    def __init__(self, target: str, *args):
        self.target, self.args = str(target), [str(a) for a in args]
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._err = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lamina", "serve", self.target, *self.args, "--host", HOST, "--port",
             str(self.port)], stdout=subprocess.DEVNULL, stderr=self._err, env=env)

    @property
    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read()

    def wait_ready(self, timeout: float = 120.0) -> "Server":
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}: {self.stderr[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not answer /health within {timeout} s: {self.stderr[-2000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self) -> None:
        self.stop()
        self._err.close()
