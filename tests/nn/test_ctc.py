"""CTC loss: values and gradients against torch (padded / concatenated targets, lengths, blank,
reductions, zero_infinity, unbatched), float64 gradcheck through log_softmax, module, errors."""
import numpy as np
import pytest
from helpers import gradcheck, parity, rng

import lamina
import lamina.nn.functional as F
from lamina import nn

try:
    import torch
    import torch.nn as tnn
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = tnn = TF = None

REDUCTIONS = ["mean", "sum", "none"]


def _case(T=12, N=4, C=6, S=5, blank=0, seed=0, repeats=True):
    r = rng(seed)
    logits = r.standard_normal((T, N, C)) * 2
    labels = [c for c in range(C) if c != blank]
    targets = r.choice(labels, (N, S))
    if repeats:
        targets[0, 1] = targets[0, 0]          # a repeated label needs a blank between
    in_len = np.array([T, T - 1, T - 3, T][:N])
    tg_len = np.array([S, S - 2, 0, 3][:N])    # a zero-length target too
    return logits, targets, in_len, tg_len


def _ls(fn_l, fn_t):
    """Both functions applied to log_softmax(logits, 2)."""
    return (lambda x, *a: fn_l(F.log_softmax(x, 2), *a)), (lambda x, *a: fn_t(TF.log_softmax(x, 2), *a))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("blank", [0, 3])
def test_padded_targets_match_torch(reduction, blank):
    x, tg, il, tl = _case(blank=blank)
    f, t = _ls(lambda lp, tg_: F.ctc_loss(lp, tg_, lamina.tensor(il), lamina.tensor(tl), blank, reduction),
               lambda lp, tg_: TF.ctc_loss(lp, tg_, torch.tensor(il), torch.tensor(tl), blank, reduction))
    parity(f, x, tg, torch_fn=t, atol=1e-10, rtol=1e-9)
    parity(f, x.astype(np.float32), tg, torch_fn=t, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_concatenated_targets_and_sequence_lengths(reduction):
    x, tg, il, tl = _case(seed=1)
    flat = np.concatenate([tg[i, :tl[i]] for i in range(len(tl))])
    f, t = _ls(lambda lp, tg_: F.ctc_loss(lp, tg_, tuple(il), tuple(tl), reduction=reduction),
               lambda lp, tg_: TF.ctc_loss(lp, tg_, tuple(il), tuple(tl), reduction=reduction))
    parity(f, x, flat, torch_fn=t, atol=1e-10, rtol=1e-9)
    padded = F.ctc_loss(F.log_softmax(lamina.tensor(x), 2), lamina.tensor(tg), il, tl, reduction=reduction)
    np.testing.assert_allclose(f(lamina.tensor(x), lamina.tensor(flat)).detach().numpy(), padded.numpy(), rtol=1e-12)


def test_gradient_on_raw_log_probs_is_torchs():
    """torch's CTC gradient is taken w.r.t. the logits (it adds exp(log_probs)); ours is the same."""
    lp, tg, il, tl = _case(seed=2)
    parity(lambda a, b: F.ctc_loss(a, b, il, tl, reduction="sum"), lp, tg,
           torch_fn=lambda a, b: TF.ctc_loss(a, b, tuple(il), tuple(tl), reduction="sum"), atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck_through_log_softmax(reduction):
    x, tg, il, tl = _case(T=6, N=3, C=4, S=3, seed=3)
    tl = np.array([3, 1, 0])
    gradcheck(lambda a: F.ctc_loss(F.log_softmax(a, 2), lamina.tensor(tg), il, tl, reduction=reduction), x)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignment(zero_infinity):
    """Three equal labels need 5 frames; with 4 the loss is inf (or 0 with zero_infinity)."""
    x = rng(4).standard_normal((4, 2, 3))
    tg = np.array([[1, 1, 1], [2, 1, 2]])
    il, tl = (4, 4), (3, 3)
    f = lambda a: F.ctc_loss(F.log_softmax(a, 2), lamina.tensor(tg), il, tl, reduction="none",  # noqa: E731
                             zero_infinity=zero_infinity)
    t = lambda a: TF.ctc_loss(TF.log_softmax(a, 2), torch.tensor(tg), il, tl, reduction="none",  # noqa: E731
                              zero_infinity=zero_infinity)
    out = f(lamina.tensor(x)).numpy()
    assert (out[0] == 0) if zero_infinity else np.isinf(out[0])
    assert np.isfinite(out[1])
    parity(f, x, torch_fn=t, atol=1e-10, rtol=1e-9)   # without zero_infinity: nan gradients there, as torch


def test_unbatched():
    x, tg, il, tl = _case(N=1, seed=5)
    for red in REDUCTIONS:
        parity(lambda a, b: F.ctc_loss(F.log_softmax(a, 1), b, 12, 5, reduction=red), x[:, 0], tg[0],
               torch_fn=lambda a, b: TF.ctc_loss(TF.log_softmax(a, 1), b, torch.tensor(12), torch.tensor(5),
                                                 reduction=red), atol=1e-10, rtol=1e-9)
    assert F.ctc_loss(lamina.tensor(x[:, 0]), lamina.tensor(tg[0]), 12, 5, reduction="none").shape == ()


def test_module_matches_torch():
    x, tg, il, tl = _case(seed=6)
    m, tm = nn.CTCLoss(blank=0, zero_infinity=True), tnn.CTCLoss(blank=0, zero_infinity=True)
    assert repr(m) == repr(tm)
    parity(lambda a: m(F.log_softmax(a, 2), lamina.tensor(tg), lamina.tensor(il), lamina.tensor(tl)), x,
           torch_fn=lambda a: tm(TF.log_softmax(a, 2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl)),
           atol=1e-10, rtol=1e-9)


def test_longer_batch_is_fast_and_matches():
    x, tg, il, tl = _case(T=60, N=8, C=20, S=15, seed=7)
    il = np.array([60, 55, 50, 60, 40, 45, 60, 59])
    tl = np.array([15, 10, 12, 3, 8, 15, 1, 14])
    parity(lambda a: F.ctc_loss(F.log_softmax(a, 2), lamina.tensor(tg), il, tl), x.astype(np.float32),
           torch_fn=lambda a: TF.ctc_loss(TF.log_softmax(a, 2), torch.tensor(tg), tuple(il), tuple(tl)),
           atol=1e-4, rtol=1e-4)


def test_errors_match_torch():
    x, tg, il, tl = _case(seed=8)
    lp, tlp = lamina.tensor(x), torch.tensor(x)
    bad = [
        (lambda: F.ctc_loss(lp, tg, (13, 11, 9, 12), tl), lambda: TF.ctc_loss(tlp, torch.tensor(tg), (13, 11, 9, 12),
                                                                                tuple(tl))),
        (lambda: F.ctc_loss(lp, tg[:, :4], il, tl), lambda: TF.ctc_loss(tlp, torch.tensor(tg[:, :4]), tuple(il),
                                                                          tuple(tl))),
        (lambda: F.ctc_loss(lp, tg, il, tl, blank=6), lambda: TF.ctc_loss(tlp, torch.tensor(tg), tuple(il), tuple(tl),
                                                                            blank=6)),
    ]
    for ours, theirs in bad:
        with pytest.raises(RuntimeError):
            theirs()
        with pytest.raises(RuntimeError):
            ours()
    with pytest.raises(ValueError):
        F.ctc_loss(lp, tg, il, tl, reduction="avg")
    with pytest.raises(IndexError, match="out of range"):
        F.ctc_loss(lp, np.full((4, 5), 7), il, tl)
