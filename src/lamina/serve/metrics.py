"""What ``GET /metrics`` reports: request and error counts, batch sizes, latency percentiles.

    m = Metrics()
    m.record_response("/predict", 200, 0.004)     # every HTTP response (the middleware's)
    m.record_batch(rows=12, requests=9, seconds=0.001)
    m.snapshot()   # {"requests": ..., "errors": ..., "batch_sizes": {"12": 1}, "latency_ms": {...}}

Counts are per server process (``--workers N`` runs N of them). Latencies are those of the
prediction requests, the last ``window`` of them.
"""
from __future__ import annotations

import collections
import time

import numpy as np

__all__ = ["Metrics"]

PREDICT_PATHS = ("/predict", "/predict/file")


class Metrics:
    """Counters of one server process (all updated on the event loop: no locks needed)."""

    def __init__(self, window: int = 10000):
        self.started = time.time()
        self.requests = 0
        self.by_status: collections.Counter = collections.Counter()
        self.by_path: collections.Counter = collections.Counter()
        self.predict_requests = 0
        self.inputs = 0
        self.batches = 0
        self.batch_sizes: collections.Counter = collections.Counter()  # rows per batch -> batches
        self.batch_requests: collections.Counter = collections.Counter()  # requests per batch -> batches
        self.inference_seconds = 0.0
        self._latency = np.zeros(window, dtype=np.float64)
        self._n_latency = 0

    def record_response(self, path: str, status: int, seconds: float) -> None:
        self.requests += 1
        self.by_status[int(status)] += 1
        known = path if path in PREDICT_PATHS or path in ("/health", "/metadata", "/metrics") else "other"
        self.by_path[known] += 1
        if path in PREDICT_PATHS:
            self.predict_requests += 1
            if status == 200:
                self._latency[self._n_latency % len(self._latency)] = seconds
                self._n_latency += 1

    def record_inputs(self, n: int) -> None:
        self.inputs += int(n)

    def record_batch(self, rows: int, requests: int, seconds: float) -> None:
        self.batches += 1
        self.batch_sizes[int(rows)] += 1
        self.batch_requests[int(requests)] += 1
        self.inference_seconds += seconds

    def latency_ms(self) -> dict:
        n = min(self._n_latency, len(self._latency))
        if n == 0:
            return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
        lat = self._latency[:n] * 1000.0
        p50, p90, p99 = np.percentile(lat, [50, 90, 99])
        return {"count": int(n), "p50": round(float(p50), 3), "p90": round(float(p90), 3),
                "p99": round(float(p99), 3), "max": round(float(lat.max()), 3), "mean": round(float(lat.mean()), 3)}

    def snapshot(self, **extra) -> dict:
        errors = sum(c for s, c in self.by_status.items() if s >= 400)
        rows = sum(k * v for k, v in self.batch_sizes.items())
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "requests": self.requests,
            "predict_requests": self.predict_requests,
            "errors": errors,
            "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "requests_by_path": dict(sorted(self.by_path.items())),
            "inputs": self.inputs,
            "batches": self.batches,
            "batch_size_histogram": {str(k): v for k, v in sorted(self.batch_sizes.items())},
            "requests_per_batch_histogram": {str(k): v for k, v in sorted(self.batch_requests.items())},
            "mean_batch_size": round(rows / self.batches, 3) if self.batches else None,
            "max_batch_size": max(self.batch_sizes) if self.batch_sizes else None,
            "inference_seconds": round(self.inference_seconds, 6),
            "latency_ms": self.latency_ms(),
            **extra,
        }
