"""``DistributedDataParallel``: one model replica per process, gradients averaged over the ranks.

    g_p = (1 / W) * sum_r g_p,r          for every parameter p, after each backward

How (PyTorch's DDP design, on MPI):

* At construction the parameters and buffers are broadcast from rank 0, so every replica starts
  equal; with ``broadcast_buffers`` the buffers (BatchNorm running statistics) are broadcast
  again before each training forward.
* The parameters are grouped into *buckets* of about ``bucket_cap_mb`` (in reverse registration
  order, the order backward tends to produce them). Each bucket owns one flat host buffer.
* In a training forward, each parameter enters the graph through an identity node
  (``_GradReady``). The engine runs that node once every gradient of the parameter has been
  summed, so its backward is the parameter's *gradient-ready hook*: it copies the gradient into
  its bucket and, when the bucket is full, launches a non-blocking ``Iallreduce`` on it (buckets
  launch in index order, the same on every rank). Backward then goes on computing the earlier
  layers' gradients while the launched buckets travel (each later hook also polls the requests
  in flight, which drives MPI's progress).
* When the last bucket is launched (the end of backward) the reducer waits for all of them,
  divides by W and hands each parameter its averaged ``.grad`` — before the optimizer step.

``no_sync()`` skips the reduction (gradients accumulate locally; the first backward outside
it reduces the sum). Parameters the forward did not use are found by walking the graph from
the outputs and contribute zeros. ``trace=True`` records (time, event, index) tuples in
``reducer.events``: 'ready' (parameter), 'launch' / 'done' (bucket), 'finish'.

    model = DistributedDataParallel(net)           # after init_process_group()
    loss_fn(model(x), y).backward()                 # gradients averaged over the ranks
    opt.step()
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor
from .process_group import get_process_group

__all__ = ["DistributedDataParallel", "allreduce_gradients"]


class _GradReady(Function):
    """y = p (the parameter enters the graph here); backward: dp is complete -> the reducer.

    Returns no gradient to the leaf: the reducer owns ``p.grad`` (it writes the average)."""

    saves_inputs = False

    def __init__(self, reducer, index: int):
        self.reducer, self.index = reducer, index

    def forward(self, a):
        return a

    def backward(self, gy):
        self.reducer.mark_ready(self.index, gy)
        return None


class _Bucket:
    __slots__ = ("indices", "offsets", "buffer", "pending", "request", "done")

    def __init__(self, indices, sizes, dtype):
        self.indices = list(indices)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=dtype)
        self.pending, self.request, self.done = 0, None, False


class Reducer:
    """The buckets of a parameter list and the bookkeeping of one backward's reduction."""

    def __init__(self, params, group, bucket_cap_mb: float, trace: bool = False):
        self.params, self.group, self.world = list(params), group, group.world_size
        self.trace, self.events = trace, []
        cap = max(1, int(bucket_cap_mb * 2**20))
        self.buckets, self.where = [], {}
        cur, size, dtype = [], 0, None
        for i in reversed(range(len(self.params))):  # backward meets the last layers first
            p = self.params[i]
            nbytes = p.array.size * p.array.dtype.itemsize
            if cur and (size + nbytes > cap or p.array.dtype != dtype):
                self._add_bucket(cur, dtype)
                cur, size = [], 0
            cur.append(i)
            size += nbytes
            dtype = p.array.dtype
        if cur:
            self._add_bucket(cur, dtype)
        self.active = False

    def _add_bucket(self, indices, dtype):
        b = _Bucket(indices, [self.params[i].array.size for i in indices], dtype)
        for j, i in enumerate(indices):
            self.where[i] = (len(self.buckets), j)
        self.buckets.append(b)

    def _log(self, what, index):
        if self.trace:
            self.events.append((time.perf_counter(), what, index))

    # ------------------------------------------------------------ one backward
    def prepare(self) -> None:
        """A new reduction: finish a stale one (a forward without backward) first."""
        if self.active:
            self.finish()
        for b in self.buckets:
            b.pending, b.request, b.done = len(b.indices), None, False
        self.next_bucket, self.ready = 0, [False] * len(self.params)
        self.active = True

    def mark_ready(self, i: int, g) -> None:
        """The gradient ``g`` (a Tensor) of parameter ``i`` is complete for this backward."""
        if not self.active or self.ready[i]:
            return
        self.ready[i] = True
        self._log("ready", i)
        bi, j = self.where[i]
        b = self.buckets[bi]
        view = b.buffer[b.offsets[j]:b.offsets[j + 1]]
        p = self.params[i]
        garr = None if g is None else g.array
        if garr is not None and not isinstance(garr, np.ndarray):
            garr = backend.to_device(garr, backend.cpu)
        prev = None if p.grad is None else p.grad.array
        if prev is not None and not isinstance(prev, np.ndarray):
            prev = backend.to_device(prev, backend.cpu)
        if garr is None:
            view[...] = 0 if prev is None else prev.reshape(-1)
        elif prev is None:
            view[...] = garr.reshape(-1)
        else:
            np.add(prev.reshape(-1), garr.reshape(-1), out=view)
        b.pending -= 1
        self._poll()
        if b.pending == 0:
            self._launch_ready()

    def _poll(self) -> None:
        """Test the requests in flight (MPI progresses non-blocking collectives inside its calls)."""
        for k in range(self.next_bucket):
            b = self.buckets[k]
            if not b.done and b.request is not None and b.request.Test():
                b.done = True
                self._log("done", k)

    def _launch_ready(self) -> None:
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            b = self.buckets[self.next_bucket]
            b.request = self.group.iall_reduce(b.buffer)
            if b.request is None:
                b.done = True
            self._log("launch", self.next_bucket)
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self.finish()

    def mark_unused(self, indices) -> None:
        for i in indices:
            self.mark_ready(i, None)

    def finish(self) -> None:
        """Wait for every bucket, average, and write each parameter's ``.grad``."""
        if not self.active:
            return
        self.active = False
        for i, r in enumerate(self.ready):  # a bucket never completed (forward without backward)
            if not r:
                self.ready[i] = True
                b = self.buckets[self.where[i][0]]
                b.pending -= 1
        while self.next_bucket < len(self.buckets):
            b = self.buckets[self.next_bucket]
            b.request = self.group.iall_reduce(b.buffer)
            self.next_bucket += 1
        for k, b in enumerate(self.buckets):
            if not b.done:
                self.group.wait(b.request, f"the gradient all-reduce of bucket {k}")
                b.done = True
                self._log("done", k)
            if self.world > 1:
                b.buffer /= self.world
            for j, i in enumerate(b.indices):
                p = self.params[i]
                flat = b.buffer[b.offsets[j]:b.offsets[j + 1]]
                arr = flat.reshape(p.shape)
                if not isinstance(p.array, np.ndarray):
                    arr = backend.array_module(p.array).asarray(arr)
                else:
                    arr = arr.copy()
                p.grad = Tensor._wrap(arr)
        self._log("finish", -1)


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _reached_params(outputs) -> set:
    """Indices of the ``_GradReady`` nodes reachable from ``outputs`` through the graph."""
    seen, found = set(), set()
    stack = [t._ctx for t in outputs if t._ctx is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, _GradReady):
            found.add(node.index)
            continue
        for edge in node.edges or ():
            if edge is not None and edge[0] is not None and id(edge[0]) not in seen:
                stack.append(edge[0])
    return found


