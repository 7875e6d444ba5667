"""``lamina serve``: an HTTP inference server with dynamic micro-batching (the ``serve`` extra).

    lamina serve runs/mlp_digits --port 8000             # the command line
    from lamina.serve import load_runtime, create_app      # or in Python: an ASGI app

runtime.py     the model: a run directory run by lamina, or ONNX run by onnxruntime (one interface)
inputs.py      request payloads (JSON rows / texts / base64 images, uploaded files) -> model inputs
batcher.py     dynamic micro-batching: concurrent requests stacked into one forward pass
metrics.py     counts, batch size histogram, latency percentiles (GET /metrics)
middleware.py  body size limit (413), per-request timeout (504), response metrics
app.py         the Starlette routes
server.py      uvicorn: socket, worker processes, graceful SIGTERM

Starlette, uvicorn and onnxruntime are imported here only: ``import lamina`` never loads them.
"""
__all__ = ["Settings", "create_app", "load_runtime", "serve"]


def __getattr__(name):
    if name in ("Settings", "create_app"):
        from . import app
        return getattr(app, name)
    if name == "load_runtime":
        from .runtime import load_runtime
        return load_runtime
    if name == "serve":
        from .server import serve
        return serve
    raise AttributeError(f"module 'lamina.serve' has no attribute {name!r}")
