"""The micro-batcher on its own (asyncio, no HTTP): batches form, results go back to their own
request, shapes are never mixed, the queue is bounded, failures and give-ups are contained."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from lamina.serve.batcher import MicroBatcher, QueueFull, ShuttingDown


class Recorder:
    """``fn`` for the batcher: returns each row's sum (so answers identify their rows), records batch sizes."""

    def __init__(self, delay=0.0, fail_on=None):
        self.sizes, self.threads, self.delay, self.fail_on = [], set(), delay, fail_on

    def __call__(self, x):
        self.sizes.append(len(x))
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on is not None and (x == self.fail_on).any():
            raise RuntimeError("bad row")
        return x.reshape(len(x), -1).sum(axis=1, keepdims=True)


def _run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_form_batches_and_get_their_own_rows():
    rec = Recorder(delay=0.01)

    async def main():
        b = MicroBatcher(rec, max_batch=16, max_wait_ms=20)
        await b.start()
        xs = [np.full((1 + i % 3, 4), float(i)) for i in range(40)]
        outs = await asyncio.gather(*(b.submit(x) for x in xs))
        await b.close()
        return xs, outs

    xs, outs = _run(main())
    for x, out in zip(xs, outs):
        np.testing.assert_array_equal(out, x.sum(axis=1, keepdims=True))
    assert sum(rec.sizes) == sum(len(x) for x in xs)
    assert max(rec.sizes) > 3 and max(rec.sizes) <= 16 and len(rec.sizes) < 40
    assert threading.get_ident() not in rec.threads and len(rec.threads) == 1  # off the event loop, one thread


def test_max_wait_bounds_the_wait_of_a_lone_request_and_max_batch_ends_it_early():
    async def main():
        b = MicroBatcher(Recorder(), max_batch=4, max_wait_ms=200)
        await b.start()
        t = time.perf_counter()
        await b.submit(np.ones((1, 2)))
        lone = time.perf_counter() - t
        t = time.perf_counter()
        await b.submit(np.ones((4, 2)))  # a full batch does not wait
        full = time.perf_counter() - t
        await b.close()
        return lone, full

    lone, full = _run(main())
    assert 0.15 < lone < 2.0 and full < 0.15


def test_different_sample_shapes_are_never_stacked_and_large_requests_are_chunked():
    rec = Recorder()

    async def main():
        b = MicroBatcher(rec, max_batch=8, max_wait_ms=30)
        await b.start()
        a, c = np.ones((3, 5)), np.ones((2, 7))
        big = np.arange(20 * 5, dtype=float).reshape(20, 5)
        outs = await asyncio.gather(b.submit(a), b.submit(c), b.submit(a), b.submit(big))
        await b.close()
        return outs, big

    outs, big = _run(main())
    assert [o.tolist() for o in outs[:3]] == [[[5.0]] * 3, [[7.0]] * 2, [[5.0]] * 3]
    np.testing.assert_array_equal(outs[3], big.sum(axis=1, keepdims=True))
    assert max(rec.sizes) <= 8 and sum(rec.sizes) == 3 + 2 + 3 + 20


def test_queue_is_bounded_and_closed_batcher_refuses():
    async def main():
        b = MicroBatcher(Recorder(), max_batch=64, max_wait_ms=300, max_queue=2)
        await b.start()
        tasks = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull, match="queue is full"):
            await b.submit(np.ones((1, 2)))
        outs = await asyncio.gather(*tasks)
        await b.close()
        with pytest.raises(ShuttingDown):
            await b.submit(np.ones((1, 2)))
        return outs

    assert [o.tolist() for o in _run(main())] == [[[2.0]], [[2.0]]]


def test_a_failing_batch_fails_its_requests_only_and_abandoned_requests_are_skipped():
    rec = Recorder(fail_on=-1.0)

    async def main():
        b = MicroBatcher(rec, max_batch=64, max_wait_ms=30)
        await b.start()
        good, bad = b.submit(np.ones((1, 2))), b.submit(-np.ones((1, 2)))
        results = await asyncio.gather(good, bad, return_exceptions=True)
        gone = asyncio.ensure_future(b.submit(np.full((1, 2), 9.0)))
        await asyncio.sleep(0.005)
        gone.cancel()  # the client gave up before its batch ran
        later = await b.submit(np.full((1, 2), 3.0))
        await b.close()
        return results, later

    (good, bad), later = _run(main())
    assert isinstance(bad, RuntimeError) and good.tolist() == [[2.0]] == (later / 3).tolist()
    assert rec.sizes[:3] == [2, 1, 1]  # the batch failed: each request retried alone
    assert sum(rec.sizes[3:]) == 1  # the cancelled request's row was never computed


def test_close_finishes_queued_requests():
    rec = Recorder()

    async def main():
        b = MicroBatcher(rec, max_batch=64, max_wait_ms=10000)
        await b.start()
        tasks = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(3)]
        await asyncio.sleep(0.01)
        await b.close()  # does not wait out max_wait: closing flushes the queue
        return await asyncio.gather(*tasks)

    t = time.perf_counter()
    assert len(_run(main())) == 3 and time.perf_counter() - t < 5


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(Recorder(), max_batch=0)


def test_flush_stops_the_wait_for_more_requests():
    async def main():
        b = MicroBatcher(Recorder(), max_batch=64, max_wait_ms=30000)
        await b.start()
        tasks = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in tasks)
        b.flush_threadsafe()  # what the server does on SIGTERM, from the signal handler
        outs = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        await b.close()
        return outs

    assert [o.tolist() for o in _run(main())] == [[[2.0]]] * 3
