"""ONNX export of RNN / LSTM / GRU (ONNX's own ops) and their cells: onnxruntime == lamina at two
batch sizes and two sequence lengths, every layout and option the layers have."""
import numpy as np
import pytest

from export_util import assert_exports, lonnx, run_onnx

import lamina
import lamina.nn as nn


def _flat(r):
    """Outputs as a flat tuple without the Nones (LSTM's (out, (h, c)) -> (out, h, c))."""
    if r is None:
        return ()
    if isinstance(r, (tuple, list)):
        return tuple(v for x in r for v in _flat(x))
    return (r,)


class Flat(nn.Module):
    """Calls ``inner`` with ``npos`` positional inputs, the rest by keyword (``kw``); flat outputs."""

    def __init__(self, inner, npos=1, kw=(), group=None):
        super().__init__()
        self.inner, self.npos, self.kw, self.group = inner, npos, tuple(kw), group

    def _args(self, xs):
        args, kwargs = list(xs[:self.npos]), dict(zip(self.kw, xs[self.npos:]))
        if self.group:  # LSTM's (h0, c0) travel as one argument
            args = args[:1] + [tuple(args[1:])] if len(args) > 1 else args
        return args, kwargs

    def forward(self, *xs):
        args, kwargs = self._args(xs)
        return _flat(self.inner(*args, **kwargs))

    def onnx_export(self, ctx, *xs):
        args, kwargs = self._args(xs)
        return _flat(ctx.call(self.inner, *args, name="inner", **kwargs))


def _axes(names_axes):
    return {n: dict(a) for n, a in names_axes.items()}


def _rnn_case(cls, *, layers=1, bidir=False, batch_first=False, bias=True, states=False, lengths=False, **kw):
    lamina.manual_seed(0)
    m = cls(5, 6, num_layers=layers, bidirectional=bidir, batch_first=batch_first, bias=bias, **kw)
    lstm = cls is nn.LSTM
    D = 2 if bidir else 1
    k = layers * D
    rng = np.random.default_rng(1)

    def make(n):
        T = n + 1                                     # a second sequence length with the second batch size
        x = rng.standard_normal((n, T, 5) if batch_first else (T, n, 5)).astype(np.float32)
        ins = [lamina.tensor(x)]
        if states:
            ins += [lamina.tensor(rng.standard_normal((k, n, 6)).astype(np.float32))
                    for _ in range(2 if lstm else 1)]
        if lengths:
            lens = np.full(n, T, dtype=np.int64)
            lens[0] = max(1, T - 2)                   # one shorter sequence: padding
            ins.append(lamina.tensor(lens))
        return tuple(ins)

    seq_ax = {0: "N", 1: "T"} if batch_first else {0: "T", 1: "N"}
    names_axes = {"x": seq_ax}
    if states:
        names_axes.update({"h0": {1: "N"}, **({"c0": {1: "N"}} if lstm else {})})
    if lengths:
        names_axes["lengths"] = {0: "N"}
    outs = {"out": seq_ax, "h_n": {1: "N"}, **({"c_n": {1: "N"}} if lstm else {})}
    npos = 1 + (2 if (states and lstm) else 1 if states else 0)
    model = Flat(m, npos=npos, kw=("lengths",) if lengths else (), group=lstm and states)
    return model, make, list(names_axes), list(outs), _axes({**names_axes, **outs})


CASES = [
    (nn.RNN, {}), (nn.RNN, dict(nonlinearity="relu")), (nn.LSTM, {}), (nn.GRU, {}),
    (nn.LSTM, dict(layers=2, bidir=True)), (nn.GRU, dict(layers=2, bidir=True, batch_first=True)),
    (nn.RNN, dict(layers=3, batch_first=True, bias=False)), (nn.LSTM, dict(bias=False, batch_first=True)),
    (nn.LSTM, dict(layers=2, bidir=True, states=True)), (nn.GRU, dict(states=True, bidir=True)),
    (nn.RNN, dict(states=True, layers=2, nonlinearity="relu")),
    (nn.LSTM, dict(lengths=True, bidir=True, layers=2)), (nn.GRU, dict(lengths=True, bidir=True)),
]


@pytest.mark.parametrize("cls,opts", CASES, ids=[f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in o.items())}"
                                                 for c, o in CASES])
