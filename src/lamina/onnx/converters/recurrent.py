"""ONNX converters for the recurrent layers: RNN, LSTM, GRU as ONNX's own RNN / LSTM / GRU ops,
and the cells (RNNCell, LSTMCell, GRUCell) written out with Gemm and element-wise ops.

Gate orders differ: lamina (PyTorch) stacks LSTM gates i, f, g, o and GRU gates r, z, n;
ONNX wants i, o, f, c and z, r, h. The weights are re-stacked once at export:

    ONNX LSTM W = W_ih[i, o, f, g],   GRU W = W_ih[z, r, n] with linear_before_reset=1
    (PyTorch's GRU:  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)))

One ONNX node per layer (``direction="bidirectional"`` when the layer is); its Y (T, D, N, H)
becomes the next layer's input as (T, N, D * H), h_n is the layers' Y_h stacked on axis 0 —
lamina's (num_layers * D, N, H) layout. Batch and sequence axes stay dynamic (no shape is
baked in). Inputs: ``x`` [, ``h0`` | ``(h0, c0)`` | ``h0, c0``], ``lengths=`` (N,) for padded
batches (ONNX's sequence_lens: padded steps output 0 and keep the state, as lamina does).
Outputs: ``(output, h_n)``, ``(output, (h_n, c_n))`` for LSTM, as lamina returns them.
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd import no_grad
from .._context import Value, _np
from .._registry import register_converter

__all__ = []

# ONNX's gate order as indices into lamina's (PyTorch's) gate blocks
_ONNX_GATES = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
_ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}
_INT32 = 6  # onnx.TensorProto.INT32


def _reorder(a: np.ndarray, mode: str, H: int) -> np.ndarray:
    """Gate blocks of ``a`` (G*H, ...) re-stacked in ONNX's order."""
    return np.concatenate([a[g * H:(g + 1) * H] for g in _ONNX_GATES[mode]], 0)


def _unsqueeze(ctx, x: Value, axes, out=None) -> Value:
    return ctx.op("Unsqueeze", x, ctx.ints(axes, "axes"), out=out)


def _squeeze(ctx, x: Value, axes, out=None) -> Value:
    return ctx.op("Squeeze", x, ctx.ints(axes, "axes"), out=out)


def _tensor_of(v):
    """The example Tensor of a Value (or the Tensor / None itself)."""
    return v.tensor if isinstance(v, Value) else v


def _check_opset(ctx, what: str) -> None:
    if ctx.opset < 14:
        raise ctx.error(f"{what}: the converter needs opset >= 14 (got {ctx.opset})")


def _split_states(ctx, m, lstm: bool, states: tuple, hx):
    """(h0, c0) Values (or None) from ``*states`` and/or ``hx=`` in any of the accepted forms."""
    if hx is not None:
        if states:
            raise ctx.error(f"{type(m).__name__}: initial states given both positionally and as hx=")
        states = (hx,)
    if len(states) == 1 and isinstance(states[0], (tuple, list)):
        states = tuple(states[0])
    if all(s is None for s in states):
        states = ()
    if lstm and len(states) not in (0, 2):
        raise ctx.error(f"{type(m).__name__}: expected the initial state as (h0, c0), got {len(states)} value(s)")
    if not lstm and len(states) > 1:
        raise ctx.error(f"{type(m).__name__}: expected one initial state h0, got {len(states)}")
    # a state given as a lamina Tensor (a module kwarg) is a constant of the graph
    states = [s if s is None or isinstance(s, Value) else ctx.const(_np(s), f"state{i}") for i, s in enumerate(states)]
    states += [None] * (2 - len(states))
    return states[0], states[1]


def _attach(value: Value, tensor) -> Value:
    value.tensor = tensor
    return value


