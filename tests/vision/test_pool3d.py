"""3-D pooling (max, avg, adaptive) and 3-D / bicubic interpolate: torch parity grids (values, int64
indices, input gradients), float64 gradchecks, the Numba max-pool kernel, modules, errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng
from vision_parity import module_parity, torch

import lamina
from lamina import nn
from lamina.ops import _im2col
from lamina.ops import pool as P
from lamina.ops.interpolate import interpolate

try:
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    TF = None


def _x(*shape, seed=0, dtype=np.float64):
    return rng(seed).standard_normal(shape).astype(dtype)


def _parity(name, x, *args, atol=1e-10, rtol=1e-7, **kw):
    fn = interpolate if name == "interpolate" else getattr(P, name)
    return parity(lambda t: fn(t, *args, **kw), x, torch_fn=lambda t: getattr(TF, name)(t, *args, **kw),
                  atol=atol, rtol=rtol)


X3 = _x(2, 3, 7, 6, 8)


# ---------------------------------------------------------------- max_pool3d
@requires_torch
@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", list(itertools.product(
    [2, (3, 2, 2)], [None, (2, 1, 2)], [0, 1], [1, (2, 1, 1)], [False, True])))
def test_max_pool3d_parity_grid(kernel, stride, padding, dilation, ceil_mode):
    _parity("max_pool3d", X3, kernel, stride, padding, dilation, ceil_mode, True)  # int64 indices compared exactly


@requires_torch
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_max_pool3d_ties_and_numba_kernel(kernel, stride, padding, monkeypatch):
    """Many equal values per window: the first maximum wins, in the array path and in the Numba kernel."""
    x = rng(1).integers(0, 3, (2, 2, 6, 5, 7)).astype(np.float64)
    _parity("max_pool3d", x, kernel, stride, padding, return_indices=True)
    monkeypatch.setattr(_im2col, "NUMBA_MIN_SIZE", 0)
    _parity("max_pool3d", x, kernel, stride, padding, return_indices=True)
    x[0, 1, 2, 2, 3] = np.nan  # NaN propagates
    y, i = P.max_pool3d(lamina.tensor(x), kernel, stride, padding, return_indices=True)
    ty, ti = TF.max_pool3d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool3d_numba_matches_array_path():
    x = _x(2, 3, 9, 8, 10, seed=2, dtype=np.float32)
    for kernel, stride, padding, dilation in [((2, 3, 2), (1, 2, 2), (1, 1, 0), (1, 1, 2)), ((3, 3, 3), 2, 1, 1)]:
        geom = P._pool_geometry("max_pool3d", 3, lamina.tensor(x), kernel, stride, padding, dilation, True)
        y0, i0 = _im2col.max_pool(x, geom, use_numba=False)
        y1, i1 = _im2col.max_pool(x, geom, use_numba=True)
        np.testing.assert_array_equal(y0, y1)
        np.testing.assert_array_equal(i0, i1)


def test_max_pool3d_gradchecks():
    gradcheck(lambda x: P.max_pool3d(x, 2, 1, 1), _x(1, 2, 3, 4, 3, seed=3))
    gradcheck(lambda x: P.max_pool3d(x, (2, 1, 2), ceil_mode=True), noncontiguous(_x(1, 1, 3, 3, 5, seed=4)))
    gradgradcheck(lambda x: P.max_pool3d(x * x, 2, 1), _x(1, 1, 3, 3, 3, seed=5))


# ---------------------------------------------------------------- avg_pool3d
@requires_torch
@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad,divisor_override", list(itertools.product(
    [2, (3, 2, 2)], [None, (2, 1, 2)], [0, 1], [False, True], [True, False], [None, 5])))
def test_avg_pool3d_parity_grid(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _parity("avg_pool3d", X3, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)


def test_avg_pool3d_gradchecks():
    gradcheck(lambda x: P.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), _x(1, 2, 4, 5, 4, seed=6))
    gradgradcheck(lambda x: P.avg_pool3d(x * x, 2, 1, 1, divisor_override=3), _x(1, 1, 2, 3, 2, seed=7))


# ---------------------------------------------------------------- adaptive 3-D
@requires_torch
@pytest.mark.parametrize("out", [1, 2, (3, 4, 5), (None, 2, 3), (7, 6, 8), (4, 4, 4), (2, 3, 4)])
def test_adaptive_pool3d_parity(out):
    _parity("adaptive_avg_pool3d", X3, out)
    _parity("adaptive_max_pool3d", X3, out, True)


def test_adaptive_pool3d_gradchecks():
    gradcheck(lambda x: P.adaptive_avg_pool3d(x, (2, 3, 2)), _x(1, 2, 3, 5, 4, seed=8))
    gradcheck(lambda x: P.adaptive_max_pool3d(x, (2, 3, 2)), _x(1, 2, 3, 5, 4, seed=9))
    gradgradcheck(lambda x: P.adaptive_max_pool3d(x * x, (2, 2, 3)), _x(1, 1, 3, 3, 4, seed=10))


# ---------------------------------------------------------------- interpolate: 3-D and bicubic
@requires_torch
@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("nearest-exact", None), ("trilinear", False),
                                                ("trilinear", True), ("area", None)])
@pytest.mark.parametrize("resize", [dict(size=(9, 4, 11)), dict(scale_factor=2), dict(scale_factor=(0.6, 1.5, 2.3)),
                                    dict(size=(7, 6, 8))])
def test_interpolate_3d_parity(mode, align_corners, resize):
    _parity("interpolate", X3, mode=mode, align_corners=align_corners, **resize)


@requires_torch
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("resize", [dict(size=(9, 4)), dict(scale_factor=2), dict(scale_factor=(0.6, 2.3)),
                                    dict(size=(1, 1)), dict(size=(7, 6))])
def test_interpolate_bicubic_parity(align_corners, resize):
    _parity("interpolate", _x(2, 3, 7, 6, seed=11), mode="bicubic", align_corners=align_corners, **resize)


@requires_torch
@pytest.mark.parametrize("mode", ["trilinear", "nearest", "bicubic"])
def test_interpolate_float32_index_math(mode):
    """Sizes where float32 source indices differ from exact arithmetic: must match torch."""
    x = _x(1, 2, 5, 10, 7, seed=12, dtype=np.float32)
    if mode == "bicubic":
        x = x[:, :, 0]
    for size in [(29, 23), (31, 3), (6, 17)]:
        size = size if mode == "bicubic" else (3,) + size
        _parity("interpolate", x, size=size, mode=mode, atol=1e-5, rtol=1e-5)


def test_interpolate_gradchecks():
    gradcheck(lambda x: interpolate(x, scale_factor=1.5, mode="trilinear"), _x(1, 2, 2, 3, 2, seed=13))
    gradcheck(lambda x: interpolate(x, size=(3, 2, 5), mode="nearest"), _x(1, 1, 2, 3, 4, seed=14))
    gradcheck(lambda x: interpolate(x, scale_factor=2, mode="nearest"), noncontiguous(_x(1, 1, 2, 2, 3, seed=15)))
    gradcheck(lambda x: interpolate(x, size=(5, 4), mode="bicubic", align_corners=True), _x(1, 2, 3, 4, seed=16))
    gradgradcheck(lambda x: interpolate(x * x, size=(3, 3, 2), mode="trilinear"), _x(1, 1, 2, 2, 3, seed=17))


# ---------------------------------------------------------------- modules
CASES_3D = [
    ("MaxPool3d", (2,), {}),
    ("MaxPool3d", (3,), dict(stride=2, padding=1)),
    ("MaxPool3d", ((3, 2, 2),), dict(stride=(2, 1, 2), dilation=(1, 2, 1), ceil_mode=True)),
    ("MaxPool3d", (2,), dict(return_indices=True)),
    ("AvgPool3d", (2,), {}),
    ("AvgPool3d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool3d", (2,), dict(divisor_override=3, ceil_mode=True)),
    ("AdaptiveAvgPool3d", ((1, 1, 1),), {}),
    ("AdaptiveAvgPool3d", ((4, 3, None),), {}),
    ("AdaptiveMaxPool3d", (3,), {}),
    ("AdaptiveMaxPool3d", ((4, 3, 2),), dict(return_indices=True)),
    ("Upsample", (), dict(scale_factor=2)),
    ("Upsample", (), dict(size=(9, 7, 5), mode="trilinear")),
    ("Upsample", (), dict(scale_factor=(1.5, 0.5, 2), mode="trilinear", align_corners=True)),
]


@requires_torch
@pytest.mark.parametrize("name, args, kwargs", CASES_3D, ids=str)
def test_pool3d_module_parity(name, args, kwargs):
    lam, tor = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    x = _x(2, 3, 5, 6, 7, seed=18, dtype=np.float32)
    module_parity(lam, tor, x, atol=1e-5)
    if name != "Upsample":  # interpolate (like torch's) takes batched inputs only
        module_parity(lam, tor, x[0], atol=1e-5)  # unbatched (C, D, H, W)
    assert repr(lam) == repr(tor)


@requires_torch
def test_bicubic_upsample_module():
    for kw in [dict(scale_factor=2, mode="bicubic"), dict(size=(5, 9), mode="bicubic", align_corners=True)]:
        module_parity(nn.Upsample(**kw), torch.nn.Upsample(**kw), _x(2, 3, 4, 6, seed=19, dtype=np.float32), atol=1e-5)


@pytest.mark.parametrize("call,match", [
    (lambda: P.max_pool3d(lamina.zeros(1, 4, 4, 4), 2), r"max_pool3d: expected a 5-D input \(N, C, D, H, W\)"),
    (lambda: P.avg_pool3d(lamina.zeros(1, 1, 4, 4, 4), 2, stride=(1, 2)), r"stride must be an int or a tuple of 3"),
    (lambda: P.avg_pool3d(lamina.zeros(1, 1, 4, 4, 4), 2, divisor_override=0), r"avg_pool3d: divisor_override"),
    (lambda: P.max_pool3d(lamina.zeros(1, 1, 4, 4, 4), 2, padding=2), r"should be at most half of kernel_size"),
    (lambda: P.max_pool3d(lamina.zeros(1, 1, 1, 4, 4), 2), r"too small for kernel_size \(2, 2, 2\)"),
    (lambda: P.adaptive_max_pool3d(lamina.zeros(1, 1, 4, 4, 4), (2, 2)), r"output_size must be an int or a tuple of 3"),
    (lambda: interpolate(lamina.zeros(1, 1, 4, 4, 4), scale_factor=2, mode="bilinear"),
     r"mode 'bilinear' is not supported for a 5-D input"),
    (lambda: interpolate(lamina.zeros(1, 1, 4, 4), scale_factor=2, mode="trilinear"),
     r"mode 'trilinear' is not supported for a 4-D input"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
