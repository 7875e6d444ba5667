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
from .ops.cumulative import (cummax, cummin, cumprod, cumulative_trapezoid, diff, gradient, logcumsumexp, trapezoid,
                              trapz)
from .ops.scatter import (index_add, index_copy, index_fill, index_put, index_put_, index_reduce, scatter, scatter_reduce,
                          segment_reduce)
from .ops.search import allclose, bucketize, equal, isin, searchsorted, unique, unique_consecutive
from .ops.select import argwhere, masked_scatter, masked_select, nonzero, put, take, take_along_dim, unravel_index
from .ops.sorting import argsort, kthvalue, median, mode, msort, nanmedian, sort, topk
from .ops.statistics import (aminmax, bincount, corrcoef, count_nonzero, cov, histc, histogram, histogramdd, nanmean,
                             nanquantile, nansum, quantile, std_mean, var_mean)
from .ops import return_types  # noqa: E402  (lamina.return_types.sort, ... as torch.return_types)
from .ops._aliases import numpy_names as _numpy_names  # lamina.sum(x, axis=1, keepdims=True), as torch accepts
(sum, mean, var, std, max, min, amax, amin, argmax, argmin, prod, logsumexp, cumsum, all, any, sort, argsort, topk,
 kthvalue, median, nanmedian, mode, quantile, nanquantile, nansum, nanmean, aminmax, count_nonzero, cumprod, cummax,
 cummin, logcumsumexp, diff, var_mean, std_mean) = map(_numpy_names, (
    sum, mean, var, std, max, min, amax, amin, argmax, argmin, prod, logsumexp, cumsum, all, any, sort, argsort, topk,
    kthvalue, median, nanmedian, mode, quantile, nanquantile, nansum, nanmean, aminmax, count_nonzero, cumprod, cummax,
    cummin, logcumsumexp, diff, var_mean, std_mean))
# elementwise math, shape, linear algebra, creation (more)
from . import linalg, special  # noqa: E402
from .ops.cast import clone  # noqa: E402
from .ops.compare import is_complex, is_floating_point, isclose  # noqa: E402
from .ops.creation_more import (asarray, bartlett_window, blackman_window, fill, from_dlpack, frombuffer,  # noqa: E402
                                hamming_window, hann_window, kaiser_window, logspace, scalar_tensor, vander)
from .ops.decompositions import cholesky, det, logdet, slogdet  # noqa: E402
from .ops.decompositions import inv as inverse, qr_old as qr  # noqa: E402
from .ops.diag import diag, diag_embed, diagflat, trace, tril_indices, triu_indices  # noqa: E402
from .ops.elementwise import (acos, acosh, addcdiv, addcmul, arccos, arccosh, arcsin, arcsinh, arctan, arctan2,  # noqa: E402
                              arctanh, asin, asinh, atan, atan2, atanh, bitwise_left_shift, bitwise_right_shift, ceil,
                              clamp_max, clamp_min, copysign, cosh, deg2rad, digamma, erfc, erfinv, exp2, fix,
                              float_power, floor, fmax, fmin, fmod, frac, gcd, heaviside, hypot, i0, igamma, igammac,
                              is_nonzero, is_same_size, is_signed, isneginf, isposinf, isreal, lcm, lerp, lgamma, log2,
                              log10, logaddexp, logaddexp2, logit, mvlgamma, nan_to_num, negative, polygamma, positive,
                              rad2deg, round, rsub, sgn, signbit, sinc, sinh, tan, trunc, xlogy)
from .ops.floatbits import frexp, ldexp, nextafter  # noqa: E402
from .ops.inplace_aliases import *  # noqa: E402,F401,F403  (torch.sin_(x), torch.clamp_(x, ...), ...)
from .ops.householder import geqrf, orgqr, ormqr  # noqa: E402
from .ops.lu import lu_old as lu, lu_solve_old as lu_solve, lu_unpack  # noqa: E402
from .ops.matrix_functions import (block_diag, cholesky_inverse, cholesky_solve, matrix_exp,  # noqa: E402
                                   triangular_solve)
