"""lamina: a complete deep-learning system in Python — tensors, autograd, layers, training.

    import lamina
    from lamina import nn, optim
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.functional.cross_entropy(model(x), y); loss.backward(); opt.step()
"""
from . import backend
from .autograd import enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (Device, Generator, bool_, promote_types, cuda_available, device, double, float16, float32, float64,
                      get_default_dtype, get_rng_state, half, initial_seed, int8, int16, int32, int64, long,
                      manual_seed, set_default_dtype, set_rng_state, short, uint8)
from .ops.creation import (arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like,
                           linspace, normal, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                           randint_like, randperm, tensor, zeros, zeros_like)
from .ops.elementwise import (abs, add, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, clamp, cos, div, eq, exp, expm1, floordiv, ge, gt, isfinite, isinf,
                              isnan, le, log, log1p, logical_and, logical_not, logical_or, logical_xor, lt,
                              maximum, minimum, mul, ne, neg, pow, reciprocal, relu, remainder, rsqrt,
                              result_type, sigmoid, sign, sin, sqrt, square, sub, tanh, where)
from .ops.index import gather, index_select, masked_fill, scatter, scatter_add
from .ops.linalg import dot, einsum, matmul, outer
from .ops.reduce import all, amax, amin, any, argmax, argmin, cumsum, logsumexp, max, mean, min, norm, prod, std, sum, var
from .ops.shape import (cat, chunk, expand, flatten, flip, permute, repeat, reshape, roll, split, squeeze, stack,
                        tile, transpose, tril, triu, unflatten, unsqueeze)
from .ops.special import erf
from .tensor import Tensor
# reductions, sorting, statistics, indexing (more)
# elementwise math, shape, linear algebra, creation (more)

from . import data, io, metrics, nn, optim  # noqa: E402  (the layers above the engine)
from . import models  # noqa: E402
from .io import load, save  # noqa: E402
from .summary import summary  # noqa: E402
from ._threads import get_num_threads, num_threads, set_num_threads  # noqa: E402

# device API, compat

bool = bool_  # noqa: A001  (lamina.bool, as torch.bool)
clip = clamp
concat = concatenate = cat
true_divide = divide = div
multiply = mul
subtract = sub
floor_divide = floordiv

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()
