"""EmbeddingBag / F.embedding_bag, Embedding(Bag).from_pretrained, Bilinear / F.bilinear: torch parity."""
import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, parity, rng

import lamina
import lamina.nn.functional as F
from lamina import nn

try:
    import torch
    import torch.nn as tnn
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    torch = tnn = TF = None

IDS = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0, 7])


def _w(seed=0, n=10, d=3):
    return rng(seed).standard_normal((n, d))


CASES = [
    ("1d_offsets", IDS, np.array([0, 4, 4, 8]), {}),              # an empty bag in the middle
    ("2d", IDS[:10].reshape(2, 5), None, {}),
    ("last_offset", IDS, np.array([0, 3, 7, 11]), {"include_last_offset": True}),
    ("padding", IDS, np.array([0, 4, 8]), {"padding_idx": 0}),
    ("padding2", IDS, np.array([0, 1, 5, 8]), {"padding_idx": 4}),
    ("all_padding_bag", np.array([2, 2, 1, 3]), np.array([0, 2]), {"padding_idx": 2}),
]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("name,ids,offsets,kw", CASES, ids=[c[0] for c in CASES])
def test_embedding_bag_matches_torch(mode, name, ids, offsets, kw):
    w = _w()
    off = (offsets,) if offsets is not None else ()
    f = lambda weight, i, *o: F.embedding_bag(i, weight, *o, mode=mode, **kw)   # noqa: E731
    t = lambda weight, i, *o: TF.embedding_bag(i, weight, *o, mode=mode, **kw)  # noqa: E731
    parity(f, w, ids, *off, torch_fn=t, atol=1e-12, rtol=1e-12)
    parity(f, w.astype(np.float32), ids, *off, torch_fn=t)
    gradcheck(f, w, ids, *off)


def test_max_mode_ties_route_gradient_to_first_max():
    w = np.array([[1.0, 5.0], [1.0, 2.0], [0.0, 5.0]])
    parity(lambda a, i, o: F.embedding_bag(i, a, o, mode="max"), w, np.array([0, 1, 2, 1]), np.array([0, 3]),
           torch_fn=lambda a, i, o: TF.embedding_bag(i, a, o, mode="max"), atol=0, rtol=0)


@pytest.mark.parametrize("layout", ["1d", "2d"])
def test_per_sample_weights(layout):
    w, psw = _w(1), rng(2).uniform(0.5, 2.0, 10)
    ids, off = (IDS[:10], (np.array([0, 3, 7]),)) if layout == "1d" else (IDS[:10].reshape(2, 5), ())
    psw = psw if layout == "1d" else psw.reshape(2, 5)
    f = lambda a, p, i, *o: F.embedding_bag(i, a, *o, mode="sum", per_sample_weights=p)   # noqa: E731
    t = lambda a, p, i, *o: TF.embedding_bag(i, a, *o, mode="sum", per_sample_weights=p)  # noqa: E731
    parity(f, w, psw, ids, *off, torch_fn=t, atol=1e-12, rtol=1e-12)
    gradcheck(f, w, psw, ids, *off)
    gradgradcheck(f, w, psw, ids, *off)
    f_pad = lambda a, p, i, o: F.embedding_bag(i, a, o, mode="sum", per_sample_weights=p, padding_idx=4)  # noqa
    t_pad = lambda a, p, i, o: TF.embedding_bag(i, a, o, mode="sum", per_sample_weights=p, padding_idx=4)  # noqa
    parity(f_pad, w, rng(3).uniform(size=11), IDS, np.array([0, 5]), torch_fn=t_pad, atol=1e-12, rtol=1e-12)


