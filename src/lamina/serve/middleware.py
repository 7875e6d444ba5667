"""The ASGI layer in front of the app: body size limit (413), per-request timeout (504), metrics.

    app = Guard(starlette_app, metrics, max_body=10 << 20, timeout_s=30.0)

A body over the limit is answered 413 whether its Content-Length says so or its chunks add up
to it; the body is read and thrown away first (up to ``drain_limit`` bytes), so that a client
still sending gets its answer instead of a broken connection. A prediction request that takes
longer than ``timeout_s`` (reading, waiting for its batch, computing) is answered 504. Every
response's status and time goes to the metrics.
"""
from __future__ import annotations

import asyncio
import json
import time

__all__ = ["BodyTooLarge", "Guard", "error_body"]


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the body passes the limit (the app answers 413)."""


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}).encode()


async def send_error(send, status: int, message: str, close: bool = False) -> None:
    body = error_body(status, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope) -> int | None:
    for k, v in scope.get("headers", ()):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


class Guard:
    """Wraps the ASGI ``app`` (module docstring). ``timed_paths``: the paths the timeout applies to."""

    def __init__(self, app, metrics, max_body: int, timeout_s: float, timed_paths=("/predict", "/predict/file"),
                 drain_limit: int | None = None):
        self.app, self.metrics = app, metrics
        self.max_body, self.timeout_s, self.timed_paths = int(max_body), float(timeout_s), tuple(timed_paths)
        self.drain_limit = int(drain_limit if drain_limit is not None else max(4 * self.max_body, 64 << 20))

    def too_large(self, size: int | None = None) -> str:
        what = f"{size} bytes" if size is not None else "more than that"
        return f"the request body is {what}; the limit is {self.max_body} bytes (--max-body-mb)"

    async def _drain(self, receive, seen: int) -> None:
        """Read and drop the rest of the body (bounded by drain_limit and the timeout)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                while seen <= self.drain_limit:
                    msg = await receive()
                    if msg["type"] != "http.request":
                        return
                    seen += len(msg.get("body", b""))
                    if not msg.get("more_body", False):
                        return
        except TimeoutError:
            return

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = [0]

        async def send_tracked(msg):
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        seen = [0]

        async def receive_limited():
            msg = await receive()
            if msg["type"] == "http.request":
                seen[0] += len(msg.get("body", b""))
                if seen[0] > self.max_body:
                    if msg.get("more_body", False):
                        await self._drain(receive, seen[0])
                    raise BodyTooLarge(self.too_large())
            return msg

        path = scope.get("path", "")
        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body:
                if length <= self.drain_limit:
                    await self._drain(receive, 0)
                await send_error(send_tracked, 413, self.too_large(length), close=length > self.drain_limit)
                return
            if path in self.timed_paths:
                try:
                    async with asyncio.timeout(self.timeout_s):
                        await self.app(scope, receive_limited, send_tracked)
                except TimeoutError:
                    if not status[0]:
                        await send_error(send_tracked, 504, f"the request took longer than {self.timeout_s:g} s "
                                                            "(--timeout-s): the server is overloaded or the "
                                                            "input too large")
                    return
            else:
                await self.app(scope, receive_limited, send_tracked)
        finally:
            self.metrics.record_response(path, status[0] or 500, time.perf_counter() - start)
