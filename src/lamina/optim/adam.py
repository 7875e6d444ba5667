"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, kernels


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``), at step ``t``::

        g = g + weight_decay * p                 (or, decoupled: p = p * (1 - lr * weight_decay))
        m = m + (1 - beta1) * (g - m)            (first moment, torch.lerp)
        v = beta2 * v + (1 - beta2) * g * g      (second moment)
        v_max = max(v_max, v); use v_max for v   (only if amsgrad)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: (beta1, beta2), decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        amsgrad: use the AMSGrad variant (the running maximum of v).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly, as AdamW does.

    State per parameter: ``step`` (a float32 0-d tensor), ``exp_avg``, ``exp_avg_sq``, and
    ``max_exp_avg_sq`` with amsgrad. On contiguous NumPy float32/float64 parameters the update
    is one fused Numba kernel; other arrays (CuPy, strided views) take the in-place array path.

    >>> opt = Adam(model.parameters(), lr=1e-3)
    >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        if not g["eps"] >= 0.0:
            self._invalid("eps", g["eps"], "must be >= 0")
        betas = g["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            self._invalid("betas", betas, "expected a pair (beta1, beta2)")
        for i in (0, 1):
            if not 0.0 <= betas[i] < 1.0:
                raise ValueError(f"{self._name}: invalid beta parameter at index {i}: betas={tuple(betas)} "
                                 "(each beta must be in [0, 1))")
        if not g["weight_decay"] >= 0.0:
            self._invalid("weight_decay", g["weight_decay"], "must be >= 0")

    def _step_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        K = kernels()
        scalars = {}  # (dtype, step) -> the kernel's scalar array, shared by the group's params
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            pd = p.array
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                state["exp_avg"] = Tensor._wrap(xp.zeros_like(pd))
                state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(pd))
                if amsgrad:
                    state["max_exp_avg_sq"] = Tensor._wrap(xp.zeros_like(pd))
            t = self._bump_step(state)
            bias_correction1 = 1 - beta1 ** t
            bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
            step_size = lr / bias_correction1
            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            vmax = state["max_exp_avg_sq"].array if amsgrad else v
            views = self._flat_views(p, (pd, m, v, vmax))
            if views is not None:
                s = scalars.get((pd.dtype, t))
                if s is None:
                    s = scalars[pd.dtype, t] = K.scalars(pd.dtype, 1 - beta1, 0, beta2, 1 - beta2, wd, 1 - lr * wd,
                                                         bias_correction2_sqrt, eps, -step_size)
                    s[1] = 1 - s[0]
                fp, fm, fv, fx = views
                K.adam(fp, K.flat_grad(g, pd), fm, fv, fx, s, amsgrad, maximize, decoupled)
            else:
                _adam_xp(pd, g, m, v, vmax, lr, beta1, beta2, eps, wd, amsgrad, maximize, decoupled,
                         bias_correction2_sqrt, step_size)
            p._version += 1


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    The weights decay directly, outside the adaptive step::

        p = p * (1 - lr * weight_decay)
        m, v updated as in Adam (without weight decay in g)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Same arguments as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.

    >>> opt = AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _adam_xp(p, g, m, v, vmax, lr, beta1, beta2, eps, wd, amsgrad, maximize, decoupled,
             bias_correction2_sqrt, step_size):
    """The Adam update with in-place array operations, in PyTorch's order (any array module)."""
    xp = array_module(p)
    one = p.dtype.type(1)
    if maximize:
        g = -g
    if wd != 0:
        if decoupled:
            p *= 1 - lr * wd
        else:
            g = g + wd * p
    w = p.dtype.type(1 - beta1)
    tmp = g - m                             # m.lerp_(g, w)
    if w < 0.5:
        tmp *= w
        m += tmp
    else:
        tmp *= one - w
        xp.subtract(g, tmp, out=m)
    xp.multiply(g, 1 - beta2, out=tmp)      # v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    tmp *= g
    v *= beta2
    v += tmp
    if amsgrad:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=tmp)                     # denom = v.sqrt() / sqrt(bc2) + eps
    tmp /= bias_correction2_sqrt
    tmp += eps
    num = xp.multiply(m, -step_size)        # p.addcdiv_(m, denom, value=-step_size)
    num /= tmp
    p += num
