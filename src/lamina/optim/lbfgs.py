"""L-BFGS: a quasi-Newton method that re-evaluates the loss through a closure."""
from __future__ import annotations

import copy

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from ._common import real
from ._line_search import strong_wolfe
from .optimizer import Optimizer, _to_numpy


class LBFGS(Optimizer):
    r"""L-BFGS (Liu & Nocedal, 1989), as ``torch.optim.LBFGS``; ``step(closure)`` runs up to ``max_iter`` iterations.

    All parameters form one flat vector ``x`` with gradient ``g``. Each iteration::

        d = -H g        (two-loop recursion over the last history_size pairs s = x_{k+1} - x_k,
                         y = g_{k+1} - g_k with y.s > 1e-10, scaled by H0 = y.s / y.y; d = -g first)
        t = lr          (first iteration of all: min(1, 1 / sum|g|) * lr)
        t = strong_wolfe(x, d, t)    if line_search_fn == "strong_wolfe"
        x = x + t d

    It stops when ``max|g| <= tolerance_grad``, when ``g.d > -tolerance_change``, when
    ``max|t d|`` or the loss change is ``<= tolerance_change``, or after ``max_iter`` iterations
    or ``max_eval`` loss evaluations. The state (history, direction, counters) carries over from
    one ``step`` to the next.

    Args:
        params: an iterable of Tensors (one parameter group only).
        lr: learning rate, the step length of each iteration (default 1).
        max_iter: maximal number of iterations per ``step`` (default 20).
        max_eval: maximal number of closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is at most this (default 1e-7).
        tolerance_change: stop when the loss or the parameters change less than this (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: None (fixed step ``lr``) or ``"strong_wolfe"``.

    ``step(closure)`` needs a closure that zeroes the gradients, computes the loss, calls
    ``backward()`` and returns the loss; it returns the closure's first loss, as PyTorch does.
    State (on the first parameter, as in PyTorch): ``func_evals``, ``n_iter``, ``d``, ``t``,
    ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``al``.

    >>> opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss
    >>> opt.step(closure)
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        self._check_group(defaults)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             f"got {len(self.param_groups)} groups")
        self._params = self.param_groups[0]["params"]

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        if g["line_search_fn"] not in (None, "strong_wolfe"):
            # PyTorch raises this RuntimeError at the first step; lamina at once, with the same type
            raise RuntimeError(f"LBFGS: line_search_fn={g['line_search_fn']!r} is not supported "
                               "(only None or 'strong_wolfe')")
        if not isinstance(g["history_size"], int) or g["history_size"] < 1:
            self._invalid("history_size", g["history_size"], "must be a positive integer")

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------ the flat vector of all parameters
    def _gather_flat_grad(self):
        views = []
        for p in self._params:
            g = p.grad
            arr = real(p.xp.zeros_like(p.array) if g is None else g.array)
            views.append(arr.reshape(-1))
        return self._params[0].xp.concatenate(views)

    def _add_grad(self, step_size, update) -> None:
        offset = 0
        for p in self._params:
            a = real(p.array)
            n = a.size
            a += step_size * update[offset:offset + n].reshape(a.shape)   # p.add_(update, alpha=step_size)
            p._version += 1
            offset += n

    def _clone_param(self):
        return [p.array.copy() for p in self._params]

    def _set_param(self, arrays) -> None:
        for p, a in zip(self._params, arrays):
            p.array[...] = a
            p._version += 1

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------ the step
    def step(self, closure):  # noqa: C901 - one algorithm, kept in one piece as in the paper
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss of the first closure call."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that recomputes the loss and its gradients")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        def evaluate():
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = _arr(state.get("d")), state.get("t")
        old_dirs, old_stps = _arrs(state.get("old_dirs")), _arrs(state.get("old_stps"))
        ro, H_diag = state.get("ro"), state.get("H_diag")
        prev_flat_grad, prev_loss = _arr(state.get("prev_flat_grad")), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # the direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only if the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad                               # two-loop recursion: d = -H g
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q += old_dirs[i] * -al[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += old_stps[i] * (al[i] - be_i)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()
                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    lambda x, t, d: self._directional_evaluate(evaluate, x, t, d),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:  # re-evaluate unless this is the last iteration
                    loss = float(evaluate())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # the stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = Tensor._wrap(d)
        state["t"] = _num(t)
        state["old_dirs"] = [Tensor._wrap(a) for a in old_dirs]
        state["old_stps"] = [Tensor._wrap(a) for a in old_stps]
        state["ro"] = [_num(v) for v in ro]
        state["H_diag"] = _num(H_diag)
        state["prev_flat_grad"] = Tensor._wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if "al" in state:
            state["al"] = [_num(v) for v in state["al"]]
        return orig_loss

    # ------------------------------------------------------------ loading PyTorch's (or lamina's) state
    def _cast_state(self, p: Tensor, index, key, value):
        """The flat vectors become arrays of the parameters' dtype; numbers stay numbers."""
        if key in ("d", "prev_flat_grad"):
            return None if value is None else self._flat(value, key)
        if key in ("old_dirs", "old_stps"):
            return [self._flat(v, key) for v in value]
        if key in ("ro", "al"):
            return [_num(v) for v in value]
        if key in ("t", "H_diag", "prev_loss"):
            return _num(value)
        return copy.deepcopy(value)

    def _flat(self, value, key):
        if isinstance(value, Tensor):
            arr = value.array
        elif isinstance(value, (list, tuple)):
            arr = np.asarray(value)  # a JSON dump
        elif hasattr(value, "shape") and not type(value).__module__.startswith("torch"):
            arr = value  # a NumPy or CuPy array
        else:
            arr = _to_numpy(value)
        ps = self._params
        n = sum(real(p.array).size for p in ps)
        if arr is None or tuple(arr.shape) != (n,):
            raise ValueError(f"LBFGS.load_state_dict: state '{key}' should be a vector of the {n} parameter "
                             f"entries, got {None if arr is None else tuple(arr.shape)}")
        dtype = np.result_type(*[real(p.array).dtype for p in ps])
        return Tensor._wrap(ps[0].xp.array(arr, dtype=dtype, copy=True))


def _num(v):
    """A Python number from a float, an int, an array scalar or a 0-d tensor (None stays None)."""
    if v is None or isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    return v.item() if hasattr(v, "item") else v  # NumPy/CuPy scalars, lamina and torch 0-d tensors


def _arr(t):
    return None if t is None else t.array


def _arrs(ts):
    return None if ts is None else [t.array for t in ts]
