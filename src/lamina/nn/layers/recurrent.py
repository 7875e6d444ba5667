"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, variable lengths) and their cells.

Every layer first projects the whole input sequence at once (xg = x W_ih^T + b, one GEMM over
T*N rows), then runs one fused op per layer and direction (``ops.recurrent.RecurrentLayer``)
that loops over time with one h W_hh^T GEMM and one compiled cell update per step.
Parameters, their names and shapes, gate orders and the default init are PyTorch's, so a
torch state_dict loads by name.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import backend
from ...ops.creation import empty
from ...ops.elementwise import where
from ...ops.recurrent import RecurrentLayer
from ...ops.shape import cat, stack
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .rnn_utils import PackedSequence, as_lengths, pack_like, pad_packed_sequence, packed_lengths

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _zeros(like: Tensor, *shape) -> Tensor:
    return Tensor._wrap(like.xp.zeros(shape, dtype=like.dtype))


def _run_layer(mode, x, states, w_ih, w_hh, b_ih, b_hh, mask=None, reverse=False):
    """One direction of one layer on x (T, N, I): returns (y (T, N, H), h_n[, c_n])."""
    T, N, I = x.shape
    if mode == "GRU":  # b_hn sits inside r * (W_hn h + b_hn), so b_hh stays in the op
        bias = b_ih
        extra = (b_hh if b_hh is not None else _zeros(w_hh, w_hh.shape[0]),)
    else:
        bias = None if b_ih is None else b_ih + b_hh
        extra = ()
    xg = F.linear(x.reshape(T * N, I), w_ih, bias).reshape(T, N, w_ih.shape[0])
    return RecurrentLayer(mode, mask, reverse)(xg, *states, w_hh, *extra)


def _check_int(name: str, cls: str, v, positive: bool = True) -> None:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < (1 if positive else 0):
        raise ValueError(f"{cls}: {name} must be a {'positive' if positive else 'non-negative'} int, got {v!r}")


