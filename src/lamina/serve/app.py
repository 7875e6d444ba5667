"""The HTTP API (Starlette): prediction endpoints in front of a micro-batcher.

    app = create_app(load_runtime("runs/mlp_digits"), Settings(max_batch=64, max_wait_ms=5))
    # uvicorn.run(app, host="127.0.0.1", port=8000)

POST /predict        JSON: {"inputs": [[...], ...]} rows of raw features, {"texts": [...]} for a text
                     model, {"images": ["<base64 PNG/JPEG>", ...]} for an image model
POST /predict/file   multipart/form-data: image files, a .csv of rows, a .npy array, a .txt of texts
GET  /health         {"status": "ok"} while the server takes requests
GET  /metadata       input shape and description, classes, model hash, runtime, opset, limits
GET  /metrics        requests, errors, batch size histogram, latency percentiles

A prediction answers ``{"predictions": [{"input", "class", "label", "probability",
"probabilities", "latency_ms"}, ...], "latency_ms", "runtime", "model_hash"}`` (a model that is
not a classifier: ``"prediction"`` instead of the class fields). Errors are JSON
``{"error": message, "status": code}``: 4xx for the client's mistakes (the server goes on),
503 when the queue is full or the server stops, 504 past ``--timeout-s``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .batcher import MicroBatcher, QueueFull, ShuttingDown
from .inputs import InputError, from_files, from_json
from .metrics import Metrics
from .middleware import BodyTooLarge, Guard, error_body

__all__ = ["ENV_SPEC", "Settings", "app_from_environment", "create_app"]

ENV_SPEC = "LAMINA_SERVE_SPEC"  # JSON {"path", "runtime", settings...}: how --workers N processes build the app


@dataclass
class Settings:
    """The server's limits (the ``lamina serve`` options of the same names)."""

    max_batch: int = 64
    max_wait_ms: float = 5.0
    max_queue: int = 1024
    max_body_mb: float = 10.0
    timeout_s: float = 30.0
    max_files: int = 64

    @property
    def max_body(self) -> int:
        return int(self.max_body_mb * (1 << 20))


