"""Parameter initialisation (``lamina.nn.init``), PyTorch's functions and formulas.

Every function fills its tensor in place (without recording a graph) and returns it. Random
draws come from ``generator`` or lamina's default generator, so ``lamina.manual_seed`` fixes
them. With fan_in = in_features x receptive field and fan_out = out_features x receptive field:

    xavier_uniform_   U(-a, a),  a = gain sqrt(6 / (fan_in + fan_out))
    xavier_normal_    N(0, std), std = gain sqrt(2 / (fan_in + fan_out))
    kaiming_uniform_  U(-b, b),  b = gain sqrt(3 / fan)          (fan = fan_in or fan_out by mode)
    kaiming_normal_   N(0, std), std = gain / sqrt(fan)

plus uniform_, normal_, trunc_normal_, constant_, ones_, zeros_, eye_, dirac_, orthogonal_,
sparse_ and calculate_gain, all with PyTorch's signatures.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor


def _fill(tensor: Tensor, values) -> Tensor:
    """Write a CPU array into ``tensor`` in place (no graph), keeping its dtype and device."""
    arr = np.asarray(values).astype(tensor.dtype, copy=False)
    if tensor.device.type != "cpu":  # pragma: no cover - needs a GPU
        arr = backend.to_device(arr, tensor.device)
    if getattr(tensor.array.flags, "writeable", True):
        tensor.array[...] = arr
    else:
        tensor.array = arr.copy()
    tensor._version += 1
    return tensor


def _no_elements(tensor: Tensor) -> bool:
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity: linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2),
    leaky_relu sqrt(2 / (1 + slope^2)) (slope ``param``, default 0.01), selu 3/4."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) = (size(1), size(0)) times the receptive field (the product of the rest)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {tensor.shape})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, backend.rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, backend.rng(generator).normal(mean, std, tensor.shape))


def _phi_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b] (``a`` and ``b`` are absolute values, as in PyTorch).

    Exact rejection sampling, all vectorized: proposals from the normal itself when [a, b] holds
    a good share of its mass, else from a uniform on [a, b] (narrow intervals) or a shifted
    exponential (Robert, 1995; far tails), each accepted with the matching probability.
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = backend.rng(generator)
    n = tensor.numel()
    lo, hi = (a - mean) / std, (b - mean) / std
    flip = hi <= 0  # sample the mirror image on the positive side, then negate
    if flip:
        lo, hi = -hi, -lo
    mass = _phi_cdf(hi) - _phi_cdf(lo)
    if mass >= 0.1:
        kind = "normal"
    elif lo <= 0 or (math.isfinite(hi) and lo * (hi - lo) <= 1.0):
        kind = "uniform"
    else:
        kind = "exponential"
    alpha = (lo + math.sqrt(lo * lo + 4.0)) / 2.0
    out, filled = np.empty(n), 0
    while filled < n:
        m = 2 * (n - filled) + 64
        if kind == "normal":
            z = rng.standard_normal(int(m / max(mass, 1e-3)))
            z = z[(z >= lo) & (z <= hi)]
        elif kind == "uniform":
            z = rng.uniform(lo, hi, m)
            peak = 0.0 if lo <= 0 else lo * lo  # the smallest z^2 on [lo, hi]
            z = z[rng.random(m) <= np.exp(-(z * z - peak) / 2)]
        else:
            z = lo + rng.exponential(1.0 / alpha, m)
            z = z[(z <= hi) & (rng.random(m) <= np.exp(-((z - alpha) ** 2) / 2))]
        z = z[: n - filled]
        out[filled:filled + z.size] = z
        filled += z.size
    if flip:
        out = -out
    return _fill(tensor, np.clip(out * std + mean, a, b).reshape(tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (keeps the identity of the inputs in Linear layers)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He uniform: U(-b, b) with b = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    ``nn.Linear``'s default is ``kaiming_uniform_(w, a=sqrt(5))``, i.e. b = 1 / sqrt(fan_in).
    """
    if _no_elements(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    if _no_elements(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times ``gain``.

    The tensor is viewed as (size(0), rest); its rows (or columns, if fewer) are orthonormal.
    """
    if tensor.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported (got shape {tensor.shape})")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = backend.rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # make the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * gain).reshape(tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: w[g*O + d, d, centre] = 1 for
    d < min(O, in_channels) in each of the ``groups`` (O = out_channels / groups), so the
    convolution starts as the identity on as many channels as possible."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    n = min(out_per_group, sizes[1])
    values = np.zeros(sizes)
    d = np.arange(n)
    rows = (np.arange(groups)[:, None] * out_per_group + d[None, :]).reshape(-1)
    cols = np.tile(d, groups)
    centre = tuple(k // 2 for k in sizes[2:])
    values[(rows, cols) + centre] = 1
    return _fill(tensor, values)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Fill a 2-D tensor with N(0, std^2) values and zero ceil(sparsity * rows) random entries of
    every column (Martens, 2010)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng = backend.rng(generator)
    values = rng.normal(0.0, std, (rows, cols))
    if num_zeros and rows:
        order = np.argsort(rng.random((rows, cols)), axis=0)   # an independent permutation per column
        values[order[:num_zeros], np.arange(cols)[None, :]] = 0
    return _fill(tensor, values)


# PyTorch's deprecated names without the trailing underscore are not provided on purpose.
