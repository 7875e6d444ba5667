"""Margin, embedding and likelihood losses: gradcheck, torch parity for every reduction and option,
modules (constructor args, buffers, legacy size_average/reduce), errors."""
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


def _pm1(shape, seed=5):
    return np.where(rng(seed).random(shape) < 0.5, -1.0, 1.0)


def _both(fn_name, kw):
    return (lambda *a: getattr(F, fn_name)(*a, **kw)), (lambda *a: getattr(TF, fn_name)(*a, **kw))


def _check(fn_name, arrays, kw, grad_arrays=None, tol=1e-5):
    f, t = _both(fn_name, kw)
    f64 = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    gradcheck(f, *(grad_arrays or f64))
    f32 = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    parity(f, *f32, torch_fn=t, atol=tol, rtol=tol * 10)
    parity(f, *f64, torch_fn=t, atol=1e-10, rtol=1e-9)


# ---------------------------------------------------------------- pairwise
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_margin_ranking(reduction, margin):
    r = rng(0)
    x1, x2 = r.standard_normal(7), r.standard_normal(7)
    _check("margin_ranking_loss", [x1, x2, _pm1(7)], {"margin": margin, "reduction": reduction})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_hinge_embedding(reduction, margin):
    x = rng(1).standard_normal((4, 5)) * 2
    y = _pm1((4, 5))
    y[0, :2] = 0.5   # neither 1 nor -1: both terms (as torch)
    _check("hinge_embedding_loss", [x, y], {"margin": margin, "reduction": reduction})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding(reduction, batched):
    r = rng(2)
    shape = (6, 4) if batched else (4,)
    y = _pm1(6) if batched else np.array(-1.0)
    _check("cosine_embedding_loss", [r.standard_normal(shape), r.standard_normal(shape), y],
           {"margin": 0.1, "reduction": reduction})


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin(reduction):
    x, y = rng(3).standard_normal((3, 4)) * 3, lamina.tensor(_pm1((3, 4)))   # torch refuses a target gradient
    gradcheck(lambda a: F.soft_margin_loss(a, y, reduction), x)
    parity(lambda a: F.soft_margin_loss(a, y, reduction), x,
           torch_fn=lambda a: TF.soft_margin_loss(a, torch.tensor(y.numpy()), reduction=reduction))


# ---------------------------------------------------------------- distances / triplets
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, np.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    r = rng(4)
    _check("pairwise_distance", [r.standard_normal((5, 6)), r.standard_normal((5, 6))],
           {"p": p, "keepdim": keepdim, "eps": 1e-6})
    _check("pairwise_distance", [r.standard_normal((5, 6)), r.standard_normal((6,))], {"p": p})
    _check("pairwise_distance", [r.standard_normal((6,)), r.standard_normal((6,))], {"p": p})


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5])
def test_pdist(p):
    x = rng(6).standard_normal((5, 3))
    _check("pdist", [x], {"p": p})
    assert F.pdist(lamina.tensor(x)).shape == (10,)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"swap": True}, {"p": 1.0, "margin": 0.5}, {"eps": 1e-3, "margin": 2.0}])