def _json(obj, status: int = 200) -> Response:
    return Response(json.dumps(obj, allow_nan=False), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return Response(error_body(status, message), status_code=status, media_type="application/json")


def _floats(row) -> list:
    return [v if math.isfinite(v) else None for v in row]


def _predictions(names, results, task, classes, latency_ms) -> list:
    lat = round(latency_ms, 3)
    if task != "classification":
        return [{"input": n, "prediction": _floats(r), "latency_ms": lat} for n, r in zip(names, results.tolist())]
    top = results.argmax(axis=1).tolist()
    finite = np.isfinite(results).all(axis=1).tolist()
    out = []
    for n, probs, k, ok in zip(names, results.tolist(), top, finite):
        if not ok:
            out.append({"input": n, "class": None, "label": None, "probability": None, "probabilities": _floats(probs),
                        "latency_ms": lat})
            continue
        label = classes[k] if classes and k < len(classes) else str(k)
        out.append({"input": n, "class": k, "label": label, "probability": probs[k], "probabilities": probs,
                    "latency_ms": lat})
    return out


def create_app(runtime, settings: Settings | None = None, announce: str | None = None):
    """The ASGI app serving ``runtime`` (a :class:`~lamina.serve.runtime.Runtime`) with ``settings``.

    ``announce``: a line printed to stderr once the app has started (its workers are up)."""
    settings = settings or Settings()
    metrics = Metrics()
    batcher = MicroBatcher(runtime.infer, settings.max_batch, settings.max_wait_ms, settings.max_queue,
                           on_batch=metrics.record_batch)
    pre = runtime.preprocess
    classes = pre.info.get("classes")
    state = {"accepting": False}
    from ..cli.rundir import jsonable
    meta = jsonable({**runtime.metadata, "limits": asdict(settings), "pid": os.getpid()})

    async def _predict(names, x, start):
        if len(x) == 0:
            raise InputError(422, "no inputs to predict")
        metrics.record_inputs(len(x))
        try:
            results = await batcher.submit(x)
        except QueueFull as e:
            return _error(503, str(e))
        except ShuttingDown as e:
            return _error(503, str(e))
        except Exception as e:  # noqa: BLE001 - a failing forward pass is the server's 500, never a crash
            return _error(500, f"inference failed: {type(e).__name__}: {' '.join(str(e).split())}")
        latency = (time.perf_counter() - start) * 1000.0
        preds = _predictions(names, results, runtime.task, classes, latency)
        return _json({"predictions": preds, "latency_ms": round(latency, 3), "runtime": runtime.name,
                      "model_hash": runtime.metadata["model_hash"]})

    async def predict(request: Request):
        start = time.perf_counter()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/json", "") and not ctype.endswith("+json"):
            return _error(415, f"POST /predict takes application/json, got {ctype!r} (upload files to "
                               "/predict/file as multipart/form-data)")
        body = await request.body()
        try:
            if len(body) > 65536:  # large bodies are parsed off the event loop
                names, x = await run_in_threadpool(from_json, body, pre)
            else:
                names, x = from_json(body, pre)
            return await _predict(names, x, start)
        except InputError as e:
            return _error(e.status, e.message)

    async def predict_file(request: Request):
        start = time.perf_counter()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            return _error(415, f"POST /predict/file takes multipart/form-data (a file field), got {ctype or 'no'} "
                               "content type (JSON goes to /predict)")
        try:
            async with request.form(max_files=settings.max_files, max_fields=settings.max_files,
                                    max_part_size=settings.max_body) as form:
                files = []
                for _, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        files.append((value.filename or "upload", value.content_type, await value.read()))
        except HTTPException as e:  # a malformed multipart body (Starlette turns the parser's error into 400)
            return _error(400, f"bad multipart body: {e.detail}")
        except (ValueError, KeyError, AssertionError) as e:
            return _error(400, f"bad multipart body: {type(e).__name__}: {' '.join(str(e).split())}")
        try:
            names, x = await run_in_threadpool(from_files, files, pre)
            return await _predict(names, x, start)
        except InputError as e:
            return _error(e.status, e.message)

    async def health(request: Request):
        if not state["accepting"]:
            return _error(503, "shutting down")
        return _json({"status": "ok", "runtime": runtime.name, "queued": batcher.queued})

    async def metadata(request: Request):
        return _json(meta)

    async def metrics_endpoint(request: Request):
        return _json(metrics.snapshot(queued=batcher.queued, running=batcher.running, pid=os.getpid(),
                                      max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms,
                                      runtime=runtime.name))

    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    async def too_large(request: Request, exc: BodyTooLarge):
        return Response(error_body(413, str(exc)), status_code=413, media_type="application/json",
                        headers={"connection": "close"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        state["accepting"] = True
        if announce:
            print(announce, file=sys.stderr, flush=True)
        try:
            yield
        finally:
            state["accepting"] = False
            await batcher.close()  # uvicorn calls this after the in-flight requests are answered

    routes = [Route("/predict", predict, methods=["POST"]), Route("/predict/file", predict_file, methods=["POST"]),
              Route("/health", health, methods=["GET"]), Route("/metadata", metadata, methods=["GET"]),
              Route("/metrics", metrics_endpoint, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, BodyTooLarge: too_large})
    app.router.redirect_slashes = False  # /predict/ is a 404, not a redirect a POST client won't follow
    app.state.runtime, app.state.batcher, app.state.metrics = runtime, batcher, metrics
    guard = Guard(app, metrics, settings.max_body, settings.timeout_s)
    guard.state = app.state
    return guard


def app_from_environment():
    """The app described by ``$LAMINA_SERVE_SPEC`` (each process of ``lamina serve --workers N``)."""
    from .runtime import load_runtime
    spec = json.loads(os.environ[ENV_SPEC])
    runtime = load_runtime(spec["path"], spec.get("runtime"))
    settings = Settings(**spec.get("settings", {}))
    return create_app(runtime, settings, announce=spec.get("announce"))
