"""RNN / LSTM / GRU and their cells: torch parity (outputs, states, every gradient), variable
lengths and packed sequences, float64 gradchecks of the fused op, init, names and errors."""
import math

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, rng

import lamina
from lamina.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, _run_layer
from lamina.nn.layers.rnn_utils import pack_padded_sequence
from lamina.ops import _rnn_kernels

torch = pytest.importorskip("torch")


T, N, I, H = 5, 3, 4, 6
KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def _make(kind, **kw):
    """The same layer in lamina and torch, torch's weights copied in by state_dict."""
    if kind.startswith("rnn"):
        kw["nonlinearity"] = kind[4:]
    lam_cls, t_cls = {"rnn": (RNN, torch.nn.RNN), "lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU)}[
        kind[:4].rstrip("_")]
    tm = t_cls(I, H, **kw).double()
    lm = lam_cls(I, H, **kw).double()
    lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return lm, tm


def _pair(a, requires_grad=True):
    return lamina.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def _close(a, b, what, tol=1e-9):
    a = a.detach().numpy() if isinstance(a, lamina.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a, b, atol=tol, rtol=tol, err_msg=what)


def _backward_both(louts, touts, seed=7):
    r = rng(seed)
    seeds = [r.standard_normal(tuple(t.shape)) for t in touts]
    sum(((lo * lamina.tensor(s)).sum() for lo, s in zip(louts, seeds)), lamina.tensor(0.0, dtype=lamina.float64)
        ).backward()
    sum((to * torch.tensor(s)).sum() for to, s in zip(touts, seeds)).backward()


def _check_params(lm, tm, tol=1e-9):
    tgrads = dict(tm.named_parameters())
    for name, p in lm.named_parameters():
        _close(p.grad, tgrads[name].grad, f"gradient of {name}", tol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_layer_parity(kind, num_layers, bidirectional, batch_first, with_state):
    lm, tm = _make(kind, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    r = rng(1)
    lx, tx = _pair(r.standard_normal((N, T, I) if batch_first else (T, N, I)))
    k = num_layers * (2 if bidirectional else 1)
    lh, th = _pair(r.standard_normal((k, N, H)) * 0.5)
    lc, tc = _pair(r.standard_normal((k, N, H)) * 0.5)
    if kind == "lstm":
        lhx, thx = ((lh, lc), (th, tc)) if with_state else (None, None)
    else:
        lhx, thx = (lh, th) if with_state else (None, None)
    ly, lstate = lm(lx, lhx)
    ty, tstate = tm(tx, thx)
    lst = list(lstate) if kind == "lstm" else [lstate]
    tst = list(tstate) if kind == "lstm" else [tstate]
    _close(ly, ty, "output")
    for a, b in zip(lst, tst):
        _close(a, b, "final state")
    _backward_both([ly] + lst, [ty] + tst)
    _close(lx.grad, tx.grad, "input gradient")
    if with_state:
        _close(lh.grad, th.grad, "h0 gradient")
        if kind == "lstm":
            _close(lc.grad, tc.grad, "c0 gradient")
    _check_params(lm, tm)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_parity_and_no_bias(kind):
    tm = {"rnn_tanh": torch.nn.RNN(I, H, bias=False), "rnn_relu": torch.nn.RNN(I, H, nonlinearity="relu"),
          "lstm": torch.nn.LSTM(I, H, bias=False), "gru": torch.nn.GRU(I, H, bias=False)}[kind]
    cls = {"rnn_tanh": RNN, "rnn_relu": RNN, "lstm": LSTM, "gru": GRU}[kind]
    kw = {"nonlinearity": "relu"} if kind == "rnn_relu" else {"bias": False}
    lm = cls(I, H, **kw)
    lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng(2).standard_normal((T, N, I)).astype(np.float32)
    lx, tx = _pair(x)
    ly, ls = lm(lx)
    ty, ts = tm(tx)
    assert ly.dtype == np.float32
    _close(ly, ty, "output", 1e-5)
    ls, ts = (list(ls), list(ts)) if kind == "lstm" else ([ls], [ts])
    _backward_both([ly] + ls, [ty] + ts)
    _close(lx.grad, tx.grad, "input gradient", 1e-4)
    _check_params(lm, tm, 1e-4)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_dropout_between_layers(kind):
    lm, tm = _make(kind, num_layers=3, dropout=0.5)
    x = rng(3).standard_normal((T, N, I))
    lm.eval(), tm.eval()
    ly, _ = lm(lamina.tensor(x))
    ty, _ = tm(torch.tensor(x))
    _close(ly, ty, "eval output (dropout off)")
    lm.train()
    a, _ = lm(lamina.tensor(x))
    b, _ = lm(lamina.tensor(x))
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())  # dropout is on between layers while training
    one, _ = _make(kind, num_layers=1)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        LSTM(I, H, dropout=0.2)
    one.train()
    y1, _ = one(lamina.tensor(x))
    y2, _ = one(lamina.tensor(x))
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())  # no dropout after the last layer


