"""Token attributions for text models: Integrated Gradients in the embedding space.

Token ids are not differentiable, their embeddings are. With e = E[ids] the embedding layer's
output and e' = E[baseline ids] (padding tokens by default):

    IG(e)_t,j = (e_t,j - e'_t,j) * int_0^1 d f_c(e' + a (e - e')) / d e_t,j  da,   score_t = sum_j IG(e)_t,j

as Captum's ``LayerIntegratedGradients`` on the embedding layer; completeness holds with the
model run on e'. A forward hook replaces the layer's output with the interpolated embeddings,
so any model that looks its tokens up in an ``Embedding`` works (BertClassifier, GPT heads, ...).

>>> scores = token_attributions(clf, ids, target=1)                   # (B, L), one score per token
>>> plot_token_attribution(tokens, scores[0], "tokens.png")
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import enable_grad, grad, no_grad
from ..nn.layers.embedding import Embedding
from ..tensor import Tensor
from ._common import (batched, eval_mode, find_module, forward_scores, frozen_parameters, repeat_batch,
                      resolve_target, target_scores, to_numpy)
from .integrated_gradients import quadrature

__all__ = ["token_attributions", "embedding_layer"]


def embedding_layer(model) -> str:
    """The path of the model's token embedding: the first ``Embedding`` whose name says 'word'/'wte'/'tok',
    else the first Embedding."""
    embs = [n for n, m in model.named_modules() if isinstance(m, Embedding)]
    if not embs:
        raise ValueError(f"token_attributions: {type(model).__name__} has no Embedding layer; pass embedding=<path>")
    for n in embs:
        if any(k in n.rsplit(".", 1)[-1] for k in ("word", "wte", "tok")):
            return n
    return embs[0]


class _Replace:
    """Forward hook: record the layer's input/output, or replace its output with given rows."""

    def __init__(self):
        self.rows, self.leaf, self.ids, self.out = None, None, None, None

    def __call__(self, mod, args, out):
        self.ids, self.out = args[0], out
        if self.rows is None:
            return None
        self.leaf = Tensor._wrap(self.rows.reshape(out.shape).astype(out.dtype, copy=False))
        if self.grad:
            self.leaf.requires_grad_(True)
        return self.leaf


def token_attributions(model, input_ids, target=None, embedding=None, baseline_token_id: int | None = None,
                       n_steps: int = 50, method: str = "gausslegendre", internal_batch_size: int | None = None,
                       return_convergence_delta: bool = False, **forward_kwargs):
    """Per-token Integrated Gradients (B, L) for token ids (B, L) (see the module docstring).

    embedding: the embedding layer's module path (default: ``embedding_layer(model)``).
    baseline_token_id: the id every baseline token takes (default: the model's ``pad_token_id``
    when it has one, else 0). n_steps, method, internal_batch_size: as ``integrated_gradients``
    (internal_batch_size counts sequences). Columns the model does not embed (BertClassifier drops
    trailing all-padding columns) get 0. With ``return_convergence_delta`` also returns delta (B,).
    """
    layer = find_module(model, embedding if embedding is not None else embedding_layer(model), "embedding layer")
    ids = np.asarray(input_ids.numpy() if isinstance(input_ids, Tensor) else input_ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"token_attributions: input_ids must be (batch, seq_len) integers, got shape "
                         f"{ids.shape}, dtype {ids.dtype}")
    if baseline_token_id is None:
        baseline_token_id = getattr(model, "pad_token_id", None)
        if baseline_token_id is None:
            baseline_token_id = getattr(getattr(model, "config", None), "pad_token_id", None) or 0
    alphas, weights = quadrature(n_steps, method)
    B, S = ids.shape[0], len(alphas)
    hook = _Replace()
    hook.grad = False
    handle = layer.register_forward_hook(hook)
    try:
        with eval_mode(model), frozen_parameters(model):
            with no_grad():
                out = forward_scores(model, ids, **forward_kwargs)
                t = resolve_target(target, out)
                e = hook.out.array                                            # the embeddings of the input
                seen = hook.ids.array if isinstance(hook.ids, Tensor) else np.asarray(hook.ids)
                e_base = layer(np.full(seen.shape, baseline_token_id, dtype=np.int64)).array
            xp = backend.array_module(e)
            per = e.size // B
            diff = (e - e_base).reshape(B, per)
            a = xp.asarray(alphas, dtype=e.dtype)[:, None, None]
            path = (e_base.reshape(1, B, per) + a * diff[None]).reshape(S * B, per)        # step-major rows
            t_all = None if t is None else np.tile(t, S)
            ids_all = np.tile(ids, (S, 1))
            fwd_all = {k: repeat_batch(v, S, B) for k, v in forward_kwargs.items()}
            grads = []
            hook.grad = True
            for sl in batched(S * B, internal_batch_size):
                hook.rows = path[sl]
                fwd = {k: (v[sl] if v is not forward_kwargs[k] else v) for k, v in fwd_all.items()}
                with enable_grad():
                    o = forward_scores(model, ids_all[sl], **fwd)
                    g, = grad(target_scores(o, None if t_all is None else t_all[sl]).sum(), hook.leaf)
                grads.append(g.array.reshape(-1, per))
            g = xp.concatenate(grads, 0).reshape(S, B, per)
            w = xp.asarray(weights, dtype=e.dtype)[:, None, None]
            attr = diff * (g * w).sum(0)                                          # (B, per)
            if return_convergence_delta:
                hook.grad = False
                hook.rows = e_base.reshape(B, per)
                with no_grad():
                    f_base = target_scores(forward_scores(model, ids, **forward_kwargs), t).array
                f_x = target_scores(out, t).array
    finally:
        handle.remove()
    D = e.shape[-1]
    scores = to_numpy(attr.reshape(B, per // D, D).sum(-1))
    if scores.shape[1] < ids.shape[1]:
        scores = np.concatenate([scores, np.zeros((B, ids.shape[1] - scores.shape[1]), scores.dtype)], 1)
    if not return_convergence_delta:
        return scores
    delta = scores.astype(np.float64).sum(1) - (to_numpy(f_x).astype(np.float64) - to_numpy(f_base).astype(np.float64))
    return scores, delta
