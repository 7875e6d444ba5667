"""Weight and spectral normalisation as parametrizations (``torch.nn.utils.parametrizations``).

    weight_norm    w = g v / ||v||                 (norm over every dim but ``dim``; g, v learned)
    spectral_norm  w = W / sigma(W)                (sigma by power iteration on W as a matrix)

Both register through ``parametrize.register_parametrization``, so the state-dict keys are
PyTorch's (``parametrizations.weight.original0/1``; ``parametrizations.weight.original`` and
``parametrizations.weight.0._u/_v``) and PyTorch checkpoints load by name.
"""
from __future__ import annotations

from ...autograd import no_grad
from ...ops.creation import randn
from ...ops.linalg import matmul
from ...tensor import Tensor
from ..module import Module
from ..norm_fns import normalize
from . import parametrize


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """||v||_pow over every dimension except ``dim``, keeping dims (dim = -1: one norm of everything)."""
    if dim == -1:
        return v.norm(pow)
    d = dim % v.ndim
    axes = tuple(i for i in range(v.ndim) if i != d)
    return v.norm(pow, axes, keepdim=True) if axes else v.abs()


class _WeightNorm(Module):
    """w = g * v / ||v|| (norm over all dims but ``dim``); right_inverse(w) = (||w||, w)."""

    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight: Tensor):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as g v / ||v|| (Salimans & Kingma, 2016).

    g has the weight's shape with 1s except at ``dim`` (a scalar for ``dim=None``).

    >>> layer = weight_norm(nn.Linear(20, 40))
    >>> layer.parametrizations.weight.original0.shape      # (40, 1): g
    """
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    """w = W / sigma, sigma = u^T W v with u, v from power iteration (one step per training forward)."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                             f"{n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            w = self._reshape_weight_to_matrix(weight)
            h, wd = w.shape
            u = randn(h, dtype=weight.dtype, device=weight.device)
            v = randn(wd, dtype=weight.dtype, device=weight.device)
            self.register_buffer("_u", normalize(u, dim=0, eps=eps))
            self.register_buffer("_v", normalize(v, dim=0, eps=eps))
            self._power_method(w, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, w: Tensor, n: int) -> None:
        """u <- normalize(W v), v <- normalize(W^T u), n times, in place and without a graph."""
        with no_grad():
            wa = w.detach()
            for _ in range(n):
                u = normalize(matmul(wa, self._v), dim=0, eps=self.eps)
                self._u.array[...] = u.array
                v = normalize(matmul(wa.mT, self._u), dim=0, eps=self.eps)
                self._v.array[...] = v.array
            self._u._version += 1
            self._v._version += 1

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        w = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(w, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * matmul(w, v)).sum()
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Reparametrize ``module.<name>`` as W / sigma(W), sigma the largest singular value of W seen as
    a (size(dim), -1) matrix, estimated by power iteration (Miyato et al., 2018). ``dim`` defaults to
    1 for transposed convolutions, else 0.

    >>> d = spectral_norm(nn.Linear(20, 40))
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..layers.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    return parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))


__all__ = ["weight_norm", "spectral_norm"]