def test_triplet_margin(reduction, kw):
    r = rng(7)
    a, pos, neg = (r.standard_normal((6, 4)) for _ in range(3))
    _check("triplet_margin_loss", [a, pos, neg], dict(kw, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance(reduction, swap):
    r = rng(8)
    a, pos, neg = (r.standard_normal((6, 4)) for _ in range(3))
    _check("triplet_margin_with_distance_loss", [a, pos, neg], {"swap": swap, "reduction": reduction})
    cos_l = lambda u, v: 1.0 - F.cosine_similarity(u, v)   # noqa: E731
    cos_t = lambda u, v: 1.0 - TF.cosine_similarity(u, v)  # noqa: E731
    parity(lambda *t: F.triplet_margin_with_distance_loss(*t, distance_function=cos_l, margin=0.3, swap=swap,
                                                          reduction=reduction),
           a, pos, neg,
           torch_fn=lambda *t: TF.triplet_margin_with_distance_loss(*t, distance_function=cos_t, margin=0.3,
                                                                     swap=swap, reduction=reduction))


# ---------------------------------------------------------------- multi-class / multi-label
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin(reduction, p, weighted):
    r = rng(9)
    x = r.standard_normal((6, 4))
    t = r.integers(0, 4, 6)
    kw = {"p": p, "margin": 0.8, "reduction": reduction}
    w = r.uniform(0.5, 2.0, 4)
    lw, tw = (lamina.tensor(w), torch.tensor(w)) if weighted else (None, None)   # torch: no weight gradient
    gradcheck(lambda a, tt: F.multi_margin_loss(a, tt, weight=lw, **kw), x, t)
    parity(lambda a, tt: F.multi_margin_loss(a, tt, weight=lw, **kw), x, t,
           torch_fn=lambda a, tt: TF.multi_margin_loss(a, tt, weight=tw, **kw), atol=1e-10, rtol=1e-9)
    parity(lambda a: F.multi_margin_loss(a, lamina.tensor(np.array(2)), **kw), x[0],
           torch_fn=lambda a: TF.multi_margin_loss(a, torch.tensor(2), **kw))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin(reduction):
    x = rng(10).standard_normal((4, 5))
    t = np.array([[3, 0, -1, 1, 2], [0, 1, 2, 3, 4], [-1, 1, 1, 1, 1], [4, 4, -1, 0, 0]])  # dups, all, none
    _check("multilabel_margin_loss", [x, t], {"reduction": reduction})
    _check("multilabel_margin_loss", [x[0], t[0]], {"reduction": reduction})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin(reduction, weighted):
    r = rng(11)
    x, y = r.standard_normal((4, 5)) * 2, (r.random((4, 5)) < 0.4).astype(float)
    w = r.uniform(0.5, 2.0, 5)
    if weighted:
        parity(lambda a, b, c: F.multilabel_soft_margin_loss(a, b, c, reduction=reduction), x, y, w,
               torch_fn=lambda a, b, c: TF.multilabel_soft_margin_loss(a, b, c, reduction=reduction))
    else:
        _check("multilabel_soft_margin_loss", [x, y], {"reduction": reduction})


# ---------------------------------------------------------------- likelihoods
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4, 1), (4,)], ids=["hetero", "homo1", "homo_dropped"])
def test_gaussian_nll(reduction, full, var_shape):
    r = rng(12)
    x, y = r.standard_normal((4, 3)), r.standard_normal((4, 3))
    v = r.uniform(0.2, 2.0, var_shape)
    _check("gaussian_nll_loss", [x, y, v], {"full": full, "reduction": reduction})


def test_gaussian_nll_eps_clamp_passes_gradient_and_float_var():
    r = rng(13)
    x, y = r.standard_normal((3, 2)), r.standard_normal((3, 2))
    v = np.array([[1e-9, 0.5], [0.3, 1e-8], [2.0, 0.0]])
    parity(lambda a, b, c: F.gaussian_nll_loss(a, b, c, eps=1e-3), x, y, v,
           torch_fn=lambda a, b, c: TF.gaussian_nll_loss(a, b, c, eps=1e-3))
    parity(lambda a, b: F.gaussian_nll_loss(a, b, 0.7), x, y, torch_fn=lambda a, b: TF.gaussian_nll_loss(a, b, 0.7))
    parity(lambda a, b, c: F.gaussian_nll_loss(a, b, c), r.standard_normal((2, 3, 4, 4)),
           r.standard_normal((2, 3, 4, 4)), r.uniform(0.5, 1.0, (2, 1, 4, 4)),
           torch_fn=lambda a, b, c: TF.gaussian_nll_loss(a, b, c))


