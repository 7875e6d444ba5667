"""``nn.DataParallel``: lets scripts written for several GPUs run unchanged on one device."""
from __future__ import annotations

import warnings

from ..module import Module


class DataParallel(Module):
    """Wraps ``module`` and calls it: ``DataParallel(m)(x) == m(x)``.

    lamina runs the module on the one device its parameters live on; it does not split the
    batch across GPUs (``device_ids`` with more than one entry warns). The wrapper exists so
    that PyTorch scripts keep working: ``.module`` is the wrapped model and the state dict
    keys carry the ``'module.'`` prefix, exactly as PyTorch saves them.

    >>> net = nn.DataParallel(nn.Linear(4, 2))
    >>> list(net.state_dict())          # ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected an nn.Module to wrap, got {type(module).__name__}")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim
        if len(self.device_ids) > 1:
            warnings.warn(f"DataParallel(device_ids={self.device_ids}): lamina runs the module on one device and does "
                          "not split the batch across GPUs", UserWarning, stacklevel=2)

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
