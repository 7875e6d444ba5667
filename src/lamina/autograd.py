"""Reverse-mode automatic differentiation: Function, grad mode, the backward engine, grad().

A differentiable op is a ``Function`` subclass with

* ``forward(*arrays) -> array | tuple[array]`` on raw xp arrays, and
* ``backward(*grad_outputs: Tensor) -> Tensor | None | tuple`` written with Tensor operations,

so that the backward pass itself can be recorded (``create_graph=True``) and differentiated
again. Under the default ``create_graph=False`` the engine runs every backward with grad mode
off, so it records nothing and costs about what array code costs. An op whose backward works
on raw arrays sets ``differentiable = False``; asking it for a second derivative raises.

Calling an op records a node only when grad mode is on and some input requires grad. The node
keeps its inputs (to read their values in backward) and, separately, the *edges* the gradient
flows along: the producing node and output slot of each input, or the leaf tensor itself.
"""
from __future__ import annotations

import functools
import itertools
import threading

from . import _threads

class _GradState(threading.local):
    enabled = True  # grad mode is per thread, on by default


_state = _GradState()


def is_grad_enabled() -> bool:
    return _state.enabled


def _set_enabled(flag: bool) -> None:
    _state.enabled = flag


class set_grad_enabled:
    """Context manager / decorator that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = is_grad_enabled()
        _set_enabled(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_enabled(self.prev)
        return False


class _GradMode:
    mode = True

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self.prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with lamina.no_grad():`` — operations inside record no graph (inference, updates)."""

    mode = False


class enable_grad(_GradMode):
    """``with lamina.enable_grad():`` — turn recording back on inside a ``no_grad`` block."""

    mode = True


class Function:
    """Base class of every differentiable op.

    Subclasses take their non-tensor parameters in ``__init__`` and are called on tensors:
    ``Mul()(a, b)``. ``forward`` sees arrays; ``backward`` gets one gradient Tensor per output
    and returns one gradient (Tensor or None) per input.

    Class attributes:
      differentiable  backward is built from Tensor ops, so second derivatives work.
      saves_inputs    backward reads the input tensors' values (an in-place change to an
                      input after the forward is then an error at backward time).
      keep_outputs    backward reads the outputs (``self.outputs``), e.g. exp, tanh, sigmoid.
    """

    differentiable = True
    saves_inputs = True
    keep_outputs = False

    inputs = None  # the input tensors, set while the node is in a graph
    edges = None
    outputs = None
    needs_input_grad = ()

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @property
    def name(self) -> str:
        return type(self).__name__

    def __call__(self, *inputs):
        if _state.enabled:
            for t in inputs:
                v = t._view
                if v is not None and v.ver != t._vc[0]:
                    sync_view(t)  # its base changed in place since: take the base's new history
        out = self.forward(*[t.array for t in inputs])
        wrap = Tensor._wrap
        if not (_state.enabled and any(t._requires_grad for t in inputs)):
            return tuple([wrap(o) for o in out]) if isinstance(out, tuple) else wrap(out)
        self.seq = next(_sequence)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        needs = tuple([t._requires_grad for t in inputs])
        results = tuple([wrap(o) for o in outs])
        self.needs_input_grad = needs
        self.inputs = inputs
        self.edges = tuple(
            (t._ctx, t._out_idx) if t._ctx is not None else (None, t) if t._requires_grad else None
            for t in inputs
        )
        if self.saves_inputs:
            self.versions = tuple([t._vc[0] for t in inputs])
        self.out_meta = tuple((o.shape, o.dtype) for o in outs)
        for i, r in enumerate(results):
            if r.array.dtype.kind in "fc":
                r._requires_grad = True
                r._ctx = self
                r._out_idx = i
        if self.keep_outputs:
            self.outputs = results
            self.output_versions = tuple([r._vc[0] for r in results])
        return results if multi else results[0]

    def _check_saved(self):
        if self.inputs is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {self.name}): its saved "
                "values were freed after the first backward. Pass retain_graph=True to the first "
                "backward (or lamina.grad) if you need to backward twice.")
        if self.saves_inputs:
            for i, (t, v) in enumerate(zip(self.inputs, self.versions)):
                if t._version != v:
                    raise RuntimeError(
                        f"one of the tensors needed for the gradient of {self.name} (input {i}, shape "
                        f"{t.shape}) was modified by an in-place operation after it was used; "
                        "use an out-of-place operation instead")
        if self.keep_outputs:
            for i, (t, v) in enumerate(zip(self.outputs, self.output_versions)):
                if t._version != v:
                    raise RuntimeError(
                        f"the output {i} of {self.name} (needed for its gradient) was modified by an "
                        "in-place operation; use an out-of-place operation instead")

    def release(self):
        """Free what the forward saved (the graph can no longer be walked through this node)."""
        self.inputs = None
        self.outputs = None
        for k in [k for k in self.__dict__ if k not in ("edges", "needs_input_grad", "out_meta", "seq")]:
            self.__dict__.pop(k)
        self.__dict__["_released"] = True


