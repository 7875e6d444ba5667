"""``SyncBatchNorm``: batch normalization with the statistics of the *global* batch (all ranks).

Forward, per channel c, over the N = sum_r n_r values of every rank:

    S = all_reduce(sum x),  Q = all_reduce(sum x^2),  N = all_reduce(n)
    mean = S / N,  var = Q / N - mean^2,  xhat = (x - mean) / sqrt(var + eps),  y = xhat * w + b

Backward all-reduces the two sums the closed form needs (dy is the local gradient):

    A = all_reduce(sum dy),  B = all_reduce(sum dy * xhat)
    dx = w / sqrt(var + eps) * (dy - A / N - xhat * B / N),   dw = sum dy * xhat,  db = sum dy  (local;
    DDP averages them)

so 2 ranks with B/2 samples each compute exactly what one process computes on the batch of B
(running statistics included: momentum update with the unbiased global variance N / (N - 1)).
Sums are accumulated in float64. On one process the all-reduces are identities.

    model = SyncBatchNorm.convert_sync_batchnorm(model)     # every BatchNorm*d -> SyncBatchNorm
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import array_module
from ..nn.layers.normalization import _BatchNorm
from ..tensor import Tensor
from .process_group import get_process_group

__all__ = ["SyncBatchNorm", "sync_batch_norm"]


class _SyncBatchNormFn(Function):
    """The global-batch normalization above; inputs x, then weight and bias when given."""

    differentiable = False

    def __init__(self, group, eps: float, has_weight: bool, has_bias: bool):
        self.group, self.eps, self.has_weight, self.has_bias = group, float(eps), has_weight, has_bias

    def forward(self, x, *params):
        xp = array_module(x)
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        self.pshape = (1, c) + (1,) * (x.ndim - 2)
        stats = xp.concatenate([x.sum(axis=axes, dtype=np.float64), (x * x).sum(axis=axes, dtype=np.float64),
                                xp.asarray([x.size // c], dtype=np.float64)])
        stats = self.group.all_reduce(stats) if xp is np else xp.asarray(self.group.all_reduce(stats.get()))
        n = float(stats[-1])
        mean = stats[:c] / n
        var = xp.maximum(stats[c:2 * c] / n - mean * mean, 0.0)
        self.n, self.mean, self.var = n, mean, var
        rstd = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype)
        self.rstd = rstd
        xhat = (x - mean.astype(x.dtype).reshape(self.pshape)) * rstd.reshape(self.pshape)
        y = xhat
        if self.has_weight:
            y = y * params[0].reshape(self.pshape)
        if self.has_bias:
            y = y + params[-1].reshape(self.pshape)
        return y

    def backward(self, gy):
        x = self.inputs[0].array
        g = gy.array
        xp = array_module(x)
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        xhat = (x - self.mean.astype(x.dtype).reshape(self.pshape)) * self.rstd.reshape(self.pshape)
        sum_dy = g.sum(axis=axes, dtype=np.float64)
        sum_dy_xhat = (g * xhat).sum(axis=axes, dtype=np.float64)
        both = xp.concatenate([sum_dy, sum_dy_xhat])
        both = self.group.all_reduce(both.copy()) if xp is np else xp.asarray(self.group.all_reduce(both.get()))
        a = (both[:c] / self.n).astype(x.dtype).reshape(self.pshape)
        b = (both[c:] / self.n).astype(x.dtype).reshape(self.pshape)
        scale = self.rstd.reshape(self.pshape)
        if self.has_weight:
            scale = scale * self.inputs[1].array.reshape(self.pshape)
        grads = [Tensor._wrap((g - a - xhat * b) * scale) if self.needs_input_grad[0] else None]
        if self.has_weight:
            grads.append(Tensor._wrap(sum_dy_xhat.astype(x.dtype)) if self.needs_input_grad[1] else None)
        if self.has_bias:
            grads.append(Tensor._wrap(sum_dy.astype(x.dtype)) if self.needs_input_grad[-1] else None)
        return tuple(grads)


def sync_batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None, momentum=0.1, eps=1e-5,
                    process_group=None, num_batches_tracked=None) -> Tensor:
    """Training-mode batch norm over the global batch of ``process_group`` (see the module doc);
    updates ``running_mean`` / ``running_var`` in place when given."""
    group = process_group if process_group is not None else get_process_group()
    fn = _SyncBatchNormFn(group, eps, weight is not None, bias is not None)
    y = fn(input, *[t for t in (weight, bias) if t is not None])
    if running_mean is not None and fn.n > 1:
        factor = momentum if momentum is not None else 1.0 / max(int(num_batches_tracked or 1), 1)
        for run, stat in ((running_mean, fn.mean), (running_var, fn.var * (fn.n / (fn.n - 1)))):
            data = run.array
            data *= 1.0 - factor
            data += factor * stat.astype(data.dtype)
            run._version += 1
    return y


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *) whose training statistics span every rank's batch.

    Same parameters, buffers and ``state_dict`` keys as ``BatchNorm{1,2,3}d``; evaluation uses the
    running statistics (no communication).

    >>> bn = SyncBatchNorm(16)                    # inside an MPI job, or on one process
    >>> bn(lamina.randn(8, 16, 4, 4)).shape       # (8, 16, 4, 4)
    """

    _dims, _what = (2, 3, 4, 5), "at least 2D"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        object.__setattr__(self, "process_group", process_group)

    def forward(self, input: Tensor) -> Tensor:
        if not self.training:
            return super().forward(input)
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}): input has {input.shape[1]} channels "
                             f"(input shape {input.shape})")
        nbt = None
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            self.num_batches_tracked._version += 1
            nbt = int(self.num_batches_tracked.array)
        keep = self.track_running_stats
        return sync_batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                               self.weight, self.bias, self.momentum, self.eps, self.process_group, nbt)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm1d/2d/3d`` replaced by a ``SyncBatchNorm`` sharing its
        parameters and buffers (the module itself is returned converted when it is one)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            for store in ("_parameters", "_buffers"):
                getattr(out, store).update(getattr(module, store))
            out.train(module.training)
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child, process_group)
                if new is not child:
                    out._modules[name] = new
        return out
