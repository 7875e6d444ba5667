"""Tensor: an xp array, its gradient, and the node of the graph that produced it.

The class is thin on purpose: every method calls a function from ``lamina.ops``, where the
forward and backward math of each op lives side by side.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd import backward as _backward
from .autograd import is_grad_enabled

_new = object.__new__
_np_scalar = np.generic


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    >>> x = lamina.tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad      # tensor([[2., 4.]])
    """

    # ``array`` is the raw xp array; ``_vc`` the version counter, a one-element list shared by every
    # alias of the same memory (views, ``detach()``); ``_view`` is set on views made in grad mode
    __slots__ = ("array", "grad", "_requires_grad", "_ctx", "_out_idx", "_hooks", "_vc", "_view", "__weakref__")
    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected operators

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        if isinstance(data, Tensor):
            data = data.array
        given = type(data).__name__
        dtype = backend.as_dtype(dtype)
        dev = backend.Device(device) if device is not None else None
        xp = dev.xp if dev is not None else backend.array_module(data)
        if dtype is None and not hasattr(data, "dtype"):
            arr = np.asarray(data)
            if arr.dtype.kind == "f":  # Python floats become the default float dtype, not float64
                arr = arr.astype(backend.get_default_dtype())
            elif arr.dtype == np.dtype("int32") or (arr.dtype.kind in "iu" and arr.dtype != np.uint8):
                arr = arr.astype(np.int64)
            data = arr
        if dev is not None:
            data = backend.to_device(data, dev)
        arr = xp.asarray(data, dtype=dtype)
        if arr.dtype.kind in "OUSV":
            raise TypeError(f"cannot make a tensor from {given} of dtype {arr.dtype}: "
                            "expected numbers (nested lists of int/float/bool, or a numeric array)")
        self.array = arr
        self.grad = None
        self._requires_grad = False
        self._ctx = None
        self._out_idx = 0
        self._hooks = None
        self._vc = [0]
        self._view = None
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _wrap(array) -> "Tensor":
        """Wrap an xp array without copying or checks (the fast path used by ops)."""
        if isinstance(array, _np_scalar):  # NumPy ufuncs turn 0-d arrays into scalars: keep an array
            array = np.asarray(array)
        t = _new(Tensor)
        t.array = array
        t.grad = None
        t._requires_grad = False
        t._ctx = None
        t._out_idx = 0
        t._hooks = None
        t._vc = [0]
        t._view = None
        return t

    # ------------------------------------------------------------ attributes
    @property
    def data(self) -> "Tensor":
        """PyTorch's ``.data``: a tensor sharing this one's memory, cut from the graph, with its own
        version counter (so ``p.data.add_(u)`` updates ``p`` without autograd noticing).
        ``.array`` is the raw xp array; ``.numpy()`` the public way out to NumPy."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value) -> None:
        """``p.data = t`` makes ``p`` use ``t``'s memory (any shape), keeping ``p``'s identity."""
        if isinstance(value, Tensor):
            arr = value.array
        else:
            arr = self.xp.asarray(value)
        if arr.dtype != self.array.dtype and (self._requires_grad and arr.dtype.kind not in "fc"):
            raise RuntimeError(f"data: cannot assign a {arr.dtype} tensor to a tensor that requires grad")
        self.array = arr

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its aliases)."""
        return self._vc[0]

    @_version.setter
    def _version(self, value: int) -> None:
        self._vc[0] = value

    @property
    def _base(self):
        """The tensor this one is a view of (None if it is not a view recorded in grad mode)."""
        return None if self._view is None else self._view.base

    def _is_view(self) -> bool:
        return self._view is not None

    @property
    def requires_grad(self) -> bool:
        if self._view is not None:
            _autograd.sync_view(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating point tensors can require gradients (this tensor is {self.array.dtype}); "
                "convert it first, e.g. x.float()")
        if not flag and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad of leaf tensors; use .detach() for a non-leaf")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        if self._view is not None:
            _autograd.sync_view(self)
        return self._ctx is None

    @property
    def grad_fn(self):
        if self._view is not None:
            _autograd.sync_view(self)
        return self._ctx

    @property
    def shape(self) -> tuple:
        return self.array.shape

    def size(self, dim: int | None = None):
        return self.array.shape if dim is None else self.array.shape[dim]

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def element_size(self) -> int:
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    @property
    def xp(self):
        """The array module (numpy or cupy) that holds this tensor's data."""
        return backend.array_module(self.array)

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self.array)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    # ------------------------------------------------------------ conversion
    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a Python number, got shape {self.shape}")
        return self.array.reshape(()).item()

    def numpy(self):
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return backend.to_device(self.array, backend.cpu)

    def tolist(self):
        return backend.to_device(self.array, backend.cpu).tolist()

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_device(self.array, backend.cpu)
        return arr if dtype is None else arr.astype(dtype)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's memory and version counter, cut from the graph: an in-place
        change through it is caught by any backward that needs the old values."""
        t = Tensor._wrap(self.array)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        if self._view is not None:
            raise RuntimeError("detach_(): can't detach a view in place; use detach() instead")
        self._ctx = None
        self._requires_grad = False
        return self

    def clone(self) -> "Tensor":
        return _E.clone(self)

    def to(self, *args, dtype=None, device=None, copy=False) -> "Tensor":
        """``x.to(lamina.float64)``, ``x.to('cuda')``, ``x.to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, backend.Device)):
                device = a
            else:
                dtype = a
        out = self
        if device is not None and backend.Device(device) != self.device:
            out = _E.to_device(out, backend.Device(device))
        if dtype is not None and backend.as_dtype(dtype) != out.dtype:
            out = _E.astype(out, backend.as_dtype(dtype))
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None):
        """``x.type(lamina.float64)`` converts; ``x.type()`` names the dtype ('lamina.float32')."""
        if dtype is None:
            return f"lamina.{self.dtype}"
        return self.to(dtype)

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    def long(self):
        return self.to(backend.int64)

    def int(self):
        return self.to(backend.int32)

    def bool(self):
        return self.to(backend.bool_)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index: int = 0):
        return self.to(f"cuda:{index}")

    # ------------------------------------------------------------ new tensors like this one
    def _opts(self, dtype):
        return {"dtype": self.dtype if dtype is None else dtype, "device": self.device}

    def new_tensor(self, data, dtype=None, requires_grad=False):
        return _C.tensor(data, requires_grad=requires_grad, **self._opts(dtype))

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return _C.zeros(*size, requires_grad=requires_grad, **self._opts(dtype))

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return _C.ones(*size, requires_grad=requires_grad, **self._opts(dtype))

    def new_empty(self, *size, dtype=None, requires_grad=False):
        return _C.empty(*size, requires_grad=requires_grad, **self._opts(dtype))

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        return _C.full(size, fill_value, requires_grad=requires_grad, **self._opts(dtype))

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        _backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self._ctx.__dict__.setdefault("_out_hooks", {}).setdefault(self._out_idx, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self._ctx is None:
            return

        def _keep(g, self=self):
            self.grad = g if self.grad is None else self.grad + g

        self.register_hook(_keep)

    # ------------------------------------------------------------ python protocol
    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self):
        arr = backend.to_device(self.array, backend.cpu)
        fixed = arr.dtype.kind == "f" and arr.size and not np.all(np.mod(arr[np.isfinite(arr)], 1) == 0)
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                               floatmode="fixed" if fixed else "maxprec")  # 1.5 -> 1.5000, as torch
        extras = []
        if arr.dtype not in (backend.get_default_dtype(), np.dtype("int64"), np.dtype("bool")) or arr.size == 0:
            extras.append(f"dtype=lamina.{arr.dtype}")
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other): return _E.add(self, other)
    def __radd__(self, other): return _E.add(other, self)
    def __sub__(self, other): return _E.sub(self, other)
    def __rsub__(self, other): return _E.sub(other, self)
    def __mul__(self, other): return _E.mul(self, other)
    def __rmul__(self, other): return _E.mul(other, self)
    def __truediv__(self, other): return _E.div(self, other)
    def __rtruediv__(self, other): return _E.div(other, self)
    def __floordiv__(self, other): return _E.floordiv(self, other)
    def __rfloordiv__(self, other): return _E.floordiv(other, self)
    def __mod__(self, other): return _E.remainder(self, other)
    def __rmod__(self, other): return _E.remainder(other, self)
    def __pow__(self, other): return _E.pow(self, other)
    def __rpow__(self, other): return _E.pow(other, self)
    def __neg__(self): return _E.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _E.abs(self)
    def __matmul__(self, other): return _L.matmul(self, other)
    def __rmatmul__(self, other): return _L.matmul(other, self)
    def __lt__(self, other): return _E.lt(self, other)
    def __le__(self, other): return _E.le(self, other)
    def __gt__(self, other): return _E.gt(self, other)
    def __ge__(self, other): return _E.ge(self, other)
    def __eq__(self, other): return False if other is None else _E.eq(self, other)  # noqa: E704
    def __ne__(self, other): return True if other is None else _E.ne(self, other)
    def __and__(self, other): return _E.bitwise_and(self, other)
    def __rand__(self, other): return _E.bitwise_and(other, self)
    def __or__(self, other): return _E.bitwise_or(self, other)
    def __ror__(self, other): return _E.bitwise_or(other, self)
    def __xor__(self, other): return _E.bitwise_xor(self, other)
    def __rxor__(self, other): return _E.bitwise_xor(other, self)
    def __invert__(self): return _E.bitwise_not(self)

    # in place: allowed under no_grad or on tensors outside any graph
    def __iadd__(self, other): return _IP.inplace(self, _E.add, other)
    def __isub__(self, other): return _IP.inplace(self, _E.sub, other)
    def __imul__(self, other): return _IP.inplace(self, _E.mul, other)
    def __itruediv__(self, other): return _IP.inplace(self, _E.div, other)
    def __ifloordiv__(self, other): return _IP.inplace(self, _E.floordiv, other)
    def __imod__(self, other): return _IP.inplace(self, _E.remainder, other)
    def __ipow__(self, other): return _IP.inplace(self, _E.pow, other)
    def add_(self, other, alpha=1): return _IP.inplace(self, _E.add, other if alpha == 1 else other * alpha)
    def sub_(self, other, alpha=1): return _IP.inplace(self, _E.sub, other if alpha == 1 else other * alpha)
    def mul_(self, other): return _IP.inplace(self, _E.mul, other)
    def div_(self, other): return _IP.inplace(self, _E.div, other)
    def pow_(self, other): return _IP.inplace(self, _E.pow, other)
    def neg_(self): return _IP.inplace(self, _E.neg)
    def exp_(self): return _IP.inplace(self, _E.exp)
    def sqrt_(self): return _IP.inplace(self, _E.sqrt)
    def relu_(self): return _IP.inplace(self, _E.relu)
    def sigmoid_(self): return _IP.inplace(self, _E.sigmoid)
    def tanh_(self): return _IP.inplace(self, _E.tanh)
    def clamp_(self, min=None, max=None): return _IP.inplace(self, _E.clamp, min, max)
    clip_ = clamp_
    def copy_(self, src): return _IP.inplace(self, lambda a, b: _E.expand_copy(b, a), src, name="copy")
    def zero_(self): return _IP.fill_(self, 0)
    def fill_(self, value): return _IP.fill_(self, value)

    def add(self, other, alpha=1): return _E.add(self, other if alpha == 1 else other * alpha)
    def sub(self, other, alpha=1): return _E.sub(self, other if alpha == 1 else other * alpha)
    def mul(self, other): return _E.mul(self, other)
    def div(self, other, rounding_mode=None): return _E.div(self, other, rounding_mode)
    def pow(self, exponent): return _E.pow(self, exponent)
    def neg(self): return _E.neg(self)
    def exp(self): return _E.exp(self)
    def log(self): return _E.log(self)
    def log1p(self): return _E.log1p(self)
    def expm1(self): return _E.expm1(self)
    def sqrt(self): return _E.sqrt(self)
    def rsqrt(self): return _E.rsqrt(self)
    def square(self): return _E.square(self)
    def reciprocal(self): return _E.reciprocal(self)
    def abs(self): return _E.abs(self)
    def sign(self): return _E.sign(self)
    def remainder(self, other): return _E.remainder(self, other)
    def floor_divide(self, other): return _E.floordiv(self, other)
    def sin(self): return _E.sin(self)
    def cos(self): return _E.cos(self)
    def tanh(self): return _E.tanh(self)
    def sigmoid(self): return _E.sigmoid(self)
    def relu(self): return _E.relu(self)
    def clamp(self, min=None, max=None): return _E.clamp(self, min, max)
    clip = clamp
    def clamp_min(self, min): return _E.clamp(self, min, None)
    def clamp_max(self, max): return _E.clamp(self, None, max)
    def maximum(self, other): return _E.maximum(self, other)
    def minimum(self, other): return _E.minimum(self, other)
    def where(self, condition, other): return _E.where(condition, self, other)
    def lt(self, other): return _E.lt(self, other)
    def le(self, other): return _E.le(self, other)
    def gt(self, other): return _E.gt(self, other)
    def ge(self, other): return _E.ge(self, other)
    def eq(self, other): return _E.eq(self, other)
    def ne(self, other): return _E.ne(self, other)
    def isnan(self): return _E.isnan(self)
    def isinf(self): return _E.isinf(self)
    def isfinite(self): return _E.isfinite(self)
    def logical_not(self): return _E.logical_not(self)
    def logical_and(self, other): return _E.logical_and(self, other)
    def logical_or(self, other): return _E.logical_or(self, other)
    def logical_xor(self, other): return _E.logical_xor(self, other)
    def bitwise_not(self): return _E.bitwise_not(self)
    def bitwise_and(self, other): return _E.bitwise_and(self, other)
    def bitwise_or(self, other): return _E.bitwise_or(self, other)
    def bitwise_xor(self, other): return _E.bitwise_xor(self, other)
    def equal(self, other): return self.shape == other.shape and bool((self.array == other.array).all())
    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        other = _E.as_tensor_like(other, self).array
        return Tensor._wrap(self.xp.isclose(self.array, other, rtol=rtol, atol=atol, equal_nan=equal_nan))
    def allclose(self, other, rtol=1e-5, atol=1e-8): return bool(self.xp.allclose(self.array, other.array, rtol=rtol, atol=atol))

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None): return _R.sum(self, dim, keepdim, dtype=dtype)
    def mean(self, dim=None, keepdim=False): return _R.mean(self, dim, keepdim)
    def var(self, dim=None, *, correction=1, keepdim=False, unbiased=None): return _R.var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    def std(self, dim=None, *, correction=1, keepdim=False, unbiased=None): return _R.std(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    def max(self, dim=None, keepdim=False): return _R.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return _R.min(self, dim, keepdim)
    def amax(self, dim=None, keepdim=False): return _R.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return _R.amin(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return _R.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return _R.argmin(self, dim, keepdim)
    def prod(self, dim=None, keepdim=False): return _R.prod(self, dim, keepdim)
    def logsumexp(self, dim, keepdim=False): return _R.logsumexp(self, dim, keepdim)
    def cumsum(self, dim): return _R.cumsum(self, dim)
    def norm(self, p="fro", dim=None, keepdim=False): return _R.norm(self, p, dim, keepdim)
    def all(self, dim=None, keepdim=False): return _R.all(self, dim, keepdim)
    def any(self, dim=None, keepdim=False): return _R.any(self, dim, keepdim)

    # ------------------------------------------------------------ linear algebra
    def matmul(self, other): return _L.matmul(self, other)
    def mm(self, other): return _L.matmul(self, other)
    def bmm(self, other): return _L.matmul(self, other)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape): return _S.reshape(self, *shape)
    def view(self, *shape): return _S.view(self, *shape)
    def view_as(self, other): return _S.reshape(self, other.shape)
    def reshape_as(self, other): return _S.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return _S.flatten(self, start_dim, end_dim)
    def unflatten(self, dim, sizes): return _S.unflatten(self, dim, sizes)
    def squeeze(self, dim=None): return _S.squeeze(self, dim)
    def unsqueeze(self, dim): return _S.unsqueeze(self, dim)
    def transpose(self, dim0, dim1): return _S.transpose(self, dim0, dim1)
    def swapaxes(self, dim0, dim1): return _S.transpose(self, dim0, dim1)
    def t(self): return _S.t(self)
    @property
    def T(self): return _S.permute(self, *reversed(range(self.ndim)))
    @property
    def mT(self): return _S.transpose(self, -2, -1)
    def permute(self, *dims): return _S.permute(self, *dims)
    def expand(self, *sizes): return _S.expand(self, *sizes)
    def expand_as(self, other): return _S.expand(self, *other.shape)
    def broadcast_to(self, shape): return _S.expand(self, *shape)
    def repeat(self, *sizes): return _S.repeat(self, *sizes)
    def tile(self, dims): return _S.tile(self, dims)
    def flip(self, dims): return _S.flip(self, dims)
    def roll(self, shifts, dims=None): return _S.roll(self, shifts, dims)
    def tril(self, diagonal=0): return _S.tril(self, diagonal)
    def triu(self, diagonal=0): return _S.triu(self, diagonal)
    def split(self, split_size_or_sections, dim=0): return _S.split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return _S.chunk(self, chunks, dim)
    def contiguous(self): return _S.contiguous(self)
    def is_contiguous(self): return bool(self.array.flags.c_contiguous)

    # ------------------------------------------------------------ indexing
    def __getitem__(self, index): return _I.getitem(self, index)
    def __setitem__(self, index, value): _I.setitem(self, index, value)
    def gather(self, dim, index): return _I.gather(self, dim, index)
    def scatter(self, dim, index, src): return _I.scatter(self, dim, index, src)
    def scatter_add(self, dim, index, src): return _I.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _I.index_select(self, dim, index)
    def masked_fill(self, mask, value): return _I.masked_fill(self, mask, value)
    def masked_fill_(self, mask, value): return _IP.inplace(self, lambda a: _I.masked_fill(a, mask, value))

    # ------------------------------------------------------------ reductions, sorting, statistics, indexing (more)

    # ------------------------------------------------------------ elementwise math, shape, linear algebra (more)

    # ------------------------------------------------------------ random fill (init helpers)
    def uniform_(self, a=0.0, b=1.0, generator=None): return _IP.fill_random_(self, "uniform", a, b, generator)
    def normal_(self, mean=0.0, std=1.0, generator=None): return _IP.fill_random_(self, "normal", mean, std, generator)


class _RemovableHandle:
    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _not_grad_mode_sensitive():  # keep is_grad_enabled importable from here for ops
    return is_grad_enabled()


from . import autograd as _autograd  # noqa: E402

_autograd.bind_tensor_class(Tensor)

from .ops import creation as _C  # noqa: E402
from .ops import elementwise as _E  # noqa: E402
from .ops import index as _I  # noqa: E402
from .ops import inplace as _IP  # noqa: E402
from .ops import linalg as _L  # noqa: E402
from .ops import reduce as _R  # noqa: E402
from .ops import shape as _S  # noqa: E402
