"""Limits of the app (uvicorn in a thread of the test process, a stand-in model): a full queue is
503, a slow request 504, a failing model 500 — and each time the server goes on serving."""
from __future__ import annotations

import contextlib
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

from lamina.cli.pipeline import Preprocess
from lamina.serve.app import Settings, create_app
from serve_util import HOST, digits_rows, free_port

ROW = {"inputs": digits_rows(1).tolist()}


class StandIn:
    """A runtime with the digits pipeline whose model sleeps ``delay`` s (or raises) and answers uniform."""

    name, task = "stand-in", "classification"

    def __init__(self, delay=0.0, fail=False):
        info = {"dataset": "digits", "task": "classification", "input_shape": [64], "num_classes": 10,
                "image": None, "classes": None}
        self.preprocess, self.delay, self.fail = Preprocess(info), delay, fail
        self.metadata = {"model_hash": "0" * 64, "runtime": self.name}

    def infer(self, x):
        time.sleep(self.delay)
        if self.fail:
            raise FloatingPointError("the model blew up")
        return np.full((len(x), 10), 0.1)


@contextlib.contextmanager
def running(runtime, **settings):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime, Settings(**settings)), host=HOST, port=port,
                                           log_level="error", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _concurrent_posts(url, n):
    out = [None] * n

    def post(i):
        out[i] = httpx.post(url + "/predict", json=ROW, timeout=30)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_slow_request_is_504_and_the_server_goes_on():
    with running(StandIn(delay=3.0), timeout_s=0.3, max_wait_ms=0) as url:
        t = time.perf_counter()
        r = httpx.post(url + "/predict", json=ROW, timeout=30)
        assert r.status_code == 504 and "--timeout-s" in r.json()["error"]
        assert time.perf_counter() - t < 2.5  # answered before the model is done
        assert httpx.get(url + "/health").status_code == 200
        assert httpx.post(url + "/predict", json={"inputs": [[1, 2]]}).status_code == 422
        m = httpx.get(url + "/metrics").json()
        assert m["responses_by_status"]["504"] == 1 and m["responses_by_status"]["422"] == 1


def test_full_queue_is_503_and_queued_requests_are_answered():
    with running(StandIn(), max_queue=2, max_wait_ms=500) as url:
        statuses = sorted(r.status_code for r in _concurrent_posts(url, 5))
        assert statuses == [200, 200, 503, 503, 503]
        r = httpx.post(url + "/predict", json=ROW, timeout=30)
        assert r.status_code == 200 and r.json()["predictions"][0]["probability"] == pytest.approx(0.1)


def test_failing_model_is_500_naming_the_error_and_the_server_goes_on():
    with running(StandIn(fail=True), max_wait_ms=0) as url:
        r = httpx.post(url + "/predict", json=ROW, timeout=30)
        assert r.status_code == 500 and "FloatingPointError: the model blew up" in r.json()["error"]
        assert httpx.get(url + "/health").status_code == 200
        assert httpx.post(url + "/predict", json={"inputs": [[1, 2]]}).status_code == 422
