"""Shared helpers for the metric tests: random batch splits and accumulation."""
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

import lamina

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def batch_plan(draw, min_n=1, max_n=60):
    """(n, cut points, numpy Generator): a sample count, a random split of it into batches
    (repeated cuts give empty batches) and a seeded source for the data itself."""
    n = draw(st.integers(min_n, max_n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    seed = draw(st.integers(0, 2**32 - 1))
    return n, cuts, np.random.default_rng(seed)


def batches(n, cuts):
    bounds = [0, *cuts, n]
    return list(zip(bounds[:-1], bounds[1:]))


def accumulate(metric, preds, targets, cuts, tensors=False):
    """Feed ``preds``/``targets`` to ``metric`` in the batches given by ``cuts``; return compute()."""
    for i, (a, b) in enumerate(batches(len(targets), cuts)):
        p, t = preds[a:b], targets[a:b]
        if tensors and i % 2 == 0:  # alternate Tensor and NumPy inputs
            p = lamina.tensor(p, requires_grad=p.dtype.kind == "f")
            t = lamina.tensor(t)
        metric.update(p, t)
    return metric.compute()


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
