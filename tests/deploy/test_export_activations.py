"""ONNX export of every activation layer: onnxruntime matches lamina at two batch sizes."""
import warnings

import numpy as np
import pytest

from export_util import assert_exports, lonnx, run_onnx

import lamina
import lamina.nn as nn


def _wide(*shape, scale=4.0):
    """Random inputs spanning both sides of every kink, plus a few large magnitudes (+-50)."""
    def make(n):
        x = lamina.randn(n, *shape) * scale
        flat = x.detach().numpy().reshape(-1)
        flat[:4] = [50.0, -50.0, 30.0, -30.0][: flat.size]
        return (lamina.tensor(flat.reshape(x.shape)),)
    return make


ELEMENTWISE = [
    nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(), nn.LeakyReLU(0.2), nn.RReLU(), nn.RReLU(0.1, 0.4),
    nn.ELU(), nn.ELU(0.5), nn.CELU(), nn.CELU(2.0), nn.SELU(), nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.Mish(),
    nn.Sigmoid(), nn.Hardsigmoid(), nn.Hardswish(), nn.Hardtanh(), nn.Hardtanh(-2.0, 0.5),
    nn.Hardshrink(), nn.Hardshrink(1.5), nn.Softshrink(), nn.Softshrink(1.5), nn.Tanhshrink(),
    nn.Threshold(0.1, 20.0), nn.Threshold(-1.0, -3.0), nn.Tanh(),
    nn.Softplus(), nn.Softplus(beta=2.0), nn.Softplus(beta=0.5, threshold=3.0), nn.Softplus(threshold=float("inf")),
    nn.Softsign(), nn.LogSigmoid(),
]


@pytest.mark.parametrize("module", ELEMENTWISE, ids=lambda m: repr(m))
def test_elementwise_activation_exports(module):
    assert_exports(module, _wide(3, 5))


def test_large_inputs_stay_finite_in_logsigmoid_softplus_mish():
    x = np.array([[-50.0, -30.0, -1.0, 0.0, 1.0, 30.0, 50.0]], np.float32)
    for m in (nn.LogSigmoid(), nn.Softplus(), nn.Softplus(beta=3.0, threshold=200.0), nn.Mish(), nn.SiLU()):
        proto = lonnx.export(m, lamina.tensor(x))
        (got,) = run_onnx(proto, {"input": x})
        assert np.all(np.isfinite(got)), m
        np.testing.assert_allclose(got, m(lamina.tensor(x)).numpy(), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("num_parameters", [1, 4])
@pytest.mark.parametrize("shape", [(4,), (4, 3, 5)])
def test_prelu_shared_and_per_channel(num_parameters, shape):
    lamina.manual_seed(1)
    m = nn.PReLU(num_parameters)
    m.weight.array[...] = np.linspace(-0.5, 0.7, num_parameters)
    assert_exports(m, _wide(*shape))


def test_prelu_channel_mismatch_names_the_module():
    model = nn.Sequential(nn.Identity(), nn.PReLU(3))
    with pytest.raises(lonnx.ExportError, match=r"PReLU\(3\).*'1'"):
        lonnx.export(model, lamina.randn(2, 4))


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("cls", [nn.Softmax, nn.LogSoftmax, nn.Softmin])
def test_softmax_family_dims(cls, dim):
    assert_exports(cls(dim=dim), _wide(3, 4))


@pytest.mark.parametrize("shape", [(6,), (3, 4), (3, 4, 5)])
@pytest.mark.parametrize("cls", [nn.Softmax, nn.LogSoftmax, nn.Softmin])
def test_softmax_family_implicit_dim(cls, shape):
    """dim=None: lamina's legacy choice (0 for 1-D and 3-D inputs, else 1), batch axis included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_exports(cls(), _wide(*shape, scale=1.0))


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 4, 5, 2)])
def test_softmax2d(shape):
    assert_exports(nn.Softmax2d(), _wide(*shape[1:]), batch_sizes=(shape[0], 2))


@pytest.mark.parametrize("dim", [-1, 1, 2])
def test_glu(dim):
    assert_exports(nn.GLU(dim), _wide(4, 6))


def test_glu_odd_dimension_is_an_export_error_naming_the_path():
    model = nn.Sequential(nn.Sequential(nn.ReLU(), nn.GLU(-1)))
    with pytest.raises(lonnx.ExportError, match=r"odd size 5.*'0\.1'"):
        lonnx.export(model, lamina.randn(2, 4, 5))


def test_activations_in_a_model_with_float64():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.GELU(), nn.Linear(6, 6), nn.Softplus(beta=2.0), nn.Hardtanh(-0.5, 0.5))
    model = model.to(lamina.float64) if hasattr(model, "to") else model
    assert_exports(model, lambda n: (lamina.randn(n, 5, dtype=lamina.float64),))
