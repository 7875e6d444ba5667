"""Constraints: the sets parameters and samples live in (torch.distributions.constraints' names).

``c.check(value)`` is a bool tensor, True where ``value`` satisfies ``c``; a constraint with
``event_dim = k`` reduces over the k rightmost dimensions (a simplex checks whole vectors).

    real               x == x (not NaN)              positive           x > 0
    greater_than(a)    x > a                         nonnegative        x >= 0
    interval(a, b)     a <= x <= b                   unit_interval      0 <= x <= 1
    simplex            x_i >= 0, |sum x - 1| < 1e-6  boolean            x in {0, 1}
    integer_interval   integer a <= x <= b           nonnegative_integer
    lower_cholesky     lower triangular, diag > 0    positive_definite  symmetric, eigenvalues > 0
    independent(c, n)  c on each element, all over the n rightmost dimensions
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Constraint", "boolean", "dependent", "dependent_property", "greater_than", "greater_than_eq",
           "half_open_interval", "independent", "integer_interval", "interval", "is_dependent", "less_than",
           "lower_cholesky", "lower_triangular", "nonnegative", "nonnegative_integer", "one_hot", "positive",
           "positive_definite", "positive_integer", "positive_semidefinite", "real", "real_vector", "simplex",
           "square", "symmetric", "unit_interval"]


def _arr(v):
    return v.array if isinstance(v, Tensor) else v  # numbers stay Python numbers (CuPy takes no NumPy arrays)


def _bound_repr(b):
    if isinstance(b, Tensor):
        return str(b.item()) if b.numel() == 1 else repr(b)
    return str(b)


class Constraint:
    """A region of valid values. ``is_discrete``: integer-valued; ``event_dim``: how many rightmost
    dimensions form one event (checked together)."""

    is_discrete = False
    event_dim = 0

    def check(self, value) -> Tensor:
        x = value.array if isinstance(value, Tensor) else np.asarray(value)
        return Tensor._wrap(backend.array_module(x).asarray(self._check(x)))

    def _check(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """A placeholder whose support depends on other variables (no check possible)."""

    def __init__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self):
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self):
        if self._event_dim is NotImplemented:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        return _Dependent(is_discrete=self._is_discrete if is_discrete is NotImplemented else is_discrete,
                          event_dim=self._event_dim if event_dim is NotImplemented else event_dim)

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint) -> bool:
    return isinstance(constraint, _Dependent)


class _DependentProperty(property, _Dependent):
    """A property of a distribution that is also a dependent constraint (e.g. ``Uniform.support``)."""

    def __init__(self, fn=None, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)

    def __call__(self, fn):
        return _DependentProperty(fn, is_discrete=self._is_discrete, event_dim=self._event_dim)


class _IndependentConstraint(Constraint):
    """``base`` on each element; all of the ``reinterpreted_batch_ndims`` rightmost dims must hold."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims: int):
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)

    @property
    def is_discrete(self):
        return self.base_constraint.is_discrete

    @property
    def event_dim(self):
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value):
        ok = self.base_constraint.check(value).array
        n = self.reinterpreted_batch_ndims
        if ok.ndim < n:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {np.ndim(_arr(value))}")
        if n:
            ok = ok.reshape(ok.shape[:ok.ndim - n] + (-1,)).all(-1)
        return Tensor._wrap(ok)

    def __repr__(self):
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


class _Boolean(Constraint):
    is_discrete = True

    def _check(self, x):
        return (x == 0) | (x == 1)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def _check(self, x):
        return ((x == 0) | (x == 1)).all(-1) & (x.sum(-1) == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, x):
        return (x % 1 == 0) & (_arr(self.lower_bound) <= x) & (x <= _arr(self.upper_bound))

    def __repr__(self):
        return f"IntegerInterval(lower_bound={_bound_repr(self.lower_bound)}, upper_bound={_bound_repr(self.upper_bound)})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check(self, x):
        return (x % 1 == 0) & (x >= _arr(self.lower_bound))

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={_bound_repr(self.lower_bound)})"


class _Real(Constraint):
    def _check(self, x):
        return x == x


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check(self, x):
        return _arr(self.lower_bound) < x

    def __repr__(self):
        return f"GreaterThan(lower_bound={_bound_repr(self.lower_bound)})"


class _GreaterThanEq(_GreaterThan):
    def _check(self, x):
        return _arr(self.lower_bound) <= x

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={_bound_repr(self.lower_bound)})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _check(self, x):
        return x < _arr(self.upper_bound)

    def __repr__(self):
        return f"LessThan(upper_bound={_bound_repr(self.upper_bound)})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, x):
        return (_arr(self.lower_bound) <= x) & (x <= _arr(self.upper_bound))

    def __repr__(self):
        return (f"{type(self).__name__.lstrip('_')}(lower_bound={_bound_repr(self.lower_bound)}, "
                f"upper_bound={_bound_repr(self.upper_bound)})")


class _HalfOpenInterval(_Interval):
    def _check(self, x):
        return (_arr(self.lower_bound) <= x) & (x < _arr(self.upper_bound))


class _Simplex(Constraint):
    event_dim = 1

    def _check(self, x):
        xp = backend.array_module(x)
        return (x >= 0).all(-1) & (xp.abs(x.sum(-1) - 1) < 1e-6)


class _Square(Constraint):
    event_dim = 2

    def _check(self, x):
        xp = backend.array_module(x)
        return xp.full(x.shape[:-2], x.shape[-2] == x.shape[-1], dtype=bool)


class _Symmetric(_Square):
    def _check(self, x):
        xp = backend.array_module(x)
        if x.shape[-2] != x.shape[-1]:
            return xp.zeros(x.shape[:-2], dtype=bool)
        return xp.isclose(x, xp.swapaxes(x, -1, -2), atol=1e-6).all((-2, -1))


def _min_eigenvalue(x):
    xp = backend.array_module(x)
    finite = xp.isfinite(x).all((-2, -1))
    sym = (xp.where(xp.isfinite(x), x, 0) + xp.swapaxes(xp.where(xp.isfinite(x), x, 0), -1, -2)) / 2
    return xp.where(finite, xp.linalg.eigvalsh(sym).min(-1), xp.nan)


class _PositiveSemidefinite(_Symmetric):
    def _check(self, x):
        sym = super()._check(x)
        return sym & (_min_eigenvalue(x) >= 0) if x.shape[-2] == x.shape[-1] and x.size else sym


class _PositiveDefinite(_Symmetric):
    def _check(self, x):
        sym = super()._check(x)
        return sym & (_min_eigenvalue(x) > 0) if x.shape[-2] == x.shape[-1] and x.size else sym


class _LowerTriangular(Constraint):
    event_dim = 2

    def _check(self, x):
        xp = backend.array_module(x)
        return (xp.tril(x) == x).reshape(x.shape[:-2] + (-1,)).all(-1)


class _LowerCholesky(_LowerTriangular):
    def _check(self, x):
        xp = backend.array_module(x)
        diag = xp.diagonal(x, axis1=-2, axis2=-1)
        return super()._check(x) & (diag > 0).all(-1)


# the public names, as torch.distributions.constraints
dependent = _Dependent()
dependent_property = _DependentProperty
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
square = _Square()
symmetric = _Symmetric()
positive_semidefinite = _PositiveSemidefinite()
positive_definite = _PositiveDefinite()