def test_gaussian_nll_errors():
    x = lamina.randn(4, 3)
    for bad in (lamina.ones(4, 2), lamina.ones(3)):
        with pytest.raises(ValueError, match="var is of incorrect size"):
            F.gaussian_nll_loss(x, x, bad)
        with pytest.raises(ValueError):
            TF.gaussian_nll_loss(torch.randn(4, 3), torch.randn(4, 3), torch.ones(*bad.shape))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, -lamina.ones(4, 3))
    with pytest.raises(ValueError):
        F.gaussian_nll_loss(x, x, lamina.ones(4, 3), reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(reduction, log_input, full):
    r = rng(14)
    x = r.standard_normal((4, 5)) if log_input else r.uniform(0.1, 3.0, (4, 5))
    y = r.poisson(2.0, (4, 5)).astype(float)
    kw = {"log_input": log_input, "full": full, "reduction": reduction}
    gradcheck(lambda a: F.poisson_nll_loss(a, lamina.tensor(y), **kw), x)
    parity(lambda a, b: F.poisson_nll_loss(a, b, **kw), x, y,
           torch_fn=lambda a, b: TF.poisson_nll_loss(a, b, **kw), atol=1e-10, rtol=1e-9, grad=not full)
    # with full=True torch's target gradient is nan at y = 0 (0 * log 0); lamina's is finite: compare dx only
    yt = lamina.tensor(y)
    parity(lambda a: F.poisson_nll_loss(a, yt, **kw), x,
           torch_fn=lambda a: TF.poisson_nll_loss(a, torch.tensor(y), **kw), atol=1e-10, rtol=1e-9)


# ---------------------------------------------------------------- modules
MODULES = [
    ("MarginRankingLoss", {"margin": 0.2}, 3), ("HingeEmbeddingLoss", {"margin": 0.5}, 2),
    ("CosineEmbeddingLoss", {"margin": 0.1}, 3), ("TripletMarginLoss", {"margin": 0.5, "swap": True}, 3),
    ("MultiLabelSoftMarginLoss", {}, 2), ("GaussianNLLLoss", {"full": True}, 3),
    ("PoissonNLLLoss", {"log_input": True}, 2), ("TripletMarginWithDistanceLoss", {"margin": 0.7}, 3),
]


def _module_inputs(name):
    r = rng(15)
    a, b = r.standard_normal((5, 4)), r.standard_normal((5, 4))
    if name in ("MarginRankingLoss",):
        return [a[:, 0], b[:, 0], _pm1(5)]
    if name in ("CosineEmbeddingLoss",):
        return [a, b, _pm1(5)]
    if name in ("TripletMarginLoss", "TripletMarginWithDistanceLoss"):
        return [a, b, r.standard_normal((5, 4))]
    if name in ("HingeEmbeddingLoss", "SoftMarginLoss"):
        return [a, _pm1((5, 4))]
    if name == "MultiLabelSoftMarginLoss":
        return [a, (b > 0).astype(float)]
    if name == "GaussianNLLLoss":
        return [a, b, r.uniform(0.5, 1.5, (5, 4))]
    return [a, np.abs(b).round()]


@pytest.mark.parametrize("name,kw,n", MODULES, ids=[m[0] for m in MODULES])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_modules_match_torch(name, kw, n, reduction):
    m, tm = getattr(nn, name)(reduction=reduction, **kw), getattr(tnn, name)(reduction=reduction, **kw)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    parity(lambda *a: m(*a), *_module_inputs(name), torch_fn=lambda *a: tm(*a))


def test_weighted_modules_register_weight_buffers():
    w = np.array([1.0, 2.0, 0.5])
    for name, kw in (("MultiMarginLoss", {"p": 2}), ("MultiLabelSoftMarginLoss", {})):
        m, tm = getattr(nn, name)(weight=lamina.tensor(w), **kw), getattr(tnn, name)(weight=torch.tensor(w), **kw)
        assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
    m = nn.MultiMarginLoss(p=2, margin=0.5, weight=lamina.tensor(w))
    tm = tnn.MultiMarginLoss(p=2, margin=0.5, weight=torch.tensor(w))
    x, t = rng(16).standard_normal((4, 3)), np.array([0, 2, 1, 2])
    parity(lambda a, b: m(a, b), x, t, torch_fn=lambda a, b: tm(a, b))
    mm, tmm = nn.MultiLabelMarginLoss(), tnn.MultiLabelMarginLoss()
    t2 = np.array([[0, -1, 0], [2, 1, -1], [1, 0, 2], [-1, 0, 0]])
    parity(lambda a, b: mm(a, b), x, t2, torch_fn=lambda a, b: tmm(a, b))


def test_legacy_size_average_reduce():
    for sa, rd, expect in ((None, None, "mean"), (False, None, "sum"), (None, False, "none"), (True, True, "mean")):
        if sa is None and rd is None:
            continue
        with pytest.warns(UserWarning, match="size_average and reduce"):
            m = nn.MSELoss(size_average=sa, reduce=rd)
        with pytest.warns(UserWarning):
            assert m.reduction == expect == tnn.MSELoss(size_average=sa, reduce=rd).reduction
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(None, False).reduction == "sum"


def test_constructor_signatures_match_torch():
    import inspect
    names = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
             "BCEWithLogitsLoss", "KLDivLoss", "CTCLoss", "GaussianNLLLoss", "PoissonNLLLoss", "MarginRankingLoss",
             "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
             "MultiMarginLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "SoftMarginLoss",
             "PairwiseDistance", "CosineSimilarity"]
    for n in names:
        ours = [(p.name, p.kind, p.default) for p in inspect.signature(getattr(nn, n).__init__).parameters.values()]
        theirs = [(p.name, p.kind, p.default) for p in inspect.signature(getattr(tnn, n).__init__).parameters.values()]
        assert ours == theirs, n


