"""The thread policy (lamina/_threads.py, ops/_blas.py): same numbers as np.matmul, thread count restored."""
import numpy as np
import pytest

import lamina
from lamina import _threads
from lamina.ops import _blas
from lamina.ops._blas import batched_matmul

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def two_blas_threads(monkeypatch):
    """Let lamina split ops over two threads (the suite pins one)."""
    if not _threads._T.discover():
        pytest.skip("no BLAS library that threadpoolctl can drive")
    monkeypatch.setattr(_threads._T, "count", 2)
    yield


SHAPES = [((8, 4, 16, 8), (8, 4, 8, 16)),      # attention-like stack
          ((5, 3, 7), (5, 7, 2)),              # odd leading size
          ((6, 1, 9, 4), (3, 4, 5)),           # broadcast batch dims
          ((1, 6, 4, 4), (6, 4, 4)),           # leading size 1: split the next axis
          ((1, 1, 5, 3, 2), (1, 2, 4)),        # only one axis longer than 1
          ((7, 3, 2), (2, 5)),                 # stack @ matrix
          ((4, 3), (2, 3, 4))]                 # matrix @ stack


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_matches_numpy_with_split(two_blas_threads, sa, sb, dtype, monkeypatch):
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)  # split even these small stacks
    r = np.random.default_rng(0)
    a, b = r.standard_normal(sa).astype(dtype), r.standard_normal(sb).astype(dtype)
    out = batched_matmul(a, b)
    ref = np.matmul(a, b)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


