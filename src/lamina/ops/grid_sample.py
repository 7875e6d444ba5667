"""grid_sample and affine_grid (PyTorch's spatial-transformer ops), 2-D and 3-D.

grid_sample reads ``input`` (N, C, H, W) at the normalised positions ``grid`` (N, Ho, Wo, 2) in
[-1, 1] (x first: -1 is the left/top edge), giving (N, C, Ho, Wo); 3-D: (N, C, D, H, W) with a grid
(N, Do, Ho, Wo, 3). Per dimension the position is unnormalised to a pixel coordinate

    align_corners:  u = (g + 1) / 2 * (n - 1)          (-1 and 1 are the centres of the edge pixels)
    otherwise:      u = ((g + 1) n - 1) / 2            (-1 and 1 are the outer edges of the edge pixels)

then, for 'border' / 'reflection' padding, clipped or reflected into the image. The output is a
weighted sum of taps:

    bilinear (trilinear): y = sum over the 2^d corners of prod_d w_d(t_d) x[corner],  t = u - floor(u),
                          w(t) = 1 - t at floor(u), t at floor(u) + 1
    nearest:              y = x[round_half_even(u)]
    bicubic (2-D):        y = sum over 4 x 4 taps of Keys' cubic weights (a = -0.75) of t, taps padded one by one

with taps outside the image reading 0 ('zeros'). The taps' indices are constants and the weights are
Tensor ops of the grid; the weighted read is one op (``_Sample``, a Numba kernel on CPU) whose
adjoints in x and in the weights are two more (``_Spread``, ``_Correlate``). The three close under
differentiation, as conv's primitives do, so dx, dgrid and every higher derivative follow. dgrid is 0
for 'nearest', and clipping has zero slope at and beyond the image edges, as torch.

affine_grid(theta, size): the grid of ``theta`` (N, 2, 3) (3-D: (N, 3, 4)) applied to the base grid of
normalised pixel centres: grid[n, h, w] = theta[n] @ (x_w, y_h, 1).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import Function
from ..backend import array_module as _xp
from ..tensor import Tensor
from . import _sample_kernels as K

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")
_CUBIC_A = -0.75


class _OnesLike(Function):
    """y = 1 (the nearest-neighbour weight, a step function of the grid);  dc = 0."""

    saves_inputs = False

    def forward(self, c):
        return _xp(c).ones_like(c)

    def backward(self, gy):
        return gy * 0


# ---------------------------------------------------------------- the weighted read and its adjoints
# idx (N, T, K): the T taps of each of the K output points, as flat positions into the (n, c) planes.
class _Sample(Function):
    """y[n, c, k] = sum_t w[n, t, k] x[n, c, idx[n, t, k]];  dx = spread(dy, w),  dw = correlate(dy, x)."""

    def __init__(self, idx):
        self.idx = idx

    def forward(self, x, w):
        return K.sample(x, self.idx, w)

    def backward(self, gy):
        x, w = self.inputs
        need = self.needs_input_grad
        gx = _Spread(self.idx, x.shape[2])(gy, w) if need[0] else None
        gw = _Correlate(self.idx)(gy, x) if need[1] else None
        return gx, gw


class _Spread(Function):
    """x'[n, c, p] = sum_{t, k at p} w[n, t, k] g[n, c, k];  dg = sample(dx', w),  dw = correlate(g, dx')."""

    def __init__(self, idx, plane: int):
        self.idx, self.plane = idx, plane

    def forward(self, g, w):
        return K.spread(g, self.idx, w, self.plane)

    def backward(self, gy):
        g, w = self.inputs
        need = self.needs_input_grad
        gg = _Sample(self.idx)(gy, w) if need[0] else None
        gw = _Correlate(self.idx)(g, gy) if need[1] else None
        return gg, gw


class _Correlate(Function):
    """w'[n, t, k] = sum_c g[n, c, k] x[n, c, idx[n, t, k]];  dg = sample(x, dw'),  dx = spread(g, dw')."""

    def __init__(self, idx):
        self.idx = idx

    def forward(self, g, x):
        return K.correlate(g, x, self.idx)

    def backward(self, gy):
        g, x = self.inputs
        need = self.needs_input_grad
        gg = _Sample(self.idx)(x, gy) if need[0] else None
        gx = _Spread(self.idx, x.shape[2])(g, gy) if need[1] else None
        return gg, gx


def _const(array, like: Tensor) -> Tensor:
    return Tensor._wrap(array.astype(like.dtype, copy=False))


# ---------------------------------------------------------------- source coordinates
def _unnormalize(g: Tensor, n: int, align_corners: bool) -> Tensor:
    if align_corners:
        return ((g + 1) / 2) * (n - 1)
    return ((g + 1) * n - 1) / 2


def _clip(u: Tensor, n: int) -> Tensor:
    """min(max(u, 0), n - 1), with slope 0 on the edges and beyond (torch's clip_coordinates)."""
    a = u.array
    inside = (a > 0) & (a < n - 1)
    fill = _const(u.xp.where(a >= n - 1, n - 1, 0), u)
    return u.where(Tensor._wrap(inside), fill)


def _reflect(u: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Mirror u into [low, high] about its ends (torch's reflect_coordinates): with m = low, s = high - low,
    e = |u - m| mod s, y = m + e after an even number of flips of s, m + s - e after an odd one."""
    xp = u.xp
    if twice_low == twice_high:
        return u.where(Tensor._wrap(xp.zeros(u.shape, dtype=bool)), 0.0)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    a = u.array - low
    sign = xp.where(a < 0, -1, 1)
    flips = xp.floor(xp.abs(a) / span)
    odd = xp.fmod(flips, 2) == 1
    mirror = xp.where(odd, -1, 1)
    # y = low + mirror * (|u - low| - flips * span) + odd * span
    return (u - low) * _const(sign * mirror, u) + _const(low + odd * span - mirror * flips * span, u)


def _pad_coordinate(u: Tensor, n: int, padding_mode: str, align_corners: bool) -> Tensor:
    if padding_mode == "border":
        return _clip(u, n)
    if padding_mode == "reflection":
        u = _reflect(u, 0, 2 * (n - 1)) if align_corners else _reflect(u, -1, 2 * n - 1)
        return _clip(u, n)
    return u


def _pad_index(i, n: int, padding_mode: str, align_corners: bool, xp):
    """The same padding for integer tap positions (bicubic), on arrays."""
    if padding_mode == "zeros":
        return i
    if padding_mode == "reflection":
        lo, hi = (0, 2 * (n - 1)) if align_corners else (-1, 2 * n - 1)
        if lo == hi:
            i = xp.zeros_like(i)
        else:
            low, span = lo / 2, (hi - lo) / 2
            a = xp.abs(i - low)
            flips = xp.floor(a / span)
            extra = xp.fmod(a, span)
            i = xp.where(xp.fmod(flips, 2) == 0, extra + low, span - extra + low)
    return xp.clip(i, 0, n - 1)


# ---------------------------------------------------------------- taps per dimension
def _taps(g: Tensor, n: int, mode: str, padding_mode: str, align_corners: bool):
    """For one dimension: (weights (B, T, K) Tensor, positions (B, T, K) float array, valid (B, T, K) bool)."""
    xp = g.xp
    u = _unnormalize(g, n, align_corners)
    if mode == "bicubic":  # the taps are padded one by one, the position itself is not
        base = xp.floor(u.array)
        t = (u - _const(base, u)).unsqueeze(1)
        offsets = xp.asarray([-1.0, 0.0, 1.0, 2.0]).reshape(1, 4, 1)
        # distances to the 4 taps: t + 1, t, 1 - t, 2 - t; the inner two use Keys' |x| <= 1 branch
        d = t * _const(xp.asarray([1.0, 1.0, -1.0, -1.0]).reshape(1, 4, 1), t) + \
            _const(xp.asarray([1.0, 0.0, 1.0, 2.0]).reshape(1, 4, 1), t)
        a = _CUBIC_A
        near = ((d * (a + 2) - (a + 3)) * d) * d + 1
        far = ((d * a - 5 * a) * d + 8 * a) * d - 4 * a
        inner = _const(xp.asarray([0.0, 1.0, 1.0, 0.0]).reshape(1, 4, 1), t)
        w = near * inner + far * (1 - inner)
        pos = _pad_index(base[:, None, :] + offsets, n, padding_mode, align_corners, xp)
        pos = xp.trunc(pos)
    else:
        u = _pad_coordinate(u, n, padding_mode, align_corners)
        if mode == "nearest":
            pos = xp.rint(u.array)[:, None, :]
            w = _OnesLike()(u).unsqueeze(1)
        else:
            base = xp.floor(u.array)
            pos = base[:, None, :] + xp.asarray([0.0, 1.0]).reshape(1, 2, 1)
            # w = floor(u) + 1 - u at floor(u), u - floor(u) at floor(u) + 1 (torch's products of differences)
            w = u.unsqueeze(1) * _const(xp.asarray([-1.0, 1.0]).reshape(1, 2, 1), u) + \
                _const(xp.stack([base + 1, -base], axis=1), u)
    with np.errstate(invalid="ignore"):
        valid = (pos >= 0) & (pos <= n - 1)
    return w, pos, valid


def _sample(input: Tensor, grid: Tensor, mode, padding_mode, align_corners) -> Tensor:
    xp = input.xp
    n, c = input.shape[:2]
    size = input.shape[2:]
    nd = len(size)
    out_sp = grid.shape[1:-1]
    k = math.prod(out_sp)
    flat_grid = grid.reshape(n, k, nd)
    # grid component 0 is x (the last axis), 1 is y, 2 is z: build the taps from the first axis on
    taps = [_taps(flat_grid[:, :, nd - 1 - d], size[d], mode, padding_mode, align_corners) for d in range(nd)]
    weight = index = valid = None
    for d, (w, pos, ok) in enumerate(taps):
        shape = (n,) + tuple(w.shape[1] if e == d else 1 for e in range(nd)) + (k,)
        w, pos, ok = w.reshape(shape), pos.reshape(shape), ok.reshape(shape)
        if weight is None:
            weight, index, valid = w, xp.where(ok, pos, 0).astype(np.int64), ok
        else:
            weight = weight * w
            index = index * size[d] + xp.where(ok, pos, 0).astype(np.int64)
            valid = valid & ok
    t = math.prod(weight.shape[1:-1])
    weight = weight.where(Tensor._wrap(valid), 0.0).reshape(n, t, k)
    index = xp.ascontiguousarray(xp.where(valid, index, 0).reshape(n, t, k))
    y = _Sample(index)(input.reshape(n, c, math.prod(size)), weight)
    return y.reshape((n, c) + tuple(out_sp))


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros", align_corners=None) -> Tensor:
    """Sample input (N, C, H, W) at grid (N, Ho, Wo, 2) -> (N, C, Ho, Wo) (3-D: (N, C, D, H, W) at (N, Do, Ho, Wo, 3)).

    mode 'bilinear' (trilinear in 3-D), 'nearest' or 'bicubic' (2-D); padding_mode 'zeros', 'border' or
    'reflection'; align_corners=None means False. Gradients flow to input and grid.
    >>> grid = affine_grid(theta, (8, 3, 32, 32), align_corners=False)
    >>> grid_sample(images, grid, align_corners=False).shape     # (8, 3, 32, 32)
    """
    op = "grid_sampler()"
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: {mode!r}")
    if padding_mode not in _PADDING:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: {padding_mode!r}")
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, Tensor):
            raise TypeError(f"grid_sample: {name} must be a Tensor, got {type(t).__name__}")
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(f"{op}: expected 4D or 5D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    nd = input.ndim - 2
    if grid.shape[-1] != nd:
        raise RuntimeError(f"{op}: expected grid to have size {nd} in last dimension, but got grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"{op}: expected grid and input to have same batch size, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.dtype != grid.dtype or input.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected input and grid to have the same floating dtype, but got input "
                           f"{input.dtype} and grid {grid.dtype}")
    if any(s == 0 for s in input.shape[2:]):
        raise RuntimeError(f"{op}: expected input to have non-empty spatial dimensions, but input has sizes "
                           f"{list(input.shape)}")
    if mode == "bicubic" and nd != 2:
        raise RuntimeError(f"{op}: bicubic interpolation only supports 4D input")
    return _sample(input, grid, mode, padding_mode, bool(align_corners))


# ---------------------------------------------------------------- affine_grid
def _base_coords(n: int, align_corners: bool, dtype):
    """Normalised centres of n pixels: linspace(-1, 1, n), scaled by (n - 1)/n unless align_corners."""
    if n <= 1:
        return np.zeros(max(n, 1), dtype=dtype)[:n]
    r = np.linspace(-1.0, 1.0, n).astype(dtype)
    return r if align_corners else r * dtype.type((n - 1) / n)


def affine_grid(theta, size, align_corners=None) -> Tensor:
    """The sampling grid of a batch of affine maps: theta (N, 2, 3) and size (N, C, H, W) -> grid (N, H, W, 2),
    grid[n, h, w] = theta[n] @ (x_w, y_h, 1); 3-D: theta (N, 3, 4), size (N, C, D, H, W) -> (N, D, H, W, 3).

    x_w = linspace(-1, 1, W)[w] (times (W-1)/W unless align_corners; align_corners=None means False).
    dtheta = sum over the grid of dgrid (x, y, 1)^T.
    >>> grid = affine_grid(lamina.tensor([[[1., 0, 0], [0, 1, 0]]]), (1, 3, 4, 4), align_corners=False)
    """
    if not isinstance(theta, Tensor):
        raise TypeError(f"affine_grid: theta must be a Tensor, got {type(theta).__name__}")
    if theta.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    nd = len(size) - 2
    if theta.ndim != 3 or theta.shape[1:] != (nd, nd + 1):
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size {size}. "
                         f"Got {tuple(theta.shape)}.")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: theta holds {theta.shape[0]} matrices but size asks for a batch of "
                           f"{size[0]}")
    if min(size[2:]) <= 0:
        raise ValueError(f"affine_grid: expected a non-empty spatial size, got {size}")
    ac = bool(align_corners)
    if ac and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid.", stacklevel=2)
    dtype = np.dtype(theta.dtype)
    sp = size[2:]
    axes = [_base_coords(s, ac, dtype) for s in sp]
    # base[..., 0] = x (last axis), [..., 1] = y, [..., 2] = z, last = 1
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack([mesh[nd - 1 - d] for d in range(nd)] + [np.ones(sp, dtype=dtype)], axis=-1)
    base = Tensor._wrap(theta.xp.asarray(base.reshape(1, -1, nd + 1)))
    grid = base @ theta.transpose(1, 2)
    return grid.reshape((size[0],) + sp + (nd,))


__all__ = ["grid_sample", "affine_grid"]
