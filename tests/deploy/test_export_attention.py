"""ONNX export of MultiheadAttention, the Transformer layers/stacks and the positional encodings:
onnxruntime == lamina at two batch sizes and two sequence lengths, with masks as graph inputs."""
import numpy as np
import pytest

from export_util import assert_exports, lonnx, run_onnx

import lamina
import lamina.nn as nn
import lamina.nn.functional as F

E, H = 8, 2


def _flat(r):
    if r is None:
        return ()
    if isinstance(r, (tuple, list)):
        return tuple(v for x in r for v in _flat(x))
    return (r,)


class Wrap(nn.Module):
    """``fn(call, *inputs)`` with ``call`` the inner module (lamina) or its converter (export); flat outputs."""

    def __init__(self, inner, fn):
        super().__init__()
        self.inner, self.fn = inner, fn

    def forward(self, *xs):
        return _flat(self.fn(self.inner, *xs))

    def onnx_export(self, ctx, *xs):
        return _flat(self.fn(lambda *a, **k: ctx.call(self.inner, *a, name="inner", **k), *xs))


def _check(model, make, ins, outs):
    """ins / outs: {name: {axis: label}}; exported at batch 2, checked at batches 2 and 5 (lengths vary too)."""
    return assert_exports(model, make, input_names=list(ins), output_names=list(outs), dynamic_axes={**ins, **outs})


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(a):
    return lamina.tensor(np.asarray(a))


def _bool_mask(rng, shape):
    m = rng.random(shape) < 0.3
    m[..., 0] = False                     # every query keeps a key
    return m


def _float_mask(rng, shape):
    m = rng.standard_normal(shape).astype(np.float32)
    m[..., 1:][rng.random(m[..., 1:].shape) < 0.2] = -np.inf
    return m


# ---------------------------------------------------------------- MultiheadAttention
MHA_CASES = [
    dict(batch_first=True), dict(batch_first=False), dict(batch_first=True, bias=False),
    dict(batch_first=False, kdim=5, vdim=3), dict(batch_first=True, self_attn=True),
    dict(batch_first=True, masks="bool"), dict(batch_first=False, masks="float"),
    dict(batch_first=True, masks="bool3d"), dict(batch_first=True, masks="float", need_weights=False),
    dict(batch_first=False, average=False), dict(batch_first=True, masks="mixed", kv_same=True),
]


