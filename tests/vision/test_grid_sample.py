"""grid_sample (2-D and 3-D; bilinear / nearest / bicubic; zeros / border / reflection; align_corners) and
affine_grid: torch parity for values and the gradients w.r.t. input, grid and theta; float64
gradchecks (second derivatives too); errors of torch's types."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng

import lamina
from lamina.ops.grid_sample import affine_grid, grid_sample

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = TF = None

MODES_2D = list(itertools.product(["bilinear", "nearest", "bicubic"], ["zeros", "border", "reflection"],
                                  [False, True]))
MODES_3D = list(itertools.product(["bilinear", "nearest"], ["zeros", "border", "reflection"], [False, True]))


def _grid(*shape, seed=1, lo=-1.3, hi=1.3, dtype=np.float64):
    return rng(seed).uniform(lo, hi, shape).astype(dtype)  # some points outside [-1, 1]: the padding matters


def _parity(x, g, mode, pm, ac, **tol):
    return parity(lambda x, g: grid_sample(x, g, mode, pm, ac), x, g,
                  torch_fn=lambda x, g: TF.grid_sample(x, g, mode, pm, ac), **tol)


@requires_torch
@pytest.mark.parametrize("mode,padding_mode,align_corners", MODES_2D)
def test_grid_sample_2d_parity(mode, padding_mode, align_corners):
    x = rng(0).standard_normal((2, 3, 5, 6))
    _parity(x, _grid(2, 4, 7, 2), mode, padding_mode, align_corners, atol=1e-10, rtol=1e-8)


@requires_torch
@pytest.mark.parametrize("mode,padding_mode,align_corners", MODES_3D)
def test_grid_sample_3d_parity(mode, padding_mode, align_corners):
    x = rng(2).standard_normal((2, 2, 4, 5, 3))
    _parity(x, _grid(2, 3, 2, 4, 3, seed=3), mode, padding_mode, align_corners, atol=1e-10, rtol=1e-8)


@requires_torch
@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_grid_sample_float32_and_far_out_of_range(mode):
    x = rng(4).standard_normal((2, 4, 9, 7)).astype(np.float32)
    g = _grid(2, 6, 5, 2, seed=5, lo=-4, hi=4, dtype=np.float32)
    for pm in ("zeros", "border", "reflection"):
        _parity(x, g, mode, pm, False, atol=1e-4, rtol=1e-4)


@requires_torch
def test_single_pixel_input():
    x = rng(6).standard_normal((1, 2, 1, 1))
    for pm, ac in itertools.product(("zeros", "border", "reflection"), (False, True)):
        _parity(x, _grid(1, 3, 3, 2, seed=7), "bilinear", pm, ac, atol=1e-10)


def test_grid_sample_gradchecks():
    x, g = rng(8).standard_normal((1, 2, 4, 3)), _grid(1, 3, 2, 2, seed=9)
    for mode, pm in [("bilinear", "zeros"), ("bilinear", "reflection"), ("bicubic", "border"), ("bicubic", "zeros")]:
        gradcheck(lambda x, g: grid_sample(x, g, mode, pm, align_corners=False), noncontiguous(x), noncontiguous(g))
    x3, g3 = rng(10).standard_normal((1, 1, 3, 3, 2)), _grid(1, 2, 2, 1, 3, seed=11)
    gradcheck(lambda x, g: grid_sample(x, g, "bilinear", "border", align_corners=True), x3, g3)
    gradgradcheck(lambda x, g: grid_sample(x, g, "bilinear", "zeros", align_corners=False), x, g)


@requires_torch
def test_nearest_grid_gradient_is_zero_like_torch():
    x = lamina.tensor(rng(12).standard_normal((1, 2, 4, 4)), requires_grad=True)
    g = lamina.tensor(_grid(1, 3, 3, 2, seed=13), requires_grad=True)
    grid_sample(x, g, "nearest", align_corners=False).sum().backward()
    assert g.grad is not None and not np.any(g.grad.numpy())
    assert x.grad is not None and x.grad.numpy().sum() > 0


@requires_torch
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 3, 4, 5, 3), (2, 1, 3, 1, 2)])
def test_affine_grid_parity(size, align_corners):
    nd = len(size) - 2
    theta = rng(14).standard_normal((2, nd, nd + 1))
    with pytest.warns(UserWarning) if align_corners and min(size[2:]) == 1 else _no_warning():
        parity(lambda t: affine_grid(t, size, align_corners), theta,
               torch_fn=lambda t: TF.affine_grid(t, size, align_corners), atol=1e-12)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@requires_torch
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_spatial_transformer_gradient_reaches_theta(padding_mode):
    """affine_grid + grid_sample, the spatial-transformer pair: d loss / d theta as torch."""
    x = rng(15).standard_normal((2, 3, 6, 5))
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1)) + rng(16).normal(0, 0.2, (2, 2, 3))
    for ac in (False, True):
        parity(lambda x, t: grid_sample(x, affine_grid(t, (2, 3, 6, 5), ac), "bilinear", padding_mode, ac), x, theta,
               torch_fn=lambda x, t: TF.grid_sample(x, TF.affine_grid(t, (2, 3, 6, 5), ac), "bilinear",
                                                    padding_mode, ac), atol=1e-9)
    theta3 = np.tile(np.eye(3, 4), (1, 1, 1)) + rng(17).normal(0, 0.2, (1, 3, 4))
    gradcheck(lambda x, t: grid_sample(x, affine_grid(t, (1, 1, 3, 3, 2), False), align_corners=False),
              rng(18).standard_normal((1, 1, 3, 3, 2)), theta3)


def test_identity_affine_grid_reproduces_the_input():
    x = rng(19).standard_normal((2, 3, 5, 4))
    for ac in (False, True):
        theta = lamina.tensor(np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1)))
        y = grid_sample(lamina.tensor(x), affine_grid(theta, (2, 3, 5, 4), ac), align_corners=ac)
        np.testing.assert_allclose(y.numpy(), x, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Default grid_sample and affine_grid behavior")
@pytest.mark.parametrize("call,exc,match", [
    (lambda F, t: F.grid_sample(t(1, 2, 4, 4), t(1, 3, 3, 2), mode="foo"), ValueError, "expected mode to be"),
    (lambda F, t: F.grid_sample(t(1, 2, 4, 4), t(1, 3, 3, 2), padding_mode="foo"), ValueError,
     "expected padding_mode to be"),
    (lambda F, t: F.grid_sample(t(1, 2, 2, 4, 4), t(1, 2, 2, 2, 3), mode="bicubic"), RuntimeError,
     "bicubic interpolation only supports 4D input"),
    (lambda F, t: F.grid_sample(t(1, 2, 4, 4), t(1, 3, 3, 3)), RuntimeError, "to have size 2 in last dimension"),
    (lambda F, t: F.grid_sample(t(1, 2, 4, 4), t(2, 3, 3, 2)), RuntimeError, "same batch size"),
    (lambda F, t: F.grid_sample(t(1, 2, 4, 4), t(1, 3, 2)), RuntimeError, "same number of dimensions"),
    (lambda F, t: F.affine_grid(t(1, 2, 3), (1, 1, 4)), NotImplementedError, "only supports 4D and 5D sizes"),
    (lambda F, t: F.affine_grid(t(1, 3, 3), (1, 1, 4, 4)), ValueError, "affine matrices of shape Nx2x3"),
])
def test_errors_match_torch_types(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_Lamina, lambda *s: lamina.zeros(*s, dtype=lamina.float32))
    if torch is not None:
        with pytest.raises(exc):
            call(TF, lambda *s: torch.zeros(*s))


class _Lamina:
    grid_sample = staticmethod(grid_sample)
    affine_grid = staticmethod(affine_grid)


@requires_torch
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_array_path_matches_numba_path(mode, monkeypatch):
    """The NumPy/CuPy code (no Numba) gives the same values and gradients, second derivatives included."""
    from lamina.ops import _sample_kernels
    x, g = rng(20).standard_normal((2, 3, 5, 4)), _grid(2, 3, 4, 2, seed=21)
    ref = _parity(x, g, mode, "zeros", False, atol=1e-10)[0].detach().numpy()
    monkeypatch.setattr(_sample_kernels, "ENABLED", False)
    out = _parity(x, g, mode, "zeros", False, atol=1e-10)[0].detach().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    gradgradcheck(lambda x, g: grid_sample(x, g, mode, "border", align_corners=True), x[:1, :2], g[:1])