_sequence = itertools.count()  # nodes are numbered in the order they are recorded

Tensor = None  # bound by tensor.py once the class exists (tensor.py imports this module)


class ViewOf:
    """What makes a tensor a view: its root ``base`` and ``fn`` with ``fn(base)`` giving the view
    again (a composition of view ops, replayed to give the view the base's current history);
    ``ver`` is the version of the shared memory when the view's node was last taken."""

    __slots__ = ("base", "fn", "ver")

    def __init__(self, base, fn, ver):
        self.base, self.fn, self.ver = base, fn, ver


def sync_view(t) -> None:
    """Give the view ``t`` the history of its base as it is now (after in-place changes to the
    base or to another view of it), as PyTorch regenerates a view's grad_fn."""
    v = t._view
    if v.ver == t._vc[0] or not _state.enabled:
        return
    v.ver = t._vc[0]
    if v.base._requires_grad:
        r = v.fn(v.base)
        t._ctx, t._out_idx, t._requires_grad = r._ctx, r._out_idx, r._requires_grad


def bind_tensor_class(cls) -> None:
    global Tensor
    Tensor = cls


# ---------------------------------------------------------------- the engine
def _topological_order(roots):
    """Nodes reachable from ``roots``, each after every node that consumes its outputs."""
    order, seen = [], set()
    for root in roots:
        if root is None or id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.edges))]
        while stack:
            node, it = stack[-1]
            for edge in it:
                if edge is not None and edge[0] is not None and id(edge[0]) not in seen:
                    seen.add(id(edge[0]))
                    stack.append((edge[0], iter(edge[0].edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _accumulate(store: dict, key, g):
    prev = store.get(key)
    store[key] = g if prev is None else prev + g


def run_backward(outputs, grad_outputs, *, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False, accumulate_into_grad=True):
    """Backpropagate ``grad_outputs`` from ``outputs``.

    With ``inputs=None`` the gradients of every leaf that requires grad are added to its
    ``.grad``. Otherwise the gradients with respect to ``inputs`` are returned (and ``.grad``
    is left alone), as ``torch.autograd.grad`` does.
    """
    node_grads: dict = {}  # (id(node), slot) -> Tensor
    leaf_grads: dict = {}  # id(leaf) -> Tensor
    leaves: dict = {}
    roots = []
    for out, g in zip(outputs, grad_outputs):
        if not out._requires_grad:
            raise RuntimeError(
                f"element of the outputs (shape {out.shape}) does not require grad and has no grad_fn: "
                "nothing to differentiate")
        if out._ctx is None:
            _accumulate(leaf_grads, id(out), g)
            leaves[id(out)] = out
        else:
            _accumulate(node_grads, (id(out._ctx), out._out_idx), g)
            roots.append(out._ctx)

    capture = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, expected a Tensor")
            if not t._requires_grad:
                raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) does not require grad")
            capture.setdefault((id(t._ctx), t._out_idx) if t._ctx is not None else id(t), []).append(i)
    results = [None] * (len(inputs) if inputs is not None else 0)

    order = _topological_order(roots)
    prev_mode = is_grad_enabled()
    _set_enabled(create_graph)
    _threads.policy.__enter__()  # lamina's work: BLAS on one thread, ops split over lamina's threads
    try:
        for node in order:
            node._check_saved()
            gys = []
            for slot, (shape, dtype) in enumerate(node.out_meta):
                key = (id(node), slot)
                g = node_grads.pop(key, None)
                hooks = node.__dict__.get("_out_hooks", {}).get(slot)
                if g is not None and hooks:
                    g = _run_hooks(hooks, g)
                if key in capture and g is not None:
                    for i in capture[key]:
                        results[i] = g
                if g is None:
                    g = Tensor._wrap(_zeros(node, shape, dtype))
                gys.append(g)
            if create_graph and not node.differentiable:
                raise RuntimeError(
                    f"{node.name}'s backward is computed on raw arrays and cannot be differentiated "
                    "again (create_graph=True); no second derivative is available through this op")
            gxs = node.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for i, (edge, gx) in enumerate(zip(node.edges, gxs)):
                if edge is None or gx is None:
                    continue
                inp = node.inputs[i]
                if gx.shape != inp.shape:
                    raise RuntimeError(
                        f"internal error: {node.name}.backward returned a gradient of shape {gx.shape} "
                        f"for input {i} of shape {inp.shape}")
                if gx.dtype != inp.dtype:
                    gx = gx.to(inp.dtype)
                parent, slot = edge
                if parent is None:
                    _accumulate(leaf_grads, id(slot), gx)
                    leaves[id(slot)] = slot
                else:
                    _accumulate(node_grads, (id(parent), slot), gx)
            if not retain_graph:
                node.release()
    finally:
        _threads.policy.__exit__(None, None, None)
        _set_enabled(prev_mode)

    with set_grad_enabled(create_graph):
        handed = set()
        for lid, g in leaf_grads.items():
            leaf = leaves[lid]
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g)
            if inputs is not None:
                for i in capture.get(lid, ()):
                    results[i] = g
                continue
            if not accumulate_into_grad:
                continue
            if leaf.grad is None:
                if id(g.array) in handed or not getattr(g.array.flags, "writeable", True):
                    g = Tensor._wrap(g.array.copy()) if not create_graph else g.clone()
                leaf.grad = g
            else:
                leaf.grad = leaf.grad + g if create_graph else Tensor._wrap(leaf.grad.array + g.array)
            handed.add(id(leaf.grad.array))

    if inputs is None:
        return None
    for i, r in enumerate(results):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: inputs[{i}] (shape {inputs[i].shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it")
    return tuple(results)


def _zeros(node, shape, dtype):
    xp = node.inputs[0].xp if node.inputs else __import__("numpy")
    return xp.zeros(shape, dtype=dtype)


def _run_hooks(hooks, g):
    for hook in hooks:
        new = hook(g)
        if new is not None:
            g = new
    return g


def _seed_gradients(outputs, grad_outputs):
    seeds = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if out.array.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs, but the output has shape "
                    f"{out.shape}; pass gradient= (a tensor of that shape) to backward")
            g = Tensor._wrap(out.xp.ones(out.shape, dtype=out.dtype))
        else:
            if not isinstance(g, Tensor):
                g = Tensor(g, dtype=out.dtype)
            if g.shape != out.shape:
                raise RuntimeError(f"backward: gradient has shape {g.shape} but the output has shape {out.shape}")
        seeds.append(g)
    return seeds


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    if isinstance(tensors, Tensor):
        tensors = (tensors,)
    if isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    tensors = tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed_gradients(tensors, grad_tensors)
    run_backward(tensors, seeds, retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple (``.grad`` untouched).

    With ``create_graph=True`` the returned gradients are themselves differentiable, which gives
    Hessian-vector products and gradient penalties::

        g, = lamina.grad(loss, x, create_graph=True)
        hvp, = lamina.grad(g, x, grad_outputs=v)
    """
    single_out = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_out else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed_gradients(outputs, grad_outputs)
    return run_backward(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph,
                        inputs=inputs, allow_unused=allow_unused)