@pytest.mark.parametrize("case", MHA_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_multihead_attention_matches_onnxruntime(case):
    case = dict(case)
    bf, masks = case.pop("batch_first"), case.pop("masks", None)
    self_attn, kv_same = case.pop("self_attn", False), case.pop("kv_same", False)
    need, average = case.pop("need_weights", True), case.pop("average", True)
    lamina.manual_seed(0)
    mha = nn.MultiheadAttention(E, H, batch_first=bf, **case).eval()
    kd, vd = mha.kdim, mha.vdim
    rng = _rng()
    lay = (lambda n, T, f: (n, T, f)) if bf else (lambda n, T, f: (T, n, f))
    seq = {0: "N", 1: "L"} if bf else {0: "L", 1: "N"}
    kseq = {0: "N", 1: "S"} if bf else {0: "S", 1: "N"}

    def make(n):
        L, S = n + 1, (n + 1 if self_attn else n + 2)
        q = rng.standard_normal(lay(n, L, E)).astype(np.float32)
        ins = [q] if self_attn else [q, rng.standard_normal(lay(n, S, kd)).astype(np.float32)]
        if not (self_attn or kv_same):
            ins.append(rng.standard_normal(lay(n, S, vd)).astype(np.float32))
        if masks in ("bool", "mixed"):
            ins.append(_bool_mask(rng, (n, S)))
        if masks == "float":
            ins.append(_float_mask(rng, (n, S)))
        if masks in ("bool", "bool3d"):
            ins.append(_bool_mask(rng, (n * H, L, S) if masks == "bool3d" else (L, S)))
        if masks in ("float", "mixed"):
            ins.append(_float_mask(rng, (L, S)))
        return tuple(_t(a) for a in ins)

    def fn(call, *xs):
        q = xs[0]
        k = q if self_attn else xs[1]
        v = q if self_attn else (k if kv_same else xs[2])
        rest = xs[1 if self_attn else (2 if kv_same else 3):]
        kpm = rest[0] if masks in ("bool", "float", "mixed") else None
        am = rest[-1] if masks else None
        return call(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=need, average_attn_weights=average)

    ins = {"q": seq} if self_attn else {"q": seq, "k": kseq}
    if not (self_attn or kv_same):
        ins["v"] = kseq
    if masks in ("bool", "float", "mixed"):
        ins["kpm"] = {0: "N", 1: "S" if not self_attn else "L"}
    if masks in ("bool", "float", "mixed"):
        ins["attn_mask"] = {0: "L", 1: "S"}
    if masks == "bool3d":
        ins["attn_mask"] = {0: "NH", 1: "L", 2: "S"}
    outs = {"out": seq}
    if need:
        outs["weights"] = {0: "N", 1: "L", 2: "S"} if average else {0: "N", 2: "L", 3: "S"}
    proto = _check(Wrap(mha, fn), make, ins, outs)
    assert len(proto.graph.output) == (2 if need else 1)


def test_multihead_attention_unbatched_and_fully_masked_rows():
    lamina.manual_seed(1)
    mha = nn.MultiheadAttention(E, H).eval()
    # unbatched (L, E) input with a (S,) key padding mask
    x, kpm = lamina.randn(4, E), _t(np.array([False, False, True, False]))
    fn = lambda call, x, kpm: call(x, x, x, key_padding_mask=kpm)   # noqa: E731
    proto = lonnx.export(Wrap(mha, fn), (x, kpm), dynamic_axes={})
    got = run_onnx(proto, {i.name: v.numpy() for i, v in zip(proto.graph.input, (x, kpm))})
    ref = mha(x, x, x, key_padding_mask=kpm)
    np.testing.assert_allclose(got[0], ref[0].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(got[1], ref[1].detach().numpy(), atol=1e-5)
    # a batch row whose every key is padding: lamina's safe softmax gives 0 weights, not NaN
    x = lamina.randn(3, 2, E)
    kpm = _t(np.array([[False, True, False], [True, True, True]]))
    fn = lambda call, x, kpm: call(x, x, x, key_padding_mask=kpm, need_weights=False)   # noqa: E731
    proto = lonnx.export(Wrap(mha, fn), (x, kpm), dynamic_axes={})
    got = run_onnx(proto, {i.name: v.numpy() for i, v in zip(proto.graph.input, (x, kpm))})[0]
    ref = mha(x, x, x, key_padding_mask=kpm, need_weights=False)[0].detach().numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_multihead_attention_returns_lamina_structure_and_constant_masks():
    lamina.manual_seed(2)
    mha = nn.MultiheadAttention(E, H, batch_first=True).eval()
    seen = {}
    causal = nn.Transformer.generate_square_subsequent_mask(3)

    class Probe(nn.Module):
        def forward(self, x):
            return mha(x, x, x, attn_mask=causal, need_weights=False)[0]

        def onnx_export(self, ctx, x):
            seen["res"] = ctx.call(mha, x, x, x, attn_mask=causal, need_weights=False, name="mha")
            return seen["res"][0]

    assert_exports(Probe(), lambda n: (lamina.randn(n, 3, E),))
    out, w = seen["res"]
    assert w is None and out.shape == (2, 3, E)          # (output, None), as lamina returns without weights


# ---------------------------------------------------------------- Transformer layers and stacks
def _causal(T):
    return nn.Transformer.generate_square_subsequent_mask(T).numpy()


def _kpm(rng, n, T):
    m = np.zeros((n, T), dtype=bool)
    m[0, T - 1] = True                     # one padded position in the first sequence
    return m


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_encoder_layer_with_masks(norm_first, activation, batch_first):
    lamina.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 16, activation=activation, batch_first=batch_first,
                                       norm_first=norm_first).eval()
    rng = _rng()
    seq = {0: "N", 1: "T"} if batch_first else {0: "T", 1: "N"}

    def make(n):
        T = n + 1
        x = rng.standard_normal((n, T, E) if batch_first else (T, n, E)).astype(np.float32)
        return _t(x), _t(_causal(T)), _t(_kpm(rng, n, T))

    _check(Wrap(layer, lambda call, x, m, k: call(x, src_mask=m, src_key_padding_mask=k)), make,
           {"src": seq, "mask": {0: "T", 1: "T2"}, "kpm": {0: "N", 1: "T"}}, {"out": seq})


def test_encoder_stack_with_final_norm_and_module_activation():
    lamina.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 16, activation=nn.GELU(approximate="tanh"), batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E)).eval()
    rng = _rng()

    def make(n):
        T = n + 2
        return _t(rng.standard_normal((n, T, E)).astype(np.float32)), _t(_kpm(rng, n, T))

    _check(Wrap(enc, lambda call, x, k: call(x, src_key_padding_mask=k)), make,
           {"src": {0: "N", 1: "T"}, "kpm": {0: "N", 1: "T"}}, {"out": {0: "N", 1: "T"}})


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_and_stack(norm_first):
    lamina.manual_seed(0)
    layer = nn.TransformerDecoderLayer(E, H, 16, batch_first=True, norm_first=norm_first, activation="gelu")
    dec = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(E)).eval()
    rng = _rng()

    def make(n):
        T, S = n + 1, n + 3
        return (_t(rng.standard_normal((n, T, E)).astype(np.float32)),
                _t(rng.standard_normal((n, S, E)).astype(np.float32)), _t(_causal(T)), _t(_kpm(rng, n, S)))

    fn = lambda call, t, m, tm, mk: call(t, m, tgt_mask=tm, memory_key_padding_mask=mk)   # noqa: E731
    ins = {"tgt": {0: "N", 1: "T"}, "memory": {0: "N", 1: "S"}, "tgt_mask": {0: "T", 1: "T2"},
           "mkpm": {0: "N", 1: "S"}}
    _check(Wrap(layer, fn), make, ins, {"out": {0: "N", 1: "T"}})
    _check(Wrap(dec, fn), make, ins, {"out": {0: "N", 1: "T"}})


