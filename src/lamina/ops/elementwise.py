"""Every elementwise op in one namespace (``from lamina.ops import elementwise as E``).

The ops live in one file per family; this module only re-exports them:

* ``promotion.py``  operand handling: dtype promotion, scalars next to tensors, ``expand_copy``
* ``cast.py``       astype, clone, to_device
* ``arithmetic.py`` add, sub, mul, div, pow, maximum/minimum, remainder, where
* ``unary.py``      exp/log, sqrt, abs/sign, sin/cos, tanh, sigmoid, relu, clamp
* ``compare.py``    comparisons, logic, bitwise ops and shifts, gcd/lcm, isnan/isinf/isposinf, ...
* ``trig.py``       tan, asin/acos/atan, the hyperbolic functions, atan2, hypot, sinc, deg2rad
* ``explog.py``     log2/log10/exp2, logaddexp(2), xlogy, logit, float_power
* ``rounding.py``   round/floor/ceil/trunc/frac, nan_to_num, sgn/signbit/copysign, fmod, fmax/fmin
* ``special.py``    erf/erfc/erfinv, lgamma/digamma/polygamma/mvlgamma, i0
* ``pointwise.py``  lerp, addcmul, addcdiv
"""
from __future__ import annotations

from .arithmetic import (Add, AddScalar, Div, DivScalar, Maximum, Minimum, Mul, MulScalar, Pow, PowScalar,  # noqa: F401
                         RDivScalar, Remainder, RSubScalar, Sub, Where, add, div, floordiv, maximum, minimum, mul,
                         pow, remainder, sub, where)
from .cast import Cast, Identity, ToDevice, astype, clone, to_device  # noqa: F401
from .compare import (bitwise_and, bitwise_not, bitwise_or, bitwise_xor, eq, ge, gt, isfinite, isinf,  # noqa: F401
                      isnan, le, logical_and, logical_not, logical_or, logical_xor, lt, ne)
from .promotion import (as_tensor_like, binary_operands, expand_copy, promote_types,  # noqa: F401
                        result_type)
from .unary import clamp_max, clamp_min  # noqa: F401,E402
from .unary import (Abs, Clamp, Cos, Exp, Expm1, Log, Log1p, MaskMul, Neg, ReLU, Rsqrt, Sigmoid, Sign, Sin,  # noqa: F401
                    Sqrt, Tanh, abs, clamp, cos, exp, expm1, log, log1p, mask_mul, neg, reciprocal, relu, rsqrt,
                    sigmoid, sign, sin, sqrt, square, tanh)

# the families added with the PyTorch-fidelity work
from .compare import (bitwise_left_shift, bitwise_right_shift, gcd, is_nonzero, is_same_size,  # noqa: F401,E402
                      is_signed, isneginf, isposinf, isreal, lcm)
from .explog import exp2, float_power, log2, log10, logaddexp, logaddexp2, logit, xlog1py, xlogy  # noqa: F401,E402
from .pointwise import addcdiv, addcmul, lerp  # noqa: F401,E402
from .promotion import as_float, float_operands  # noqa: F401,E402
from .rounding import (ceil, copysign, fix, floor, fmax, fmin, fmod, frac, heaviside, nan_to_num,  # noqa: F401,E402
                       negative, positive, round, rsub, sgn, signbit, trunc)
from .special import digamma, erf, erfc, erfinv, i0, igamma, igammac, lgamma, mvlgamma, polygamma, zeta  # noqa: F401,E402
from .trig import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin,  # noqa: F401,E402
                   asinh, atan, atan2, atanh, cosh, deg2rad, hypot, rad2deg, sinc, sinh, tan)
