"""Losses: float64 gradcheck and torch parity for every loss, reduction and option; errors."""
import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, parity, rng

import lamina
import lamina.nn.functional as F
from lamina import nn

try:
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = TF = None

REDUCTIONS = ["mean", "sum", "none"]


def _tf(name):
    return lambda *a, **k: getattr(TF, name)(*a, **k)


# ---------------------------------------------------------------- regression
REG = [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
       ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3})]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", REG, ids=[f"{n}{k}" for n, k in REG])
def test_regression_losses(name, kw, reduction):
    r = rng(0)
    x, y = r.standard_normal((4, 5)), r.standard_normal((4, 5))
    fn = getattr(F, name)
    gradcheck(lambda a, b: fn(a, b, reduction=reduction, **kw), x, y)
    parity(lambda a, b: fn(a, b, reduction=reduction, **kw), x.astype(np.float32), y.astype(np.float32),
           torch_fn=lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kw))


# ---------------------------------------------------------------- cross-entropy / nll
def _targets(shape, n_cls, seed=1, ignore=None):
    t = rng(seed).integers(0, n_cls, shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


CE_OPTS = [
    {},
    {"weight": True},
    {"ignore_index": 2},
    {"ignore_index": -100, "ignored": True},
    {"label_smoothing": 0.2},
    {"weight": True, "label_smoothing": 0.1},
    {"weight": True, "ignore_index": 1, "label_smoothing": 0.3},
    {"ignore_index": 0, "label_smoothing": 0.25},
]
CE_IDS = ["plain", "weight", "ignore", "ignore-100", "smooth", "w+smooth", "w+ignore+smooth", "ignore+smooth"]


def _ce_case(opts, shape, n_cls, seed=0):
    r = rng(seed)
    x = r.standard_normal(shape) * 2
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    ign = opts.get("ignore_index", -100)
    t = _targets(tshape, n_cls, ignore=ign if ("ignore_index" in opts and len(shape) > 1) else None)
    w = r.uniform(0.5, 2.0, n_cls) if opts.get("weight") else None
    kw = {k: v for k, v in opts.items() if k in ("ignore_index", "label_smoothing")}
    return x, t, w, kw


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_OPTS, ids=CE_IDS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 3, 2, 2), (4,)], ids=["NC", "NCd", "NCdd", "C"])
def test_cross_entropy_class_indices(shape, opts, reduction):
    n_cls = shape[1] if len(shape) > 1 else shape[0]
    x, t, w, kw = _ce_case(opts, shape, n_cls)
    if len(shape) == 1:
        t = np.array(3)
    wt = None if w is None else w

    def lam(x, w=None):
        return F.cross_entropy(x, lamina.tensor(t), weight=w, reduction=reduction, **kw)

    def tor(x, w=None):
        return TF.cross_entropy(x, torch.tensor(t), weight=w, reduction=reduction, **kw)

    if wt is None:
        gradcheck(lam, x)
        parity(lam, x.astype(np.float32), torch_fn=tor)
        parity(lam, x, torch_fn=tor, atol=1e-10, rtol=1e-9)
    else:
        gradcheck(lambda x: lam(x, lamina.tensor(w)), x)
        # torch does not differentiate w.r.t. weight; pass it as a constant on both sides
        parity(lambda x: lam(x, lamina.tensor(w.astype(np.float32))), x.astype(np.float32),
               torch_fn=lambda x: tor(x, torch.tensor(w.astype(np.float32))))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.2},
                                  {"weight": True, "label_smoothing": 0.3}], ids=["plain", "w", "smooth", "w+smooth"])
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (3,)], ids=["NC", "NCd", "C"])
def test_cross_entropy_probabilities(shape, opts, reduction):
    r = rng(2)
    x = r.standard_normal(shape)
    p = r.uniform(0.1, 1, shape)
    p /= p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    n_cls = shape[1] if len(shape) > 1 else shape[0]
    w = r.uniform(0.5, 2, n_cls).astype(np.float32) if opts.get("weight") else None
    ls = opts.get("label_smoothing", 0.0)

    def lam(x, p):
        return F.cross_entropy(x, p, weight=None if w is None else lamina.tensor(w), reduction=reduction,
                               label_smoothing=ls)

    def tor(x, p):
        return TF.cross_entropy(x, p, weight=None if w is None else torch.tensor(w), reduction=reduction,
                                label_smoothing=ls)

    parity(lam, x.astype(np.float32), p.astype(np.float32), torch_fn=tor)
    if w is None:
        gradcheck(lam, x, p)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_OPTS[:4], ids=CE_IDS[:4])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)], ids=["NC", "NCd", "C"])
