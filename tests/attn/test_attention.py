"""scaled_dot_product_attention and MultiheadAttention: torch parity (outputs and every gradient)
for each mask kind, causal, scale, broadcasting and fully masked rows; the Numba kernels against
the array code; float64 gradchecks (and second derivatives); dropout; errors."""
import numpy as np
import pytest
from attn_common import backward_both, check_param_grads, close, load_from_torch, pair
from helpers import gradcheck, gradgradcheck, parity, rng

import lamina
from lamina.nn.layers.attention import MultiheadAttention
from lamina.ops import attention as A
from lamina.ops.attention import attention, scaled_dot_product_attention as sdpa

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture(params=[True, False], ids=["kernels", "arrays"])
def kernels(request, monkeypatch):
    monkeypatch.setattr(A, "USE_KERNELS", request.param)
    return request.param


def _qkv(B=(2, 3), L=4, S=5, E=8, Ev=6, seed=0, dtype=np.float32):
    r = rng(seed)
    return [r.standard_normal(B + shape).astype(dtype) for shape in ((L, E), (S, E), (S, Ev))]


def _sdpa_parity(arrays, tol=1e-5, **kw):
    return parity(lambda q, k, v, *m: sdpa(q, k, v, *m, **kw),
                  *arrays, torch_fn=lambda q, k, v, *m: TF.scaled_dot_product_attention(q, k, v, *m, **kw),
                  atol=tol, rtol=tol)


def _np(t):
    return t.detach().numpy()


# ---------------------------------------------------------------- scaled_dot_product_attention
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L,S", [(4, 5), (5, 5), (6, 3)])
def test_sdpa_parity_plain_and_causal(kernels, causal, L, S):
    _sdpa_parity(_qkv(L=L, S=S), is_causal=causal)


@pytest.mark.parametrize("mask_shape", [(4, 5), (2, 1, 4, 5), (1, 3, 1, 5), (1, 5), (4, 1), (2, 3, 4, 5)])
def test_sdpa_bool_mask_broadcasts(kernels, mask_shape):
    m = rng(5).random(mask_shape) > 0.3
    _sdpa_parity(_qkv() + [m])


@pytest.mark.parametrize("mask_shape", [(4, 5), (3, 1, 5), (2, 3, 4, 5)])
def test_sdpa_float_mask_and_its_gradient(kernels, mask_shape):
    m = rng(6).standard_normal(mask_shape).astype(np.float32)
    _sdpa_parity(_qkv() + [m])  # the float mask requires grad here: its gradient is compared too


def test_sdpa_float_mask_with_inf_entries(kernels):
    m = np.where(rng(7).random((4, 5)) > 0.4, 0.0, -np.inf).astype(np.float32)
    _sdpa_parity(_qkv() + [m])


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros(kernels, kind):
    m = rng(8).random((4, 5)) > 0.3
    m[1] = False
    mask = m if kind == "bool" else np.where(m, 0.0, -np.inf).astype(np.float32)
    out = _sdpa_parity(_qkv() + [mask])[0]
    assert np.all(_np(out)[:, :, 1] == 0) and np.isfinite(_np(out)).all()


def test_sdpa_scale_and_value_dim(kernels):
    _sdpa_parity(_qkv(E=8, Ev=3), scale=0.37)
    _sdpa_parity(_qkv(E=8, Ev=3), scale=2.0, is_causal=True)


@pytest.mark.parametrize("batch", [(), (3,), (2, 1, 2)])
def test_sdpa_ranks(kernels, batch):
    _sdpa_parity(_qkv(B=batch))


def test_sdpa_broadcast_batch_dims(kernels):
    q, k, v = _qkv()
    _sdpa_parity([q, k[:1], v[:1]])


def test_sdpa_float64_and_noncontiguous():
    q, k, v = _qkv(dtype=np.float64)
    _sdpa_parity([q, np.swapaxes(np.swapaxes(k, 0, 1).copy(), 0, 1), v], tol=1e-10, is_causal=True)


