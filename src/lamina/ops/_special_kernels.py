"""Numba ufuncs for the special functions of ``special.py`` (CPU; built on first use, cached on disk).

Each builder returns a NumPy ufunc for float32 and float64 (float32 inputs are computed in
float64 inside and rounded once). The series:

* digamma: psi(x) = psi(x + N) - sum_{k<N} 1/(x + k), then the asymptotic series
  psi(a) ~ ln a - 1/(2a) - sum_j B_2j / (2j a^2j) for a >= 6; reflection for x < 0:
  psi(x) = psi(1 - x) - pi / tan(pi x).
* zeta(s, q) (Hurwitz) summed up to a = q + N, then its Euler-Maclaurin tail
  a^(1-s)/(s-1) + a^(-s)/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) a^(-s-2j+1);
  polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x).
* igamma / igammac: the series of P(a, x) for x < a + 1, else Q's continued fraction.
* erfinv: Giles' single-precision approximation, then two Newton steps on erf(y) = x.
* I0, I1: the power series sum (x/2)^(2k+v) / (k! (k+v)!) for |x| <= 30, else the asymptotic
  expansion e^|x| / sqrt(2 pi |x|) * sum_k (-1)^k prod_{i<=k} (4v^2 - (2i-1)^2) / (k! (8|x|)^k).
"""
from __future__ import annotations

import math

_CACHE: dict = {}
_SIGS = ["float32(float32)", "float64(float64)"]

# B_2, B_4, ..., B_20 (Bernoulli numbers)
_BERNOULLI = (1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6, -3617.0 / 510,
              43867.0 / 798, -174611.0 / 330)


def _cached(name, make):
    fn = _CACHE.get(name)
    if fn is None:
        fn = _CACHE[name] = make()
    return fn


def erf():
    def make():
        from numba import vectorize

        @vectorize(_SIGS, cache=True)
        def _erf(x):  # pragma: no cover - compiled
            return math.erf(x)

        return _erf

    return _cached("erf", make)


def erfc():
    def make():
        from numba import vectorize

        @vectorize(_SIGS, cache=True)
        def _erfc(x):  # pragma: no cover - compiled
            return math.erfc(x)

        return _erfc

    return _cached("erfc", make)


def lgamma():
    def make():
        from numba import vectorize

        @vectorize(_SIGS, cache=True)
        def _lgamma(x):  # pragma: no cover - compiled
            if x <= 0 and x == math.floor(x):
                return math.inf  # the poles (math.lgamma raises there)
            return math.lgamma(x)

        return _lgamma

    return _cached("lgamma", make)


def _digamma_scalar():
    def make():
        from numba import njit

        b = _BERNOULLI

        @njit(cache=True)
        def positive(x):  # pragma: no cover - compiled
            r = 0.0
            while x < 6.0:
                r -= 1.0 / x
                x += 1.0
            f = 1.0 / (x * x)
            t = 0.0
            p = f
            for j in range(7):
                t += b[j] / (2 * (j + 1)) * p
                p *= f
            return r + math.log(x) - 0.5 / x - t

        @njit(cache=True)
        def digamma(x):  # pragma: no cover - compiled
            if math.isnan(x):
                return x
            if x == 0.0:
                return math.copysign(math.inf, -x)  # -inf at +0, +inf at -0 (as PyTorch)
            if x < 0.0:
                if x == math.floor(x):
                    return math.nan
                return positive(1.0 - x) - math.pi / math.tan(math.pi * x)
            return positive(x)

        return digamma

    return _cached("digamma_scalar", make)


def digamma():
    def make():
        from numba import vectorize

        scalar = _digamma_scalar()

        @vectorize(_SIGS, cache=True)
        def _digamma(x):  # pragma: no cover - compiled
            return scalar(float(x))

        return _digamma

    return _cached("digamma", make)


def _hurwitz_scalar():
    def make():
        from numba import njit

        b = _BERNOULLI

        @njit(cache=True)
        def hurwitz(s, q):  # pragma: no cover - compiled
            if math.isnan(s) or math.isnan(q) or s < 1.0:
                return math.nan
            if s == 1.0:
                return math.inf
            z = 0.0
            a = q
            while a < 15.0 + s:
                if a == 0.0 or (a < 0.0 and a == math.floor(a)):
                    return math.inf
                z += a ** (-s)
                a += 1.0
            z += a ** (1.0 - s) / (s - 1.0) + 0.5 * a ** (-s)
            fac = s * a ** (-s - 1.0)
            fact2j = 2.0
            for j in range(1, 11):
                z += b[j - 1] / fact2j * fac
                fac *= (s + 2 * j - 1) * (s + 2 * j) / (a * a)
                fact2j *= (2 * j + 1) * (2 * j + 2)
            return z

        return hurwitz

    return _cached("hurwitz_scalar", make)


def zeta():
    def make():
        from numba import vectorize

        scalar = _hurwitz_scalar()

        @vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)
        def _zeta(s, q):  # pragma: no cover - compiled
            return scalar(float(s), float(q))

        return _zeta

    return _cached("zeta", make)


