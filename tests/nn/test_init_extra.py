"""nn.init completeness: dirac_, sparse_, eye_, kaiming modes and nonlinearities, every torch name present."""
import math

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import init

try:
    import torch
    import torch.nn.init as tinit
except Exception:  # pragma: no cover
    torch = tinit = None


def test_every_torch_init_function_exists_with_its_signature():
    import inspect
    names = [n for n in dir(tinit) if n.endswith("_") and not n.startswith("_") and callable(getattr(tinit, n))]
    assert {"uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
            "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
            "sparse_"} <= set(names)
    for n in names:
        ours = list(inspect.signature(getattr(init, n)).parameters)
        theirs = list(inspect.signature(getattr(tinit, n)).parameters)
        assert ours == theirs, n
    assert hasattr(init, "calculate_gain")


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((2, 5, 3, 2), 1), ((4, 2, 3, 3, 3), 2),
                                          ((3, 3, 4, 4), 3)])
def test_dirac_matches_torch(shape, groups):
    w, tw = lamina.empty(*shape), torch.empty(*shape)
    init.dirac_(w, groups)
    tinit.dirac_(tw, groups)
    np.testing.assert_array_equal(w.numpy(), tw.numpy())


def test_dirac_makes_identity_convolution_and_errors():
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    with lamina.no_grad():
        init.dirac_(conv.weight)
    x = lamina.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        init.dirac_(lamina.empty(3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        init.dirac_(lamina.empty(5, 3, 3, 3), groups=2)


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.75])
def test_sparse(sparsity):
    w = lamina.empty(40, 300)
    init.sparse_(w, sparsity, std=0.02)
    a = w.numpy()
    zeros_per_col = (a == 0).sum(0)
    np.testing.assert_array_equal(zeros_per_col, math.ceil(sparsity * 40))
    nz = a[a != 0]
    assert abs(nz.std() - 0.02) < 0.002 and abs(nz.mean()) < 0.002
    assert len({tuple(np.flatnonzero(a[:, j] == 0)) for j in range(300)}) > 250   # a permutation per column
    t = torch.empty(40, 300)
    tinit.sparse_(t, sparsity, std=0.02)
    np.testing.assert_array_equal((t.numpy() == 0).sum(0), zeros_per_col)
    with pytest.raises(ValueError):
        init.sparse_(lamina.empty(3, 3, 3), 0.5)


def test_eye_matches_torch():
    for shape in ((3, 5), (4, 2)):
        w, tw = lamina.empty(*shape), torch.empty(*shape)
        np.testing.assert_array_equal(init.eye_(w).numpy(), tinit.eye_(tw).numpy())


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlin,a", [("relu", 0), ("leaky_relu", 0.2), ("tanh", 0), ("linear", 0), ("selu", 0)])
def test_kaiming_std_and_bound(mode, nonlin, a):
    w = lamina.empty(200, 100, 3)
    fan = 100 * 3 if mode == "fan_in" else 200 * 3
    gain = tinit.calculate_gain(nonlin, a)
    init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlin)
    assert abs(w.numpy().std() - gain / math.sqrt(fan)) < 0.02 * gain / math.sqrt(fan)
    init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlin)
    bound = gain * math.sqrt(3.0 / fan)
    assert np.abs(w.numpy()).max() <= bound * (1 + 1e-6) and np.abs(w.numpy()).max() > 0.99 * bound


def test_calculate_gain_all_nonlinearities():
    for nl in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
               "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert init.calculate_gain(nl) == pytest.approx(tinit.calculate_gain(nl))
    assert init.calculate_gain("leaky_relu", 0.3) == pytest.approx(tinit.calculate_gain("leaky_relu", 0.3))
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        tinit.calculate_gain("swish")