def test_kernels_match_array_code(monkeypatch):
    """The Numba softmax kernels and the NumPy code agree, including large scores and masks."""
    q, k, v = (a * 4 for a in _qkv(B=(3, 2), L=7, S=9, seed=11))
    m = rng(12).random((7, 9)) > 0.3
    m[2] = False
    res = {}
    for flag in (True, False):
        monkeypatch.setattr(A, "USE_KERNELS", flag)
        for causal, mask in ((True, None), (False, m)):
            ts = [lamina.tensor(a, requires_grad=True) for a in (q, k, v)]
            out = sdpa(*ts, None if mask is None else lamina.tensor(mask), is_causal=causal)
            out.backward(lamina.tensor(rng(1).standard_normal(out.shape).astype(np.float32)))
            res[flag, causal] = [_np(out)] + [_np(t.grad) for t in ts]
    for causal in (True, False):
        for a, b in zip(res[True, causal], res[False, causal]):
            np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_gradcheck(causal):
    q, k, v = _qkv(B=(2,), L=3, S=4 if not causal else 3, E=3, Ev=2, dtype=np.float64)
    gradcheck(lambda q, k, v: sdpa(q, k, v, is_causal=causal), q, k, v)


def test_sdpa_gradcheck_masks():
    q, k, v = _qkv(B=(2,), L=3, S=4, E=3, Ev=2, dtype=np.float64)
    bias = rng(3).standard_normal((3, 4))
    gradcheck(lambda q, k, v, b: sdpa(q, k, v, b, scale=0.7), q, k, v, bias)
    m = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])
    gradcheck(lambda q, k, v: sdpa(q, k, v, lamina.tensor(m)), q, k, v)


def test_sdpa_second_derivatives():
    q, k, v = _qkv(B=(1,), L=2, S=3, E=2, Ev=2, dtype=np.float64)
    gradgradcheck(lambda q, k, v: sdpa(q, k, v), q, k, v)
    gradgradcheck(lambda q, k, v: sdpa(q, k, v, is_causal=True), q, k, v)
    m = np.array([[True, False, True], [False, False, False]])  # the second row sees nothing: zeros
    gradgradcheck(lambda q, k, v: sdpa(q, k, v, lamina.tensor(m)), q, k, v)
    gradgradcheck(lambda q, k, v, b: sdpa(q, k, v, b), q, k, v, rng(2).standard_normal((2, 3)))


def test_sdpa_need_weights_helper_returns_differentiable_weights():
    q, k, v = _qkv(B=(2,), dtype=np.float64)
    lq, lk, lv = (lamina.tensor(a, requires_grad=True) for a in (q, k, v))
    out, w = attention(lq, lk, lv, need_weights=True)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tw = torch.softmax(tq @ tk.mT / np.sqrt(8), -1)
    close(w, tw, "attention weights")
    close(out, tw @ tv, "output")
    backward_both([out, w], [tw @ tv, tw])
    for a, b in ((lq, tq), (lk, tk), (lv, tv)):
        close(a.grad, b.grad, "gradient through output and weights")


def test_sdpa_dropout():
    q, k, v = _qkv(B=(4, 2), L=16, S=16)
    ts = [lamina.tensor(a) for a in (q, k, v)]
    lamina.manual_seed(3)
    a = sdpa(*ts, dropout_p=0.5)
    lamina.manual_seed(3)
    b = sdpa(*ts, dropout_p=0.5)
    np.testing.assert_array_equal(_np(a), _np(b))          # the default generator drives it
    assert not np.allclose(_np(a), _np(sdpa(*ts)))
    _, w = attention(*ts, dropout_p=0.5, need_weights=True)
    _, p = attention(*ts, need_weights=True)
    kept = _np(w) != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(_np(w)[kept], 2 * _np(p)[kept], rtol=1e-6)   # kept weights scaled by 1/(1-p)
    assert np.all(_np(sdpa(*ts, dropout_p=1.0)) == 0)