class DistributedDataParallel(Module):
    """Wraps ``module`` for data-parallel training over the ranks of ``process_group``.

    Args:
        module: the replica (the same architecture on every rank).
        process_group: default: the default group (``init_process_group()``).
        bucket_cap_mb: bucket size; 0 gives one bucket per parameter. The default 1 MB suits the
            CPU models here (a few MB each): several buckets, so communication overlaps backward.
        broadcast_buffers: broadcast the buffers from rank 0 before each training forward.
        find_unused_parameters: accepted for PyTorch compatibility; unused parameters are always
            found (a walk of the output's graph) and contribute zeros.
        trace: record the reducer's events (see the module docstring).

    ``state_dict`` keys carry the ``module.`` prefix, as PyTorch's DDP saves them; save
    ``ddp.module.state_dict()`` for a checkpoint that loads into the bare model.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float = 1.0,
                 find_unused_parameters: bool = False, trace: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module to wrap, got {type(module).__name__}")
        if bucket_cap_mb < 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be >= 0, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        pg = process_group if process_group is not None else get_process_group()
        object.__setattr__(self, "process_group", pg)
        object.__setattr__(self, "_comm", pg.dup())  # gradients on their own communicator
        self.require_backward_grad_sync = True
        self._sync_module_states()
        params = [p for p in module.parameters() if p.requires_grad]
        owners = {}
        for mod in module.modules():
            for name, p in mod._parameters.items():
                if p is not None and p.requires_grad:
                    owners.setdefault(id(p), []).append((mod, name))
        object.__setattr__(self, "_owners", [owners[id(p)] for p in params])
        object.__setattr__(self, "reducer", Reducer(params, self._comm, bucket_cap_mb if bucket_cap_mb > 0 else 1e-9,
                                                    trace=trace))

    def _sync_module_states(self) -> None:
        if self.process_group.world_size == 1:
            return
        for t in list(self.module.parameters()) + [b for b in self.module.buffers() if b is not None]:
            self.process_group.broadcast(t.array, 0)

    def _broadcast_buffers(self) -> None:
        if self.broadcast_buffers and self.process_group.world_size > 1:
            for b in self.module.buffers():
                if b is not None:
                    self.process_group.broadcast(b.array, 0)

    @contextlib.contextmanager
    def no_sync(self):
        """Forward + backward inside accumulate gradients locally, unreduced (gradient accumulation:
        the next backward outside reduces the accumulated sum)."""
        prev = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    def forward(self, *inputs, **kwargs):
        if not (is_grad_enabled() and self.module.training and self.require_backward_grad_sync):
            if is_grad_enabled() and self.module.training:
                self._broadcast_buffers()
            return self.module(*inputs, **kwargs)
        self._broadcast_buffers()
        red = self.reducer
        red.prepare()
        saved = []
        try:
            for i, (p, places) in enumerate(zip(red.params, self._owners)):
                q = _GradReady(red, i)(p)
                for mod, name in places:
                    saved.append((mod, name, mod._parameters[name]))
                    mod._parameters[name] = q
            out = self.module(*inputs, **kwargs)
        finally:
            for mod, name, p in reversed(saved):
                mod._parameters[name] = p
        reached = _reached_params(list(_tensors_in(out)))
        if len(reached) < len(red.params):
            red.mark_unused([i for i in range(len(red.params)) if i not in reached])
        return out

    def finish_gradient_synchronization(self) -> None:
        """Wait for the reduction in progress (normally done by the end of backward)."""
        self.reducer.finish()

    def extra_repr(self) -> str:
        return (f"world_size={self.process_group.world_size}, buckets={len(self.reducer.buckets)}, "
                f"broadcast_buffers={self.broadcast_buffers}")


def allreduce_gradients(module: Module, process_group=None) -> None:
    """The simple way, for comparison: after backward, one blocking all-reduce per parameter,
    ``p.grad = mean over ranks`` (no overlap with backward, one message per parameter)."""
    pg = process_group if process_group is not None else get_process_group()
    if pg.world_size == 1:
        return
    for p in module.parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = Tensor._wrap(p.xp.zeros(p.shape, dtype=p.dtype))
        g = p.grad.array
        if not (isinstance(g, np.ndarray) and g.flags.c_contiguous and g.flags.writeable):
            g = np.ascontiguousarray(backend.to_device(g, backend.cpu)).copy()
        pg.all_reduce(g, "mean")
        p.grad = Tensor._wrap(g if isinstance(p.array, np.ndarray) else p.xp.asarray(g))
