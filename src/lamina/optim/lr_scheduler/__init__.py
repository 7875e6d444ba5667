"""Learning-rate schedulers, as ``torch.optim.lr_scheduler`` (same formulas, same values).

A scheduler changes ``group['lr']`` of every parameter group of its optimizer. Creating it
sets the lr for epoch 0; call ``scheduler.step()`` after ``optimizer.step()``, once per epoch
(or per batch, for OneCycleLR and CyclicLR). ``get_last_lr()`` gives the current lrs.

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        train_one_epoch(); sched.step()

Most schedulers use PyTorch's recursive ("chainable") form, which updates the current lr, so
they compose (several schedulers on one optimizer, SequentialLR) and match PyTorch exactly.
``state_dict()`` holds every attribute but the optimizer (plain numbers, lists, strings).

Files: ``base.py`` (LRScheduler, LambdaLR, MultiplicativeLR), ``decay.py`` (StepLR, MultiStepLR,
ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR), ``cyclic.py``
(CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR), ``plateau.py`` (ReduceLROnPlateau),
``composite.py`` (SequentialLR, ChainedScheduler).
"""
from .base import LambdaLR, LRScheduler, MultiplicativeLR
from .composite import ChainedScheduler, SequentialLR
from .cyclic import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from .decay import ConstantLR, CosineAnnealingLR, ExponentialLR, LinearLR, MultiStepLR, PolynomialLR, StepLR
from .plateau import ReduceLROnPlateau

_LRScheduler = LRScheduler

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
           "CyclicLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"]
