"""Adversarial attacks: FGSM and PGD, under an L-inf or L2 budget, untargeted or targeted.

    FGSM (Goodfellow et al., 2015):  x_adv = clip(x + eps * s(grad_x J(x, y)))
    PGD  (Madry et al., 2018):       x_0 = x (+ uniform noise in the ball, ``random_start``)
                                     x_{t+1} = Proj_{B(x, eps)}(x_t + alpha * s(grad_x J(x_t, y)))
      s(g) = sign(g) for L-inf, g / ||g||_2 per example for L2; Proj clips (L-inf) or rescales (L2)
      the perturbation and then clamps to the input range.

J is what the attack ascends: the cross-entropy of the true labels (untargeted), or minus the
cross-entropy of the ``targets`` (targeted: pull the prediction towards them). The per-step loss
``losses[t]`` is the batch mean of J at x_t (t = 0..steps), so an attack that works shows it rising.
The model runs in eval mode during the attack; its parameters get no gradients.

>>> res = pgd(model, x, y, eps=0.3, steps=20)               # inputs in [0, 1]
>>> res.inputs, res.losses                                    # adversarial inputs, (21,) losses
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .. import backend
from ..autograd import enable_grad, grad, no_grad
from ..nn import functional as F
from ..tensor import Tensor

__all__ = ["AttackResult", "fgsm", "pgd", "attack_loss"]


class AttackResult(NamedTuple):
    """``inputs``: the adversarial inputs (a Tensor, or a NumPy array when NumPy came in);
    ``losses``: (steps + 1,) batch-mean attack objective J at each iterate (x_0 ... x_T)."""

    inputs: object
    losses: np.ndarray


def _check(eps, norm, clamp):
    if not isinstance(eps, numbers.Real) or eps < 0:
        raise ValueError(f"attack: eps must be a number >= 0, got {eps!r}")
    if norm not in ("linf", "l2"):
        raise ValueError(f"attack: norm must be 'linf' or 'l2', got {norm!r}")
    if clamp is not None and (len(clamp) != 2 or clamp[0] >= clamp[1]):
        raise ValueError(f"attack: clamp must be (low, high) with low < high, or None, got {clamp!r}")


def _as_input(x, model):
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(backend.get_default_dtype())
    t = Tensor._wrap(arr)
    for p in model.parameters():
        if p.device != t.device:
            t = t.to(p.device)
        break
    return t


def _as_labels(y, n, xp, what):
    arr = y.array if isinstance(y, Tensor) else np.asarray(y)
    if arr.dtype.kind not in "iu" or arr.shape != (n,):
        raise ValueError(f"attack: {what} must be {n} integer class labels, got shape {arr.shape}, dtype {arr.dtype}")
    return Tensor._wrap(xp.asarray(arr.astype(np.int64)))


def attack_loss(model, x: Tensor, labels: Tensor, targeted: bool, loss_fn=None) -> Tensor:
    """J summed over the batch: CE(model(x), y) (untargeted) or -CE(model(x), target) (targeted)."""
    out = model(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    loss = (loss_fn or (lambda o, t: F.cross_entropy(o, t, reduction="sum")))(out, labels)
    return -loss if targeted else loss


def _per_example_norm(a, xp):
    return xp.sqrt((a.reshape(a.shape[0], -1).astype(np.float64) ** 2).sum(1)).reshape((-1,) + (1,) * (a.ndim - 1))


def _project(delta, eps, norm, xp):
    if norm == "linf":
        return xp.clip(delta, -eps, eps)
    n = _per_example_norm(delta, xp)
    return (delta * xp.minimum(1.0, eps / xp.maximum(n, 1e-12))).astype(delta.dtype)


def _step(g, alpha, norm, xp):
    if norm == "linf":
        return alpha * xp.sign(g)
    return (alpha * g / xp.maximum(_per_example_norm(g, xp), 1e-12)).astype(g.dtype)


def _frozen(model):
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    return params


def pgd(model, inputs, labels, eps: float, alpha: float | None = None, steps: int = 10, norm: str = "linf",
        random_start: bool = True, targeted: bool = False, targets=None, clamp=(0.0, 1.0), loss_fn=None,
        generator=None) -> AttackResult:
    """Projected gradient descent attack (see the module docstring) -> ``AttackResult(inputs, losses)``.

    inputs (N, ...) and integer ``labels`` (N,). eps: the budget (L-inf: per feature; L2: per example).
    alpha: the step size (default 2.5 * eps / steps, Madry et al.). targeted: move the prediction
    to ``targets`` (N,) (required then). clamp: the valid input range (None: unbounded). loss_fn:
    ``(outputs, labels) -> summed loss`` instead of cross-entropy. generator: the random start.
    """
    _check(eps, norm, clamp)
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"pgd: steps must be an int >= 0, got {steps!r}")
    if targeted and targets is None:
        raise ValueError("pgd: a targeted attack needs targets (the classes to push the prediction to)")
    alpha = 2.5 * eps / max(int(steps), 1) if alpha is None else float(alpha)
    was_numpy = not isinstance(inputs, Tensor)
    x = _as_input(inputs, model)
    arr, xp = x.array, x.xp
    lab = _as_labels(targets if targeted else labels, arr.shape[0], xp, "targets" if targeted else "labels")
    delta = xp.zeros_like(arr)
    if random_start and eps > 0:
        rng = backend.rng(generator)
        if norm == "linf":
            delta = xp.asarray(rng.uniform(-eps, eps, arr.shape), dtype=arr.dtype)
        else:     # uniform in the L2 ball: a random direction, radius eps * u^(1/d)
            d = xp.asarray(rng.standard_normal(arr.shape), dtype=arr.dtype)
            dim = arr[0].size
            r = xp.asarray(rng.random((arr.shape[0],) + (1,) * (arr.ndim - 1)) ** (1.0 / dim), dtype=arr.dtype)
            delta = (d / xp.maximum(_per_example_norm(d, xp), 1e-12) * eps * r).astype(arr.dtype)
    lo, hi = clamp if clamp is not None else (None, None)
    adv = arr + delta if clamp is None else xp.clip(arr + delta, lo, hi)
    losses = []
    was_training = model.training
    model.eval()
    frozen = _frozen(model)
    try:
        for t in range(int(steps) + 1):
            with enable_grad():
                xa = Tensor._wrap(adv).requires_grad_(True)
                J = attack_loss(model, xa, lab, targeted, loss_fn)
                losses.append(float(J.array) / arr.shape[0])
                if t == steps:
                    break
                g, = grad(J, xa)
            delta = _project(adv + _step(g.array, alpha, norm, xp) - arr, eps, norm, xp)
            adv = arr + delta if clamp is None else xp.clip(arr + delta, lo, hi)
    finally:
        for p in frozen:
            p.requires_grad_(True)
        model.train(was_training)
    out = Tensor._wrap(adv.astype(arr.dtype, copy=False))
    return AttackResult(out.numpy() if was_numpy and xp is np else out, np.array(losses))


def fgsm(model, inputs, labels, eps: float, norm: str = "linf", targeted: bool = False, targets=None,
         clamp=(0.0, 1.0), loss_fn=None) -> AttackResult:
    """Fast gradient sign method: one step of size eps from x (PGD with steps=1, alpha=eps, no random start).

    ``losses`` holds J at x and at x_adv. With ``norm='l2'`` the step is eps * g / ||g||_2 (fast gradient method).
    """
    return pgd(model, inputs, labels, eps, alpha=eps, steps=1, norm=norm, random_start=False, targeted=targeted,
               targets=targets, clamp=clamp, loss_fn=loss_fn)


def predict_labels(model, inputs, batch_size: int = 512) -> np.ndarray:
    """argmax of the model's outputs (N,) in eval mode without a graph."""
    x = _as_input(inputs, model)
    was = model.training
    model.eval()
    try:
        with no_grad():
            outs = []
            for i in range(0, x.shape[0], batch_size):
                o = model(Tensor._wrap(x.array[i:i + batch_size]))
                o = o[0] if isinstance(o, (tuple, list)) else o
                outs.append(o.array.argmax(1))
    finally:
        model.train(was)
    res = x.xp.concatenate(outs)
    return np.asarray(res.get() if hasattr(res, "get") else res)


__all__ += ["predict_labels"]
