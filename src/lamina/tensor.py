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

    is_cuda = property(lambda self: self.device.type == "cuda", doc="True for a tensor on a GPU.")
    is_cpu = property(lambda self: self.device.type == "cpu", doc="True for a tensor in host memory.")
    def get_device(self) -> int: return -1 if self.device.index is None else self.device.index  # noqa: E301,E704 (-1: CPU, as torch)
    def pin_memory(self, device=None) -> "Tensor": return self  # noqa: E301,E704 (no page-locked memory: a no-op)
    def is_pinned(self, device=None) -> bool: return False  # noqa: E301,E704

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

        _keep._retains_grad = True
        if not self.retains_grad:
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
        from ._printing import array2string_kwargs  # lamina.set_printoptions; fixed: 1.5 -> 1.5000, as torch
        body = np.array2string(arr, separator=", ", prefix="tensor(", **array2string_kwargs(bool(fixed)))
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
    def equal(self, other): return _SE.equal(self, other)
    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        other = _E.as_tensor_like(other, self).array
        return Tensor._wrap(self.xp.isclose(self.array, other, rtol=rtol, atol=atol, equal_nan=equal_nan))
    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False): return _SE.allclose(self, other, rtol, atol, equal_nan)

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None): return _R.sum(self, dim, keepdim, dtype=dtype)
    def mean(self, dim=None, keepdim=False, *, dtype=None): return _R.mean(self, dim, keepdim, dtype=dtype)
    def var(self, dim=None, *, correction=1, keepdim=False, unbiased=None): return _R.var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    def std(self, dim=None, *, correction=1, keepdim=False, unbiased=None): return _R.std(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    def max(self, dim=None, keepdim=False): return _R.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return _R.min(self, dim, keepdim)
    def amax(self, dim=None, keepdim=False): return _R.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return _R.amin(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return _R.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return _R.argmin(self, dim, keepdim)
    def prod(self, dim=None, keepdim=False, *, dtype=None): return _R.prod(self, dim, keepdim, dtype=dtype)
    def logsumexp(self, dim, keepdim=False): return _R.logsumexp(self, dim, keepdim)
    def cumsum(self, dim, *, dtype=None): return _R.cumsum(self, dim, dtype=dtype)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None): return _R.norm(self, p, dim, keepdim, dtype)
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
    def scatter(self, dim, index, src=None, *, value=None, reduce=None): return _SC.scatter(self, dim, index, src, reduce, value=value)
    def scatter_add(self, dim, index, src): return _I.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _I.index_select(self, dim, index)
    def masked_fill(self, mask, value): return _I.masked_fill(self, mask, value)
    def masked_fill_(self, mask, value): return _IP.inplace(self, _I.masked_fill, mask, value)

    # ------------------------------------------------------------ reductions, sorting, statistics, indexing (more)
    def sort(self, dim=-1, descending=False, stable=False): return _SO.sort(self, dim, descending, stable)
    def argsort(self, dim=-1, descending=False, stable=False): return _SO.argsort(self, dim, descending, stable)
    def msort(self): return _SO.msort(self)
    def topk(self, k, dim=-1, largest=True, sorted=True): return _SO.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return _SO.kthvalue(self, k, dim, keepdim)
    def median(self, dim=None, keepdim=False): return _SO.median(self, dim, keepdim)
    def nanmedian(self, dim=None, keepdim=False): return _SO.nanmedian(self, dim, keepdim)
    def mode(self, dim=-1, keepdim=False): return _SO.mode(self, dim, keepdim)
    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"): return _STAT.quantile(self, q, dim, keepdim, interpolation=interpolation)
    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"): return _STAT.nanquantile(self, q, dim, keepdim, interpolation=interpolation)
    def nansum(self, dim=None, keepdim=False, *, dtype=None): return _STAT.nansum(self, dim, keepdim, dtype=dtype)
    def nanmean(self, dim=None, keepdim=False, *, dtype=None): return _STAT.nanmean(self, dim, keepdim, dtype=dtype)
    def aminmax(self, *, dim=None, keepdim=False): return _STAT.aminmax(self, dim=dim, keepdim=keepdim)
    def count_nonzero(self, dim=None): return _STAT.count_nonzero(self, dim)
    def cov(self, *, correction=1, fweights=None, aweights=None): return _STAT.cov(self, correction=correction, fweights=fweights, aweights=aweights)
    def corrcoef(self): return _STAT.corrcoef(self)
    def bincount(self, weights=None, minlength=0): return _STAT.bincount(self, weights, minlength)
    def histc(self, bins=100, min=0, max=0): return _STAT.histc(self, bins, min, max)
    def histogram(self, bins=100, *, range=None, weight=None, density=False): return _STAT.histogram(self, bins, range=range, weight=weight, density=density)
    def cumprod(self, dim, *, dtype=None): return _CU.cumprod(self, dim, dtype=dtype)
    def cumprod_(self, dim, *, dtype=None): return _IP.inplace(self, _CU.cumprod, dim)
    def cumsum_(self, dim, *, dtype=None): return _IP.inplace(self, _R.cumsum, dim)
    def cummax(self, dim): return _CU.cummax(self, dim)
    def cummin(self, dim): return _CU.cummin(self, dim)
    def logcumsumexp(self, dim): return _CU.logcumsumexp(self, dim)
    def diff(self, n=1, dim=-1, prepend=None, append=None): return _CU.diff(self, n, dim, prepend, append)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None): return _SE.unique(self, sorted, return_inverse, return_counts, dim)
    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None): return _SE.unique_consecutive(self, return_inverse, return_counts, dim)
    def nonzero(self, *, as_tuple=False): return _SEL.nonzero(self, as_tuple=as_tuple)
    def argwhere(self): return _SEL.argwhere(self)
    def masked_select(self, mask): return _SEL.masked_select(self, mask)
    def masked_scatter(self, mask, source): return _SEL.masked_scatter(self, mask, source)
    def masked_scatter_(self, mask, source): return _IP.inplace(self, _SEL.masked_scatter, mask, source)
    def take(self, index): return _SEL.take(self, index)
    def take_along_dim(self, indices, dim=None): return _SEL.take_along_dim(self, indices, dim)
    def put(self, index, source, accumulate=False): return _SEL.put(self, index, source, accumulate)
    def put_(self, index, source, accumulate=False): return _IP.inplace(self, _SEL.put, index, source, accumulate)
    def index_add(self, dim, index, source, *, alpha=1): return _SC.index_add(self, dim, index, source, alpha=alpha)
    def index_add_(self, dim, index, source, *, alpha=1): return _IP.inplace(self, _SC.index_add, dim, index, source if alpha == 1 else source * alpha)
    def index_copy(self, dim, index, source): return _SC.index_copy(self, dim, index, source)
    def index_copy_(self, dim, index, source): return _IP.inplace(self, _SC.index_copy, dim, index, source)
    def index_fill(self, dim, index, value): return _SC.index_fill(self, dim, index, value)
    def index_fill_(self, dim, index, value): return _IP.inplace(self, _SC.index_fill, dim, index, value)
    def index_put(self, indices, values, accumulate=False): return _SC.index_put(self, indices, values, accumulate)
    def index_put_(self, indices, values, accumulate=False): return _IP.inplace(self, _SC.index_put, indices, values, accumulate)
    def index_reduce(self, dim, index, source, reduce, *, include_self=True): return _SC.index_reduce(self, dim, index, source, reduce, include_self=include_self)
    def index_reduce_(self, dim, index, source, reduce, *, include_self=True): return _IP.inplace(self, _SC.index_reduce, dim, index, source, reduce, include_self)
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None): return _IP.inplace(self, _SC.scatter, dim, index, value if src is None else src, reduce)
    def scatter_add_(self, dim, index, src): return _IP.inplace(self, _I.scatter_add, dim, index, src)
    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True): return _SC.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)
    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True): return _IP.inplace(self, _SC.scatter_reduce, dim, index, src, reduce, include_self)
    def sum_to_size(self, *size): return _R.sum_to_size(self, *size)

    from .ops._aliases import numpy_names as _numpy_names  # axis= / keepdims= as torch accepts them
    (sum, mean, var, std, max, min, amax, amin, argmax, argmin, prod, logsumexp, cumsum, all, any, sort, argsort,
     topk, kthvalue, median, nanmedian, mode, quantile, nanquantile, nansum, nanmean, aminmax, count_nonzero, cumprod,
     cummax, cummin, logcumsumexp, diff) = map(_numpy_names, (
        sum, mean, var, std, max, min, amax, amin, argmax, argmin, prod, logsumexp, cumsum, all, any, sort, argsort,
        topk, kthvalue, median, nanmedian, mode, quantile, nanquantile, nansum, nanmean, aminmax, count_nonzero, cumprod,
        cummax, cummin, logcumsumexp, diff))
    del _numpy_names

    # ------------------------------------------------------------ elementwise math, shape, linear algebra (more)
    # rounding and signs
    def round(self, decimals=0): return _E.round(self, decimals)
    def round_(self, decimals=0): return _IP.inplace(self, _E.round, decimals, name="round_")
    def floor(self): return _E.floor(self)
    def floor_(self): return _IP.inplace(self, _E.floor)
    def ceil(self): return _E.ceil(self)
    def ceil_(self): return _IP.inplace(self, _E.ceil)
    def trunc(self): return _E.trunc(self)
    def trunc_(self): return _IP.inplace(self, _E.trunc)
    fix, fix_ = trunc, trunc_
    def frac(self): return _E.frac(self)
    def frac_(self): return _IP.inplace(self, _E.frac)
    def nan_to_num(self, nan=0.0, posinf=None, neginf=None): return _E.nan_to_num(self, nan, posinf, neginf)
    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None): return _IP.inplace(self, _E.nan_to_num, nan, posinf, neginf)
    def sgn(self): return _E.sgn(self)
    def sgn_(self): return _IP.inplace(self, _E.sgn)
    def sign_(self): return _IP.inplace(self, _E.sign)
    def signbit(self): return _E.signbit(self)
    def copysign(self, other): return _E.copysign(self, other)
    def copysign_(self, other): return _IP.inplace(self, _E.copysign, other)
    def heaviside(self, values): return _E.heaviside(self, values)
    def heaviside_(self, values): return _IP.inplace(self, _E.heaviside, values)
    def fmod(self, other): return _E.fmod(self, other)
    def fmod_(self, other): return _IP.inplace(self, _E.fmod, other)
    def remainder_(self, other): return _IP.inplace(self, _E.remainder, other)
    def floor_divide_(self, other): return _IP.inplace(self, _E.floordiv, other)
    def fmax(self, other): return _E.fmax(self, other)
    def fmin(self, other): return _E.fmin(self, other)
    def positive(self): return _E.positive(self)
    def negative(self): return _E.neg(self)
    def negative_(self): return _IP.inplace(self, _E.neg)
    def absolute(self): return _E.abs(self)
    def abs_(self): return _IP.inplace(self, _E.abs)
    absolute_ = abs_
    def square_(self): return _IP.inplace(self, _E.square)
    def reciprocal_(self): return _IP.inplace(self, _E.reciprocal)
    def clamp_min_(self, min): return _IP.inplace(self, _E.clamp, min, None, name="clamp_min_")
    def clamp_max_(self, max): return _IP.inplace(self, _E.clamp, None, max, name="clamp_max_")
    def true_divide(self, other): return _E.div(self, other)
    def true_divide_(self, other): return _IP.inplace(self, _E.div, other)
    divide, divide_ = div, div_
    multiply, multiply_, subtract, subtract_ = mul, mul_, sub, sub_

    # exponentials, logarithms, powers
    def log_(self): return _IP.inplace(self, _E.log)
    def log1p_(self): return _IP.inplace(self, _E.log1p)
    def expm1_(self): return _IP.inplace(self, _E.expm1)
    def rsqrt_(self): return _IP.inplace(self, _E.rsqrt)
    def log2(self): return _E.log2(self)
    def log2_(self): return _IP.inplace(self, _E.log2)
    def log10(self): return _E.log10(self)
    def log10_(self): return _IP.inplace(self, _E.log10)
    def exp2(self): return _E.exp2(self)
    def exp2_(self): return _IP.inplace(self, _E.exp2)
    def logaddexp(self, other): return _E.logaddexp(self, other)
    def logaddexp2(self, other): return _E.logaddexp2(self, other)
    def xlogy(self, other): return _E.xlogy(self, other)
    def xlogy_(self, other): return _IP.inplace(self, _E.xlogy, other)
    def logit(self, eps=None): return _E.logit(self, eps)
    def logit_(self, eps=None): return _IP.inplace(self, _E.logit, eps)
    def float_power(self, exponent): return _E.float_power(self, exponent)
    def float_power_(self, exponent): return _IP.inplace(self, _E.float_power, exponent)

    # trigonometric and hyperbolic
    def sin_(self): return _IP.inplace(self, _E.sin)
    def cos_(self): return _IP.inplace(self, _E.cos)
    def tan(self): return _E.tan(self)
    def tan_(self): return _IP.inplace(self, _E.tan)
    def asin(self): return _E.asin(self)
    def asin_(self): return _IP.inplace(self, _E.asin)
    def acos(self): return _E.acos(self)
    def acos_(self): return _IP.inplace(self, _E.acos)
    def atan(self): return _E.atan(self)
    def atan_(self): return _IP.inplace(self, _E.atan)
    def atan2(self, other): return _E.atan2(self, other)
    def atan2_(self, other): return _IP.inplace(self, _E.atan2, other)
    def sinh(self): return _E.sinh(self)
    def sinh_(self): return _IP.inplace(self, _E.sinh)
    def cosh(self): return _E.cosh(self)
    def cosh_(self): return _IP.inplace(self, _E.cosh)
    def asinh(self): return _E.asinh(self)
    def asinh_(self): return _IP.inplace(self, _E.asinh)
    def acosh(self): return _E.acosh(self)
    def acosh_(self): return _IP.inplace(self, _E.acosh)
    def atanh(self): return _E.atanh(self)
    def atanh_(self): return _IP.inplace(self, _E.atanh)
    arcsin, arcsin_, arccos, arccos_, arctan, arctan_, arctan2, arctan2_ = asin, asin_, acos, acos_, atan, atan_, atan2, atan2_
    arcsinh, arcsinh_, arccosh, arccosh_, arctanh, arctanh_ = asinh, asinh_, acosh, acosh_, atanh, atanh_
    def sinc(self): return _E.sinc(self)
    def sinc_(self): return _IP.inplace(self, _E.sinc)
    def hypot(self, other): return _E.hypot(self, other)
    def hypot_(self, other): return _IP.inplace(self, _E.hypot, other)
    def deg2rad(self): return _E.deg2rad(self)
    def deg2rad_(self): return _IP.inplace(self, _E.deg2rad)
    def rad2deg(self): return _E.rad2deg(self)
    def rad2deg_(self): return _IP.inplace(self, _E.rad2deg)

    # special functions
    def erf(self): return _E.erf(self)
    def erf_(self): return _IP.inplace(self, _E.erf)
    def erfc(self): return _E.erfc(self)
    def erfc_(self): return _IP.inplace(self, _E.erfc)
    def erfinv(self): return _E.erfinv(self)
    def erfinv_(self): return _IP.inplace(self, _E.erfinv)
    def lgamma(self): return _E.lgamma(self)
    def lgamma_(self): return _IP.inplace(self, _E.lgamma)
    def digamma(self): return _E.digamma(self)
    def digamma_(self): return _IP.inplace(self, _E.digamma)
    def polygamma(self, n): return _E.polygamma(n, self)
    def polygamma_(self, n): return _IP.inplace(self, lambda x: _E.polygamma(n, x), name="polygamma_")
    def mvlgamma(self, p): return _E.mvlgamma(self, p)
    def mvlgamma_(self, p): return _IP.inplace(self, _E.mvlgamma, p)
    def i0(self): return _E.i0(self)
    def i0_(self): return _IP.inplace(self, _E.i0)

    # three operands
    def lerp(self, end, weight): return _E.lerp(self, end, weight)
    def lerp_(self, end, weight): return _IP.inplace(self, _E.lerp, end, weight)
    def addcmul(self, tensor1, tensor2, *, value=1): return _E.addcmul(self, tensor1, tensor2, value=value)
    def addcmul_(self, tensor1, tensor2, *, value=1): return _IP.inplace(self, lambda a, b, c: _E.addcmul(a, b, c, value=value), tensor1, tensor2, name="addcmul_")
    def addcdiv(self, tensor1, tensor2, *, value=1): return _E.addcdiv(self, tensor1, tensor2, value=value)
    def addcdiv_(self, tensor1, tensor2, *, value=1): return _IP.inplace(self, lambda a, b, c: _E.addcdiv(a, b, c, value=value), tensor1, tensor2, name="addcdiv_")

    # integers, bits, comparisons, predicates
    def gcd(self, other): return _E.gcd(self, other)
    def gcd_(self, other): return _IP.inplace(self, _E.gcd, other)
    def lcm(self, other): return _E.lcm(self, other)
    def lcm_(self, other): return _IP.inplace(self, _E.lcm, other)
    def bitwise_left_shift(self, other): return _E.bitwise_left_shift(self, other)
    def bitwise_left_shift_(self, other): return _IP.inplace(self, _E.bitwise_left_shift, other)
    def bitwise_right_shift(self, other): return _E.bitwise_right_shift(self, other)
    def bitwise_right_shift_(self, other): return _IP.inplace(self, _E.bitwise_right_shift, other)
    def __lshift__(self, other): return _E.bitwise_left_shift(self, other)
    def __rlshift__(self, other): return _E.bitwise_left_shift(other, self)
    def __rshift__(self, other): return _E.bitwise_right_shift(self, other)
    def __rrshift__(self, other): return _E.bitwise_right_shift(other, self)
    def __ilshift__(self, other): return _IP.inplace(self, _E.bitwise_left_shift, other)
    def __irshift__(self, other): return _IP.inplace(self, _E.bitwise_right_shift, other)
    def __iand__(self, other): return _IP.inplace(self, _E.bitwise_and, other)
    def __ior__(self, other): return _IP.inplace(self, _E.bitwise_or, other)
    def __ixor__(self, other): return _IP.inplace(self, _E.bitwise_xor, other)
    def bitwise_and_(self, other): return _IP.inplace(self, _E.bitwise_and, other)
    def bitwise_or_(self, other): return _IP.inplace(self, _E.bitwise_or, other)
    def bitwise_xor_(self, other): return _IP.inplace(self, _E.bitwise_xor, other)
    def bitwise_not_(self): return _IP.inplace(self, _E.bitwise_not)
    def logical_not_(self): return _IP.inplace(self, _E.logical_not)
    def logical_and_(self, other): return _IP.inplace(self, _E.logical_and, other)
    def logical_or_(self, other): return _IP.inplace(self, _E.logical_or, other)
    def logical_xor_(self, other): return _IP.inplace(self, _E.logical_xor, other)
    def lt_(self, other): return _IP.inplace(self, _E.lt, other)
    def le_(self, other): return _IP.inplace(self, _E.le, other)
    def gt_(self, other): return _IP.inplace(self, _E.gt, other)
    def ge_(self, other): return _IP.inplace(self, _E.ge, other)
    def eq_(self, other): return _IP.inplace(self, _E.eq, other)
    def ne_(self, other): return _IP.inplace(self, _E.ne, other)
    less, less_, less_equal, less_equal_, greater, greater_, greater_equal, greater_equal_ = lt, lt_, le, le_, gt, gt_, ge, ge_
    not_equal, not_equal_ = ne, ne_
    def isposinf(self): return _E.isposinf(self)
    def isneginf(self): return _E.isneginf(self)
    def isreal(self): return _E.isreal(self)
    def is_nonzero(self): return _E.is_nonzero(self)
    def is_same_size(self, other): return _E.is_same_size(self, other)
    def is_signed(self): return _E.is_signed(self)

    # norms and distances
    def dist(self, other, p=2): return _NO.dist(self, other, p)
    def renorm(self, p, dim, maxnorm): return _NO.renorm(self, p, dim, maxnorm)
    def renorm_(self, p, dim, maxnorm): return _IP.inplace(self, _NO.renorm, p, dim, maxnorm)

    # linear algebra
    def addmm(self, mat1, mat2, *, beta=1, alpha=1): return _PR.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    def addmm_(self, mat1, mat2, *, beta=1, alpha=1): return _IP.inplace(self, lambda x, a, b: _PR.addmm(x, a, b, beta=beta, alpha=alpha), mat1, mat2, name="addmm_")
    def addmv(self, mat, vec, *, beta=1, alpha=1): return _PR.addmv(self, mat, vec, beta=beta, alpha=alpha)
    def addmv_(self, mat, vec, *, beta=1, alpha=1): return _IP.inplace(self, lambda x, a, b: _PR.addmv(x, a, b, beta=beta, alpha=alpha), mat, vec, name="addmv_")
    def addbmm(self, batch1, batch2, *, beta=1, alpha=1): return _PR.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1): return _IP.inplace(self, lambda x, a, b: _PR.addbmm(x, a, b, beta=beta, alpha=alpha), batch1, batch2, name="addbmm_")
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1): return _PR.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1): return _IP.inplace(self, lambda x, a, b: _PR.baddbmm(x, a, b, beta=beta, alpha=alpha), batch1, batch2, name="baddbmm_")
    def addr(self, vec1, vec2, *, beta=1, alpha=1): return _PR.addr(self, vec1, vec2, beta=beta, alpha=alpha)
    def addr_(self, vec1, vec2, *, beta=1, alpha=1): return _IP.inplace(self, lambda x, a, b: _PR.addr(x, a, b, beta=beta, alpha=alpha), vec1, vec2, name="addr_")
    def dot(self, other): return _L.dot(self, other)
    def vdot(self, other): return _PR.vdot(self, other)
    def mv(self, vec): return _PR.mv(self, vec)
    def outer(self, vec2): return _L.outer(self, vec2)
    ger = outer
    def inner(self, other): return _PR.inner(self, other)
    def kron(self, other): return _PR.kron(self, other)
    def cross(self, other, dim=None): return _PR.cross(self, other, dim)
    def matrix_power(self, n): return _PR.matrix_power(self, n)
    def det(self): return _DE.det(self)
    def logdet(self): return _DE.logdet(self)
    def slogdet(self): return _DE.slogdet(self)
    def inverse(self): return _DE.inv(self)
    def pinverse(self, rcond=1e-15): return _SP.pinverse(self, rcond)
    def cholesky(self, upper=False): return _DE.cholesky(self, upper=upper)
    def qr(self, some=True): return _DE.qr(self, "reduced" if some else "complete")
    def svd(self, some=True, compute_uv=True): return _SP.svd_old(self, some, compute_uv)

    # views and layout
    def narrow(self, dim, start, length): return _SV.narrow(self, dim, start, length)
    def narrow_copy(self, dim, start, length): return _SV.narrow_copy(self, dim, start, length)
    def select(self, dim, index): return _SV.select(self, dim, index)
    def unbind(self, dim=0): return _SV.unbind(self, dim)
    def movedim(self, source, destination): return _SV.movedim(self, source, destination)
    moveaxis = movedim
    def swapdims(self, dim0, dim1): return _SV.swapdims(self, dim0, dim1)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _SV.diagonal(self, offset, dim1, dim2)
    def unfold(self, dimension, size, step): return _SV.unfold(self, dimension, size, step)
    def as_strided(self, size, stride, storage_offset=None): return _ST.as_strided(self, size, stride, storage_offset)
    def stride(self, dim=None): return _ST.stride(self, dim)
    def storage_offset(self): return _ST.storage_offset(self)
    def data_ptr(self): return _ST.data_ptr(self)
    def type_as(self, other): return self.to(other.dtype, device=other.device)
    def ravel(self): return _RO.ravel(self)
    def diag(self, diagonal=0): return _DG.diag(self, diagonal)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1): return _DG.diag_embed(self, offset, dim1, dim2)
    def diagflat(self, offset=0): return _DG.diagflat(self, offset)
    def trace(self): return _DG.trace(self)
    def repeat_interleave(self, repeats, dim=None, *, output_size=None): return _RO.repeat_interleave(self, repeats, dim, output_size=output_size)
    def rot90(self, k=1, dims=(0, 1)): return _RO.rot90(self, k, dims)
    def fliplr(self): return _RO.fliplr(self)
    def flipud(self): return _RO.flipud(self)
    def tensor_split(self, indices_or_sections, dim=0): return _SJ.tensor_split(self, indices_or_sections, dim)
    def hsplit(self, sections): return _SJ.hsplit(self, sections)
    def vsplit(self, sections): return _SJ.vsplit(self, sections)
    def dsplit(self, sections): return _SJ.dsplit(self, sections)
    def multinomial(self, num_samples, replacement=False, *, generator=None): return _SA.multinomial(self, num_samples, replacement, generator=generator)

    # views taken in place, scatter forms of views, more layout
    def t_(self): return _VS.t_(self)
    def transpose_(self, dim0, dim1): return _VS.transpose_(self, dim0, dim1)
    swapdims_ = swapaxes_ = transpose_
    def squeeze_(self, dim=None): return _VS.squeeze_(self, dim)
    def unsqueeze_(self, dim): return _VS.unsqueeze_(self, dim)
    def as_strided_(self, size, stride, storage_offset=None): return _VS.as_strided_(self, size, stride, storage_offset)
    def tril_(self, diagonal=0): return _IP.inplace(self, _S.tril, diagonal, name="tril_")
    def triu_(self, diagonal=0): return _IP.inplace(self, _S.triu, diagonal, name="triu_")
    def fill_diagonal_(self, fill_value, wrap=False): return _DG.fill_diagonal_(self, fill_value, wrap)
    def select_scatter(self, src, dim, index): return _VS.select_scatter(self, src, dim, index)
    def slice_scatter(self, src, dim=0, start=None, end=None, step=1): return _VS.slice_scatter(self, src, dim, start, end, step)
    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1): return _VS.diagonal_scatter(self, src, offset, dim1, dim2)
    def as_strided_scatter(self, src, size, stride, storage_offset=None): return _VS.as_strided_scatter(self, src, size, stride, storage_offset)
    def split_with_sizes(self, split_sizes, dim=0): return _SJ.split_with_sizes(self, split_sizes, dim)
    @property
    def H(self):
        if self.ndim not in (0, 2):
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self.ndim}-D tensor.")
        return _S.t(self)
    @property
    def mH(self): return _S.transpose(self, -2, -1)
    def is_complex(self): return self.array.dtype.kind == "c"
    def byte(self): return self.to(backend.uint8)
    def char(self): return self.to(backend.int8)
    def short(self): return self.to(backend.int16)

    # more elementwise, linear algebra and random fills
    def frexp(self): return _FB.frexp(self)
    def ldexp(self, other): return _FB.ldexp(self, other)
    def ldexp_(self, other): return _IP.inplace(self, _FB.ldexp, other)
    def nextafter(self, other): return _FB.nextafter(self, other)
    def nextafter_(self, other): return _IP.inplace(self, _FB.nextafter, other)
    def igamma(self, other): return _E.igamma(self, other)
    def igamma_(self, other): return _IP.inplace(self, _E.igamma, other)
    def igammac(self, other): return _E.igammac(self, other)
    def igammac_(self, other): return _IP.inplace(self, _E.igammac, other)
    def matrix_exp(self): return _MF.matrix_exp(self)
    def cholesky_solve(self, input2, upper=False): return _MF.cholesky_solve(self, input2, upper)
    def cholesky_inverse(self, upper=False): return _MF.cholesky_inverse(self, upper)
    def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False): return _MF.triangular_solve(self, A, upper, transpose, unitriangular)
    def lu(self, pivot=True, get_infos=False): return _LU.lu_old(self, pivot, get_infos)
    def lu_solve(self, LU_data, LU_pivots): return _LU.lu_solve_old(self, LU_data, LU_pivots)
    def geqrf(self): return _HH.geqrf(self)
    def orgqr(self, input2): return _HH.orgqr(self, input2)
    def ormqr(self, input2, input3, left=True, transpose=False): return _HH.ormqr(self, input2, input3, left, transpose)
    def __dlpack__(self, *args, **kwargs): return self.array.__dlpack__(*args, **kwargs)
    def __dlpack_device__(self): return self.array.__dlpack_device__()
    def bernoulli(self, p=None, *, generator=None): return _C.bernoulli(self, p, generator=generator)
    def bernoulli_(self, p=0.5, *, generator=None): return _RF.bernoulli_(self, p, generator=generator)
    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None): return _RF.cauchy_(self, median, sigma, generator=generator)
    def exponential_(self, lambd=1.0, *, generator=None): return _RF.exponential_(self, lambd, generator=generator)
    def geometric_(self, p, *, generator=None): return _RF.geometric_(self, p, generator=generator)
    def log_normal_(self, mean=1.0, std=2.0, *, generator=None): return _RF.log_normal_(self, mean, std, generator=generator)
    def random_(self, from_=0, to=None, *, generator=None): return _RF.random_(self, from_, to, generator=generator)

    # ------------------------------------------------------------ nn ops as methods, small conveniences
    def softmax(self, dim, dtype=None): return _nnF().softmax(self, dim, dtype=dtype)
    def log_softmax(self, dim, dtype=None): return _nnF().log_softmax(self, dim, dtype=dtype)
    def prelu(self, weight): return _nnF().prelu(self, weight)
    def hardshrink(self, lambd=0.5): return _nnF().hardshrink(self, lambd)
    def ndimension(self) -> int: return self.array.ndim
    def nelement(self) -> int: return int(self.array.size)
    @property
    def itemsize(self) -> int: return self.array.itemsize
    def is_inference(self) -> bool: return False  # lamina.inference_mode is no_grad: no inference-only tensors

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor after ``retain_grad()``."""
        if self._ctx is None:
            return False
        hooks = self._ctx.__dict__.get("_out_hooks", {}).get(self._out_idx, ())
        return any(getattr(h, "_retains_grad", False) for h in hooks)

    def new(self, *args, **kwargs):
        """Legacy ``x.new(2, 3)`` (uninitialised, x's dtype and device) or ``x.new(data)``."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            return self.new_tensor(args[0], **kwargs)
        return self.new_empty(*args, **kwargs) if args else self.new_empty(0, **kwargs)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor's number; other tensors only with an empty spec."""
        if self.array.size == 1:
            return format(self.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {self.shape}: format one "
                        "element at a time, or its .tolist()")

    # ------------------------------------------------------------ random fill (init helpers)
    def uniform_(self, a=0.0, b=1.0, generator=None): return _IP.fill_random_(self, "uniform", a, b, generator)
    def normal_(self, mean=0.0, std=1.0, generator=None): return _IP.fill_random_(self, "normal", mean, std, generator)


def _nnF():
    from .nn import functional
    return functional


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
from .ops import cumulative as _CU, scatter as _SC, search as _SE, select as _SEL, sorting as _SO, statistics as _STAT  # noqa: E402
from .ops import decompositions as _DE, diag as _DG, norms as _NO, products as _PR, reorder as _RO  # noqa: E402
from .ops import sampling as _SA, shape_join as _SJ, shape_views as _SV, spectral as _SP, storage as _ST  # noqa: E402
from .ops import floatbits as _FB, householder as _HH, lu as _LU, matrix_functions as _MF, random_fill as _RF, view_scatter as _VS  # noqa: E402