def test_full_transformer_seq_first():
    lamina.manual_seed(0)
    model = nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16).eval()
    rng = _rng()

    def make(n):
        S, T = n + 2, n + 1
        return (_t(rng.standard_normal((S, n, E)).astype(np.float32)),
                _t(rng.standard_normal((T, n, E)).astype(np.float32)), _t(_causal(T)), _t(_kpm(rng, n, S)))

    fn = lambda call, s, t, tm, sk: call(s, t, tgt_mask=tm, src_key_padding_mask=sk,   # noqa: E731
                                         memory_key_padding_mask=sk)
    ins = {"src": {0: "S", 1: "N"}, "tgt": {0: "T", 1: "N"}, "tgt_mask": {0: "T", 1: "T2"},
           "src_kpm": {0: "N", 1: "S"}}
    proto = _check(Wrap(model, fn), make, ins, {"out": {0: "T", 1: "N"}})
    assert any(n.op_type == "LayerNormalization" for n in proto.graph.node)   # LayerNorm via its converter


def test_direct_export_of_an_encoder_layer_with_a_constant_mask():
    """The layer itself as the model (no wrapper); the mask a constant module kwarg."""
    lamina.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 16, batch_first=True).eval()
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    x = lamina.randn(2, 4, E)
    proto = lonnx.export(layer, x, module_kwargs={"src_mask": mask})
    got = run_onnx(proto, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, layer(x, src_mask=mask).detach().numpy(), atol=1e-4)
    x5 = lamina.randn(5, 4, E)
    np.testing.assert_allclose(run_onnx(proto, {"input": x5.numpy()})[0],
                               layer(x5, src_mask=mask).detach().numpy(), atol=1e-4)


def test_unsupported_activation_is_named():
    lamina.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 16, activation=lambda x: F.relu(x) * 2, batch_first=True).eval()
    with pytest.raises(lonnx.ExportError, match=r"activation.*'activation'|activation"):
        lonnx.export(layer, lamina.randn(2, 3, E))


# ---------------------------------------------------------------- positional encodings
@pytest.mark.parametrize("cls", [nn.SinusoidalPositionalEncoding, nn.LearnedPositionalEmbedding])
@pytest.mark.parametrize("batch_first", [True, False])
def test_positional_encodings_dynamic_length(cls, batch_first):
    lamina.manual_seed(0)
    m = (cls(E, max_len=16, batch_first=batch_first) if cls is nn.SinusoidalPositionalEncoding
         else cls(16, E, batch_first=batch_first)).eval()
    seq = {0: "N", 1: "T"} if batch_first else {0: "T", 1: "N"}

    def make(n):
        T = n + 3
        return (lamina.randn(*((n, T, E) if batch_first else (T, n, E))),)

    _check(m, make, {"x": seq}, {"y": seq})


def test_positional_encoding_unbatched():
    m = nn.SinusoidalPositionalEncoding(E, max_len=16).eval()
    proto = lonnx.export(m, lamina.randn(5, E), dynamic_axes={"input": {0: "T"}, "output": {0: "T"}})
    x = lamina.randn(9, E)
    np.testing.assert_allclose(run_onnx(proto, {"input": x.numpy()})[0], m(x).numpy(), atol=1e-6)
