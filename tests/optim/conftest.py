"""Shared fixtures of the optimizer tests: warm Numba kernels once, run tests on both code paths."""
import pytest

from lamina.optim import _kernels


@pytest.fixture(scope="session", autouse=True)
def _warm_kernels():
    """Compile (or load from Numba's cache) the fused kernels once, before any test times out on it."""
    _kernels.warm_up(("float32", "float64"))


@pytest.fixture(params=["numba", "numpy"])
def path(request, monkeypatch):
    """Run a test with the fused Numba kernels and again with the NumPy fallback."""
    if request.param == "numba" and not _kernels._HAVE_NUMBA:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(_kernels, "ENABLED", request.param == "numba")
    return request.param
