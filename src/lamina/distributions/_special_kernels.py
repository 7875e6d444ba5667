"""Scalar special-function kernels in Numba, compiled on first use and cached on disk.

    lgamma(x) = log|Γ(x)|                       psi(x) = d lgamma / dx   (digamma)
    psi1(x)   = d psi / dx   (trigamma)         erfinv(erf(x)) = x
    P(a, x)   = γ(a, x) / Γ(a)  (regularised lower incomplete gamma)
    gamma_grad(a, x) = dx/da at fixed P(a, x)   (implicit reparameterisation of Gamma(a, 1))

digamma/trigamma use the recurrences psi(x) = psi(x+1) - 1/x, psi1(x) = psi1(x+1) + 1/x^2
up to x >= 10, then their asymptotic (Bernoulli-number) series; negative arguments use the
reflection formulas. P(a, x) is a power series for x < a + 1 and Lentz's continued fraction
for Q = 1 - P otherwise. Only this module imports Numba (on first call, not at import).
"""
from __future__ import annotations

import math

_CACHE: dict = {}


_SIGS = ["float32(float32)", "float64(float64)"]
_SIGS2 = ["float32(float32, float32)", "float64(float64, float64)"]


def _helpers():
    """The scalar kernels (lazy ``njit``: each compiles, or loads from cache, at its first use)."""
    if "_helpers" in _CACHE:
        return _CACHE["_helpers"]
    from numba import njit

    @njit(cache=True)
    def digamma_s(x):
        if math.isnan(x) or x == -math.inf:
            return math.nan
        if x == math.inf:
            return math.inf
        if x == 0.0:
            return -math.inf
        res = 0.0
        if x < 0.0:
            if x == math.floor(x):
                return math.nan
            # psi(x) = psi(1 - x) - pi / tan(pi x)
            res = -math.pi / math.tan(math.pi * x)
            x = 1.0 - x
        while x < 10.0:
            res -= 1.0 / x
            x += 1.0
        z = 1.0 / (x * x)
        series = z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132)))))
        return res + math.log(x) - 0.5 / x - series

    @njit(cache=True)
    def trigamma_s(x):
        if math.isnan(x) or x == -math.inf:
            return math.nan
        if x == math.inf:
            return 0.0
        res = 0.0
        sign = 1.0
        if x <= 0.0:
            if x == math.floor(x):
                return math.inf
            # psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x)
            s = math.sin(math.pi * x)
            res = math.pi * math.pi / (s * s)
            sign = -1.0
            x = 1.0 - x
        acc = 0.0
        while x < 10.0:
            acc += 1.0 / (x * x)
            x += 1.0
        z = 1.0 / (x * x)
        tail = 1.0 / x + 0.5 * z + (1.0 / x) * z * (
            1.0 / 6 - z * (1.0 / 30 - z * (1.0 / 42 - z * (1.0 / 30 - z * (5.0 / 66 - z * (691.0 / 2730))))))
        return res + sign * (acc + tail)

    @njit(cache=True)
    def erfinv_s(y):
        if math.isnan(y) or y < -1.0 or y > 1.0:
            return math.nan
        if y == 1.0:
            return math.inf
        if y == -1.0:
            return -math.inf
        # Giles' single-precision approximation, then Newton steps on erf(x) = y
        w = -math.log((1.0 - y) * (1.0 + y))
        if w < 5.0:
            w -= 2.5
            p = 2.81022636e-08
            p = 3.43273939e-07 + p * w
            p = -3.5233877e-06 + p * w
            p = -4.39150654e-06 + p * w
            p = 0.00021858087 + p * w
            p = -0.00125372503 + p * w
            p = -0.00417768164 + p * w
            p = 0.246640727 + p * w
            p = 1.50140941 + p * w
        else:
            w = math.sqrt(w) - 3.0
            p = -0.000200214257
            p = 0.000100950558 + p * w
            p = 0.00134934322 + p * w
            p = -0.00367342844 + p * w
            p = 0.00573950773 + p * w
            p = -0.0076224613 + p * w
            p = 0.00943887047 + p * w
            p = 1.00167406 + p * w
            p = 2.83297682 + p * w
        x = p * y
        for _ in range(3):
            err = math.erf(x) - y
            x -= err / (1.1283791670955126 * math.exp(-x * x))
        return x

    @njit(cache=True)
    def log_gammainc_s(a, x, upper):
        """log P(a, x) (upper=False) or log Q(a, x) (upper=True), a > 0, x > 0."""
        logpre = a * math.log(x) - x - math.lgamma(a)
        if x < a + 1.0:
            term = 1.0 / a
            total = term
            n = 1.0
            while n < 100000.0:
                term *= x / (a + n)
                total += term
                if term < total * 1e-17:
                    break
                n += 1.0
            logp = logpre + math.log(total)
            if not upper:
                return logp
            p = math.exp(logp)
            return math.log1p(-p) if p < 1.0 else -math.inf
        tiny = 1e-300
        b = x + 1.0 - a
        c = 1.0 / tiny
        d = 1.0 / b
        h = d
        i = 1.0
        while i < 100000.0:
            an = -i * (i - a)
            b += 2.0
            d = an * d + b
            if abs(d) < tiny:
                d = tiny
            c = b + an / c
            if abs(c) < tiny:
                c = tiny
            d = 1.0 / d
            delta = d * c
            h *= delta
            if abs(delta - 1.0) < 1e-16:
                break
            i += 1.0
        logq = logpre + math.log(h)
        if upper:
            return logq
        q = math.exp(logq)
        return math.log1p(-q) if q < 1.0 else -math.inf

    h = _CACHE["_helpers"] = {"digamma_s": digamma_s, "trigamma_s": trigamma_s, "erfinv_s": erfinv_s,
                               "log_gammainc_s": log_gammainc_s}
    return h