def test_unbatched_input():
    lm, tm = _make("lstm", num_layers=2, bidirectional=True)
    r = rng(4)
    lx, tx = _pair(r.standard_normal((T, I)))
    lh, th = _pair(r.standard_normal((4, H)))
    lc, tc = _pair(r.standard_normal((4, H)))
    ly, (lhn, lcn) = lm(lx, (lh, lc))
    ty, (thn, tcn) = tm(tx, (th, tc))
    assert ly.shape == (T, 2 * H) and lhn.shape == (4, H)
    _close(ly, ty, "output")
    _close(lcn, tcn, "c_n")
    _backward_both([ly, lhn, lcn], [ty, thn, tcn])
    for a, b, what in ((lx, tx, "x"), (lh, th, "h0"), (lc, tc, "c0")):
        _close(a.grad, b.grad, what)


# ---------------------------------------------------------------- variable lengths
LENGTHS = [5, 2, 4]


def _torch_packed_run(tm, tx, thx, lengths, batch_first=False):
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                                     enforce_sorted=False)
    out, state = tm(packed, thx)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return y, state


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("how", ["lengths", "packed"])
def test_variable_lengths_parity(kind, num_layers, bidirectional, how):
    lm, tm = _make(kind, num_layers=num_layers, bidirectional=bidirectional)
    r = rng(5)
    lx, tx = _pair(r.standard_normal((T, N, I)))
    k = num_layers * (2 if bidirectional else 1)
    lh, th = _pair(r.standard_normal((k, N, H)) * 0.5)
    lc, tc = _pair(r.standard_normal((k, N, H)) * 0.5)
    lhx, thx = ((lh, lc), (th, tc)) if kind == "lstm" else (lh, th)
    if how == "lengths":
        ly, lstate = lm(lx, lhx, lengths=lamina.tensor(LENGTHS))
    else:
        packed = pack_padded_sequence(lx, LENGTHS, enforce_sorted=False)
        lout, lstate = lm(packed, lhx)
        assert np.array_equal(lout.batch_sizes.detach().numpy(), packed.batch_sizes.detach().numpy())
        from lamina.nn.layers.rnn_utils import pad_packed_sequence
        ly, lens = pad_packed_sequence(lout, total_length=T)
        assert lens.tolist() == LENGTHS
    ty, tstate = _torch_packed_run(tm, tx, thx, LENGTHS)
    lst = list(lstate) if kind == "lstm" else [lstate]
    tst = list(tstate) if kind == "lstm" else [tstate]
    _close(ly, ty, "padded output")
    for a, b in zip(lst, tst):
        _close(a, b, "final state")
    _backward_both([ly] + lst, [ty] + tst)
    _close(lx.grad, tx.grad, "input gradient")
    for b, n in enumerate(LENGTHS):  # padding is never read: its gradient is exactly zero
        assert np.all(lx.grad.detach().numpy()[n:, b] == 0)
        assert np.all(ly.detach().numpy()[n:, b] == 0)
    _close(lh.grad, th.grad, "h0 gradient")
    if kind == "lstm":
        _close(lc.grad, tc.grad, "c0 gradient")
    _check_params(lm, tm)


