"""Running the app under uvicorn: the socket, the worker processes, a graceful SIGTERM.

    serve("runs/mlp_digits", host="127.0.0.1", port=8000, settings=Settings(max_batch=64))

The socket is bound before uvicorn starts, so a port in use is a one-line error (exit 2), and
port 0 picks a free port (announced on stderr). SIGTERM (or Ctrl-C) stops the server gracefully:
it stops accepting connections, runs the queued requests at once (no more batching wait),
answers every request it has taken, then returns (exit 0).
``workers > 1`` runs that many processes on the one socket (uvicorn's supervisor), each with
its own model and micro-batcher, built from ``$LAMINA_SERVE_SPEC``.
"""
from __future__ import annotations

import inspect
import json
import os
import signal
import socket

from ..cli.errors import ConfigError, one_line
from .app import ENV_SPEC, Settings, app_from_environment, create_app

__all__ = ["bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (ConfigError when the address cannot be used)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or one_line(e)}") from None
    sock.set_inheritable(True)
    return sock


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, telling the batcher when a SIGTERM / Ctrl-C arrives: the queued requests
        then run at once instead of waiting out --max-wait-ms, so a graceful stop is quick."""

        on_exit = None

        def handle_exit(self, sig, frame):
            super().handle_exit(sig, frame)
            if self.on_exit is not None:
                self.on_exit()

    return Server


def _uvicorn_config(app, settings: Settings, workers: int, log_level: str, access_log: bool, factory: bool):
    import uvicorn
    return uvicorn.Config(app, workers=workers, factory=factory, log_level=log_level, access_log=access_log,
                          lifespan="on", ws="none", timeout_graceful_shutdown=settings.timeout_s + 10.0,
                          timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024)


def serve(path: str, host: str = "127.0.0.1", port: int = 8000, runtime: str | None = None,
          settings: Settings | None = None, workers: int = 1, log_level: str = "warning",
          access_log: bool = False) -> int:
    """Serve the run directory or .onnx file ``path`` until SIGTERM / Ctrl-C; returns 0."""
    import uvicorn
    from .runtime import load_runtime
    settings = settings or Settings()
    rt = load_runtime(path, runtime)  # errors in the model or its files surface here, before listening
    sock = bind(host, port)
    port = sock.getsockname()[1]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    what = f"{rt.metadata['dataset']} {rt.task}, runtime {rt.name}"
    announce = (f"lamina serve: {os.path.basename(os.path.abspath(path))} ({what}) on {url} "
                f"(max batch {settings.max_batch}, max wait {settings.max_wait_ms:g} ms"
                f"{f', {workers} workers' if workers > 1 else ''}); POST /predict, /predict/file; "
                "GET /health, /metadata, /metrics")
    # uvicorn re-raises the signal that stopped it once it has shut down; with this handler in place
    # that ends here, and a SIGTERM'd server exits 0 like a finished command
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        if workers <= 1:
            rt.warmup()
            app = create_app(rt, settings, announce=announce)
            server = _server_class()(_uvicorn_config(app, settings, 1, log_level, access_log, False))
            server.on_exit = app.state.batcher.flush_threadsafe
            server.run(sockets=[sock])
            if not server.started:
                raise ConfigError(f"the server on {url} did not start (see the messages above)")
            return 0
        del rt  # each worker process loads its own
        from uvicorn.supervisors import Multiprocess
        spec = {"path": os.path.abspath(path), "runtime": runtime, "settings": settings.__dict__,
                "announce": announce.replace("lamina serve:", "lamina serve: worker ready:")}
        os.environ[ENV_SPEC] = json.dumps(spec)
        config = _uvicorn_config(f"{app_from_environment.__module__}:{app_from_environment.__name__}", settings,
                                 workers, log_level, access_log, True)
        if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
            Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
        else:
            Multiprocess(config, sockets=[sock]).run()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
