"""lamina.optim: optimizers, learning-rate schedulers, gradient clipping and weight penalties.

    from lamina import optim
    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=1000)
    loss.backward(); optim.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step()

Updates run in place on the parameters' arrays with fused Numba kernels on the CPU (set
``LAMINA_DISABLE_NUMBA=1`` to use the NumPy path), the same array code on CuPy arrays.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .optimizer import Optimizer
from .regularization import l1_penalty, l2_penalty
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler",
           "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "l1_penalty", "l2_penalty"]
