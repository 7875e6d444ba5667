import pytest

try:
    import torch
except Exception:  # pragma: no cover
    torch = None


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's thread pool spins on a busy 2-core machine; tiny oracle runs need one thread."""
    if torch is None:
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