def test_non_contiguous_operands(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    used = []
    real = _threads._T.executor
    monkeypatch.setattr(_threads._T, "executor", lambda workers: used.append(workers) or real(workers))
    r = np.random.default_rng(1)
    a = r.standard_normal((6, 2, 8, 5)).astype(np.float32).swapaxes(-1, -2)   # (6, 2, 5, 8) view
    b = r.standard_normal((2, 6, 8, 3)).astype(np.float32).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(batched_matmul(a, b), np.matmul(a, b), rtol=1e-6, atol=1e-6)
    assert used == [1]  # the stack was split: one pool thread beside the caller


def test_blas_kept_on_one_thread_while_parts_run(two_blas_threads, monkeypatch):
    """Someone raised BLAS's threads (here threadpoolctl): parts still run with one BLAS thread each,
    and the raised count is put back afterwards."""
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    libs = _threads._T.discover()
    seen = []
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        _blas.run(_blas.split(4, 1 << 30), lambda i, lo, hi: seen.append(max(lib.num_threads for lib in libs)))
        assert [lib.num_threads for lib in libs] == [2] * len(libs)
    assert seen == [1, 1]


def test_mm_splits_rows_and_columns(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    r = np.random.default_rng(5)
    for (m, k, n) in [(300, 7, 5), (6, 9, 40), (5, 3, 5)]:
        a, b = r.standard_normal((m, k)), r.standard_normal((k, n))
        np.testing.assert_allclose(_blas.mm(a, b), a @ b, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(_blas.mm(b.T, a.T), b.T @ a.T, rtol=1e-13, atol=1e-13)  # transposed views


def test_set_num_threads():
    before = lamina.get_num_threads()
    try:
        lamina.set_num_threads(3)
        assert lamina.get_num_threads() == 3
        assert len(_blas.split(10, 1 << 30)) == 3
        assert _blas.split(10, 10) == [(0, 10)]  # too little work to wake a thread
    finally:
        lamina.set_num_threads(before)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            lamina.set_num_threads(bad)


def test_large_products_and_non_numpy_fall_through():
    np.testing.assert_array_equal(batched_matmul(np.ones((3, 4)), np.ones((4, 2))), np.full((3, 2), 4.0))
    with pytest.raises(ValueError):
        batched_matmul(np.ones((2, 3, 4)), np.ones((2, 5, 4)))     # shape errors are numpy's own
    with pytest.raises(ValueError):
        _blas.mm(np.ones((2, 3)), np.ones((4, 2)))


# ---------------------------------------------------------------- conv runs its batch in parts
from lamina.nn import functional as F  # noqa: E402

from helpers import gradcheck, gradgradcheck  # noqa: E402

CONV_CASES = [dict(stride=1, padding=1), dict(stride=2, padding=0, dilation=2), dict(stride=1, padding=1, groups=2)]


def _conv_grads(x, w, b, kw, transpose=False):
    xt, wt, bt = (lamina.tensor(a, requires_grad=True) for a in (x, w, b))
    op = F.conv_transpose2d if transpose else F.conv2d
    y = op(xt, wt, bt, **kw)
    (y * lamina.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(x.dtype))).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("kw", CONV_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_in_parts_matches_one_part(two_blas_threads, monkeypatch, kw, transpose):
    """Forward and every gradient are the same whether the batch runs as one part or several."""
    r = np.random.default_rng(2)
    x = r.standard_normal((5, 4, 9, 9))
    w = r.standard_normal((4, 2, 3, 3)) if transpose and kw.get("groups") else r.standard_normal(
        (4, 4 // kw.get("groups", 1), 3, 3))
    b = r.standard_normal(w.shape[1] * kw.get("groups", 1) if transpose else w.shape[0])
    if transpose:
        kw = {k: v for k, v in kw.items() if k != "dilation"}
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    calls = []
    real_split = _blas.split
    monkeypatch.setattr(_blas, "split", lambda *a, **k: calls.append(real_split(*a, **k)) or calls[-1])
    split_run = _conv_grads(x, w, b, kw, transpose)
    assert calls and all(len(p) == 2 for p in calls)  # forward and backward ran in two parts
    monkeypatch.setattr(_blas, "split", lambda n, macs, min_macs=None: [(0, n)])
    one_part = _conv_grads(x, w, b, kw, transpose)
    for got, ref in zip(split_run, one_part):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_conv_in_parts_gradgradcheck(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    r = np.random.default_rng(3)
    x, w = r.standard_normal((3, 2, 5, 5)), r.standard_normal((3, 2, 3, 3))
    gradcheck(lambda a, b: F.conv2d(a, b, padding=1), x, w)
    gradgradcheck(lambda a, b: F.conv2d(a, b, padding=1), x, w)


# ---------------------------------------------------------------- recurrent layers run their batch rows in parts
def _rnn_run(cls, x, lengths, seed=0):
    lamina.manual_seed(seed)
    layer = cls(6, 6, num_layers=2, bidirectional=True)  # 6 hidden units: 3 per part
    xt = lamina.tensor(x, requires_grad=True)
    out, _ = layer(xt, lengths=None if lengths is None else lamina.tensor(lengths))
    (out * lamina.tensor(np.sin(np.arange(out.numel())).reshape(out.shape).astype(x.dtype))).sum().backward()
    return [out.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
@pytest.mark.parametrize("lengths", [None, np.array([7, 3, 5, 1, 7])])
def test_recurrent_in_parts_matches_one_part(two_blas_threads, monkeypatch, cls, lengths):
    from lamina import nn
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    x = np.random.default_rng(4).standard_normal((7, 5, 6)).astype(np.float32)
    calls = []
    real_split = _blas.split
    monkeypatch.setattr(_blas, "split", lambda *a, **k: calls.append(real_split(*a, **k)) or calls[-1])
    parts = _rnn_run(getattr(nn, cls), x, lengths)
    assert calls and all(len(p) == 2 for p in calls)
    monkeypatch.setattr(_blas, "split", lambda n, macs, min_macs=None: [(0, n)])
    whole = _rnn_run(getattr(nn, cls), x, lengths)
    for got, ref in zip(parts, whole):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_lstm_unit_parts_run_serially_when_threads_are_busy(two_blas_threads, monkeypatch):
    """With another op's parts running (the lock held), the unit parts of an LSTM step run on one
    thread without their barrier, and give the same numbers."""
    from lamina import nn
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    x = np.random.default_rng(7).standard_normal((5, 3, 6)).astype(np.float32)
    lengths = np.array([5, 2, 4])
    side_by_side = _rnn_run(nn.LSTM, x, lengths)
    assert _threads._ACTIVE.acquire(blocking=False)
    try:
        serial = _rnn_run(nn.LSTM, x, lengths)
    finally:
        _threads._ACTIVE.release()
    for got, ref in zip(serial, side_by_side):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


def test_gelu_in_parts_matches_one_part(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_threads, "SPLIT_MIN_MACS", 0)
    x = np.random.default_rng(6).standard_normal((7, 33)).astype(np.float32)

    def run():
        xt = lamina.tensor(x, requires_grad=True)
        y = F.gelu(xt)
        (y * 1.5).sum().backward()
        return y.detach().numpy(), xt.grad.numpy()

    split_run = run()
    monkeypatch.setattr(_blas, "split", lambda n, macs, min_macs=None: [(0, n)])
    for got, ref in zip(split_run, run()):
        np.testing.assert_array_equal(got, ref)
