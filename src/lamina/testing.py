"""``lamina.testing.assert_close``: torch.testing's comparison of tensors (and nested sequences
and mappings of them) with tolerances chosen by dtype.

    |actual - expected| <= atol + rtol * |expected|   elementwise

Default (rtol, atol): float16 (1e-3, 1e-5), float32 (1.3e-6, 1e-5), float64 (1e-7, 1e-7), exact
for integers and bools — PyTorch's defaults.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["assert_close", "make_tensor"]

_DEFAULTS = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
             np.dtype(np.float64): (1e-7, 1e-7)}


def _array(x):
    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 check_device=True, msg=None):
    """Raise AssertionError naming the worst mismatch unless ``actual`` is close to ``expected``."""
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            raise AssertionError(msg or f"the mappings' keys differ: {sorted(actual)} vs {sorted(expected)}")
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    if isinstance(expected, (list, tuple)) and not isinstance(actual, Tensor):
        if len(actual) != len(expected):
            raise AssertionError(msg or f"the sequences' lengths differ: {len(actual)} vs {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=msg)
        return
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.")
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) and a.dtype != e.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.")
    if rtol is None:
        rtol, atol = _DEFAULTS.get(np.result_type(a, e), (0.0, 0.0)) if a.dtype.kind == "f" or e.dtype.kind == "f" \
            else (0.0, 0.0)
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not ok.all():
        diff = np.abs(a64 - e64)
        diff = np.where(np.isnan(diff), np.inf, diff)
        i = np.unravel_index(int(np.argmax(np.where(ok, -1, diff))), a.shape) if a.ndim else ()
        raise AssertionError(msg or (
            f"Tensor-likes are not close!\n\nMismatched elements: {int((~ok).sum())} / {ok.size}\n"
            f"Greatest absolute difference: {float(diff[i]) if a.ndim else float(diff)} at index {tuple(int(k) for k in i)} "
            f"(up to {atol} allowed)\nrtol={rtol}, atol={atol}"))


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False, generator=None):
    """A tensor of ``shape`` with values drawn uniformly from [low, high) (defaults -9, 9), as torch.testing's."""
    from .ops import creation
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    low = -9 if low is None else low
    high = 9 if high is None else high
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return creation.randint(0, 2, shape, generator=generator).to(dt)
    if dt.kind in "iu":
        return creation.randint(int(low), int(high), shape, dtype=dt, generator=generator)
    t = creation.rand(*shape, dtype=dt, generator=generator) * (high - low) + low
    return t.requires_grad_(requires_grad)
