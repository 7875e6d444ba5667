"""lamina.compat: running PyTorch code on lamina, and measuring how much of PyTorch lamina covers.

* :func:`as_torch` makes ``import torch`` give lamina (``restore()`` undoes it; also a
  context manager), so an existing training script runs unchanged where lamina has what it uses.
* ``python -m lamina.compat`` prints the coverage table: for torch.Tensor methods, torch.*
  functions, torch.nn, torch.nn.functional, torch.optim (+ lr_scheduler), torch.distributions
  and more, what lamina has, what it lacks and what it refuses on purpose (coverage.py; it
  imports PyTorch as the reference, in its own process).
"""
from .alias import as_torch, is_active, restore

__all__ = ["as_torch", "is_active", "restore"]
