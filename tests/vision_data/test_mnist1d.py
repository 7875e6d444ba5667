"""MNIST-1D through the mnist1d package's generator (skipped when the package is missing)."""
import random
import socket
import sys

import numpy as np
import pytest

import lamina
from lamina.data.datasets.mnist1d import load_mnist1d

pytest.importorskip("mnist1d", reason="the mnist1d package is not installed (pip install lamina[datasets])")


def test_shapes_dtypes_classes_and_standardisation():
    (xtr, ytr), (xte, yte) = load_mnist1d(n_samples=100, seed=3, as_numpy=True)
    assert xtr.shape == (80, 40) and xte.shape == (20, 40)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    y = np.concatenate([ytr, yte])
    assert np.bincount(y, minlength=10).tolist() == [10] * 10  # the same number per class
    x = np.concatenate([xtr, xte])
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-4
    (t, ty), _ = load_mnist1d(n_samples=100, seed=3)
    assert isinstance(t, lamina.Tensor) and isinstance(ty, lamina.Tensor)
    np.testing.assert_array_equal(t.numpy(), xtr)


def test_seeded_repeatable_cached_copies_and_global_rng_untouched():
    np.random.seed(123)
    random.seed(7)
    np_state, py_state = np.random.get_state(), random.getstate()
    (a, _), _ = load_mnist1d(n_samples=50, seed=11, train_split=0.6, as_numpy=True)
    assert a.shape == (30, 40)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state
    a[:] = 0  # callers get copies: the cache is not affected
    (b, _), _ = load_mnist1d(n_samples=50, seed=11, train_split=0.6, as_numpy=True)
    (c, _), _ = load_mnist1d(n_samples=50, seed=12, train_split=0.6, as_numpy=True)
    assert np.abs(b).max() > 0 and not np.array_equal(b, c)


def test_generates_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_mnist1d tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    (x, _), _ = load_mnist1d(n_samples=20, seed=99, as_numpy=True)
    assert x.shape == (16, 40)


def test_errors_and_missing_package(monkeypatch):
    with pytest.raises(ValueError, match="at least 10"):
        load_mnist1d(n_samples=5)
    with pytest.raises(ValueError, match="train_split"):
        load_mnist1d(train_split=1.0)
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"pip install lamina\[datasets\]"):
        load_mnist1d(n_samples=30, seed=12345)
