"""Dynamic micro-batching: concurrent requests stacked into one forward pass.

    batcher = MicroBatcher(runtime.infer, max_batch=64, max_wait_ms=5, max_queue=1024)
    await batcher.start()
    probs = await batcher.submit(x)          # x: (n, ...) model inputs of one request
    await batcher.close()                    # finishes everything queued

A request's rows wait in a bounded queue. The collector takes the oldest request and, for at
most ``max_wait_ms`` after it arrived (less when ``max_batch`` rows are already queued), lets
more arrive; then it stacks up to ``max_batch`` rows of requests whose samples have the same
shape (token ids of different lengths are never padded together), runs ``fn`` on them in one
worker thread (off the event loop) and hands each request its own rows of the result. While a
batch runs, the next one gathers, so under load batches fill without any waiting. A request
larger than ``max_batch`` runs alone, in chunks. A request that gave up (timed out, client gone)
is dropped from the queue, and its rows are not computed when it had not been taken yet. A
batch that fails is retried one request at a time: a failure is only the failing request's.
"""
from __future__ import annotations

import asyncio
import collections
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["MicroBatcher", "QueueFull", "ShuttingDown"]


class QueueFull(Exception):
    """The queue holds ``max_queue`` requests already (answer 503: try again later)."""


class ShuttingDown(Exception):
    """The batcher is closed (the server is stopping)."""


class _Item:
    __slots__ = ("x", "future", "arrived")

    def __init__(self, x, future, arrived):
        self.x, self.future, self.arrived = x, future, arrived


def _wake(future) -> None:
    if not future.done():
        future.set_result(None)


class MicroBatcher:
    """Stacks concurrent requests into batches of at most ``max_batch`` rows (module docstring).

    ``fn(batch) -> array`` maps ``(B, ...)`` inputs to ``(B, ...)`` results (row i for input i).
    ``on_batch(rows, requests, seconds)`` is called on the event loop after each batch (metrics).
    """

    def __init__(self, fn, max_batch: int = 64, max_wait_ms: float = 5.0, max_queue: int = 1024, on_batch=None):
        if max_batch < 1 or max_queue < 1 or max_wait_ms < 0:
            raise ValueError(f"MicroBatcher: max_batch and max_queue must be >= 1 and max_wait_ms >= 0, got "
                             f"{max_batch}, {max_queue}, {max_wait_ms}")
        self.fn, self.max_batch, self.max_wait = fn, int(max_batch), float(max_wait_ms) / 1000.0
        self.max_queue, self.on_batch = int(max_queue), on_batch
        self._queue: collections.deque = collections.deque()
        self._rows = 0  # rows of the requests in the queue
        self._signal = None  # a future the collector sleeps on; submit() resolves it
        self._wants_full = False  # the collector waits for max_batch rows (or its deadline)
        self._closed = False
        self._flushing = False  # no waiting for more requests: the server is stopping
        self._loop = None
        self._task = None
        self._executor = None
        self.running = 0  # requests of the batch being computed

    @property
    def queued(self) -> int:
        """Requests waiting for a batch."""
        return len(self._queue)

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lamina-serve-infer")
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._collect())

    def flush(self) -> None:
        """From now on, run queued requests without waiting for others (the server is stopping)."""
        self._flushing = True
        if self._signal is not None:
            _wake(self._signal)

    def flush_threadsafe(self) -> None:
        """``flush`` from a signal handler or another thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.flush)

    async def submit(self, x: np.ndarray) -> np.ndarray:
        """The results for ``x`` (one request's rows), computed in a batch with others."""
        if self._closed:
            raise ShuttingDown("the server is shutting down")
        if len(self._queue) >= self.max_queue:
            raise QueueFull(f"the request queue is full ({self.max_queue} requests waiting): try again later")
        loop = asyncio.get_running_loop()
        item = _Item(x, loop.create_future(), loop.time())
        self._queue.append(item)
        self._rows += len(x)
        if self._signal is not None and (not self._wants_full or self._rows >= self.max_batch):
            _wake(self._signal)
        return await item.future  # cancelled with the request: the collector then skips it

    async def close(self) -> None:
        """Stop taking requests; finish the queued ones, then stop the worker thread."""
        self._closed = self._flushing = True
        if self._signal is not None:
            _wake(self._signal)
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    # ------------------------------------------------------------ the collector
    async def _sleep(self, loop, timeout: float | None, wants_full: bool) -> None:
        self._signal, self._wants_full = loop.create_future(), wants_full
        handle = loop.call_later(timeout, _wake, self._signal) if timeout is not None else None
        try:
            await self._signal
        finally:
            self._signal = None
            if handle is not None:
                handle.cancel()

    def _drop_abandoned(self) -> None:
        while self._queue and self._queue[0].future.done():
            self._rows -= len(self._queue.popleft().x)

    def _take(self) -> list:
        """Requests for one batch: the oldest, then queued ones of the same sample shape, up to max_batch rows."""
        first = self._queue.popleft()
        taken, rows, rest = [first], len(first.x), collections.deque()
        shape = first.x.shape[1:]
        while self._queue:
            item = self._queue.popleft()
            if item.future.done():
                self._rows -= len(item.x)
            elif item.x.shape[1:] == shape and rows + len(item.x) <= self.max_batch:
                taken.append(item)
                rows += len(item.x)
            else:
                rest.append(item)
                if rows >= self.max_batch:
                    break
        rest.extend(self._queue)
        self._queue = rest
        self._rows -= rows
        return taken

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_abandoned()
            if not self._queue:
                if self._closed:
                    return
                await self._sleep(loop, None, wants_full=False)
                continue
            wait = self._queue[0].arrived + self.max_wait - loop.time()
            if wait > 0 and self._rows < self.max_batch and not self._flushing:
                await self._sleep(loop, wait, wants_full=True)
                continue
            batch = self._take()
            self.running = len(batch)
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._run, [it.x for it in batch])
            finally:
                self.running = 0
            self._deliver(batch, results)
            if self.on_batch is not None:
                self.on_batch(sum(len(it.x) for it in batch), len(batch), time.perf_counter() - start)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        if len(x) <= self.max_batch:
            return np.asarray(self.fn(x))
        return np.concatenate([np.asarray(self.fn(x[i:i + self.max_batch])) for i in range(0, len(x), self.max_batch)])

    def _run(self, arrays: list) -> list:
        """Worker thread: one forward pass over the stacked rows; each request's rows of the result.

        When the batch fails and holds several requests, each runs alone, so that one request's
        failure (an error, or a result of the wrong length) is its own and not its neighbours'."""
        try:
            out = self._forward(arrays[0] if len(arrays) == 1 else np.concatenate(arrays))
            if len(out) != sum(len(a) for a in arrays):
                raise RuntimeError(f"the model gave {len(out)} results for {sum(len(a) for a in arrays)} inputs")
        except Exception as e:  # noqa: BLE001 - handed to the requests, never raised in the worker
            if len(arrays) == 1:
                return [e]
            return [self._run([a])[0] for a in arrays]
        bounds = np.cumsum([0] + [len(a) for a in arrays])
        return [out[bounds[i]:bounds[i + 1]] for i in range(len(arrays))]

    @staticmethod
    def _deliver(batch: list, results: list) -> None:
        for it, res in zip(batch, results):
            if it.future.done():
                continue
            if isinstance(res, BaseException):
                it.future.set_exception(res)
            else:
                it.future.set_result(res)