def _build(name: str):
    from numba import vectorize

    h = _helpers()
    digamma_s, trigamma_s, erfinv_s, log_gammainc_s = (h["digamma_s"], h["trigamma_s"], h["erfinv_s"],
                                                       h["log_gammainc_s"])

    if name == "lgamma":
        @vectorize(_SIGS, cache=True)
        def lgamma(x):  # pragma: no cover - compiled
            if x <= 0.0 and x == math.floor(x):
                return math.inf
            return math.lgamma(x)
        return lgamma
    if name == "digamma":
        @vectorize(_SIGS, cache=True)
        def digamma(x):  # pragma: no cover - compiled
            return digamma_s(x)
        return digamma
    if name == "trigamma":
        @vectorize(_SIGS, cache=True)
        def trigamma(x):  # pragma: no cover - compiled
            return trigamma_s(x)
        return trigamma
    if name == "erfinv":
        @vectorize(_SIGS, cache=True)
        def erfinv(y):  # pragma: no cover - compiled
            return erfinv_s(y)
        return erfinv
    if name == "gammainc":
        @vectorize(_SIGS2, cache=True)
        def gammainc(a, x):  # pragma: no cover - compiled
            if math.isnan(a) or math.isnan(x) or a < 0.0 or x < 0.0:
                return math.nan
            if x == 0.0:
                return 0.0
            if a == 0.0 or x == math.inf:
                return 1.0
            return math.exp(log_gammainc_s(a, x, False))
        return gammainc
    if name == "gamma_grad":
        @vectorize(_SIGS2, cache=True)
        def gamma_grad(a, x):  # pragma: no cover - compiled
            # dx/da = -(dP/da)(a, x) / f(x; a), f the Gamma(a, 1) density. dP/da by Richardson-extrapolated
            # central differences of log P (or of log Q in the upper tail, where P is close to 1).
            if not (a > 0.0) or not (x > 0.0) or math.isinf(x):
                return 0.0
            upper = x >= a + 1.0
            logf = (a - 1.0) * math.log(x) - x - math.lgamma(a)
            h = 1e-3 * a
            coarse = 0.0
            fine = 0.0
            for k in range(2):
                hk = h if k == 0 else 0.5 * h
                gp = math.exp(log_gammainc_s(a + hk, x, upper) - logf)
                gm = math.exp(log_gammainc_s(a - hk, x, upper) - logf)
                if k == 0:
                    coarse = (gp - gm) / (2.0 * hk)
                else:
                    fine = (gp - gm) / (2.0 * hk)
            d = (4.0 * fine - coarse) / 3.0
            return d if upper else -d
        return gamma_grad
    raise KeyError(name)


def kernel(name: str):
    """The compiled NumPy ufunc ``name`` (lgamma, digamma, trigamma, erfinv, gammainc, gamma_grad)."""
    fn = _CACHE.get(name)
    if fn is None:
        fn = _CACHE[name] = _build(name)
    return fn
