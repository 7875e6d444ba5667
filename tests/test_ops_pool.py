"""max/avg/adaptive pooling and interpolate: torch parity grids, gradchecks, ties, errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng
from lamina.ops import _im2col
from lamina.ops import pool as P

try:
    import torch
    import torch.nn.functional as TF

    torch.set_num_threads(1)  # tiny oracle ops: thread wake-ups on a busy 2-core box cost more than the math
except Exception:  # pragma: no cover
    torch = TF = None


def _parity(name, x, *args, **kw):
    return parity(lambda t: getattr(P, name)(t, *args, **kw), x,
                  torch_fn=lambda t: getattr(TF, name)(t, *args, **kw), atol=1e-10, rtol=1e-7)


def _x(*shape, seed=0, dtype=np.float64):
    return rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- max pooling
def _max_grid():
    for k, s, p, d, ceil in itertools.product([2, 3, (3, 2)], [None, 1, 2, (2, 1)], [0, 1], [1, 2], [False, True]):
        yield k, s, p, d, ceil


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", list(_max_grid()))
def test_max_pool2d_parity_grid(kernel, stride, padding, dilation, ceil_mode):
    # return_indices: the int64 index output is compared exactly with torch's
    _parity("max_pool2d", _x(2, 3, 9, 8), kernel, stride, padding, dilation, ceil_mode, True)


@pytest.mark.parametrize("shape,kernel,stride", [
    ((1, 1, 5, 5), 2, 2), ((1, 1, 5, 5), (1, 3), None), ((3, 2, 4, 7), 2, 1), ((3, 2, 4, 7), (1, 3), None),
    ((1, 3, 1, 6), (1, 3), None), ((1, 3, 1, 6), (1, 2), 1), ((2, 1, 3, 3), 3, 1)])
def test_max_pool2d_shapes(shape, kernel, stride):
    _parity("max_pool2d", _x(*shape), kernel, stride, return_indices=True)


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)])
def test_max_pool2d_ties_route_to_first_max_like_torch(kernel, stride, padding):
    x = rng(1).integers(0, 3, (2, 2, 7, 6)).astype(np.float64)  # many equal values per window
    _parity("max_pool2d", x, kernel, stride, padding, return_indices=True)


@requires_torch
def test_max_pool2d_nan_propagates_like_torch():
    x = _x(1, 2, 6, 6)
    x[0, 0, 1, 1] = x[0, 1, 4, 5] = np.nan
    y, i = P.max_pool2d(lamina.tensor(x), 3, 2, 1, return_indices=True)
    ty, ti = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool2d_known_values_and_float32():
    x = lamina.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    y, idx = P.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(idx.numpy(), [[[[5, 7], [13, 15]]]])
    assert y.dtype == np.float32 and idx.dtype == np.int64


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False), (4, 3, 2, 1, True)])
def test_max_pool1d_parity(kernel, stride, padding, dilation, ceil_mode):
    _parity("max_pool1d", _x(2, 3, 11), kernel, stride, padding, dilation, ceil_mode, True)


@requires_torch
@pytest.mark.parametrize("numba", [True, False])
def test_both_max_pool_paths(monkeypatch, numba):
    """Small inputs use the array path, large ones the Numba kernels: force each on small cases."""
    monkeypatch.setattr(_im2col, "_use_numba", lambda a, size: numba)
    ties = rng(1).integers(0, 3, (2, 2, 7, 6)).astype(np.float64)
    for args in [(2,), (3, 2, 1, 1, True), ((3, 2), 1, (1, 0), (2, 1)), (2, 1)]:
        _parity("max_pool2d", _x(2, 3, 9, 8), *args, return_indices=True)
        _parity("max_pool2d", ties, *args, return_indices=True)
    _parity("adaptive_max_pool2d", ties, (3, 4), True)
    gradgradcheck(lambda x: P.max_pool2d(x * x, 2, 1), _x(1, 2, 4, 4, seed=5))


def test_max_pool_gradchecks():
    gradcheck(lambda x: P.max_pool2d(x, 3, 2, 1), _x(2, 2, 5, 6, seed=2))
    gradcheck(lambda x: P.max_pool2d(x, 2, 1, dilation=(1, 2)), noncontiguous(_x(1, 2, 4, 6, seed=3)))
    gradcheck(lambda x: P.max_pool1d(x, 3, 2, ceil_mode=True), _x(2, 2, 8, seed=4))
    gradgradcheck(lambda x: P.max_pool2d(x * x, 2, 1), _x(1, 2, 4, 4, seed=5))


# ---------------------------------------------------------------- average pooling
def _avg_grid():
    for k, s, p, ceil, cip in itertools.product([2, 3, (3, 2)], [None, 1, 2], [0, 1], [False, True], [True, False]):
        yield k, s, p, ceil, cip


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", list(_avg_grid()))
def test_avg_pool2d_parity_grid(kernel, stride, padding, ceil_mode, count_include_pad):
    _parity("avg_pool2d", _x(2, 3, 9, 8), kernel, stride, padding, ceil_mode, count_include_pad)


@pytest.mark.parametrize("divisor_override", [1, 3, 7])
def test_avg_pool2d_divisor_override(divisor_override):
    _parity("avg_pool2d", _x(2, 2, 7, 6), 3, 2, 1, True, divisor_override=divisor_override)


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), (3, 2, 1, True, False), (4, 3, 2, True, True), (3, 1, 1, False, False)])
def test_avg_pool1d_parity(kernel, stride, padding, ceil_mode, count_include_pad):
    _parity("avg_pool1d", _x(2, 3, 10), kernel, stride, padding, ceil_mode, count_include_pad)


def test_avg_pool_gradchecks():
    gradcheck(lambda x: P.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), _x(2, 2, 5, 6, seed=6))
    gradcheck(lambda x: P.avg_pool1d(x, 2), noncontiguous(_x(1, 2, 7, seed=7)))
    gradgradcheck(lambda x: P.avg_pool2d(x * x, 2, 1, 1), _x(1, 1, 3, 4, seed=8))


# ---------------------------------------------------------------- adaptive pooling
SIZES = [1, 2, 3, (4, 3), (None, 2), (5, 7), (9, 8), (3, None), (11, 10)]


@pytest.mark.parametrize("output_size", SIZES)
@pytest.mark.parametrize("hw", [(9, 8), (6, 6)])
def test_adaptive_avg_pool2d_parity(output_size, hw):
    _parity("adaptive_avg_pool2d", _x(2, 3, *hw), output_size)


@pytest.mark.parametrize("output_size", SIZES)
@pytest.mark.parametrize("hw", [(9, 8), (6, 6)])
def test_adaptive_max_pool2d_parity(output_size, hw):
    _parity("adaptive_max_pool2d", _x(2, 3, *hw), output_size, True)


@pytest.mark.parametrize("output_size", [1, 3, 4, 7, 12])
def test_adaptive_pool1d_parity(output_size):
    _parity("adaptive_avg_pool1d", _x(2, 3, 10), output_size)
    _parity("adaptive_max_pool1d", _x(2, 3, 10), output_size, True)


def test_global_average_pooling():
    x = _x(2, 3, 4, 5)
    y = P.adaptive_avg_pool2d(lamina.tensor(x), 1)
    np.testing.assert_allclose(y.numpy(), x.mean(axis=(2, 3), keepdims=True))


def test_adaptive_max_pool_ties_like_torch():
    x = rng(9).integers(0, 2, (2, 2, 7, 5)).astype(np.float64)
    _parity("adaptive_max_pool2d", x, (3, 2), True)


def test_adaptive_gradchecks():
    gradcheck(lambda x: P.adaptive_avg_pool2d(x, (3, 2)), _x(2, 2, 5, 7, seed=10))
    gradcheck(lambda x: P.adaptive_max_pool2d(x, (3, 4)), _x(1, 2, 5, 7, seed=11))
    gradcheck(lambda x: P.adaptive_avg_pool1d(x, 3), _x(2, 2, 7, seed=12))
    gradgradcheck(lambda x: P.adaptive_max_pool2d(x * x, (2, 3)), _x(1, 1, 5, 4, seed=13))
    gradgradcheck(lambda x: P.adaptive_avg_pool2d(x * x, (2, 3)), _x(1, 1, 5, 4, seed=14))


# ---------------------------------------------------------------- interpolate
RESIZES = [dict(size=(13, 5)), dict(size=4), dict(size=(9, 8)), dict(scale_factor=2), dict(scale_factor=3),
           dict(scale_factor=1.7), dict(scale_factor=(0.5, 2.5)), dict(scale_factor=0.3),
           dict(scale_factor=1.5, recompute_scale_factor=True)]


@pytest.mark.parametrize("resize", RESIZES)
@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                                ("bilinear", True), ("area", None)])
def test_interpolate_parity_grid(resize, mode, align_corners):
    _parity("interpolate", _x(2, 3, 9, 8), mode=mode, align_corners=align_corners, **resize)


@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("linear", False), ("linear", True),
                                                ("nearest-exact", None)])
@pytest.mark.parametrize("resize", [dict(size=17), dict(scale_factor=2), dict(scale_factor=0.6)])
def test_interpolate_1d_parity(mode, align_corners, resize):
    _parity("interpolate", _x(2, 3, 7), mode=mode, align_corners=align_corners, **resize)


@requires_torch
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_float32_index_math(mode):
    """Sizes where float32 source indices differ from exact arithmetic: must match torch exactly."""
    x = _x(1, 2, 10, 7, dtype=np.float32)
    for size in [(29, 23), (31, 3), (6, 17)]:
        parity(lambda t: P.interpolate(t, size=size, mode=mode), x,
               torch_fn=lambda t: TF.interpolate(t, size=size, mode=mode), atol=1e-6, rtol=1e-5)


def test_interpolate_gradchecks():
    gradcheck(lambda x: P.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False),
              _x(1, 2, 3, 4, seed=15))
    gradcheck(lambda x: P.interpolate(x, size=(5, 2), mode="bilinear", align_corners=True), _x(1, 2, 3, 4, seed=16))
    gradcheck(lambda x: P.interpolate(x, scale_factor=2), noncontiguous(_x(1, 2, 3, 2, seed=17)))
    gradcheck(lambda x: P.interpolate(x, size=(5, 3)), _x(2, 1, 3, 4, seed=18))
    gradgradcheck(lambda x: P.interpolate(x * x, scale_factor=2), _x(1, 1, 2, 3, seed=19))
    gradgradcheck(lambda x: P.interpolate(x * x, size=(4, 5), mode="bilinear"), _x(1, 1, 3, 2, seed=20))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 20), st.integers(1, 20), st.booleans())
def test_interpolate_random_sizes(h, w, ho, wo, align):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    _parity("interpolate", _x(1, 2, h, w), size=(ho, wo), mode="bilinear", align_corners=align)
    _parity("interpolate", _x(1, 2, h, w), size=(ho, wo), mode="nearest")


# ---------------------------------------------------------------- errors
def _t(*shape):
    return lamina.tensor(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("call,match", [
    (lambda: P.max_pool2d(_t(3, 28, 28), 2),
     r"max_pool2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 28, 28\)"),
    (lambda: P.max_pool1d(_t(2, 3, 4, 4), 2), r"max_pool1d: expected a 3-D input \(N, C, L\)"),
    (lambda: P.max_pool2d(_t(1, 1, 8, 8), 3, padding=2), r"padding \(2, 2\) should be at most half of kernel_size"),
    (lambda: P.max_pool2d(_t(1, 1, 2, 2), 3), r"too small for kernel_size \(3, 3\).*output size \(0, 0\)"),
    (lambda: P.max_pool2d(_t(1, 1, 8, 8), 0), r"kernel_size must be positive"),
    (lambda: P.avg_pool2d(_t(1, 1, 8, 8), 2, stride=(1, 2, 3)), r"stride must be an int or a tuple of 2"),
    (lambda: P.avg_pool2d(_t(1, 1, 8, 8), 2, divisor_override=0), r"divisor_override must be a non-zero int"),
    (lambda: P.adaptive_avg_pool2d(_t(1, 1, 8, 8), (2, 0)), r"output_size must be positive"),
    (lambda: P.adaptive_max_pool2d(_t(1, 1, 8, 8), (2, 2, 2)), r"output_size must be an int or a tuple of 2"),
    (lambda: P.interpolate(_t(1, 1, 4, 4), size=8, scale_factor=2), r"exactly one of size or scale_factor"),
    (lambda: P.interpolate(_t(1, 1, 4, 4)), r"exactly one of size or scale_factor"),
    (lambda: P.interpolate(_t(1, 1, 4, 4), scale_factor=2, align_corners=True), r"align_corners can only be set"),
    (lambda: P.interpolate(_t(1, 1, 4), scale_factor=2, mode="bilinear"),
     r"mode 'bilinear' is not supported for a 3-D"),
    (lambda: P.interpolate(_t(1, 1, 4, 4, 4, 4), scale_factor=2), r"expected a 3-D \(N, C, L\), 4-D .* or 5-D"),
    (lambda: P.interpolate(_t(1, 1, 4, 4), scale_factor=0.1), r"gives an empty output"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
