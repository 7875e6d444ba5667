"""Shape ops: reshape, transpose/permute, squeeze, expand, cat/stack/split, flip, roll, pad, ...

Most are views in NumPy; their backward applies the inverse rearrangement to the gradient
(transpose undoes transpose, split undoes cat, cropping undoes padding), written with these
same ops so that second derivatives work.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .broadcast import broadcast_to
from .cast import astype
from .views import make_view, make_views


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _ints(values, op: str, what: str) -> tuple:
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{op}: {what} must be integers, got {tuple(values)}") from None


def norm_dim(dim, shape: tuple, op: str, extra: int = 0) -> int:
    """``dim`` (negatives count from the end) as an index into ``len(shape) + extra`` dimensions."""
    n = max(len(shape) + extra, 1)
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"{op}: dim must be an integer, got {dim!r}") from None
    if not -n <= d < n:
        raise IndexError(f"{op}: dimension {d} is out of range for a tensor of shape {tuple(shape)} "
                         f"(expected to be in range [{-n}, {n - 1}])")
    return d % n


def norm_dims(dims, shape: tuple, op: str) -> tuple:
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    out = tuple(norm_dim(d, shape, op) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {dims} appears multiple times in the list of dims")
    return out


def infer_shape(x_shape: tuple, shape: tuple, op: str = "reshape") -> tuple:
    """Resolve one -1 in ``shape`` and check the element count matches."""
    size = math.prod(x_shape)
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got {shape}")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or size % known:
            raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {x_shape} ({size} elements)")
        shape = tuple(size // known if n == -1 else n for n in shape)
    if math.prod(shape) != size or any(n < 0 for n in shape):
        raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {x_shape} ({size} elements)")
    return shape


# ---------------------------------------------------------------- reshaping
class Reshape(Function):
    """y = x with shape ``shape``;  dx = dy reshaped to x's shape."""

    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return Reshape(self.in_shape)(gy)


def reshape(x: Tensor, *shape) -> Tensor:
    """x with a new shape of the same size (one entry may be -1): ``x.reshape(2, -1)``."""
    shape = infer_shape(x.shape, _ints(_shape_arg(shape), "reshape", "sizes"), "reshape")
    if shape == x.shape:
        return x
    return make_view(Reshape(shape)(x), x, lambda b: reshape(b, shape))


def view(x: Tensor, *shape) -> Tensor:
    """Same as ``reshape`` (NumPy reshapes return views whenever the strides allow)."""
    shape = infer_shape(x.shape, _ints(_shape_arg(shape), "view", "sizes"), "view")
    if shape == x.shape:
        return x
    return make_view(Reshape(shape)(x), x, lambda b: reshape(b, shape))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one: (2, 3, 4).flatten(1) -> (2, 12); a 0-d x gives (1,)."""
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = norm_dim(start_dim, x.shape, "flatten"), norm_dim(end_dim, x.shape, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim}) "
                         f"for a tensor of shape {x.shape}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1): (2, 12).unflatten(1, (3, 4)) -> (2, 3, 4)."""
    d = norm_dim(dim, x.shape, "unflatten")
    sizes = _ints(sizes, "unflatten", "sizes")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        sizes = infer_shape((x.shape[d],), sizes, "unflatten")
    except RuntimeError:
        raise RuntimeError(f"unflatten: sizes {sizes} don't multiply up to the size of dim {dim} "
                           f"({x.shape[d]}) of a tensor of shape {x.shape}") from None
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims (all of them, or those of ``dim`` (int or tuple) that have size 1)."""
    if dim is None:
        dims = set(range(x.ndim))
    else:
        dims = set(norm_dims(dim, x.shape, "squeeze")) if x.ndim else set()
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (in range [-ndim-1, ndim])."""
    d = norm_dim(dim, x.shape, "unsqueeze", extra=1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


# ---------------------------------------------------------------- permutations
class Permute(Function):
    """y = x with axes reordered by ``dims``;  dx = dy permuted by the inverse permutation."""

    saves_inputs = False

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        return Permute(tuple(int(i) for i in np.argsort(self.dims)))(gy)


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the dimensions: (2, 3, 4).permute(2, 0, 1) -> (4, 2, 3) (a view)."""
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute: the number of dims {len(dims)} of {dims} doesn't match the "
                           f"number of dimensions {x.ndim} of the tensor (shape {x.shape})")
    dims = norm_dims(dims, x.shape, "permute")
    if dims == tuple(range(x.ndim)):
        return x
    return make_view(Permute(dims)(x), x, lambda b: Permute(dims)(b))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    if x.ndim == 0:
        norm_dim(dim0, x.shape, "transpose"), norm_dim(dim1, x.shape, "transpose")
        return x
    d0, d1 = norm_dim(dim0, x.shape, "transpose"), norm_dim(dim1, x.shape, "transpose")
    if d0 == d1:
        return x
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = d1, d0
    return permute(x, tuple(dims))


def t(x: Tensor) -> Tensor:
    """Transpose of a 2-D tensor (0-D and 1-D tensors come back as they are, as in PyTorch)."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but got shape {x.shape}; "
                           "use transpose(dim0, dim1) or mT")
    return transpose(x, 0, 1) if x.ndim == 2 else x


