import pytest


@pytest.fixture
def torch_one_thread():
    """torch (the oracle), with one thread: its pool spins on a busy 2-core machine. Imported only
    by the tests that use it, so the rest of the folder never pays torch's import time."""
    torch = pytest.importorskip("torch")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(prev)