def test_nll_loss(shape, opts, reduction):
    n_cls = shape[1] if len(shape) > 1 else shape[0]
    x, t, w, kw = _ce_case(opts, shape, n_cls, seed=3)
    if len(shape) == 1:
        t = np.array(1)
    wl = None if w is None else lamina.tensor(w.astype(np.float32))
    wt = None if w is None else torch.tensor(w.astype(np.float32)) if torch is not None else None
    lam = lambda x: F.nll_loss(x, lamina.tensor(t), weight=wl, reduction=reduction, **kw)  # noqa: E731
    tor = lambda x: TF.nll_loss(x, torch.tensor(t), weight=wt, reduction=reduction, **kw)  # noqa: E731
    parity(lam, x.astype(np.float32), torch_fn=tor)
    ign = kw.get("ignore_index", -100)
    gradcheck(lambda x: F.nll_loss(x, lamina.tensor(t), reduction=reduction, ignore_index=ign), x)


def test_cross_entropy_second_derivative():
    x = rng(0).standard_normal((3, 4))
    t = lamina.tensor([0, 3, 1])
    gradgradcheck(lambda x: F.cross_entropy(x, t, label_smoothing=0.1), x)
    gradgradcheck(lambda x: F.cross_entropy(x, t, reduction="none"), x)


def test_cross_entropy_all_ignored_is_nan():
    x = lamina.randn(2, 3, requires_grad=True)
    loss = F.cross_entropy(x, lamina.tensor([-100, -100]))
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)  # as torch: no target, no gradient