# ---------------------------------------------------------------- expand / repeat
def expand(x: Tensor, *sizes) -> Tensor:
    """Broadcast x to ``sizes`` without copying (-1 keeps a size; new leading dims allowed)."""
    sizes = _ints(_shape_arg(sizes), "expand", "sizes")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                           f"to the number of dimensions in the tensor (shape {x.shape})")
    out = []
    for i, n in enumerate(sizes):
        if i < lead:
            if n < 0:
                raise RuntimeError(f"expand: size {n} is not allowed in a new leading dimension {i} "
                                   f"(target sizes {sizes})")
            out.append(n)
            continue
        have = x.shape[i - lead]
        if n == -1:
            n = have
        if n != have and have != 1 or n < 0:
            raise RuntimeError(f"expand: the expanded size ({n}) must match the existing size ({have}) at "
                               f"non-singleton dimension {i}; target sizes {sizes}, tensor shape {x.shape}")
        out.append(n)
    out = tuple(out)
    return make_view(broadcast_to(x, out), x, lambda b: broadcast_to(b, out))


class Repeat(Function):
    """y = x tiled ``reps`` times along each dim (np.tile);  dx = dy summed over the copies."""

    saves_inputs = False

    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        self.in_shape = x.shape
        xs = (1,) * (len(self.reps) - x.ndim) + x.shape
        self.split = sum(((r, n) for r, n in zip(self.reps, xs)), ())
        return self_xp(x).tile(x.reshape(xs), self.reps)

    def backward(self, gy):
        g = reshape(gy, self.split).sum(tuple(range(0, len(self.split), 2)))
        return reshape(g, self.in_shape)


def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile x: ``x.repeat(2, 3)`` on (2, 2) gives (4, 6); extra sizes add leading dims (torch.repeat)."""
    sizes = _ints(_shape_arg(sizes), "repeat", "sizes")
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the "
                           f"number of dimensions of the tensor (shape {x.shape})")
    if any(r < 0 for r in sizes):
        raise RuntimeError(f"repeat: repeats must be non-negative, got {sizes}")
    return Repeat(sizes)(x)


def tile(x: Tensor, dims) -> Tensor:
    """Like ``repeat``, but ``dims`` shorter than x.ndim is padded with leading 1s."""
    dims = _ints((dims,) if isinstance(dims, numbers.Integral) else dims, "tile", "dims")
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


# ---------------------------------------------------------------- flips, rolls, triangles
class Flip(Function):
    """y = x reversed along ``dims`` (a copy, as in PyTorch);  dx = dy flipped back."""

    saves_inputs = False

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return self_xp(x).flip(x, self.dims).copy()

    def backward(self, gy):
        return Flip(self.dims)(gy)


def flip(x: Tensor, dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (int or tuple)."""
    return Flip(norm_dims(dims, x.shape, "flip"))(x)


class Roll(Function):
    """y[i + s] = x[i] (cyclically) along each dim;  dx = dy rolled by -s."""

    saves_inputs = False

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return self_xp(x).roll(x, self.shifts, axis=self.dims)

    def backward(self, gy):
        return Roll(tuple(-s for s in self.shifts), self.dims)(gy)