def test_recurrent_layers_match_onnxruntime(cls, opts):
    model, make, ins, outs, axes = _rnn_case(cls, **opts)
    proto = assert_exports(model, make, input_names=ins, output_names=outs, dynamic_axes=axes)
    ops = {n.op_type for n in proto.graph.node}
    assert {"RNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}[cls.__name__] in ops   # ONNX's own recurrent op


def test_recurrent_outputs_keep_lamina_structure_and_unbatched_input():
    lamina.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = lamina.randn(7, 3)                                 # unbatched (T, input_size)
    captured = {}

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lstm

        def forward(self, x):
            out, (h, c) = self.lstm(x)
            return out, h, c

        def onnx_export(self, ctx, x):
            res = ctx.call(self.lstm, x, name="lstm")
            captured["res"] = res
            out, (h, c) = res                              # (output, (h_n, c_n)) as lamina returns it
            return out, h, c

    proto = lonnx.export(Probe(), x, dynamic_axes={"input": {0: "T"}, "output_0": {0: "T"}})
    out, (h, c) = captured["res"]
    assert out.shape == (7, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    got = run_onnx(proto, {"input": lamina.randn(9, 3).numpy()})
    assert got[0].shape == (9, 4) and got[1].shape == (2, 4)


def test_gate_order_is_checked_against_a_hand_written_step():
    """One LSTM / GRU step against the written-out PyTorch-order formulas (catches a gate swap that
    would still match lamina only if lamina and the converter shared the bug)."""
    lamina.manual_seed(3)
    for cls in (nn.LSTM, nn.GRU):
        m = cls(2, 3)
        proto = lonnx.export(Flat(m), lamina.randn(1, 1, 2), dynamic_axes={})
        x = np.random.default_rng(0).standard_normal((1, 1, 2)).astype(np.float32)
        got = run_onnx(proto, {proto.graph.input[0].name: x})[0][0, 0]
        W = m.weight_ih_l0.detach().numpy()
        bi, bh = m.bias_ih_l0.detach().numpy(), m.bias_hh_l0.detach().numpy()
        gates = W @ x[0, 0]
        sig = lambda a: 1 / (1 + np.exp(-a))   # noqa: E731
        if cls is nn.LSTM:
            i, f, g, o = np.split(gates + bi + bh, 4)
            want = sig(o) * np.tanh(sig(i) * np.tanh(g))
        else:
            r, z, n = np.split(gates + bi, 3)
            hr, hz, hn = np.split(bh, 3)
            r, z = sig(r + hr), sig(z + hz)
            want = (1 - z) * np.tanh(n + r * hn)
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_onnxruntime(cls, with_state, bias):
    lamina.manual_seed(0)
    kw = dict(nonlinearity="relu") if (cls is nn.RNNCell and not bias) else {}
    cell = cls(5, 4, bias=bias, **kw)
    lstm = cls is nn.LSTMCell
    rng = np.random.default_rng(2)

    def make(n):
        ins = [lamina.tensor(rng.standard_normal((n, 5)).astype(np.float32))]
        if with_state:
            ins += [lamina.tensor(rng.standard_normal((n, 4)).astype(np.float32)) for _ in range(2 if lstm else 1)]
        return tuple(ins)

    npos = 1 + ((2 if lstm else 1) if with_state else 0)
    proto = assert_exports(Flat(cell, npos=npos, group=lstm and with_state), make)
    assert not any(n.op_type in ("LSTM", "GRU", "RNN") for n in proto.graph.node)   # decomposed


def test_unbatched_cell():
    lamina.manual_seed(0)
    cell = nn.GRUCell(3, 4)
    proto = lonnx.export(Flat(cell, npos=2), (lamina.randn(3), lamina.randn(4)), dynamic_axes={})
    x, h = lamina.randn(3), lamina.randn(4)
    got = run_onnx(proto, {i.name: v.numpy() for i, v in zip(proto.graph.input, (x, h))})[0]
    np.testing.assert_allclose(got, cell(x, h).detach().numpy(), atol=1e-5)


def test_packed_sequence_input_is_refused_with_the_reason():
    lamina.manual_seed(0)
    m = nn.GRU(3, 4)

    class Packs(nn.Module):
        def forward(self, x):
            return m(nn.utils.rnn.pack_padded_sequence(x, [2, 1], enforce_sorted=False))[1]

        def onnx_export(self, ctx, x):
            packed = nn.utils.rnn.pack_padded_sequence(x.tensor, [2, 1], enforce_sorted=False)
            return ctx.call(m, lonnx.Value("packed", packed), name="gru")[1]

    with pytest.raises(lonnx.ExportError, match="PackedSequence.*lengths="):
        lonnx.export(Packs(), lamina.randn(2, 2, 3))


def test_initial_state_as_a_constant_module_kwarg():
    lamina.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2)
    h0 = lamina.randn(2, 1, 4)
    x = lamina.randn(5, 1, 3)

    class WithState(nn.Module):
        def forward(self, x):
            return gru(x, h0)[0]

        def onnx_export(self, ctx, x):
            return ctx.call(gru, x, hx=h0, name="gru")[0]

    proto = lonnx.export(WithState(), x, dynamic_axes={"input": {0: "T"}, "output": {0: "T"}})
    x7 = lamina.randn(7, 1, 3)
    np.testing.assert_allclose(run_onnx(proto, {"input": x7.numpy()})[0], gru(x7, h0)[0].detach().numpy(), atol=1e-5)