def test_cross_entropy_large_logits_stable():
    x = lamina.tensor([[1000.0, -1000.0], [-5e4, 5e4]], requires_grad=True)
    loss = F.cross_entropy(x, lamina.tensor([0, 0]))
    np.testing.assert_allclose(loss.item(), 5e4, rtol=1e-6)
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_cross_entropy_errors():
    x = lamina.randn(4, 3)
    with pytest.raises(ValueError, match=r"cross_entropy: expected target of shape \(4,\) for input of shape "
                                         r"\(4, 3\) \(class dim 1\), got target shape \(4, 1\)"):
        F.cross_entropy(x, lamina.tensor([[0], [1], [2], [0]]))
    with pytest.raises(ValueError, match=r"target has dtype float32 and shape \(4,\), input has shape \(4, 3\)"):
        F.cross_entropy(x, lamina.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, lamina.tensor([0, 1, 3, 0]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.nll_loss(x, lamina.tensor([0, 1, -1, 0]))
    with pytest.raises(ValueError, match=r"weight should have shape \(3,\)"):
        F.cross_entropy(x, lamina.tensor([0, 1, 2, 0]), weight=lamina.ones(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, lamina.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="ignore_index is not supported"):
        F.cross_entropy(x, lamina.zeros(4, 3), ignore_index=1)
    with pytest.raises(TypeError, match="class-index target must be an integer tensor"):
        F.nll_loss(x, lamina.zeros(4, 3))


# ---------------------------------------------------------------- binary
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
def test_binary_cross_entropy(reduction, with_weight):
    r = rng(4)
    x = r.uniform(0.05, 0.95, (4, 3))
    y = r.uniform(0, 1, (4, 3))
    w = r.uniform(0.5, 2, (4, 3)) if with_weight else None  # a constant: torch has no gradient for it

    def fn(x, y, dt=np.float64):
        return F.binary_cross_entropy(x, y, weight=None if w is None else lamina.tensor(w.astype(dt)),
                                      reduction=reduction)

    def tfn(x, y):
        return TF.binary_cross_entropy(x, y, weight=None if w is None else torch.tensor(w.astype(np.float32)),
                                       reduction=reduction)

    gradcheck(fn, x, y)
    parity(lambda x, y: fn(x, y, np.float32), x.astype(np.float32), y.astype(np.float32), torch_fn=tfn)


def test_binary_cross_entropy_clamps_logs_and_checks_range():
    loss = F.binary_cross_entropy(lamina.tensor([0.0, 1.0]), lamina.tensor([1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0])
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([1.5]), lamina.tensor([1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target shape \(3,\) does not match input shape "
                                         r"\(3, 1\)"):
        F.binary_cross_entropy(lamina.full((3, 1), 0.5), lamina.ones(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits(reduction, opts):
    r = rng(5)
    x = r.standard_normal((4, 3)) * 3
    y = r.uniform(0, 1, (4, 3))
    w = r.uniform(0.5, 2, (4, 3)) if opts in ("weight", "both") else None
    pw = r.uniform(0.5, 3, (3,)) if opts in ("pos_weight", "both") else None

    def call(lib, fn, x, y, dt):  # weights are constants (torch refuses gradients for them)
        ww = None if w is None else lib.tensor(w.astype(dt))
        pp = None if pw is None else lib.tensor(pw.astype(dt))
        return fn(x, y, weight=ww, reduction=reduction, pos_weight=pp)

    gradcheck(lambda x, y: call(lamina, F.binary_cross_entropy_with_logits, x, y, np.float64), x, y)
    parity(lambda x, y: call(lamina, F.binary_cross_entropy_with_logits, x, y, np.float32), x.astype(np.float32),
           y.astype(np.float32), torch_fn=lambda x, y: call(torch, TF.binary_cross_entropy_with_logits, x, y,
                                                            np.float32))
    if pw is not None:  # pos_weight broadcasts over the class (last) dimension
        xx = lamina.tensor(x)
        full = F.binary_cross_entropy_with_logits(xx, lamina.tensor(y), pos_weight=lamina.tensor(np.tile(pw, (4, 1))),
                                                  reduction="sum")
        per_class = F.binary_cross_entropy_with_logits(xx, lamina.tensor(y), pos_weight=lamina.tensor(pw),
                                                       reduction="sum")
        assert full.item() == pytest.approx(per_class.item())


def test_bce_with_logits_extreme_logits_stable():
    x = lamina.tensor([-200.0, 200.0, 0.0], requires_grad=True)
    y = lamina.tensor([1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [200.0, 200.0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, -0.5], rtol=1e-6)


# ---------------------------------------------------------------- kl_div, cosine similarity
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    r = rng(6)
    x = np.log(r.dirichlet(np.ones(5), size=4))
    t = r.dirichlet(np.ones(5), size=4)
    if log_target:
        t = np.log(t)
    gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), x, t)
    parity(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), x.astype(np.float32),
           t.astype(np.float32), torch_fn=lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target))


def test_kl_div_zero_targets():
    x = lamina.tensor([[-1.0, -2.0]])
    loss = F.kl_div(x, lamina.tensor([[0.0, 1.0]]), reduction="sum")
    np.testing.assert_allclose(loss.item(), 2.0)


@pytest.mark.parametrize("shapes,dim", [(((4, 5), (4, 5)), 1), (((4, 5), (1, 5)), 1), (((3, 4, 2), (3, 4, 2)), -1),
                                        (((3, 4, 2), (3, 4, 2)), 0)])
def test_cosine_similarity(shapes, dim):
    r = rng(7)
    a, b = r.standard_normal(shapes[0]), r.standard_normal(shapes[1])
    gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=dim), a, b)
    parity(lambda a, b: F.cosine_similarity(a, b, dim=dim), a.astype(np.float32), b.astype(np.float32),
           torch_fn=lambda a, b: TF.cosine_similarity(a, b, dim=dim))


def test_cosine_similarity_zero_vector():
    pytest.importorskip("torch")
    a = np.zeros((2, 3), np.float32)
    a[1] = [1, 2, 3]
    b = np.ones((2, 3), np.float32)
    parity(lambda a, b: F.cosine_similarity(a, b), a, b, torch_fn=lambda a, b: TF.cosine_similarity(a, b))


# ---------------------------------------------------------------- modules
MODULE_CASES = [
    (nn.MSELoss(reduction="sum"), "MSELoss", {"reduction": "sum"}, "reg"),
    (nn.L1Loss(), "L1Loss", {}, "reg"),
    (nn.SmoothL1Loss(beta=0.5), "SmoothL1Loss", {"beta": 0.5}, "reg"),
    (nn.HuberLoss(delta=0.5, reduction="none"), "HuberLoss", {"delta": 0.5, "reduction": "none"}, "reg"),
    (nn.BCEWithLogitsLoss(), "BCEWithLogitsLoss", {}, "prob"),
    (nn.BCELoss(), "BCELoss", {}, "bce"),
    (nn.KLDivLoss(reduction="batchmean"), "KLDivLoss", {"reduction": "batchmean"}, "kl"),
    (nn.CrossEntropyLoss(label_smoothing=0.1), "CrossEntropyLoss", {"label_smoothing": 0.1}, "cls"),
    (nn.NLLLoss(ignore_index=1), "NLLLoss", {"ignore_index": 1}, "cls"),
]


@pytest.mark.parametrize("mod,tname,kw,kind", MODULE_CASES, ids=[c[1] for c in MODULE_CASES])
def test_loss_modules(mod, tname, kw, kind):
    if torch is None:
        pytest.skip("torch not installed")
    tmod = getattr(torch.nn, tname)(**kw)
    assert repr(mod) == repr(tmod)
    r = rng(8)
    x = r.standard_normal((6, 4)).astype(np.float32)
    if kind == "reg":
        y = r.standard_normal((6, 4)).astype(np.float32)
    elif kind == "prob":
        y = r.uniform(0, 1, (6, 4)).astype(np.float32)
    elif kind == "bce":
        x = r.uniform(0.1, 0.9, (6, 4)).astype(np.float32)
        y = r.uniform(0, 1, (6, 4)).astype(np.float32)
    elif kind == "kl":
        x = np.log(r.dirichlet(np.ones(4), 6)).astype(np.float32)
        y = r.dirichlet(np.ones(4), 6).astype(np.float32)
    else:
        y = r.integers(0, 4, 6)
    parity(mod, x, y, torch_fn=tmod)


def test_weighted_loss_modules_register_buffers():
    w = lamina.tensor([1.0, 2.0, 3.0])
    ce = nn.CrossEntropyLoss(weight=w)
    assert list(ce.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(pos_weight=lamina.tensor([2.0]))
    assert list(bce.state_dict()) == ["pos_weight"]
    ce.double()
    assert ce.weight.dtype == np.float64
    x = lamina.randn(4, 3, dtype=lamina.float64)
    assert ce(x, lamina.tensor([0, 1, 2, 1])).dtype == np.float64
    cs = nn.CosineSimilarity(dim=0)
    assert cs(lamina.tensor([1.0, 0.0]), lamina.tensor([1.0, 0.0])).item() == pytest.approx(1.0)


def test_shape_errors_name_the_loss():
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(8,\) does not match input shape \(8, 1\)"):
        nn.MSELoss()(lamina.zeros(8, 1), lamina.zeros(8))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target shape \(2, 2\) does not match"):
        F.binary_cross_entropy_with_logits(lamina.zeros(2), lamina.zeros(2, 2))
    with pytest.raises(TypeError, match="mse_loss: input must be a floating-point tensor"):
        F.mse_loss(lamina.tensor([1, 2]), lamina.tensor([1, 2]))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(lamina.zeros(2), lamina.zeros(2), reduction="avg")


def test_integer_regression_target_is_cast():
    loss = F.mse_loss(lamina.tensor([1.0, 2.0]), lamina.tensor([1, 4]))
    assert loss.dtype == np.float32 and loss.item() == pytest.approx(2.0)


hyp = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 5), extra=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.15]),
       ignore=st.booleans(), weighted=st.booleans(), seed=st.integers(0, 1000))
def test_cross_entropy_random_shapes(n, c, extra, reduction, smoothing, ignore, weighted, seed):
    r = rng(seed)
    x = r.standard_normal((n, c, *extra)).astype(np.float32)
    t = r.integers(0, c, (n, *extra))
    ign = int(r.integers(0, c)) if ignore else -100
    w = r.uniform(0.5, 2, c).astype(np.float32) if weighted else None
    if ignore and (t == ign).all():
        t.reshape(-1)[0] = (ign + 1) % c if c > 1 else t.reshape(-1)[0]
        if (t == ign).all():
            return  # every target ignored: covered by test_cross_entropy_all_ignored_is_nan
    kw = dict(ignore_index=ign, reduction=reduction, label_smoothing=smoothing)
    parity(lambda x: F.cross_entropy(x, lamina.tensor(t), weight=None if w is None else lamina.tensor(w), **kw), x,
           torch_fn=lambda x: TF.cross_entropy(x, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw))