def test_lengths_batch_first_and_padding_values_do_not_matter():
    lm, _ = _make("gru", bidirectional=True, batch_first=True)
    x = rng(6).standard_normal((N, T, I))
    y = x.copy()
    for b, n in enumerate(LENGTHS):
        y[b, n:] = np.array([np.nan, np.inf, 1e3, -np.inf])[:I]  # garbage in the padding
    a, ha = lm(lamina.tensor(x), lengths=LENGTHS)
    ly = lamina.tensor(y, requires_grad=True)
    b_, hb = lm(ly, lengths=np.array(LENGTHS))
    np.testing.assert_array_equal(a.detach().numpy(), b_.detach().numpy())
    np.testing.assert_array_equal(ha.detach().numpy(), hb.detach().numpy())
    (b_.sum() + hb.sum()).backward()
    assert np.all(np.isfinite(ly.grad.numpy()))
    for name, p in lm.named_parameters():
        assert np.all(np.isfinite(p.grad.numpy())), name
    # a sequence run alone gives the same final state as inside the padded batch
    solo, hs = lm(lamina.tensor(x[1:2, :LENGTHS[1]]))
    np.testing.assert_allclose(hs.detach().numpy()[:, 0], ha.detach().numpy()[:, 1], atol=1e-12)
    np.testing.assert_allclose(solo.detach().numpy()[0], a.detach().numpy()[1, :LENGTHS[1]], atol=1e-12)


def test_full_lengths_take_the_unmasked_path():
    lm, _ = _make("lstm")
    x = lamina.tensor(rng(7).standard_normal((T, N, I)))
    a, (ha, ca) = lm(x)
    b, (hb, cb) = lm(x, lengths=[T] * N)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    np.testing.assert_array_equal(ca.detach().numpy(), cb.detach().numpy())


# ---------------------------------------------------------------- cells
CELLS = {"rnn_tanh": (RNNCell, torch.nn.RNNCell, {}), "rnn_relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
         "lstm": (LSTMCell, torch.nn.LSTMCell, {}), "gru": (GRUCell, torch.nn.GRUCell, {})}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_parity(kind, batched, with_state, bias):
    lcls, tcls, kw = CELLS[kind]
    tm = tcls(I, H, bias=bias, **kw).double()
    lm = lcls(I, H, bias=bias, **kw).double()
    lm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert repr(lm) == repr(tm)
    r = rng(8)
    shape = (N,) if batched else ()
    lx, tx = _pair(r.standard_normal(shape + (I,)))
    lh, th = _pair(r.standard_normal(shape + (H,)))
    lc, tc = _pair(r.standard_normal(shape + (H,)))
    if kind == "lstm":
        lhx, thx = ((lh, lc), (th, tc)) if with_state else (None, None)
    else:
        lhx, thx = (lh, th) if with_state else (None, None)
    lo, to = lm(lx, lhx), tm(tx, thx)
    lo, to = (list(lo), list(to)) if kind == "lstm" else ([lo], [to])
    for a, b in zip(lo, to):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b, "cell output")
    _backward_both(lo, to)
    _close(lx.grad, tx.grad, "input gradient")
    if with_state:
        _close(lh.grad, th.grad, "h gradient")
        if kind == "lstm":
            _close(lc.grad, tc.grad, "c gradient")
    _check_params(lm, tm)


def test_cell_in_a_loop_matches_the_layer():
    layer = LSTM(I, H).double()
    cell = LSTMCell(I, H).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = lamina.tensor(rng(9).standard_normal((T, N, I)))
    y, (h_n, c_n) = layer(x)
    h = c = None
    outs = []
    for t in range(T):
        h, c = cell(x[t], None if h is None else (h, c))
        outs.append(h)
    np.testing.assert_allclose(lamina.stack(outs).detach().numpy(), y.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), c_n.detach().numpy()[0], atol=1e-12)


