"""The in-place functions of the ``torch`` namespace (``torch.sin_(x)``, ``torch.clamp_(x, 0, 1)``):
each calls the tensor method of the same name, which writes into x's memory and returns x.

    >>> x = lamina.tensor([0.0, 1.0]); lamina.exp_(x) is x       # True
"""
from __future__ import annotations

NAMES = ("abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_", "asin_",
         "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_",
         "deg2rad_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_",
         "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
         "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_",
         "tan_", "tanh_", "trunc_", "xlogy_", "zero_", "fill_", "addmv_", "as_strided_", "detach_")


def _make(name: str):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``: the in-place op, written into input's memory (returns input)."
    return fn


for _name in NAMES:
    globals()[_name] = _make(_name)

__all__ = list(NAMES)