@register_converter(nn.RNN, nn.LSTM, nn.GRU, nn.RNNBase)
def _recurrent(ctx, m, x, *states, hx=None, lengths=None):
    """A stacked (bi)directional RNN / LSTM / GRU as one ONNX RNN / LSTM / GRU node per layer."""
    name = type(m).__name__
    _check_opset(ctx, name)
    if not isinstance(x, Value) or not hasattr(x.tensor, "ndim"):
        raise ctx.error(f"{name}: a PackedSequence input (an ONNX graph input is a plain tensor: pass the "
                        f"padded batch and its lengths= instead)")
    if getattr(m, "proj_size", 0):
        raise ctx.error(f"{name}: proj_size={m.proj_size} (ONNX's LSTM has no projection)")
    if lengths is not None and not isinstance(lengths, Value):
        raise ctx.error(f"{name}: lengths= must be a graph input (a Value), got {type(lengths).__name__}")
    mode, H, L = m.mode, m.hidden_size, m.num_layers
    lstm = mode == "LSTM"
    D = 2 if m.bidirectional else 1
    h0, c0 = _split_states(ctx, m, lstm, states, hx)

    # the lamina result on the example inputs gives every output Value its tensor
    hx_t = None if h0 is None else ((_tensor_of(h0), _tensor_of(c0)) if lstm else _tensor_of(h0))
    with no_grad():
        ref = m(x.tensor, hx_t, lengths=None if lengths is None else lengths.tensor)
    ref_out, ref_h = ref[0], (ref[1][0] if lstm else ref[1])
    ref_c = ref[1][1] if lstm else None

    unbatched = x.rank == 2
    seq = x
    if unbatched:
        seq = _unsqueeze(ctx, x, [1])
        h0 = None if h0 is None else _unsqueeze(ctx, h0, [1])
        c0 = None if c0 is None else _unsqueeze(ctx, c0, [1])
    elif m.batch_first:
        seq = ctx.op("Transpose", x, perm=[1, 0, 2])
    seq_lens = None if lengths is None else ctx.op("Cast", lengths, to=_INT32)

    ys_h, ys_c = [], []
    for layer in range(L):
        sfxs = [f"_l{layer}" + ("_reverse" if d else "") for d in range(D)]
        w = np.stack([_reorder(_np(getattr(m, "weight_ih" + s)), mode, H) for s in sfxs])
        r = np.stack([_reorder(_np(getattr(m, "weight_hh" + s)), mode, H) for s in sfxs])
        ins = [seq, ctx.const(w, f"W_l{layer}"), ctx.const(r, f"R_l{layer}")]
        if m.bias:
            b = np.stack([np.concatenate([_reorder(_np(getattr(m, "bias_ih" + s)), mode, H),
                                          _reorder(_np(getattr(m, "bias_hh" + s)), mode, H)]) for s in sfxs])
            ins.append(ctx.const(b, f"B_l{layer}"))
        else:
            ins.append(None)
        ins.append(seq_lens)
        for s0 in ((h0, c0) if lstm else (h0,)):
            ins.append(None if s0 is None else
                       ctx.op("Slice", s0, ctx.ints([layer * D]), ctx.ints([(layer + 1) * D]), ctx.ints([0])))
        attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
        if mode in ("RNN_TANH", "RNN_RELU"):
            attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * D
        if mode == "GRU":
            attrs["linear_before_reset"] = 1
        while ins[-1] is None:           # trailing empty optional inputs are left out
            ins.pop()
        outs = ctx.op(_ONNX_OP[mode], *ins, outputs=3 if lstm else 2, **attrs)
        y = ctx.op("Transpose", outs[0], perm=[0, 2, 1, 3])          # (T, N, D, H)
        seq = ctx.op("Reshape", y, ctx.ints([0, 0, -1]))              # (T, N, D*H)
        ys_h.append(outs[1])
        if lstm:
            ys_c.append(outs[2])

    def stacked(parts):
        return parts[0] if len(parts) == 1 else ctx.op("Concat", *parts, axis=0)

    out, h_n = seq, stacked(ys_h)
    c_n = stacked(ys_c) if lstm else None
    if unbatched:
        out, h_n = _squeeze(ctx, out, [1]), _squeeze(ctx, h_n, [1])
        c_n = None if c_n is None else _squeeze(ctx, c_n, [1])
    elif m.batch_first:
        out = ctx.op("Transpose", out, perm=[1, 0, 2])
    out, h_n = _attach(out, ref_out), _attach(h_n, ref_h)
    return (out, (h_n, _attach(c_n, ref_c))) if lstm else (out, h_n)


