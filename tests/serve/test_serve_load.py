"""The server under load: 64 concurrent clients, 5,000 requests, every answer right and for its own
request, and the server formed batches larger than one."""
from __future__ import annotations

import time

import numpy as np

from serve_load import run_load  # benchmarks/serve_load.py: the load generator
from serve_util import digits_rows, lamina_predict

N_REQUESTS, CONCURRENCY = 5000, 64


def test_load_64_clients_5000_requests(servers, tiny_run, tmp_path):
    rows = digits_rows(60)
    np.save(tmp_path / "rows.npy", rows)
    want = lamina_predict(tiny_run, tmp_path / "rows.npy")
    want_class = np.array([w["class"] for w in want])
    want_probs = np.array([w["probabilities"] for w in want])
    # request k asks for 1 to 3 rows starting at row k % 58: answers must come back to their own request
    starts = [k % 58 for k in range(58 * 3)]
    sizes = [1 + k % 3 for k in range(58 * 3)]
    bodies = [{"inputs": rows[s:s + n].tolist()} for s, n in zip(starts, sizes)]
    url = servers["lamina"].url
    import httpx
    before = httpx.get(url + "/metrics").json()
    start = time.monotonic()
    results, seconds = run_load(url + "/predict", bodies, N_REQUESTS, CONCURRENCY, timeout=60)
    assert time.monotonic() - start < 120, f"5000 requests took {seconds:.1f} s"
    assert len(results) == N_REQUESTS and all(r is not None for r in results), "lost responses"
    bad = [(i, r[0], str(r[1])[:200]) for i, r in enumerate(results) if r[0] != 200]
    assert not bad, f"{len(bad)} failed requests, e.g. {bad[:3]}"
    for i, (status, body, _) in enumerate(results):
        k = i % len(bodies)
        s, n = starts[k], sizes[k]
        preds = body["predictions"]
        assert [p["class"] for p in preds] == want_class[s:s + n].tolist(), f"request {i} got another's answer"
        np.testing.assert_allclose([p["probabilities"] for p in preds], want_probs[s:s + n], atol=1e-6)
    after = httpx.get(url + "/metrics").json()
    assert after["predict_requests"] - before["predict_requests"] == N_REQUESTS
    assert after["errors"] == before["errors"]
    assert after["inputs"] - before["inputs"] == sum(sizes[i % len(sizes)] for i in range(N_REQUESTS))
    # micro-batching happened: batches of several requests (and more rows than any one request has)
    assert after["max_batch_size"] > 3, after["batch_size_histogram"]
    assert max(int(k) for k in after["requests_per_batch_histogram"]) > 1
    assert after["batches"] - before["batches"] < N_REQUESTS
    assert after["max_batch_size"] <= 64