def test_sdpa_dropout_gradient_uses_the_same_mask():
    q, k, v = _qkv(B=(2,), L=3, S=4, E=3, Ev=2, dtype=np.float64)

    def fn(q, k, v):
        return attention(q, k, v, dropout_p=0.4, generator=lamina.Generator().manual_seed(5))

    gradcheck(fn, q, k, v)


def test_sdpa_errors():
    q, k, v = (lamina.tensor(a) for a in _qkv())
    with pytest.raises(ValueError, match="query has 8 features but key has 5"):
        sdpa(q, lamina.randn(2, 3, 5, 5), v)
    with pytest.raises(ValueError, match="same sequence length"):
        sdpa(q, k, lamina.randn(2, 3, 4, 6))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 5\) cannot be broadcast .*\(2, 3, 4, 5\)"):
        sdpa(q, k, v, lamina.ones(3, 5, dtype=lamina.bool_))
    with pytest.raises(RuntimeError, match="is_causal"):
        sdpa(q, k, v, lamina.ones(4, 5, dtype=lamina.bool_), is_causal=True)
    with pytest.raises(TypeError, match="bool .* or float"):
        sdpa(q, k, v, lamina.ones(4, 5, dtype=lamina.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        sdpa(q, k, v, dropout_p=1.5)
    with pytest.raises(TypeError, match="same dtype"):
        sdpa(q, k.double(), v)


# ---------------------------------------------------------------- MultiheadAttention
E, NH, L, S, N = 8, 2, 4, 5, 3


def _mha(batch_first=False, **kw):
    tm = torch.nn.MultiheadAttention(E, NH, batch_first=batch_first, **kw).double()
    lm = MultiheadAttention(E, NH, batch_first=batch_first, **kw).double()
    return load_from_torch(lm, tm), tm


def _run_mha(lm, tm, arrays, masks, **kw):
    """Run both on (query, key, value) arrays (same object for self-attention) and masks; compare all."""
    ids = {}
    lt, tt = [], []
    for a in arrays:
        if id(a) not in ids:
            ids[id(a)] = pair(a)
        lt.append(ids[id(a)][0])
        tt.append(ids[id(a)][1])
    lmask = {k: None if m is None else pair(m, requires_grad=False)[0] for k, m in masks.items()}
    tmask = {k: None if m is None else torch.tensor(m) for k, m in masks.items()}
    lo, lw = lm(*lt, **lmask, **kw)
    to, tw = tm(*tt, **tmask, **kw)
    close(lo, to, "output")
    assert (lw is None) == (tw is None)
    if lw is not None:
        close(lw, tw, "attention weights")
    if np.isnan(to.detach().numpy()).any():
        return lo, lw
    backward_both([lo], [to])
    for (la, ta) in ids.values():
        close(la.grad, ta.grad, "input gradient")
    check_param_grads(lm, tm)
    return lo, lw


def _x(shape, seed=1):
    return rng(seed).standard_normal(shape)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_self_attention(batch_first, need_weights, average):
    lm, tm = _mha(batch_first)
    x = _x((N, L, E) if batch_first else (L, N, E))
    _run_mha(lm, tm, [x, x, x], {}, need_weights=need_weights, average_attn_weights=average)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_cross_attention_key_is_value_and_separate(batch_first):
    lm, tm = _mha(batch_first)
    q = _x((N, L, E) if batch_first else (L, N, E))
    kv = _x((N, S, E) if batch_first else (S, N, E), 2)
    _run_mha(lm, tm, [q, kv, kv], {})
    _run_mha(lm, tm, [q, kv, _x(kv.shape, 3)], {}, average_attn_weights=False)


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_key_padding_mask(kind, need_weights):
    lm, tm = _mha(True)
    x = _x((N, L, E))
    kpm = np.zeros((N, L), bool)
    kpm[0, 1] = kpm[2, 3] = True
    mask = kpm if kind == "bool" else np.where(kpm, -np.inf, 0.0)
    _run_mha(lm, tm, [x, x, x], {"key_padding_mask": mask}, need_weights=need_weights)


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_attn_mask(kind, ndim, need_weights):
    lm, tm = _mha(False)
    q, kv = _x((L, N, E)), _x((S, N, E), 2)
    shape = (L, S) if ndim == 2 else (N * NH, L, S)
    m = rng(4).random(shape) > 0.6  # True = not allowed
    m[..., 0] = False
    mask = m if kind == "bool" else np.where(m, -np.inf, rng(5).standard_normal(shape))
    _run_mha(lm, tm, [q, kv, kv], {"attn_mask": mask}, need_weights=need_weights)


@pytest.mark.parametrize("kinds", [("bool", "bool"), ("float", "bool"), ("bool", "float"), ("float", "float")])
def test_mha_both_masks(kinds):
    lm, tm = _mha(True)
    x = _x((N, L, E))
    am = np.triu(np.ones((L, L), bool), 1)
    kpm = np.zeros((N, L), bool)
    kpm[1, 2] = True
    masks = {"attn_mask": am if kinds[0] == "bool" else np.where(am, -np.inf, 0.0),
             "key_padding_mask": kpm if kinds[1] == "bool" else np.where(kpm, -np.inf, 0.0)}
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about mismatched mask types
            _run_mha(lm, tm, [x, x, x], masks)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_fully_masked_rows_as_torch(need_weights):
    """torch gives NaN rows with need_weights=True (plain softmax) and zeros without (sdpa)."""
    lm, tm = _mha(True)
    x = _x((N, L, E))
    kpm = np.zeros((N, L), bool)
    kpm[1] = True
    lo, _ = _run_mha(lm, tm, [x, x, x], {"key_padding_mask": kpm}, need_weights=need_weights)
    assert np.isnan(_np(lo)[1]).all() == need_weights


def test_mha_is_causal_hint():
    lm, tm = _mha(True)
    x = _x((N, L, E))
    causal = np.triu(np.ones((L, L), bool), 1)
    _run_mha(lm, tm, [x, x, x], {"attn_mask": causal}, need_weights=False, is_causal=True)
    with pytest.raises(RuntimeError, match="need attn_mask"):
        lm(*(lamina.tensor(x),) * 3, is_causal=True)


def test_mha_kdim_vdim():
    lm, tm = _mha(True, kdim=5, vdim=3)
    assert list(lm.state_dict()) == list(tm.state_dict())
    assert "q_proj_weight" in lm.state_dict() and lm.in_proj_weight is None
    _run_mha(lm, tm, [_x((N, L, E)), _x((N, S, 5), 2), _x((N, S, 3), 3)], {})


def test_mha_no_bias_and_unbatched():
    lm, tm = _mha(False, bias=False)
    assert list(lm.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    x = _x((L, E))
    _run_mha(lm, tm, [x, x, x], {"key_padding_mask": np.array([False, True, False, False])})
    _run_mha(lm, tm, [x, x, x], {"attn_mask": rng(2).random((NH, L, L)) > 0.7}, average_attn_weights=False)


def test_mha_float32_parity():
    tm = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    lm = load_from_torch(MultiheadAttention(16, 4, batch_first=True), tm)
    x = _x((2, 6, 16)).astype(np.float32)
    lx, tx = pair(x)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6)
    lo, _ = lm(lx, lx, lx, attn_mask=lamina.tensor(mask.numpy()), need_weights=False, is_causal=True)
    to, _ = tm(tx, tx, tx, attn_mask=mask, need_weights=False, is_causal=True)
    close(lo, to, "float32 output", 1e-5)
    backward_both([lo], [to])
    close(lx.grad, tx.grad, "float32 input gradient", 1e-4)
    check_param_grads(lm, tm, 1e-4)


def test_mha_init_names_and_repr():
    m = MultiheadAttention(12, 3)
    assert list(m.state_dict()) == list(torch.nn.MultiheadAttention(12, 3).state_dict())
    assert np.all(_np(m.in_proj_bias) == 0) and np.all(_np(m.out_proj.bias) == 0)
    bound = np.sqrt(6 / (12 + 36))  # xavier_uniform_ of (3E, E)
    w = _np(m.in_proj_weight)
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    assert "embed_dim=12, num_heads=3" in repr(m) and "out_proj" in repr(m)


def test_mha_gradcheck_tiny():
    """float64 finite differences through a tiny MHA, w.r.t. the inputs and every parameter."""
    lamina.manual_seed(0)
    m = MultiheadAttention(4, 2, batch_first=True).double()
    for p in m.parameters():  # non-zero biases so their gradients are exercised
        p.array[...] = rng(9).standard_normal(p.shape)
    q, kv = _x((2, 3, 4)), _x((2, 2, 4), 2)
    kpm = np.array([[False, True], [False, False]])
    gradcheck(lambda q, kv: m(q, kv, kv, key_padding_mask=lamina.tensor(kpm))[0], q, kv)

    x = lamina.tensor(q)
    w = rng(3).standard_normal((2, 3, 4))

    def loss():
        out, weights = m(x, x, x, attn_mask=lamina.tensor(np.triu(np.ones((3, 3), bool), 1)))
        return (out * lamina.tensor(w)).sum() + (weights * weights).sum()

    m.zero_grad()
    loss().backward()
    eps = 1e-6
    for name, p in m.named_parameters():
        num = np.zeros(p.shape)
        with lamina.no_grad():
            for i in np.ndindex(p.shape):
                orig = p.array[i]
                p.array[i] = orig + eps
                fp = loss().item()
                p.array[i] = orig - eps
                fm = loss().item()
                p.array[i] = orig
                num[i] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(_np(p.grad), num, atol=1e-6, rtol=1e-5, err_msg=name)


def test_mha_dropout_train_and_eval():
    m = MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = lamina.randn(2, 6, 8)
    a, wa = m(x, x, x)
    b, wb = m(x, x, x)
    assert not np.allclose(_np(a), _np(b))
    m.eval()
    c, _ = m(x, x, x)
    d, _ = m(x, x, x)
    np.testing.assert_array_equal(_np(c), _np(d))


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        MultiheadAttention(10, 3)
    m = MultiheadAttention(8, 2)
    x = lamina.randn(4, 3, 8)
    with pytest.raises(ValueError, match=r"2D attn_mask is \(4, 5\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=lamina.zeros(4, 5, dtype=lamina.bool_))
    with pytest.raises(ValueError, match=r"3D attn_mask is \(2, 4, 4\), but should be \(6, 4, 4\)"):
        m(x, x, x, attn_mask=lamina.zeros(2, 4, 4, dtype=lamina.bool_))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(3, 4\), got \(4, 3\)"):
        m(x, x, x, key_padding_mask=lamina.zeros(4, 3, dtype=lamina.bool_))
    with pytest.raises(ValueError, match="expected key with 8 and value with 8 features"):
        m(x, lamina.randn(4, 3, 6), lamina.randn(4, 3, 6))
    with pytest.raises(ValueError, match="embed_dim=8"):
        MultiheadAttention(8, 2, kdim=6, vdim=6)(lamina.randn(4, 3, 5), lamina.randn(4, 3, 6),
                                                 lamina.randn(4, 3, 6))
    with pytest.raises(ValueError, match="batch size"):
        m(x, lamina.randn(4, 2, 8), lamina.randn(4, 2, 8))
    with pytest.raises(TypeError, match="only bool and floating"):
        m(x, x, x, key_padding_mask=lamina.zeros(3, 4, dtype=lamina.int64))
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        MultiheadAttention(8, 2, add_bias_kv=True)
