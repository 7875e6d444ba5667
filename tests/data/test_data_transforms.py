"""Transforms: Standardize (fit on train only), Compose, Lambda."""
import numpy as np
import pytest

import lamina
import lamina.io
from lamina.data.transforms import Compose, Lambda, Standardize


def _train_test():
    rng = np.random.default_rng(0)
    train = (rng.standard_normal((200, 5)) * [1, 2, 3, 4, 5] + [10, -3, 0, 1, 7]).astype(np.float32)
    test = (rng.standard_normal((100, 5)) * 2 + 1).astype(np.float32)
    return train, test


def test_standardize_fitted_on_train_only():
    train, test = _train_test()
    s = Standardize().fit(lamina.tensor(train))
    tr = s(lamina.tensor(train)).numpy()
    te = s(lamina.tensor(test)).numpy()
    np.testing.assert_allclose(tr.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(tr.std(0), 1, atol=1e-5)
    assert np.abs(te.mean(0)).max() > 0.5 or np.abs(te.std(0) - 1).max() > 0.3
    np.testing.assert_allclose(s.mean[0], train.astype(np.float64).mean(0), rtol=1e-6)
    assert s(lamina.tensor(train)).dtype == np.float32 and s.mean.dtype == np.float32


def test_standardize_numpy_sample_inverse_and_constant_feature():
    train, _ = _train_test()
    train[:, 2] = 4.0  # constant feature: centred only
    s = Standardize().fit(train)
    out = s(train)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out[:, 2], 0)
    np.testing.assert_allclose(s.inverse(out), train, rtol=1e-5, atol=1e-5)
    one = s(lamina.tensor(train[3]))  # a single sample (F,)
    assert one.shape == (5,)
    np.testing.assert_allclose(one.numpy(), out[3], rtol=1e-6)


def test_standardize_per_channel_images():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((16, 3, 4, 4)) * np.array([1.0, 5.0, 0.5])[:, None, None] + 2).astype(np.float32)
    s = Standardize(dim=(0, 2, 3)).fit(x)
    assert s.mean.shape == (1, 3, 1, 1)
    y = s(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-5)
    assert s(x[0]).shape == (3, 4, 4)


def test_standardize_state_dict_round_trip_and_errors(tmp_path):
    train, test = _train_test()
    s = Standardize().fit(train)
    path = tmp_path / "scaler.safetensors"
    lamina.io.save(s.state_dict(), path)
    s2 = Standardize()
    s2.load_state_dict(lamina.io.load(path))
    np.testing.assert_array_equal(s2(test), s(test))
    with pytest.raises(RuntimeError, match="fit"):
        Standardize()(test)
    with pytest.raises(ValueError, match="shape"):
        s(np.zeros((4, 6), dtype=np.float32))
    with pytest.raises(ValueError, match="fitted on 2-d"):
        s(np.zeros((2, 2, 5), dtype=np.float32))


def test_compose_and_lambda():
    train, _ = _train_test()
    s = Standardize().fit(train)
    pipe = Compose([s, Lambda(lambda x: x * 2)])
    np.testing.assert_allclose(pipe(train), s(train) * 2)
    assert "Standardize" in repr(pipe) and "Lambda" in repr(pipe)
    assert set(pipe.state_dict()) == {"0", "1"}
    with pytest.raises(TypeError, match="callable"):
        Lambda(3)