def test_max_norm_and_scale_grad_by_freq():
    w = _w(4) * 3
    lw, tw = lamina.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    off = np.array([0, 5])
    y = F.embedding_bag(lamina.tensor(IDS), lw, lamina.tensor(off), max_norm=1.0, scale_grad_by_freq=True, mode="sum")
    ty = TF.embedding_bag(torch.tensor(IDS), tw, torch.tensor(off), max_norm=1.0, scale_grad_by_freq=True, mode="sum")
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(lw.detach().numpy(), tw.detach().numpy(), rtol=1e-6)   # rows renormalised in place
    y.sum().backward()
    # torch 2.13's CPU embedding_bag divides by the wrong count (pytorch/pytorch#190063, fixed upstream);
    # the documented rule: row k's gradient is the sum of dy over its occurrences / count(k) = 1 here
    counts = np.bincount(IDS, minlength=10)
    np.testing.assert_allclose(lw.grad.numpy(), np.repeat((counts > 0)[:, None], 3, 1).astype(float))
    tw2 = torch.tensor(w.copy(), requires_grad=True)
    TF.embedding(torch.tensor(IDS), tw2, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(lw.grad.numpy(), tw2.grad.numpy())   # what torch's Embedding does


def test_module_matches_torch():
    for kw in ({"mode": "max", "padding_idx": 0}, {"mode": "sum", "include_last_offset": True, "max_norm": 1.0,
                                                    "scale_grad_by_freq": True}, {}):
        m, tm = nn.EmbeddingBag(10, 3, **kw), tnn.EmbeddingBag(10, 3, **kw)
        assert repr(m) == repr(tm)
        assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
        if "padding_idx" in kw:
            np.testing.assert_array_equal(m.weight.detach().numpy()[0], 0.0)
    m = nn.EmbeddingBag(1000, 8)
    assert abs(m.weight.detach().numpy().std() - 1.0) < 0.05            # N(0, 1), as torch
    m.load_state_dict(tnn.EmbeddingBag(1000, 8).state_dict())
    x = lamina.tensor(np.array([[1, 2, 3], [4, 5, 6]]))
    assert m(x).shape == (2, 8)
    y = m(lamina.tensor(IDS), lamina.tensor(np.array([0, 4])), per_sample_weights=None)
    assert y.shape == (2, 8)


def test_from_pretrained():
    w = _w(5)
    for cls, tcls in ((nn.Embedding, tnn.Embedding), (nn.EmbeddingBag, tnn.EmbeddingBag)):
        m, tm = cls.from_pretrained(lamina.tensor(w), padding_idx=1), tcls.from_pretrained(torch.tensor(w),
                                                                                         padding_idx=1)
        assert m.weight.requires_grad is tm.weight.requires_grad is False
        assert repr(m) == repr(tm)
        np.testing.assert_array_equal(m.weight.detach().numpy(), w)        # used as is (row 1 not zeroed)
        m2 = cls.from_pretrained(lamina.tensor(w), freeze=False)
        assert m2.weight.requires_grad
        with pytest.raises(ValueError):
            cls.from_pretrained(lamina.tensor(w[0]))
    bag = nn.EmbeddingBag.from_pretrained(lamina.tensor(w), mode="sum", freeze=False)
    tbag = tnn.EmbeddingBag.from_pretrained(torch.tensor(w), mode="sum", freeze=False)
    parity(lambda i: bag(i), IDS[:10].reshape(2, 5), torch_fn=lambda i: tbag(i), atol=1e-12, grad=False)


def test_errors_match_torch():
    w = lamina.randn(10, 3)
    tw = torch.randn(10, 3)
    cases = [
        ((IDS, {"offsets": np.array([1, 4])}), RuntimeError),
        ((IDS, {}), ValueError),
        ((IDS.reshape(1, -1), {"offsets": np.array([0])}), ValueError),
        ((IDS, {"offsets": np.array([0, 12])}), RuntimeError),
        ((IDS, {"offsets": np.array([0, 4]), "mode": "foo"}), ValueError),
        ((IDS, {"offsets": np.array([0, 4]), "mode": "mean", "per_sample_weights": np.ones(11)}),
         NotImplementedError),
        ((IDS, {"offsets": np.array([0, 4]), "mode": "sum", "per_sample_weights": np.ones(7)}), ValueError),
    ]
    for (ids, kw), exc in cases:
        lk = {k: lamina.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        with pytest.raises(exc):
            TF.embedding_bag(torch.tensor(ids), tw, **tk)
        with pytest.raises(exc):
            F.embedding_bag(lamina.tensor(ids), w, **lk)
    with pytest.raises(IndexError):
        F.embedding_bag(lamina.tensor([1, 2, 11]), w, lamina.tensor([0]))
    with pytest.raises(RuntimeError):
        F.embedding_bag(lamina.tensor([1.0, 2.0]), w, lamina.tensor([0]))


# ---------------------------------------------------------------- bilinear
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_function(lead, bias):
    r = rng(6)
    x1, x2 = r.standard_normal(lead + (3,)), r.standard_normal(lead + (4,))
    w, b = r.standard_normal((2, 3, 4)), r.standard_normal(2)
    args = (x1, x2, w) + ((b,) if bias else ())
    gradcheck(F.bilinear, *args)
    gradgradcheck(F.bilinear, *args)
    parity(F.bilinear, *args, torch_fn=TF.bilinear, atol=1e-12, rtol=1e-10)
    parity(F.bilinear, *[a.astype(np.float32) for a in args], torch_fn=TF.bilinear)


def test_bilinear_module():
    m, tm = nn.Bilinear(3, 4, 5), tnn.Bilinear(3, 4, 5)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (5, 3, 4)
    big = nn.Bilinear(16, 2, 400)
    wv = big.weight.detach().numpy()
    assert np.abs(wv).max() <= 0.25 and wv.std() > 0.25 / np.sqrt(3) * 0.9   # U(-1/sqrt(16), 1/sqrt(16))
    m.load_state_dict(tm.state_dict())
    parity(lambda a, b: m(a, b), rng(7).standard_normal((6, 3)).astype(np.float32),
           rng(8).standard_normal((6, 4)).astype(np.float32), torch_fn=lambda a, b: tm(a, b))
    assert nn.Bilinear(3, 4, 5, bias=False).bias is None
    with pytest.raises(RuntimeError):
        m(lamina.randn(6, 3), lamina.randn(5, 4))
    with pytest.raises(RuntimeError):
        tm(torch.randn(6, 3), torch.randn(5, 4))