def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements cyclically; with ``dims=None`` the flattened tensor is rolled."""
    shifts = _ints((shifts,) if isinstance(shifts, numbers.Integral) else shifts, "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: with dims=None, shifts must be a single integer, got {shifts}")
        return reshape(Roll(shifts, (0,))(reshape(x, -1)), x.shape)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dims must align, got shifts={shifts} and dims={dims}")
    return Roll(shifts, tuple(norm_dim(d, x.shape, "roll") for d in dims))(x)


class Tri(Function):
    """y = lower (tril) or upper (triu) triangle of the last two dims;  dx = same triangle of dy."""

    saves_inputs = False

    def __init__(self, upper, diagonal):
        self.upper, self.diagonal = upper, diagonal

    def forward(self, x):
        xp = self_xp(x)
        return xp.triu(x, self.diagonal) if self.upper else xp.tril(x, self.diagonal)

    def backward(self, gy):
        return Tri(self.upper, self.diagonal)(gy)


def _tri(x: Tensor, diagonal: int, upper: bool) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions, "
                           f"got shape {x.shape}")
    return Tri(upper, operator.index(diagonal))(x)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """Keep x[..., i, j] where j - i <= diagonal, zero elsewhere."""
    return _tri(x, diagonal, False)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """Keep x[..., i, j] where j - i >= diagonal, zero elsewhere."""
    return _tri(x, diagonal, True)


# ---------------------------------------------------------------- split / cat / stack
class Split(Function):
    """(y_1, ..., y_k) = consecutive slices of x along ``dim`` of sizes ``sizes`` (views);
    dx = cat(dy_1, ..., dy_k)."""

    saves_inputs = False

    def __init__(self, sizes, dim):
        self.sizes, self.dim = sizes, dim

    def forward(self, x):
        ends = np.cumsum(self.sizes)
        pre = (slice(None),) * self.dim
        return tuple(x[pre + (slice(int(e - n), int(e)),)] for n, e in zip(self.sizes, ends))

    def backward(self, *gys):
        return Cat(self.dim)(*gys)


class Cat(Function):
    """y = concatenation of the inputs along ``dim``;  (dx_1, ..., dx_k) = split(dy, sizes)."""

    saves_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        self.sizes = tuple(x.shape[self.dim] for x in xs)
        return self_xp(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, gy):
        gs = Split(self.sizes, self.dim)(gy)
        return gs if isinstance(gs, tuple) else (gs,)


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of x along ``dim``: chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    if x.ndim == 0:
        raise RuntimeError("split: cannot split a 0-d tensor")
    d = norm_dim(dim, x.shape, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(f"split: split_size must be positive (0 only for an empty dimension), "
                               f"got {size} for dim {dim} of size {n}")
        sizes = ([size] * (n // size) + ([n % size] if n % size else [])) if size else []
        sizes = sizes or [0]
    else:
        sizes = list(_ints(split_size_or_sections, "split", "split sizes"))
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split: split sizes {tuple(sizes)} must be non-negative and sum exactly to "
                               f"{n}, the size of dim {dim} of a tensor of shape {x.shape}")
    return _split_views(x, tuple(sizes), d)


def _split_views(x: Tensor, sizes: tuple, d: int) -> tuple:
    out = Split(sizes, d)(x)
    out = out if isinstance(out, tuple) else (out,)
    return make_views(out, x, lambda b, i: _as_tuple(Split(sizes, d)(b))[i])


def _as_tuple(out) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer pieces when n is small)."""
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}")
    if x.ndim == 0:
        raise RuntimeError("chunk: cannot chunk a 0-d tensor")
    d = norm_dim(dim, x.shape, "chunk")
    n = x.shape[d]
    if n == 0:
        return _split_views(x, (0,) * chunks, d)
    return split(x, -(-n // chunks), d)


class Contiguous(Function):
    """y = x laid out in C order;  dx = dy."""

    saves_inputs = False

    def forward(self, x):
        return self_xp(x).ascontiguousarray(x)

    def backward(self, gy):
        return gy


def contiguous(x: Tensor) -> Tensor:
    """x itself when already C-contiguous, else a C-ordered copy."""
    return x if x.array.flags.c_contiguous else Contiguous()(x)


def _common_dtype(tensors):
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) == 1:
        return tensors
    floats = [d for d in dtypes if d.kind == "f"]
    dt = np.result_type(*(floats or dtypes))  # a float beats an int and keeps its own width (torch)
    return [astype(t, dt) for t in tensors]


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim; all shapes must agree except in ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: expected a sequence of Tensors, got {type(t).__name__} at position {i}")
        if t.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    first = tensors[0]
    d = norm_dim(dim, first.shape, "cat")
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
            raise RuntimeError(f"cat: tensors must have the same shape except in dim {dim}; "
                               f"got {first.shape} and {t.shape}")
        if t.device != first.device:
            raise RuntimeError(f"cat: all tensors must be on the same device, got {first.device} and {t.device}")
    return Cat(d)(*_common_dtype(tensors))  # a copy even for one tensor, as in PyTorch


def stack(tensors, dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim: k tensors of shape s -> s with k inserted at ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty sequence of tensors")
    first = tensors[0]
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"stack: expected a sequence of Tensors, got {type(t).__name__} at position {i}")
        if t.shape != first.shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got {first.shape} at "
                               f"entry 0 and {t.shape} at entry {i}")
    d = norm_dim(dim, first.shape, "stack", extra=1)
    parts = [unsqueeze(t, d) for t in tensors]
    return Cat(d)(*_common_dtype(parts))