def test_every_torch_loss_exists():
    missing = [n for n in dir(tnn) if n.endswith("Loss") and not hasattr(nn, n)]
    # LinearCrossEntropyLoss (torch 2.13's fused linear + cross-entropy with chunking options) is not provided
    assert set(missing) <= {"LinearCrossEntropyLoss"}, missing


def test_errors_match_torch():
    x = lamina.randn(3, 4)
    with pytest.raises(RuntimeError):
        F.margin_ranking_loss(x, x, lamina.ones(3))
    with pytest.raises(RuntimeError):
        TF.margin_ranking_loss(torch.randn(3, 4), torch.randn(3, 4), torch.ones(3))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, lamina.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError):
        TF.multi_margin_loss(torch.randn(3, 4), torch.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError):
        nn.TripletMarginLoss(margin=-1.0)
    with pytest.raises(ValueError):
        tnn.TripletMarginLoss(margin=-1.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_loss(x, x, x[0])
    with pytest.raises(RuntimeError):
        TF.triplet_margin_loss(torch.randn(3, 4), torch.randn(3, 4), torch.randn(4))
    with pytest.raises(ValueError):
        F.soft_margin_loss(x, x, reduction="avg")
    with pytest.raises(IndexError):
        F.multi_margin_loss(x, lamina.tensor([0, 1, 4]))
    with pytest.raises(RuntimeError):
        F.pdist(lamina.randn(3))


def test_adaptive_log_softmax_matches_torch():
    tm = tnn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs=[5, 12], div_value=2.0, head_bias=True)
    m = nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs=[5, 12], div_value=2.0, head_bias=True)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    m.load_state_dict(tm.state_dict())
    x = rng(17).standard_normal((9, 16)).astype(np.float32)
    t = np.array([0, 4, 5, 11, 12, 19, 3, 13, 7])
    out, loss = m(lamina.tensor(x), lamina.tensor(t))
    tout, tloss = tm(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    loss.backward()
    tloss.backward()
    named = dict(m.named_parameters())
    for k, p in tm.named_parameters():
        np.testing.assert_allclose(named[k].grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)
    with lamina.no_grad(), torch.no_grad():
        np.testing.assert_allclose(m.log_prob(lamina.tensor(x)).numpy(), tm.log_prob(torch.tensor(x)).numpy(),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(m.predict(lamina.tensor(x)).numpy(), tm.predict(torch.tensor(x)).numpy())
        o1, _ = m(lamina.tensor(x[0]), lamina.tensor(np.array(13)))
        assert o1.shape == ()
    with pytest.raises(RuntimeError, match="Target values"):
        m(lamina.tensor(x), lamina.tensor(np.full(9, 20)))
    with pytest.raises(ValueError):
        nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs=[12, 5])
