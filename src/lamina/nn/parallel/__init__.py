"""lamina.nn.parallel: ``DataParallel`` as a one-device pass-through (``torch.nn.parallel``)."""
from .data_parallel import DataParallel

__all__ = ["DataParallel"]
