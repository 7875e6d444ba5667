"""lamina.utils: PyTorch's ``torch.utils`` paths. ``lamina.utils.data`` *is* :mod:`lamina.data`
(the same module object), so ``from lamina.utils.data import DataLoader`` and scripts that say
``torch.utils.data`` under :func:`lamina.compat.as_torch` get lamina's DataLoader."""
import sys

from .. import data

sys.modules.setdefault(__name__ + ".data", data)

__all__ = ["data"]
