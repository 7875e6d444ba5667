"""The scikit-learn digits loader."""
import builtins

import numpy as np
import pytest

from lamina.data import DataLoader
from lamina.data.datasets import digits, load_digits, load_digits_splits

pytest.importorskip("sklearn")


def test_load_digits_shapes_ranges_dtypes():
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.numpy().min() == 0.0 and x.numpy().max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    xi, _ = load_digits(as_images=True, as_numpy=True)
    assert isinstance(xi, np.ndarray) and xi.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(xi.reshape(1797, 64), x.numpy())
    x.array[0] = 5  # callers get their own copy
    assert load_digits()[0].numpy().max() == 1.0


def test_load_digits_splits_are_stratified_and_seeded():
    tr, va, te = load_digits_splits(val_fraction=0.1, test_fraction=0.2, seed=0)
    assert len(tr) + len(va) + len(te) == 1797
    assert abs(len(te) - 359) <= 10 and abs(len(va) - 180) <= 10
    full = np.bincount(load_digits()[1].numpy()) / 1797
    for part in (tr, va, te):
        props = np.bincount(part.tensors[1].numpy(), minlength=10) / len(part)
        assert np.abs(props - full).max() < 0.01
    again = load_digits_splits(seed=0)[2].tensors[1].numpy()
    np.testing.assert_array_equal(again, te.tensors[1].numpy())
    xb, yb = next(iter(DataLoader(tr, batch_size=32, shuffle=True)))
    assert xb.shape == (32, 64) and yb.shape == (32,)
    assert load_digits_splits(as_images=True)[0].tensors[0].shape[1:] == (1, 8, 8)


def test_missing_sklearn_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    digits._raw.cache_clear()
    monkeypatch.setattr(builtins, "__import__", fake_import)
    try:
        with pytest.raises(ImportError, match=r"pip install lamina\[datasets\]"):
            load_digits()
    finally:
        monkeypatch.undo()
        digits._raw.cache_clear()
