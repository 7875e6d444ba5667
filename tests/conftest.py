import os
import sys

# Test workers run in parallel (pytest -n 2 on 2 cores): one BLAS thread each avoids thrashing.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(__file__))  # tests import the shared helpers module

import lamina  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    """Every test starts from the same seed and the default float32 dtype."""
    lamina.manual_seed(0)
    lamina.set_default_dtype(lamina.float32)
    yield
