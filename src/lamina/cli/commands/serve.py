"""``lamina serve RUN_OR_ONNX``: an HTTP inference server with dynamic micro-batching."""
from __future__ import annotations

import math

from ..errors import ConfigError

HELP = "serve a trained model (a run directory or an .onnx file) over HTTP, with micro-batching"
DESCRIPTION = """\
Serve a model over HTTP (Starlette + uvicorn: pip install 'lamina[serve]'). RUN_OR_ONNX is a run
directory (served by lamina itself; --runtime onnx exports it in memory and runs onnxruntime) or
an .onnx file written by lamina export (served by onnxruntime; its metadata holds the run's input
pipeline, so raw inputs work the same).

  POST /predict        {"inputs": [[...], ...]}  rows of raw features, as for lamina predict
                       {"texts": ["...", ...]}   a text classifier
                       {"images": ["<base64 PNG/JPEG>", ...]}   an image model
  POST /predict/file   multipart/form-data: image files, a .csv of rows, a .npy array, a .txt of texts
  GET  /health, /metadata (input shape and description, classes, model hash), /metrics

Each input gets its class, label, probability, all probabilities and the request's latency.
Requests arriving within --max-wait-ms of each other run as one batch of at most --max-batch
rows, in a worker thread; at most --max-queue requests wait (then 503). A body over --max-body-mb
is refused (413), a request over --timeout-s answered 504, bad input 4xx with a message. SIGTERM
or Ctrl-C: stop accepting, answer the requests taken, exit 0.

examples:
  lamina serve runs/mlp_digits --port 8000
  curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"inputs": [[0, 0, 5, ...]]}'
  curl -s localhost:8000/predict/file -F file=@digit.png
  lamina serve mlp_digits.onnx --max-batch 128 --max-wait-ms 2 --workers 2
"""


def configure(p) -> None:
    p.add_argument("path", metavar="RUN_OR_ONNX", help="a run directory (or a checkpoint in one) or an .onnx file")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="server processes, each with its own model and batcher (default 1)")
    p.add_argument("--runtime", choices=("lamina", "onnx"), default=None,
                   help="run the model with lamina (a run's default) or onnxruntime (an .onnx file's)")
    p.add_argument("--max-batch", type=int, default=64, metavar="N", help="rows per forward pass at most (default 64)")
    p.add_argument("--max-wait-ms", type=float, default=5.0, metavar="MS",
                   help="how long a request waits for others to batch with (default 5)")
    p.add_argument("--max-queue", type=int, default=1024, metavar="N",
                   help="requests waiting at most; more are answered 503 (default 1024)")
    p.add_argument("--max-body-mb", type=float, default=10.0, metavar="MB",
                   help="largest request body in MiB; larger is answered 413 (default 10)")
    p.add_argument("--timeout-s", type=float, default=30.0, metavar="S",
                   help="a prediction request taking longer is answered 504 (default 30)")
    p.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"), default="warning",
                   help="uvicorn's log level (default warning)")
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")


def _check(args) -> None:
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {args.port}")
    for name in ("workers", "max_batch", "max_queue"):
        v = getattr(args, name)
        if v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {v}")
    for name, low in (("max_wait_ms", 0.0), ("max_body_mb", None), ("timeout_s", None)):
        v = getattr(args, name)
        if not math.isfinite(v) or (v < low if low is not None else v <= 0):
            what = "0 or more" if low is not None else "positive"
            raise ConfigError(f"--{name.replace('_', '-')} must be a {what} number, got {v}")


def run(args) -> int:
    _check(args)
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import python_multipart  # noqa: F401  (multipart uploads)
    except ImportError as e:
        raise ConfigError(f"lamina serve needs {e.name}: pip install 'lamina[serve]'") from None
    from ...serve.app import Settings
    from ...serve.server import serve
    settings = Settings(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
                        max_body_mb=args.max_body_mb, timeout_s=args.timeout_s)
    return serve(args.path, host=args.host, port=args.port, runtime=args.runtime, settings=settings,
                 workers=args.workers, log_level=args.log_level, access_log=args.access_log)
