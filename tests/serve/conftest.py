"""Fixtures of the server tests: one tiny run, its ONNX file, and the two servers most tests share
(started together, so that their start-up overlaps)."""
import os

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("onnxruntime")

from serve_util import Server, export_onnx, make_run  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 16-unit MLP trained 2 epochs on standardised digits (do not change it)."""
    return make_run(str(tmp_path_factory.mktemp("serve")))


@pytest.fixture(scope="session")
def tiny_onnx(tiny_run):
    return export_onnx(tiny_run, os.path.join(os.path.dirname(tiny_run), "tiny.onnx"))


@pytest.fixture(scope="session")
def servers(tiny_run, tiny_onnx):
    """The servers of the tests, started at once (their start-ups overlap): ``lamina`` the run
    served by lamina (1 MiB body limit), ``onnx`` the .onnx file served by onnxruntime, and for the
    shutdown tests (which stop them) ``slow_batches`` (requests wait up to a minute for a batch) and
    ``workers`` (2 worker processes)."""
    started = {"lamina": Server(tiny_run, "--max-body-mb", "1"), "onnx": Server(tiny_onnx),
               "slow_batches": Server(tiny_run, "--max-wait-ms", "60000", "--max-batch", "1000"),
               "workers": Server(tiny_run, "--workers", "2")}
    try:
        for s in started.values():
            s.wait_ready()
        yield started
    finally:
        for s in started.values():
            s.close()