def polygamma():
    def make():
        from numba import vectorize

        scalar = _hurwitz_scalar()

        @vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)
        def _polygamma(nf, x):  # pragma: no cover - compiled
            n = int(nf)
            sign = 1.0 if n % 2 == 1 else -1.0
            return sign * math.gamma(n + 1.0) * scalar(n + 1.0, float(x))

        return _polygamma

    return _cached("polygamma", make)


def igamma():
    """P(a, x) = gamma(a, x) / Gamma(a), the regularized lower incomplete gamma function:
    the series e^-x x^a / Gamma(a + 1) sum_n x^n / ((a + 1) ... (a + n)) for x < a + 1, else
    1 - Q(a, x) with Q from its continued fraction (modified Lentz)."""

    def make():
        from numba import vectorize

        upper = _igammac_scalar()

        @vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)
        def _igamma(a, x):  # pragma: no cover - compiled
            return upper(float(a), float(x), True)

        return _igamma

    return _cached("igamma", make)


def igammac():
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function."""

    def make():
        from numba import vectorize

        upper = _igammac_scalar()

        @vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)
        def _igammac(a, x):  # pragma: no cover - compiled
            return upper(float(a), float(x), False)

        return _igammac

    return _cached("igammac", make)


def _igammac_scalar():
    def make():
        from numba import njit

        @njit(cache=True)
        def upper(a, x, lower):  # pragma: no cover - compiled
            """Q(a, x), or P(a, x) when ``lower``: each from the branch where it is accurate."""
            if math.isnan(a) or math.isnan(x) or a < 0.0 or x < 0.0:
                return math.nan
            if a == 0.0:
                if x > 0.0:
                    return 1.0 if lower else 0.0
                return math.nan
            if x == 0.0:
                return 0.0 if lower else 1.0
            if math.isinf(x):
                return 1.0 if lower else 0.0
            log_pre = -x + a * math.log(x) - math.lgamma(a)
            if x < a + 1.0:  # series for P
                ap, d = a, 1.0 / a
                total = d
                for _ in range(10000):
                    ap += 1.0
                    d *= x / ap
                    total += d
                    if abs(d) < abs(total) * 1e-16:
                        break
                p = total * math.exp(log_pre)
                return p if lower else 1.0 - p
            tiny = 1e-300  # continued fraction for Q
            bb = x + 1.0 - a
            c = 1.0 / tiny
            d = 1.0 / bb
            h = d
            for i in range(1, 10000):
                an = -i * (i - a)
                bb += 2.0
                d = an * d + bb
                if abs(d) < tiny:
                    d = tiny
                c = bb + an / c
                if abs(c) < tiny:
                    c = tiny
                d = 1.0 / d
                delta = d * c
                h *= delta
                if abs(delta - 1.0) < 1e-16:
                    break
            q = h * math.exp(log_pre)
            return 1.0 - q if lower else q

        return upper

    return _cached("igammac_scalar", make)


def erfinv():
    def make():
        from numba import vectorize

        @vectorize(_SIGS, cache=True)
        def _erfinv(y):  # pragma: no cover - compiled
            y = float(y)
            if math.isnan(y) or y < -1.0 or y > 1.0:
                return math.nan
            if y == 1.0:
                return math.inf
            if y == -1.0:
                return -math.inf
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
            for _ in range(2):  # Newton on erf(x) = y
                x -= (math.erf(x) - y) / (1.1283791670955126 * math.exp(-x * x))
            return x

        return _erfinv

    return _cached("erfinv", make)


def _bessel_scalar():
    def make():
        from numba import njit

        @njit(cache=True)
        def bessel(x, order):  # pragma: no cover - compiled
            mu = 4.0 * order * order
            ax = abs(x)
            if ax <= 30.0:
                q = x * x / 4.0
                term = 1.0
                s = 1.0
                k = 1
                while True:
                    term *= q / (k * (k + order))
                    s += term
                    if term < 1e-17 * s or k > 500:
                        break
                    k += 1
                y = s if order == 0 else s * ax / 2.0
            else:
                term = 1.0
                s = 1.0
                for k in range(1, 30):
                    term *= -(mu - (2 * k - 1) ** 2) / (k * 8.0 * ax)
                    s += term
                y = math.exp(ax) / math.sqrt(2.0 * math.pi * ax) * s
            return -y if (order == 1 and x < 0) else y

        return bessel

    return _cached("bessel", make)


def i0():
    def make():
        from numba import vectorize

        scalar = _bessel_scalar()

        @vectorize(_SIGS, cache=True)
        def _i0(x):  # pragma: no cover - compiled
            return scalar(float(x), 0)

        return _i0

    return _cached("i0", make)


def i1():
    def make():
        from numba import vectorize

        scalar = _bessel_scalar()

        @vectorize(_SIGS, cache=True)
        def _i1(x):  # pragma: no cover - compiled
            return scalar(float(x), 1)

        return _i1

    return _cached("i1", make)