# ---------------------------------------------------------------- cells
def _gemm(ctx, x: Value, w: np.ndarray, b, hint: str) -> Value:
    """x W^T (+ b) for 2-D x."""
    ins = [x, ctx.const(w, hint + "_weight")] + ([ctx.const(b, hint + "_bias")] if b is not None else [])
    return ctx.op("Gemm", *ins, transB=1)


@register_converter(nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.RNNCellBase)
def _cell(ctx, m, x, *states, hx=None):
    """One step, decomposed: gates = Gemm(x, W_ih) + Gemm(h, W_hh), then the cell's update."""
    name = type(m).__name__
    _check_opset(ctx, name)
    mode, H = m.mode, m.hidden_size
    lstm = mode == "LSTM"
    h, c = _split_states(ctx, m, lstm, states, hx)
    hx_t = None if h is None else ((_tensor_of(h), _tensor_of(c)) if lstm else _tensor_of(h))
    with no_grad():
        ref = m(x.tensor, hx_t)

    unbatched = x.rank == 1
    if unbatched:
        x = _unsqueeze(ctx, x, [0])
        h = None if h is None else _unsqueeze(ctx, h, [0])
        c = None if c is None else _unsqueeze(ctx, c, [0])
    w_ih, w_hh = _np(m.weight_ih), _np(m.weight_hh)
    b_ih = _np(m.bias_ih) if m.bias_ih is not None else None
    b_hh = _np(m.bias_hh) if m.bias_hh is not None else None
    gi = _gemm(ctx, x, w_ih, b_ih, "ih")
    # h = None means zeros: the hidden-to-hidden term is just its bias
    if h is not None:
        gh = _gemm(ctx, h, w_hh, b_hh, "hh")
    else:
        gh = ctx.const(b_hh, "hh_bias") if b_hh is not None else None

    if mode in ("RNN_TANH", "RNN_RELU"):
        s = gi if gh is None else ctx.op("Add", gi, gh)
        outs = (ctx.op("Tanh" if mode == "RNN_TANH" else "Relu", s),)
    elif lstm:
        s = gi if gh is None else ctx.op("Add", gi, gh)
        i, f, g, o = ctx.op("Split", s, ctx.ints([H] * 4), axis=1, outputs=4)
        i, f, o, g = ctx.op("Sigmoid", i), ctx.op("Sigmoid", f), ctx.op("Sigmoid", o), ctx.op("Tanh", g)
        c_new = ctx.op("Mul", i, g)
        if c is not None:
            c_new = ctx.op("Add", ctx.op("Mul", f, c), c_new)
        h_new = ctx.op("Mul", o, ctx.op("Tanh", c_new))
        outs = (h_new, c_new)
    else:  # GRU: r, z, n
        ir, iz, in_ = ctx.op("Split", gi, ctx.ints([H] * 3), axis=1, outputs=3)
        if gh is None:
            r, z = ctx.op("Sigmoid", ir), ctx.op("Sigmoid", iz)
            n = ctx.op("Tanh", in_)
        elif h is None:  # gh is the (3H,) bias
            hr, hz, hn = ctx.op("Split", gh, ctx.ints([H] * 3), axis=0, outputs=3)
            r, z = ctx.op("Sigmoid", ctx.op("Add", ir, hr)), ctx.op("Sigmoid", ctx.op("Add", iz, hz))
            n = ctx.op("Tanh", ctx.op("Add", in_, ctx.op("Mul", r, hn)))
        else:
            hr, hz, hn = ctx.op("Split", gh, ctx.ints([H] * 3), axis=1, outputs=3)
            r, z = ctx.op("Sigmoid", ctx.op("Add", ir, hr)), ctx.op("Sigmoid", ctx.op("Add", iz, hz))
            n = ctx.op("Tanh", ctx.op("Add", in_, ctx.op("Mul", r, hn)))
        one = ctx.const(np.ones((), dtype=w_ih.dtype), "one")
        h_new = ctx.op("Mul", ctx.op("Sub", one, z), n)
        if h is not None:
            h_new = ctx.op("Add", h_new, ctx.op("Mul", z, h))
        outs = (h_new,)

    if unbatched:
        outs = tuple(_squeeze(ctx, o, [0]) for o in outs)
    if lstm:
        return tuple(_attach(o, t) for o, t in zip(outs, ref))
    return _attach(outs[0], ref)
