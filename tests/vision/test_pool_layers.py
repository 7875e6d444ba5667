"""Pooling and resampling modules: torch parity (outputs, indices, input gradients), shapes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import requires_torch, rng
from vision_parity import module_parity, torch

import lamina
from lamina.nn.layers.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                                      AvgPool1d, AvgPool2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d, Upsample,
                                      UpsamplingBilinear2d, UpsamplingNearest2d)

X2 = rng(1).standard_normal((2, 3, 9, 10)).astype(np.float32)
X1 = rng(2).standard_normal((2, 3, 11)).astype(np.float32)

CASES_2D = [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), dict(stride=2, padding=1)),
    ("MaxPool2d", ((3, 2),), dict(stride=(2, 1), dilation=(1, 2), ceil_mode=True)),
    ("MaxPool2d", (2,), dict(return_indices=True)),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("AvgPool2d", (2,), dict(divisor_override=3)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}),
    ("AdaptiveAvgPool2d", ((4, 3),), {}),
    ("AdaptiveAvgPool2d", ((None, 5),), {}),
    ("AdaptiveMaxPool2d", (3,), {}),
    ("AdaptiveMaxPool2d", ((4, 3),), dict(return_indices=True)),
    ("Upsample", (), dict(scale_factor=2)),
    ("Upsample", (), dict(size=(13, 7), mode="nearest")),
    ("Upsample", (), dict(scale_factor=1.5, mode="bilinear")),
    ("Upsample", (), dict(size=(5, 17), mode="bilinear", align_corners=True)),
    ("Upsample", (), dict(scale_factor=2, mode="nearest-exact")),
    ("UpsamplingNearest2d", (), dict(scale_factor=3)),
    ("UpsamplingBilinear2d", (), dict(size=(12, 12))),
]


def _build(name, args, kwargs):
    import lamina.nn.layers.pooling as L
    return getattr(L, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@requires_torch
@pytest.mark.parametrize("name, args, kwargs", CASES_2D, ids=lambda v: str(v))
def test_pool2d_parity(name, args, kwargs):
    lam, tor = _build(name, args, kwargs)
    module_parity(lam, tor, X2, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("name, args, kwargs", [
    ("MaxPool1d", (3,), dict(stride=2, padding=1)),
    ("MaxPool1d", (2,), dict(dilation=2, ceil_mode=True, return_indices=True)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool1d", (4,), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
    ("AdaptiveMaxPool1d", (5,), dict(return_indices=True)),
    ("Upsample", (), dict(scale_factor=2, mode="linear")),
], ids=lambda v: str(v))
def test_pool1d_parity(name, args, kwargs):
    lam, tor = _build(name, args, kwargs)
    module_parity(lam, tor, X1, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("name, args", [("MaxPool2d", (2,)), ("AvgPool2d", (3,)), ("AdaptiveAvgPool2d", (2,)),
                                        ("AdaptiveMaxPool2d", (2,))])
def test_unbatched_input(name, args):
    lam, tor = _build(name, args, {})
    module_parity(lam, tor, X2[0], atol=1e-5)


@requires_torch
@pytest.mark.parametrize("shape", [(2, 3, 9, 10), (3, 4, 4)])
def test_global_avg_pool_is_adaptive_avg_pool_flattened(shape):
    x = rng(3).standard_normal(shape).astype(np.float32)
    tor = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(-3))
    y = module_parity(GlobalAvgPool2d(), tor, x, atol=1e-6)
    assert y.shape == shape[:-2]


def test_max_pool2d_halves_and_routes_gradient():
    x = lamina.Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    y = MaxPool2d(2)(x)
    np.testing.assert_array_equal(y.detach().numpy()[0, 0], [[5, 7], [13, 15]])
    y.sum().backward()
    expected = np.zeros((4, 4), np.float32)
    expected[[1, 1, 3, 3], [1, 3, 1, 3]] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_stride_defaults_to_kernel_and_repr():
    m = MaxPool2d(3)
    assert m.stride == 3
    assert repr(m) == "MaxPool2d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)"
    assert repr(AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"


def test_pool_layers_have_no_state():
    for m in (MaxPool2d(2), AvgPool1d(2), AdaptiveAvgPool2d(1), GlobalAvgPool2d(), Upsample(scale_factor=2)):
        assert list(m.state_dict()) == [] and list(m.parameters()) == []


@pytest.mark.parametrize("make, x, match", [
    (lambda: MaxPool2d(2), (8, 8), r"MaxPool2d: expected a 3-D or 4-D input .* got shape \(8, 8\)"),
    (lambda: MaxPool1d(2), (1, 2, 3, 4), r"MaxPool1d: expected a 2-D or 3-D input"),
    (lambda: AvgPool2d(5), (1, 1, 3, 3), "too small for kernel_size"),
    (lambda: MaxPool2d(2, padding=2), (1, 1, 8, 8), "should be at most half of kernel_size"),
    (lambda: GlobalAvgPool2d(), (4, 8), "GlobalAvgPool2d: expected a 3-D or 4-D input"),
    (lambda: AdaptiveAvgPool2d(0), (1, 1, 4, 4), "output_size must be positive"),
])
def test_errors(make, x, match):
    with pytest.raises(ValueError, match=match):
        make()(lamina.randn(*x))


def test_upsample_needs_size_or_scale():
    with pytest.raises(ValueError, match="exactly one of size or scale_factor"):
        Upsample()
    with pytest.raises(ValueError, match="exactly one of size or scale_factor"):
        Upsample(size=4, scale_factor=2)
    with pytest.raises(ValueError, match="mode 'bicubic' is not supported"):
        Upsample(scale_factor=2, mode="bicubic")(lamina.randn(1, 1, 4))  # bicubic needs (N, C, H, W)
    with pytest.raises(TypeError):
        AdaptiveAvgPool2d(1, return_indices=True)  # as torch: only the max versions have indices


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    @requires_torch
    @settings(max_examples=30, deadline=None)
    @given(k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), ceil=st.booleans(), h=st.integers(4, 9),
           w=st.integers(4, 9), avg=st.booleans(), include=st.booleans())
    def test_pool2d_shapes_and_values_match_torch(k, s, p, ceil, h, w, avg, include):
        p = min(p, k // 2)
        x = rng(h * 10 + w).standard_normal((2, 2, h, w)).astype(np.float32)
        if avg:
            kw = dict(stride=s, padding=p, ceil_mode=ceil, count_include_pad=include)
            lam, tor = AvgPool2d(k, **kw), torch.nn.AvgPool2d(k, **kw)
        else:
            kw = dict(stride=s, padding=p, ceil_mode=ceil)
            lam, tor = MaxPool2d(k, **kw), torch.nn.MaxPool2d(k, **kw)
        module_parity(lam, tor, x, atol=1e-5)
