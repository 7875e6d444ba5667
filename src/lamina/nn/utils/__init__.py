"""nn.utils: gradient clipping (implemented in lamina.optim.clip), flat parameter vectors, counting,
parametrizations (weight/spectral norm) and the older hook-based weight_norm / spectral_norm.

    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    vec = nn.utils.parameters_to_vector(model.parameters())
"""
from __future__ import annotations

from ...autograd import no_grad
from ...tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale gradients so their global norm is at most ``max_norm``; returns the norm before clipping.

    ``foreach`` is accepted for PyTorch compatibility and ignored."""
    from ...optim.clip import clip_grad_norm_ as impl

    return impl(parameters, max_norm, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    from ...optim.clip import clip_grad_value_ as impl

    return impl(parameters, clip_value)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite: bool = False, foreach=None):
    """The p-norm of all ``tensors`` together (as if concatenated into one vector)."""
    from ...optim.clip import get_total_norm as impl

    return impl(tensors, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale gradients by max_norm / (total_norm + 1e-6) where that is below 1 (given a precomputed norm)."""
    from ...optim.clip import clip_grads_with_norm_ as impl

    return impl(parameters, max_norm, total_norm)


def _as_list(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    from ...ops.shape import cat

    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    _check_same_device(params, "parameters_to_vector")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place (no graph)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    params = _as_list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters hold {total}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = vec.array[offset:offset + n].reshape(p.shape).astype(p.dtype, copy=False)
            p._version += 1
            offset += n


def count_parameters(module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module`` (shared parameters counted once)."""
    return module.num_parameters(trainable_only=trainable_only)


def _check_same_device(params, name):
    devs = {str(p.device) for p in params}
    if len(devs) > 1:
        raise TypeError(f"{name}: found parameters on different devices: {sorted(devs)}")

from . import rnn  # noqa: E402,F401  (lamina.nn.utils.rnn, as torch.nn.utils.rnn)
from . import parametrizations, parametrize, prune, stateless  # noqa: E402,F401
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm  # noqa: E402,F401


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)``. torch skips the parameters' initialisation here to save time;
    lamina initialises them anyway (same module, values you overwrite either way)."""
    return module_cls(*args, **kwargs)
