"""lamina.optim: optimizers, learning-rate schedulers, weight averaging, gradient clipping and weight penalties.

    from lamina import optim
    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=1000)
    loss.backward(); optim.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step()

The optimizers are PyTorch's, with its arguments, defaults and state_dict layout: SGD, Adam,
AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD, SparseAdam (dense
gradients, row-masked), Adafactor and LBFGS (``step(closure)``). Updates run in place on the
parameters' arrays, with fused Numba kernels on the CPU for the elementwise rules (set
``LAMINA_DISABLE_NUMBA=1`` to use the NumPy path), the same array code on CuPy arrays.
``lr_scheduler`` holds the schedulers, ``swa_utils`` stochastic weight averaging and EMA.
"""
from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .regularization import l1_penalty, l2_penalty
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "SparseAdam", "Adafactor", "LBFGS", "lr_scheduler", "swa_utils",
           "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "l1_penalty", "l2_penalty"]