# ---------------------------------------------------------------- gradchecks of the fused op
def _layer_fn(mode, mask=None, reverse=False):
    def fn(x, h, *rest):
        if mode == "LSTM":
            c, wih, whh, bih, bhh = rest
            return _run_layer(mode, x, [h, c], wih, whh, bih, bhh, mask, reverse)
        wih, whh, bih, bhh = rest
        return _run_layer(mode, x, [h], wih, whh, bih, bhh, mask, reverse)
    return fn


def _arrays(mode, steps=2, n=2, i=3, h=2, seed=10):
    r = rng(seed)
    g = {"LSTM": 4, "GRU": 3}.get(mode, 1) * h
    arrs = [r.standard_normal((steps, n, i)), r.standard_normal((n, h))]
    if mode == "LSTM":
        arrs.append(r.standard_normal((n, h)))
    return arrs + [r.standard_normal((g, i)), r.standard_normal((g, h)), r.standard_normal(g), r.standard_normal(g)]


MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck(mode, reverse):
    gradcheck(_layer_fn(mode, reverse=reverse), *_arrays(mode, steps=3))


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_masked(mode):
    mask = np.array([[True, True, True], [True, False, True], [False, False, True]])  # lengths 2, 1, 3
    gradcheck(_layer_fn(mode, mask=mask), *_arrays(mode, steps=3, n=3))
    gradcheck(_layer_fn(mode, mask=mask, reverse=True), *_arrays(mode, steps=3, n=3))


@pytest.mark.parametrize("mode", MODES)
def test_second_derivatives(mode):
    mask = np.array([[True, True], [True, False]])
    gradgradcheck(_layer_fn(mode), *_arrays(mode, steps=2, i=2))
    gradgradcheck(_layer_fn(mode, mask=mask, reverse=True), *_arrays(mode, steps=2, i=2))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_array_fallback_matches_kernels(mode, monkeypatch):
    arrs = _arrays(mode, steps=4, n=3, seed=11)
    mask = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 1], [0, 0, 1]], dtype=bool)

    def run():
        ts = [lamina.tensor(a, requires_grad=True) for a in arrs]
        outs = _layer_fn(mode, mask=mask, reverse=True)(*ts)
        sum((o * (k + 1.5)).sum() for k, o in enumerate(outs)).backward()
        return [o.detach().numpy() for o in outs] + [t.grad.detach().numpy() for t in ts]

    fast = run()
    monkeypatch.setattr(_rnn_kernels, "USE_NUMBA", False)
    slow = run()
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, atol=1e-12)


# ---------------------------------------------------------------- modules: names, init, loading
@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_names_shapes_and_repr(kind):
    lm, tm = _make(kind, num_layers=2, bidirectional=True, bias=True, batch_first=True)
    ls, ts = lm.state_dict(), tm.state_dict()
    assert list(ls) == list(ts)
    for k in ts:
        assert tuple(ls[k].shape) == tuple(ts[k].shape)
    assert repr(lm) == repr(tm)
    lm2, tm2 = _make(kind, num_layers=3, dropout=0.25, bias=False)
    assert repr(lm2) == repr(tm2)
    assert list(lm2.state_dict()) == list(tm2.state_dict())


def test_default_init_bounds():
    lamina.manual_seed(0)
    for m in (LSTM(5, 64, num_layers=2), GRU(5, 64), RNN(5, 64), LSTMCell(5, 64), GRUCell(5, 64)):
        bound = 1 / math.sqrt(64)
        for name, p in m.named_parameters():
            a = p.detach().numpy()
            assert a.min() >= -bound and a.max() <= bound, name
            assert a.max() > 0.8 * bound and a.min() < -0.8 * bound, name
            assert p.dtype == np.float32


