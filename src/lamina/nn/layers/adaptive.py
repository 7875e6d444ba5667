"""Adaptive softmax (Grave et al., 2016): a cheap softmax over large vocabularies.

The frequent classes [0, cutoffs[0]) and one token per rarer cluster form the head; a class c
in cluster k (cutoffs[k-1] <= c < cutoffs[k]) has

    log p(c | x) = log softmax(head(x))[shortlist + k - 1] + log softmax(tail_k(x))[c - cutoffs[k-1]]

with tail_k = Linear(in, in // div_value^k) -> Linear(., cluster size), both without bias.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ...ops.index import IndexAdd
from ...ops.shape import cat
from ...tensor import Tensor
from ..activation_fns import log_softmax
from ..containers import ModuleList, Sequential
from ..module import Module
from .linear import Linear

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """forward(input (N, in_features), target (N,)) -> (output = log p(target | input) (N,), loss = -mean).

    ``log_prob(input)`` gives all (N, n_classes) log-probabilities, ``predict(input)`` the argmax.

    >>> asm = nn.AdaptiveLogSoftmaxWithLoss(64, 1000, cutoffs=[100, 500])
    >>> out, loss = asm(lamina.randn(8, 64), lamina.randint(0, 1000, (8,)))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0, head_bias: bool = False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        tails = []
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tails.append(Sequential(Linear(in_features, hsz, bias=False, device=device, dtype=dtype),
                                    Linear(hsz, osz, bias=False, device=device, dtype=dtype)))
        self.tail = ModuleList(tails)

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for seq in self.tail:
            for layer in seq:
                layer.reset_parameters()

    def forward(self, input: Tensor, target) -> _ASMoutput:
        t = target.array if isinstance(target, Tensor) else np.asarray(target)
        if t.ndim == 1:
            if input.ndim != 2 or input.shape[0] != t.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension "
                                   f"(input shape {input.shape}, target shape {t.shape}).")
        elif t.ndim == 0:
            if input.ndim != 1:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{input.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = t.ndim > 0
        x = input if batched else input.unsqueeze(0)
        t = (t if batched else t.reshape(1)).astype(np.int64)
        xp = x.xp
        n = t.shape[0]
        if n and (int(t.min()) < 0 or int(t.max()) >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{int(t.min())}, {int(t.max())}] were found. ")
        gather_inds = t.copy()
        output = None
        bounds = [0] + self.cutoffs
        for i in range(1, len(bounds) - 1):            # one pass per cluster (a small fixed number)
            lo, hi = bounds[i], bounds[i + 1]
            rows = xp.nonzero((t >= lo) & (t < hi))[0]
            if rows.size == 0:
                continue
            gather_inds[rows] = self.shortlist_size + i - 1
            logp = log_softmax(self.tail[i - 1](x[Tensor._wrap(rows)]), 1)
            local = logp.gather(1, Tensor._wrap((t[rows] - lo).reshape(-1, 1))).reshape(-1)
            part = IndexAdd(0, rows, n)(local)
            output = part if output is None else output + part
        head_logprob = log_softmax(self.head(x), 1)
        out = head_logprob.gather(1, Tensor._wrap(gather_inds.reshape(-1, 1))).reshape(-1)
        if output is not None:
            out = out + output
        loss = (-out).mean()
        return _ASMoutput(out if batched else out.reshape(()), loss)

    def _get_full_log_prob(self, x: Tensor, head_output: Tensor) -> Tensor:
        head_logprob = log_softmax(head_output, 1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = log_softmax(self.tail[i](x), 1)
            parts.append(cluster + head_logprob[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return cat(parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """log p(c | x) for every class: (N, in_features) -> (N, n_classes) (or (in,) -> (n_classes,))."""
        batched = input.ndim > 1
        x = input if batched else input.unsqueeze(0)
        out = self._get_full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row: (N, in_features) -> (N,)."""
        return self.log_prob(input).argmax(-1)