def _check_dtype(name: str, what: str, t: Tensor, weight: Tensor) -> None:
    if t.dtype != weight.dtype:
        raise TypeError(f"{name}: {what} dtype {t.dtype} does not match the weight dtype {weight.dtype}; "
                        f"convert it (.to({weight.dtype})) or the layer (.to({t.dtype}))")


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters, state handling, the layer loop."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        name = self._get_name()
        _check_int("input_size", name, input_size, positive=False)
        _check_int("hidden_size", name, hidden_size)
        _check_int("num_layers", name, num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability "
                             f"of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but the last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=3)
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported (got proj_size={proj_size})")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        gh = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(2 if bidirectional else 1):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_size = input_size if layer == 0 else hidden_size * (2 if bidirectional else 1)
                shapes = [("weight_ih", (gh, in_size)), ("weight_hh", (gh, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gh,)), ("bias_hh", (gh,))]
                for pname, shape in shapes:
                    setattr(self, pname + sfx, Parameter(empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(pname + sfx)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch's default)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch compatibility (cuDNN weight packing)."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        per = 4 if self.bias else 2
        w = self._flat_weights
        return [w[k:k + per] for k in range(0, len(w), per)]

    # ------------------------------------------------------------ forward
    def forward(self, input, hx=None, *, lengths=None):
        """input (T, N, input_size) [(N, T, .) with batch_first, (T, input_size) unbatched, or a
        PackedSequence]; hx h0 (or (h0, c0) for LSTM) of shape (num_layers * num_directions, N,
        hidden_size), zeros if None; ``lengths`` (N,) marks the valid steps of a padded batch.
        Returns (output (T, N, D * hidden_size), h_n) — (output, (h_n, c_n)) for LSTM."""
        name = self._get_name()
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            if lengths is not None:
                raise ValueError(f"{name}: pass either a PackedSequence or lengths=, not both")
            x, _ = pad_packed_sequence(input)
            lens = packed_lengths(input)
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: expected a Tensor or PackedSequence input, got {type(input).__name__}")
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: expected input with 2 (unbatched) or 3 (batched) dimensions, got "
                                 f"shape {tuple(input.shape)}")
            unbatched = input.ndim == 2
            x = input.reshape(input.shape[0], 1, input.shape[1]) if unbatched else input
            if self.batch_first and not unbatched:
                x = x.transpose(0, 1)
            lens = None
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}(input_size={self.input_size}): input has {x.shape[-1]} features (input "
                             f"shape {tuple((input.data if packed else input).shape)})")
        w0 = self.weight_ih_l0
        _check_dtype(name, "input", x, w0)
        T, N = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError(f"{name}: the input sequence is empty (input shape {tuple(x.shape)})")
        if lengths is not None:
            lens = as_lengths(lengths, name)
            if lens.size != N:
                raise ValueError(f"{name}: got {lens.size} lengths for a batch of {N} sequences")
            if lens.size and (lens.min() < 0 or lens.max() > T):
                raise ValueError(f"{name}: lengths must lie in [0, {T}] (the padded sequence length), got "
                                 f"min {int(lens.min())} and max {int(lens.max())}")
        mask = None
        if lens is not None and not np.all(lens == T):
            mask = np.ascontiguousarray(np.arange(T)[:, None] < lens[None, :])
            if x.device.type != "cpu":
                mask = backend.to_device(mask, x.device)
        states = self._initial_states(hx, N, unbatched, x)
        if mask is not None:  # padding is never read, even if it holds inf or nan
            x = where(Tensor._wrap(mask[:, :, None]), x, 0.0)
        out, finals = self._run(x, states, mask)
        h_n = stack([f[0] for f in finals])
        c_n = stack([f[1] for f in finals]) if self.mode == "LSTM" else None
        if packed:
            out = pack_like(out, input)
        elif unbatched:
            out = out.reshape(T, out.shape[-1])
            h_n = h_n.reshape(h_n.shape[0], h_n.shape[2])
            c_n = None if c_n is None else c_n.reshape(c_n.shape[0], c_n.shape[2])
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if self.mode == "LSTM" else (out, h_n)

    def _initial_states(self, hx, n: int, unbatched: bool, x: Tensor) -> list:
        """Per (layer, direction): [h0] or [h0, c0], each (N, H)."""
        name = self._get_name()
        k = self.num_layers * (2 if self.bidirectional else 1)
        H = self.hidden_size
        lstm = self.mode == "LSTM"
        if hx is None:
            z = _zeros(x, n, H)
            return [[z, z] if lstm else [z] for _ in range(k)]
        if lstm:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            parts = list(hx)
        else:
            parts = [hx]
        want = (k, H) if unbatched else (k, n, H)
        split = []
        for label, t in zip(("h0", "c0"), parts):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {label} must be a Tensor, got {type(t).__name__}")
            if tuple(t.shape) != want:
                layout = "(num_layers * num_directions, hidden_size) for unbatched input" if unbatched else \
                    "(num_layers * num_directions, batch, hidden_size)"
                raise ValueError(f"{name}: expected {label} of shape {want} {layout}, got {tuple(t.shape)}")
            _check_dtype(name, label, t, self.weight_ih_l0)
            t = t.reshape(k, n, H)
            split.append([p.reshape(n, H) for p in t.split(1, 0)] if k > 1 else [t.reshape(n, H)])
        return [list(s) for s in zip(*split)]

    def _run(self, x: Tensor, states: list, mask):
        dirs = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                res = _run_layer(self.mode, x, states[layer * dirs + d], w_ih, w_hh, b_ih, b_hh, mask, bool(d))
                outs.append(res[0])
                finals.append(res[1:])
            x = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, finals

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    Stacked ``num_layers`` deep (layer k > 0 reads layer k-1's output, with ``dropout`` between
    layers while training), optionally ``bidirectional`` (a second pass from the end; outputs
    concatenated). Input (T, N, input_size) — (N, T, .) with ``batch_first`` — gives output
    (T, N, D * hidden_size) and h_n (num_layers * D, N, hidden_size).

    >>> rnn = nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(lamina.randn(5, 3, 10))        # (5, 3, 20), (2, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, gates in PyTorch's order i, f, g, o:

        i, f, o = sigmoid(.),  g = tanh(.)   of   x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

    weight_ih_l{k}: (4 hidden, in), weight_hh_l{k}: (4 hidden, hidden). Returns
    (output, (h_n, c_n)); see ``RNN`` for layers, directions, shapes and ``lengths``.

    >>> lstm = nn.LSTM(64, 256)
    >>> out, (h_n, c_n) = lstm(lamina.randn(64, 32, 64))   # (64, 32, 256), (1, 32, 256) x 2
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit, gates in PyTorch's order r, z, n:

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}

    weight_ih_l{k}: (3 hidden, in), weight_hh_l{k}: (3 hidden, hidden). See ``RNN``.

    >>> gru = nn.GRU(8, 16, batch_first=True)
    >>> out, h_n = gru(lamina.randn(4, 10, 8))            # (4, 10, 16), (1, 4, 16)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# ---------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step: weight_ih (G hidden, in), weight_hh (G hidden, hidden), bias_ih, bias_hh."""

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device=None, dtype=None):
        super().__init__()
        name = self._get_name()
        _check_int("input_size", name, input_size, positive=False)
        _check_int("hidden_size", name, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        gh = _GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(empty(gh, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(gh, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gh, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gh, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _step(self, input, hx, n_states: int):
        name = self._get_name()
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input to be 1-D (unbatched) or 2-D (batch, input_size), got "
                             f"shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}(input_size={self.input_size}): input has {input.shape[-1]} features "
                             f"(input shape {tuple(input.shape)})")
        _check_dtype(name, "input", input, self.weight_ih)
        unbatched = input.ndim == 1
        x = input.reshape(1, -1) if unbatched else input
        n, H = x.shape[0], self.hidden_size
        if hx is None:
            states = [_zeros(x, n, H)] * n_states
        else:
            parts = list(hx) if n_states == 2 else [hx]
            if n_states == 2 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a tuple (h, c), got {type(hx).__name__}")
            want = (H,) if unbatched else (n, H)
            states = []
            for label, t in zip(("h", "c"), parts):
                if not isinstance(t, Tensor) or tuple(t.shape) != want:
                    raise ValueError(f"{name}: expected {label} of shape {want}, got "
                                     f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
                _check_dtype(name, label, t, self.weight_ih)
                states.append(t.reshape(n, H))
        res = _run_layer(self.mode, x.reshape(1, n, x.shape[1]), states, self.weight_ih, self.weight_hh,
                         self.bias_ih, self.bias_hh)
        out = res[1:]
        return tuple(o.reshape(H) for o in out) if unbatched else tuple(out)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu; x (N, in) or (in,).

    >>> cell = nn.RNNCell(10, 20)
    >>> h = cell(lamina.randn(3, 10))          # (3, 20); pass h back in for the next step
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        self.__dict__["mode"] = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, 1)[0]


class LSTMCell(RNNCellBase):
    """(h', c') from (x, (h, c)) with LSTM's gates i, f, g, o (see ``LSTM``); hx None means zeros.

    >>> cell = nn.LSTMCell(10, 20)
    >>> h, c = cell(lamina.randn(3, 10))        # (3, 20) each
    """

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None) -> tuple:
        return self._step(input, hx, 2)


class GRUCell(RNNCellBase):
    """h' from (x, h) with GRU's gates r, z, n (see ``GRU``); hx None means zeros.

    >>> cell = nn.GRUCell(10, 20)
    >>> h = cell(lamina.randn(3, 10))           # (3, 20)
    """

    mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, 1)[0]