def test_torch_model_loads_by_name():
    class Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(11, I)
            self.rnn = torch.nn.LSTM(I, H, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(H, 11)

        def forward(self, ids):
            return self.head(self.rnn(self.emb(ids))[0])

    class LSeq(lamina.nn.Module):
        def __init__(self):
            super().__init__()
            from lamina.nn.layers.embedding import Embedding
            self.emb = Embedding(11, I)
            self.rnn = LSTM(I, H, num_layers=2, batch_first=True)
            self.head = lamina.nn.Linear(H, 11)

        def forward(self, ids):
            return self.head(self.rnn(self.emb(ids))[0])

    tm, lm = Seq(), LSeq()
    lm.load_state_dict(tm.state_dict())  # torch tensors load directly
    ids = rng(12).integers(0, 11, (N, T))
    np.testing.assert_allclose(lm(lamina.tensor(ids)).detach().numpy(), tm(torch.tensor(ids)).detach().numpy(),
                               atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- errors
def test_errors():
    m = LSTM(64, 20, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM\(input_size=64\): input has 32 features \(input shape \(10, 4, 32\)\)"):
        m(lamina.randn(10, 4, 32))
    with pytest.raises(ValueError, match="2 \\(unbatched\\) or 3 \\(batched\\) dimensions"):
        m(lamina.randn(2, 10, 4, 64))
    x = lamina.randn(10, 4, 64)
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 4, 20\).*got \(1, 4, 20\)"):
        m(x, (lamina.zeros(1, 4, 20), lamina.zeros(2, 4, 20)))
    with pytest.raises(ValueError, match=r"expected c0 of shape"):
        m(x, (lamina.zeros(2, 4, 20), lamina.zeros(2, 3, 20)))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
        m(x, lamina.zeros(2, 4, 20))
    with pytest.raises(ValueError, match="lengths must lie in \\[0, 10\\]"):
        m(x, lengths=[11, 3, 2, 1])
    with pytest.raises(ValueError, match="got 3 lengths for a batch of 4"):
        m(x, lengths=[3, 2, 1])
    with pytest.raises(TypeError, match="dtype float64 does not match the weight dtype float32"):
        m(x.double())
    with pytest.raises(ValueError, match=r"GRU: expected h0 of shape \(1, 4, 20\)"):
        GRU(64, 20)(x, lamina.zeros(4, 20))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        LSTM(3, 0)
    with pytest.raises(NotImplementedError, match="proj_size"):
        LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match=r"LSTMCell\(input_size=3\): input has 5 features"):
        LSTMCell(3, 4)(lamina.randn(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell: expected h of shape \(2, 4\)"):
        GRUCell(3, 4)(lamina.randn(2, 3), lamina.randn(3, 4))
    with pytest.raises(ValueError, match="1-D \\(unbatched\\) or 2-D"):
        RNNCell(3, 4)(lamina.randn(1, 2, 3))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_frozen_weights_and_state_only_gradients(kind):
    lm, tm = _make(kind, bidirectional=True)
    lm.requires_grad_(False)
    tm.requires_grad_(False)
    r = rng(13)
    x = r.standard_normal((T, N, I))
    lh, th = _pair(r.standard_normal((2, N, H)))
    lc, tc = _pair(r.standard_normal((2, N, H)))
    lhx, thx = ((lh, lc), (th, tc)) if kind == "lstm" else (lh, th)
    ly, _ = lm(lamina.tensor(x), lhx, lengths=LENGTHS)
    ty, _ = _torch_packed_run(tm, torch.tensor(x), thx, LENGTHS)
    _backward_both([ly], [ty])
    _close(lh.grad, th.grad, "h0 gradient")
    if kind == "lstm":
        _close(lc.grad, tc.grad, "c0 gradient")
    assert all(p.grad is None for p in lm.parameters())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_saturated_gates_stay_finite_and_quiet(kind):
    """Huge pre-activations overflow exp to inf inside the kernels: the limits must be exact."""
    import warnings

    tm = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](I, H)
    lm = {"lstm": LSTM, "gru": GRU}[kind](I, H)
    lm.load_state_dict(tm.state_dict())
    x = (rng(14).standard_normal((T, N, I)) * 500).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ly, _ = lm(lamina.tensor(x))
    ty, _ = tm(torch.tensor(x))
    assert np.all(np.isfinite(ly.detach().numpy()))
    _close(ly, ty, "saturated output", 1e-5)
