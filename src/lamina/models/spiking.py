"""A spiking multilayer perceptron: Linear -> LIF layers, run for ``num_steps`` time steps.

    s^0_t = encode(x)_t        (rate: Bernoulli(x); latency: one spike per pixel; direct: x every step)
    I^l_t = W_l s^{l-1}_t + b_l;   (s^l, u^l) = LIF(I^l)    for l = 1..L (the last layer has the classes)
    logits = sum_t s^L_t  (readout='count')   or   mean_t u^L_t  (readout='membrane')

Every Linear runs on all T steps in one product ((T*B, in) x (in, out)), and each LIF layer runs
its whole time loop as one fused Function (BPTT in one kernel), so a training step costs a few
products and kernels, not T times a dozen small ops. ``fused=False`` records every step instead
(same numbers). ``simulate(x)`` also returns every layer's spikes and membrane traces (for raster
plots); ``forward(x)`` gives the (B, classes) logits the Trainer and the accuracy metric take.

>>> model = SpikingMLP(64, [256], 10, num_steps=25)
>>> counts = model(x)                      # (B, 10) spike counts; train with cross-entropy on them
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

from ..data.spike_encoding import latency, rate
from ..nn.containers import ModuleList
from ..nn.layers.linear import Linear
from ..nn.layers.spiking import LIF
from ..nn.module import Module
from ..tensor import Tensor
from .registry import Configurable, register_model

__all__ = ["SpikeRecord", "SpikingMLP"]

_ENCODINGS = ("rate", "latency", "direct", "none")
_READOUTS = ("count", "membrane")


class SpikeRecord(NamedTuple):
    """What ``SpikingMLP.simulate`` returns: per layer (T, B, width) spikes and membranes; (B, classes) logits."""
    logits: Tensor
    spikes: list
    membranes: list
    input_spikes: Tensor

    @property
    def counts(self) -> list:
        """Spike counts per neuron over time, one (B, width) Tensor per layer."""
        return [s.sum(0) for s in self.spikes]


@register_model("snn_mlp")
@register_model("spiking_mlp")
class SpikingMLP(Configurable, Module):
    """A feed-forward spiking network of Linear + LIF layers (snnTorch's classic tutorial net).

    Args:
        in_features: inputs per sample (images are flattened); values in [0, 1] for rate/latency coding.
        hidden_sizes: hidden widths (an int for one layer).
        out_features: output neurons (classes).
        num_steps: time steps T.
        beta, threshold, reset, surrogate, slope, learn_beta: the LIF neurons' settings (``nn.LIF``).
        encoding: 'rate' (Bernoulli spikes, ``gain`` scales the rate), 'latency', 'direct' (the
            input as a constant current every step) or 'none' (the input already is (T, B, features)).
        readout: 'count' (logits = output spike counts) or 'membrane' (mean output membrane).
        fused: fused time loop per LIF layer (True) or every step recorded (False).
        seed: seed of the encoder's own generator (None: lamina's default generator).
    """

    def __init__(self, in_features: int = 64, hidden_sizes=(256,), out_features: int = 10, num_steps: int = 25,
                 beta=0.95, threshold: float = 1.0, reset: str = "subtract", surrogate: str = "atan",
                 slope: float | None = None, learn_beta: bool = False, encoding: str = "rate", gain: float = 1.0,
                 readout: str = "count", fused: bool = True, seed: int | None = None):
        super().__init__()
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        for name, v in [("in_features", in_features), ("out_features", out_features), ("num_steps", num_steps)] + \
                       [(f"hidden_sizes[{i}]", h) for i, h in enumerate(hidden)]:
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"SpikingMLP: {name} must be a positive int, got {v!r}")
        if encoding not in _ENCODINGS:
            raise ValueError(f"SpikingMLP: encoding must be one of {', '.join(_ENCODINGS)}, got {encoding!r}")
        if readout not in _READOUTS:
            raise ValueError(f"SpikingMLP: readout must be one of {', '.join(_READOUTS)}, got {readout!r}")
        self.in_features, self.hidden_sizes, self.out_features = int(in_features), tuple(hidden), int(out_features)
        self.num_steps, self.beta, self.threshold, self.reset = int(num_steps), beta, float(threshold), reset
        self.surrogate, self.slope, self.learn_beta = surrogate, slope, bool(learn_beta)
        self.encoding, self.gain, self.readout, self.fused, self.seed = encoding, float(gain), readout, fused, seed
        widths = [self.in_features, *hidden, self.out_features]
        self.fcs = ModuleList([Linear(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.lifs = ModuleList([LIF(beta, threshold, reset, surrogate, slope, learn_beta, fused) for _ in widths[1:]])
        self.generator = None
        if seed is not None:
            from ..backend import Generator
            self.generator = Generator().manual_seed(int(seed))

    def encode(self, x: Tensor) -> Tensor:
        """(B, ...) inputs -> (T, B, in_features) input spikes (or currents, for 'direct')."""
        if self.encoding == "none":
            if x.ndim < 3 or x.shape[0] != self.num_steps:
                raise ValueError(f"SpikingMLP(encoding='none'): expected input (T={self.num_steps}, B, features), "
                                 f"got shape {tuple(x.shape)}")
            return x.reshape(x.shape[0], x.shape[1], -1)
        x = x.reshape(x.shape[0], -1) if x.ndim != 2 else x
        if self.encoding == "rate":
            return rate(x.detach(), self.num_steps, self.gain, self.generator)
        if self.encoding == "latency":
            return latency(x.detach(), self.num_steps, tau=5.0, threshold=0.01, normalize=True, clip=True)
        return x.unsqueeze(0).expand(self.num_steps, *x.shape)

    def simulate(self, x: Tensor) -> SpikeRecord:
        """Run the network: logits, every layer's (T, B, width) spikes and membranes, the input spikes."""
        s_in = self.encode(x)
        if s_in.shape[-1] != self.in_features:
            raise ValueError(f"SpikingMLP(in_features={self.in_features}): input has {s_in.shape[-1]} features "
                             f"(input shape {tuple(x.shape)})")
        n_t, b = s_in.shape[0], s_in.shape[1]
        s, spikes, mems = s_in, [], []
        for fc, lif in zip(self.fcs, self.lifs):
            cur = fc(s.reshape(n_t * b, s.shape[-1])).reshape(n_t, b, fc.out_features)
            s, u = lif.run(cur)
            spikes.append(s)
            mems.append(u)
        logits = spikes[-1].sum(0) if self.readout == "count" else mems[-1].mean(0)
        return SpikeRecord(logits, spikes, mems, s_in)

    def forward(self, x: Tensor) -> Tensor:
        return self.simulate(x).logits
