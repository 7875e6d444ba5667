"""A local HTTP server for the download tests (127.0.0.1, a free port, one thread)."""
import http.server
import socket
import threading

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}  # path -> bytes, set per server
    truncated: dict = {}  # path -> (declared length, bytes actually sent)

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path in self.truncated:
            declared, body = self.truncated[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True  # then hang up: fewer bytes than Content-Length
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


class FileServer:
    def __init__(self):
        handler = type("Handler", (_Handler,), {"files": {}, "truncated": {}})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.handler = handler
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes) -> str:
        self.handler.files[path] = body
        return self.url + path

    def add_truncated(self, path: str, body: bytes, declared: int) -> str:
        self.handler.truncated[path] = (declared, body)
        return self.url + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Talk to 127.0.0.1 directly even where an HTTP proxy is configured."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 whose port nothing listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