# ---------------------------------------------------------------- padding
class PadConstant(Function):
    """y = x with ``pads[d] = (before, after)`` entries of ``value`` added (negative = cropped);
    dx = dy cropped back, i.e. PadConstant(-pads, 0)(dy)."""

    saves_inputs = False

    def __init__(self, pads, value=0):
        self.pads, self.value = pads, value

    def forward(self, x):
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, self.pads))
        src = tuple(slice(max(-a, 0), n - max(-b, 0)) for n, (a, b) in zip(x.shape, self.pads))
        dst = tuple(slice(max(a, 0), m - max(b, 0)) for m, (a, b) in zip(shape, self.pads))
        out = self_xp(x).full(shape, self.value, dtype=x.dtype)
        out[dst] = x[src]
        return out

    def backward(self, gy):
        return PadConstant(tuple((-a, -b) for a, b in self.pads), 0)(gy)


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad (or, with negative amounts in constant mode, crop) the last dims, as torch's F.pad.

    ``pad = (left, right, top, bottom, front, back, ...)`` starts from the LAST dim.
    Modes: 'constant' (fill ``value``), 'reflect' (mirror without the edge), 'replicate'
    (repeat the edge), 'circular' (wrap around). The non-constant modes gather source indices
    with ``index_select``, whose backward sums the gradient of every copy back to its source.
    """
    pad = _ints(pad, "pad", "pad amounts")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got pad={pad}")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length {len(pad)} is too large for a tensor of shape {x.shape} "
                         f"(at most {2 * x.ndim})")
    pads = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        pads[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if mode == "constant":
        for n, (a, b) in zip(x.shape, pads):
            if n + a + b < 0:
                raise RuntimeError(f"pad: the input size {n}, plus negative padding {a} and {b}, gives a "
                                   f"negative output size (tensor shape {x.shape}, pad={pad})")
        return PadConstant(tuple(pads), 0 if value is None else value)(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; expected 'constant', 'reflect', 'replicate' or 'circular'")
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take a value argument (got value={value})")
    from .index import IndexSelect

    out = x
    for d, (a, b) in enumerate(pads):
        if a == b == 0:
            continue
        n = x.shape[d]
        if a < 0 or b < 0:
            raise ValueError(f"pad: negative padding is only supported in 'constant' mode, got pad={pad}")
        limit = {"reflect": n - 1, "replicate": a + b if n else -1, "circular": n}[mode]
        if max(a, b) > limit:
            raise ValueError(f"pad: padding ({a}, {b}) is too large for dim {d} of size {n} in {mode!r} mode "
                             f"(tensor shape {x.shape}; reflect needs pad < size, circular pad <= size)")
        idx = x.xp.pad(x.xp.arange(n), (a, b), mode=_PAD_MODES[mode])
        out = IndexSelect(d, idx)(out)
    return out


def self_xp(x):
    from ..backend import array_module

    return array_module(x)
