"""Parametrizations (``torch.nn.utils.parametrize``): make a module's tensor a function of others.

After ``register_parametrization(m, "weight", P)``, ``m.weight`` is computed as ``P(original)``
on every access (or once per ``with cached():`` block); the original tensor lives in
``m.parametrizations.weight.original`` (or ``original0``, ``original1``, ... when
``P.right_inverse`` returns several tensors), so ``state_dict`` keys and ``parameters()`` are
PyTorch's. Assigning ``m.weight = X`` stores ``P.right_inverse(X)``.

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT
    parametrize.register_parametrization(layer, "weight", Symmetric())
"""
from __future__ import annotations

import contextlib

from ...autograd import no_grad
from ...tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

_cache_enabled = 0
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Compute each parametrized tensor at most once inside the block (e.g. a whole RNN unroll)."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _register(module: Module, name: str, t: Tensor, as_parameter: bool) -> None:
    if as_parameter:
        module.register_parameter(name, t if isinstance(t, Parameter) else Parameter(t))
    else:
        module.register_buffer(name, t)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order: value = P_n(...P_1(original)).

    Holds ``original`` (a Parameter if the tensor was one, else a buffer), or ``original0``, ...
    when the first parametrization's ``right_inverse`` returns a sequence of tensors.
    """

    def __init__(self, modules, original: Tensor, unsafe: bool = False):
        super().__init__(modules)
        self.unsafe = unsafe
        is_param = isinstance(original, Parameter)
        with no_grad():
            new = original
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    new = m.right_inverse(new)
        if not isinstance(new, (Tensor, list, tuple)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new is not original:
                if tuple(new.shape) != tuple(original.shape) or new.dtype != original.dtype:
                    raise ValueError(f"When `right_inverse` outputs one tensor, it may not change the dtype or "
                                     f"shape; got {new.dtype} {tuple(new.shape)} for {original.dtype} "
                                     f"{tuple(original.shape)}")
                with no_grad():
                    original.array[...] = new.array  # keep the object, so optimizers stay attached
                    original._version += 1
            _register(self, "original", original, is_param)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(f"'right_inverse' must return a sequence of tensors; element {i} is a "
                                     f"{type(t).__name__}")
                t = Parameter(t.detach().array.copy(), requires_grad=original.requires_grad) if is_param else t
                _register(self, f"original{i}", t, is_param)

    def right_inverse(self, value: Tensor) -> None:
        """Store ``value`` as the parametrized tensor: originals = right_inverses of value, in place."""
        with no_grad():
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
                else:
                    raise RuntimeError(f"parametrization {type(m).__name__} does not implement right_inverse.")
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                targets, values = [self.original], [value]
            else:
                if len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                                     f"Got a sequence of length {len(value)}")
                targets, values = [getattr(self, f"original{i}") for i in range(self.ntensors)], list(value)
            for t, v in zip(targets, values):
                if tuple(t.shape) != tuple(v.shape):
                    raise RuntimeError(f"right_inverse: the stored tensor has shape {tuple(t.shape)}, got "
                                       f"{tuple(v.shape)}")
                t.array[...] = v.array
                t._version += 1

    def forward(self) -> Tensor:
        mods = list(self)
        if self.is_tensor:
            x = mods[0](self.original)
        else:
            x = mods[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in mods[1:]:
            x = m(x)
        return x


def _parametrized_property(name: str) -> property:
    def get(self):
        if _cache_enabled:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = self.parametrizations[name]()
            return _cache[key]
        return self.parametrizations[name]()

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set_)


def _inject_new_class(module: Module) -> None:
    cls = module.__class__
    new_cls = type(f"Parametrized{cls.__name__}", (cls,), {"_parametrized_original_class": cls})
    module.__class__ = new_cls


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the stored original.

    A second registration on the same tensor appends to its ParametrizationList. Unless
    ``unsafe``, the parametrization must keep the tensor's shape and dtype.
    """
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be a Module, got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            _check_same(x, y, type(parametrization).__name__)
        plist.append(parametrization)
        plist.unsafe |= unsafe
        return module
    if tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"Module '{module}' has no parameter or buffer with name '{tensor_name}' (it is None)")
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        setattr(type(module), tensor_name, _parametrized_property(tensor_name))
        module.parametrizations[tensor_name] = plist
        if not unsafe:
            _check_same(plist(), original, type(parametrization).__name__)
        return module
    raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
                     f"name '{tensor_name}'")


def _check_same(x, y, name: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(x).__name__}.")
    if x.dtype != y.dtype:
        raise ValueError(f"Registering a parametrization may not change the dtype of the tensor, unless the "
                         f"`unsafe` flag is enabled.\nunparametrized dtype: {y.dtype}\nparametrized dtype: {x.dtype}")
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"Registering a parametrization may not change the shape of the tensor, unless the "
                         f"`unsafe` flag is enabled.\nunparametrized shape: {tuple(y.shape)}\n"
                         f"parametrized shape: {tuple(x.shape)} (parametrization {name})")


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has any parametrization (or one on ``tensor_name``)."""
    plists = module._modules.get("parametrizations")
    if plists is None or not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def type_before_parametrizations(module: Module) -> type:
    """The module's class before parametrizations were registered (``Linear`` for ``ParametrizedLinear``)."""
    return module.__class__.__dict__.get("_parametrized_original_class", type(module)) if is_parametrized(module) \
        else type(module)


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Undo the parametrizations of ``tensor_name``: keep its current value (``leave_parametrized``)
    or its stored original as an ordinary parameter/buffer again."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
                if tuple(t.shape) == tuple(original.shape) and t.dtype == original.dtype:
                    original.array[...] = t.array
                    original._version += 1
                else:
                    original.array = t.array.copy()
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                             "parametrized in terms of a sequence of tensors.")
        with no_grad():
            t = getattr(module, tensor_name)
        o0 = plist.original0
        original = Parameter(t.detach().array.copy(), o0.requires_grad) if isinstance(o0, Parameter) \
            else Tensor._wrap(t.detach().array.copy())
    cls = type(module)
    delattr(cls, tensor_name)
    del module.parametrizations[tensor_name]
    _register(module, tensor_name, original, isinstance(original, Parameter))
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = cls.__dict__["_parametrized_original_class"]
    return module


def transfer_parametrizations_and_params(from_module: Module, to_module: Module, tensor_name: str | None = None):
    """Copy the parametrizations (and their originals) of ``from_module`` onto ``to_module``."""
    if not is_parametrized(from_module):
        raise ValueError(f"{from_module} is not parametrized")
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        plist = from_module.parametrizations[name]
        if not is_parametrized(to_module, name):
            if not hasattr(to_module, name):
                to_module.register_parameter(name, Parameter(getattr(from_module, name).detach().array.copy()))
            for p in plist:
                register_parametrization(to_module, name, p, unsafe=plist.unsafe)
        with no_grad():
            for k, v in plist._parameters.items():
                getattr(to_module.parametrizations[name], k).array[...] = v.array
    return to_module
