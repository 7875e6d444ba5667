"""The older, hook-based weight and spectral normalisation (``torch.nn.utils.weight_norm`` and
``torch.nn.utils.spectral_norm``), kept for checkpoints and code written for them.

They replace ``weight`` by learned tensors (``weight_g``/``weight_v``, or ``weight_orig`` with the
``weight_u``/``weight_v`` power-iteration buffers) and recompute ``module.weight`` as a plain
attribute in a forward pre-hook. New code should use ``nn.utils.parametrizations``.
"""
from __future__ import annotations

import warnings

from ...autograd import no_grad
from ...ops.creation import randn
from ...ops.linalg import matmul
from ...tensor import Tensor
from ..module import Module
from ..norm_fns import normalize
from ..parameter import Parameter
from .parametrizations import norm_except_dim


class WeightNorm:
    """Forward pre-hook: weight = g v / ||v|| from the parameters ``<name>_g`` and ``<name>_v``."""

    def __init__(self, name: str, dim: int):
        self.name, self.dim = name, -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, 2, self.dim))

    def __call__(self, module, args):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Deprecated (as in PyTorch): weight = g v / ||v|| with parameters ``weight_g`` and ``weight_v``."""
    warnings.warn("`lamina.nn.utils.weight_norm` is deprecated in favor of "
                  "`lamina.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    fn = WeightNorm(name, dim)
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"weight_norm: module has no parameter named {name!r}")
    del module._parameters[name]
    with no_grad():
        g = norm_except_dim(weight, 2, fn.dim)
    module.register_parameter(name + "_g", Parameter(g.array.copy()))
    module.register_parameter(name + "_v", Parameter(weight.array))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Fold g and v back into one ``weight`` parameter and remove the hook."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            with no_grad():
                w = hook.compute_weight(module)
            delattr(module, name)
            del module._parameters[name + "_g"]
            del module._parameters[name + "_v"]
            module.register_parameter(name, Parameter(w.array))
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


class SpectralNorm:
    """Forward pre-hook: weight = weight_orig / sigma, sigma = u^T W v, with a power-iteration step
    (v <- normalize(W^T u), u <- normalize(W v)) in training mode."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                             f"{n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        w = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                wd = w.detach()
                for _ in range(self.n_power_iterations):
                    v.array[...] = normalize(matmul(wd.mT, u), dim=0, eps=self.eps).array
                    u.array[...] = normalize(matmul(wd, v), dim=0, eps=self.eps).array
                u._version += 1
                v._version += 1
            u, v = u.clone(), v.clone()
        sigma = (u * matmul(w, v)).sum()
        return weight / sigma

    def __call__(self, module, args):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Spectral normalisation with a hook (parameter ``weight_orig``, buffers ``weight_u``, ``weight_v``)."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    if dim is None:
        from ..layers.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: module has no parameter named {name!r}")
    with no_grad():
        h, w = fn.reshape_weight_to_matrix(weight).shape
        u = normalize(randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
        v = normalize(randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Fold the current normalised weight back into an ordinary ``weight`` parameter."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            with no_grad():
                w = hook.compute_weight(module, do_power_iteration=False)
            delattr(module, name)
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"]
            del module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(w.array))
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
