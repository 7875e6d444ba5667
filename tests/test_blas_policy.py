"""The BLAS thread policy (ops/_blas.py): same numbers as np.matmul, thread count restored."""
import numpy as np
import pytest

from lamina.ops import _blas
from lamina.ops._blas import batched_matmul

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def two_blas_threads():
    """Let BLAS use two threads (the suite pins one), so the split path runs."""
    if not _blas._BLAS.controllers():
        pytest.skip("no BLAS library that threadpoolctl can drive")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        yield


SHAPES = [((8, 4, 16, 8), (8, 4, 8, 16)),      # attention-like stack
          ((5, 3, 7), (5, 7, 2)),              # odd leading size
          ((6, 1, 9, 4), (3, 4, 5)),           # broadcast batch dims
          ((1, 6, 4, 4), (6, 4, 4)),           # leading size 1: no split
          ((7, 3, 2), (2, 5)),                 # stack @ matrix
          ((4, 3), (2, 3, 4))]                 # matrix @ stack


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_matches_numpy_with_split(two_blas_threads, sa, sb, dtype, monkeypatch):
    monkeypatch.setattr(_blas, "SPLIT_MIN_MACS", 0)  # split even these small stacks
    r = np.random.default_rng(0)
    a, b = r.standard_normal(sa).astype(dtype), r.standard_normal(sb).astype(dtype)
    out = batched_matmul(a, b)
    ref = np.matmul(a, b)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


def test_non_contiguous_operands(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_blas, "SPLIT_MIN_MACS", 0)
    used = []
    real = _blas._BLAS.executor
    monkeypatch.setattr(_blas._BLAS, "executor", lambda workers: used.append(workers) or real(workers))
    r = np.random.default_rng(1)
    a = r.standard_normal((6, 2, 8, 5)).astype(np.float32).swapaxes(-1, -2)   # (6, 2, 5, 8) view
    b = r.standard_normal((2, 6, 8, 3)).astype(np.float32).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(batched_matmul(a, b), np.matmul(a, b), rtol=1e-6, atol=1e-6)
    assert used == [1]  # the stack was split: one pool thread beside the caller


def test_thread_count_restored(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_blas, "SPLIT_MIN_MACS", 0)
    libs = _blas._BLAS.controllers()
    before = [lib.num_threads for lib in libs]
    batched_matmul(np.ones((4, 3, 3)), np.ones((4, 3, 3)))
    assert [lib.num_threads for lib in libs] == before == [2] * len(libs)


def test_large_products_and_non_numpy_fall_through():
    a = np.ones((2, 200, 200), dtype=np.float32)
    np.testing.assert_array_equal(batched_matmul(a, a), np.matmul(a, a))  # over SMALL_MACS: plain matmul
    np.testing.assert_array_equal(batched_matmul(np.ones((3, 4)), np.ones((4, 2))), np.full((3, 2), 4.0))
    with pytest.raises(ValueError):
        batched_matmul(np.ones((2, 3, 4)), np.ones((2, 5, 4)))     # shape errors are numpy's own
