"""nn.init: distributions (bounds, std, orthogonality), gains, fans, generators, errors."""
import math

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import init


def _t(*shape, dtype=None):
    return lamina.empty(*shape, dtype=dtype)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(_t(3, 5)) == (5, 3)
    assert init._calculate_fan_in_and_fan_out(_t(16, 8, 3, 3)) == (72, 144)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_t(4))


def test_uniform_normal_constant():
    t = init.uniform_(_t(200, 300), -0.5, 2.0)
    a = t.numpy()
    assert a.min() >= -0.5 and a.max() < 2.0 and abs(a.mean() - 0.75) < 0.01
    a = init.normal_(_t(200, 300), 1.0, 0.5).numpy()
    assert abs(a.mean() - 1.0) < 0.01 and abs(a.std() - 0.5) < 0.01
    np.testing.assert_array_equal(init.constant_(_t(2, 2), 3.5).numpy(), 3.5)
    np.testing.assert_array_equal(init.zeros_(_t(3)).numpy(), 0.0)
    np.testing.assert_array_equal(init.ones_(_t(3)).numpy(), 1.0)
    np.testing.assert_array_equal(init.eye_(_t(2, 3)).numpy(), np.eye(2, 3))


def _truncnorm_moments(a, b):
    """Mean and variance of N(0, 1) truncated to [a, b]."""
    pdf = lambda z: 0.0 if math.isinf(z) else math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    zz = cdf(b) - cdf(a)
    za = 0.0 if math.isinf(a) else a * pdf(a)
    zb = 0.0 if math.isinf(b) else b * pdf(b)
    m = (pdf(a) - pdf(b)) / zz
    return m, 1 + (za - zb) / zz - m * m


@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (-0.5, 1.0), (1.0, 3.0), (2.5, 2.7), (-math.inf, 0.0), (4.0, math.inf),
                                 (-math.inf, -4.0), (-0.01, 0.01)])
def test_trunc_normal(a, b):
    t = init.trunc_normal_(_t(100, 100, dtype=lamina.float64), mean=0.0, std=1.0, a=a, b=b)
    x = t.numpy()
    assert x.min() >= a and x.max() <= b
    m, v = _truncnorm_moments(a, b)
    assert abs(x.mean() - m) < 0.03 * max(math.sqrt(v), 0.1) and abs(x.var() - v) < 0.1 * v
    y = init.trunc_normal_(_t(10000), std=0.02).numpy()  # ViT-style: a, b are absolute, so nothing is cut
    assert abs(y.std() - 0.02) < 1e-3
    z = init.trunc_normal_(_t(1000), mean=3.0, std=0.02).numpy()  # all mass beyond b=2: squeezed onto it
    assert z.max() <= 2.0 and z.min() > 1.99


def test_xavier_and_kaiming():
    fan_out, fan_in = 256, 128
    a = init.xavier_uniform_(_t(fan_out, fan_in), gain=2.0).numpy()
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    a = init.xavier_normal_(_t(fan_out, fan_in)).numpy()
    assert abs(a.std() - math.sqrt(2 / (fan_in + fan_out))) < 0.02 * math.sqrt(2 / (fan_in + fan_out))
    a = init.kaiming_uniform_(_t(fan_out, fan_in), nonlinearity="relu").numpy()
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    a = init.kaiming_uniform_(_t(fan_out, fan_in), mode="fan_out", nonlinearity="relu").numpy()
    assert np.abs(a).max() <= math.sqrt(6 / fan_out)
    a = init.kaiming_normal_(_t(fan_out, fan_in, 3, 3), mode="fan_out", nonlinearity="relu").numpy()
    std = math.sqrt(2) / math.sqrt(fan_out * 9)
    assert abs(a.std() - std) < 0.02 * std
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(_t(2, 2), mode="fan_avg")


def test_kaiming_uniform_sqrt5_is_linear_default():
    a = init.kaiming_uniform_(_t(500, 60), a=math.sqrt(5)).numpy()
    assert np.abs(a).max() <= 1 / math.sqrt(60) and np.abs(a).max() > 0.99 / math.sqrt(60)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3)])
def test_orthogonal(shape):
    t = init.orthogonal_(_t(*shape, dtype=lamina.float64), gain=2.0)
    m = t.numpy().reshape(shape[0], -1) / 2.0
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-10)


def test_generator_and_seed_repeatability():
    g = lamina.Generator().manual_seed(3)
    a = init.normal_(_t(4, 4), generator=g).numpy().copy()
    g.manual_seed(3)
    np.testing.assert_array_equal(a, init.normal_(_t(4, 4), generator=g).numpy())
    lamina.manual_seed(11)
    b = init.xavier_uniform_(_t(3, 3)).numpy().copy()
    lamina.manual_seed(11)
    np.testing.assert_array_equal(b, init.xavier_uniform_(_t(3, 3)).numpy())


def test_init_on_parameters_keeps_graph_state_and_dtype():
    layer = nn.Linear(4, 3)
    w = layer.weight
    out = init.orthogonal_(layer.weight)
    assert out is w and w.requires_grad and w.is_leaf and w.dtype == np.float32
    version = w._version
    init.zeros_(layer.bias)
    init.ones_(layer.weight)
    assert w._version == version + 1
    x = lamina.ones(2, 4)
    np.testing.assert_array_equal(layer(x).detach().numpy(), 4.0)
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_t(0, 3))