from .ops.norms import cdist, dist, renorm  # noqa: E402
from .ops.products import (addbmm, addmm, addmv, addr, baddbmm, bmm, chain_matmul, cross, inner, kron,  # noqa: E402
                           matrix_power, mm, mv, tensordot, vdot)
from .ops.promotion import can_cast  # noqa: E402
from .ops.random_fill import binomial  # noqa: E402
from .ops.reorder import fliplr, flipud, ravel, repeat_interleave, rot90  # noqa: E402
from .ops.sampling import multinomial, poisson  # noqa: E402
from .ops.shape import t  # noqa: E402
from .ops.shape_join import (atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors,  # noqa: E402
                             cartesian_prod, column_stack, combinations, dsplit, dstack, hsplit, hstack, meshgrid,
                             row_stack, split_with_sizes, tensor_split, vsplit, vstack)
from .ops.shape_views import (diagonal, movedim, moveaxis, narrow, narrow_copy, select, swapaxes,  # noqa: E402
                              swapdims, unbind)
from .ops.spectral import pca_lowrank, pinverse, svd_lowrank  # noqa: E402
from .ops.spectral import svd_old as svd  # noqa: E402
from .ops.storage import as_strided, empty_strided  # noqa: E402
from .ops.view_scatter import as_strided_scatter, diagonal_scatter, select_scatter, slice_scatter  # noqa: E402

absolute = abs
ger = outer
less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne
broadcast_to = expand
pi, e, inf, nan, newaxis = 3.141592653589793, 2.718281828459045, float("inf"), float("nan"), None


def pdist(input, p: float = 2.0):
    """``torch.pdist``: the distances between all pairs of rows (``nn.functional.pdist``)."""
    return nn.functional.pdist(input, p)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``torch.pairwise_distance``: ||x1 - x2 + eps||_p over the last dim (``nn.functional``'s)."""
    return nn.functional.pairwise_distance(x1, x2, p, eps, keepdim)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """``torch.cosine_similarity`` (``nn.functional.cosine_similarity``)."""
    return nn.functional.cosine_similarity(x1, x2, dim, eps)


from . import data, io, metrics, nn, optim  # noqa: E402  (the layers above the engine)
from . import models  # noqa: E402
from .io import load, save  # noqa: E402
from .summary import summary  # noqa: E402
from ._threads import get_num_threads, num_threads, set_num_threads  # noqa: E402

# device API, compat
from . import accelerator, autodiff, backends, cuda, utils  # noqa: E402,F401  (autodiff completes lamina.autograd)
from ._printing import get_printoptions, set_printoptions  # noqa: E402
from .autodiff import inference_mode, is_inference_mode_enabled  # noqa: E402
from .backend import (are_deterministic_algorithms_enabled, get_default_device, get_float32_matmul_precision,  # noqa: E402
                      is_deterministic_algorithms_warn_only_enabled, set_default_device,
                      set_float32_matmul_precision, use_deterministic_algorithms)

from . import distributions, random, testing  # noqa: E402,F401
from ._toplevel import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,  # noqa: E402
                        IntTensor, LongTensor, ShortTensor, Size, alpha_dropout, batch_norm,
                        binary_cross_entropy_with_logits, cosine_embedding_loss, ctc_loss, detach, dropout, dtype,
                        embedding, finfo, get_deterministic_debug_mode, get_device, get_num_interop_threads,
                        group_norm, hinge_embedding_loss, iinfo, instance_norm, is_inference, is_warn_always_enabled,
                        kl_div, layer_norm, margin_ranking_loss, poisson_nll_loss, seed, set_deterministic_debug_mode,
                        set_flush_denormal, set_num_interop_threads, set_warn_always, triplet_margin_loss, typename,
                        alpha_dropout_, dropout_, set_anomaly_enabled, to_dlpack)
from .autodiff.anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: E402
from .backend import default_generator  # noqa: E402
globals().update(_toplevel.functional_aliases())  # torch.conv2d, torch.softmax, ... (nn.functional's ops)

bool = bool_  # noqa: A001  (lamina.bool, as torch.bool)
float = float32  # noqa: A001  (torch.float)
int = int32  # noqa: A001  (torch.int)
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
