import os
import sys

# Test workers run in parallel (pytest -n 2 on 2 cores): one BLAS thread each avoids thrashing.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(__file__))  # tests import the shared helpers module
# the benchmark models (benchmarks/models_*.py) double as PyTorch reference models in tests
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks"))

import lamina  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    """Every test starts from the same seed and the default float32 dtype."""
    lamina.manual_seed(0)
    lamina.set_default_dtype(lamina.float32)
    yield


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """torch's thread pool spins on a busy 2-core machine; the tiny oracle runs need one thread."""
    try:
        import torch
    except Exception:  # torch is optional: parity tests skip without it
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
