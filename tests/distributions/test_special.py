"""The package's private special functions: values against torch, float64 gradient checks."""
import numpy as np
import pytest

import lamina
from lamina.distributions import _special as S
from helpers import gradcheck, gradgradcheck, parity

torch = pytest.importorskip("torch")

X = np.array([[0.05, 0.5, 1.0, 2.5], [7.3, 12.0, 33.0, 150.0]])
NEG = np.array([-0.5, -1.5, -2.7, -9.2])


@pytest.mark.parametrize("name,tfn", [("lgamma", torch.lgamma), ("digamma", torch.digamma),
                                      ("trigamma", lambda x: torch.polygamma(1, x))])
def test_gamma_family_values(name, tfn):
    fn = getattr(S, name)
    for x in (X, NEG):   # torch's trigamma is good to ~1e-10 at negative arguments (scipy agrees with ours)
        np.testing.assert_allclose(fn(lamina.tensor(x)).numpy(), tfn(torch.tensor(x)).numpy(), rtol=1e-9, atol=1e-12)
    f32 = fn(lamina.tensor(X.astype(np.float32)))
    assert f32.dtype == lamina.float32


def test_special_values_at_poles():
    z = lamina.tensor([0.0, -1.0, -2.0])
    tz = torch.tensor([0.0, -1.0, -2.0], dtype=torch.float64)
    np.testing.assert_array_equal(S.lgamma(z).numpy(), torch.lgamma(tz).numpy())
    np.testing.assert_array_equal(S.digamma(z).numpy(), torch.digamma(tz).numpy())


def test_gradients():
    parity(S.lgamma, X, torch_fn=torch.lgamma, atol=1e-10)
    parity(S.digamma, X, torch_fn=torch.digamma, atol=1e-10)
    gradcheck(S.lgamma, X[:, :3])
    gradgradcheck(S.lgamma, X[:, 1:3])
    gradcheck(S.digamma, X[:, :3])
    u = np.array([[-0.9, -0.3, 0.0, 0.4, 0.95]])
    parity(S.erfinv, u, torch_fn=torch.erfinv, atol=1e-10)
    gradcheck(S.erfinv, u)
    parity(S.atan, X - 1, torch_fn=torch.atan, atol=1e-12)
    parity(S.softplus, np.array([-50.0, -3.0, 0.0, 2.0, 25.0, 60.0]),
           torch_fn=lambda x: torch.nn.functional.softplus(x, threshold=100), atol=1e-12)


def test_xlogy():
    x = np.array([0.0, 0.0, 1.5, 2.0, -1.0])
    y = np.array([0.0, 2.0, 0.5, 3.0, 2.0])
    parity(S.xlogy, x, y, torch_fn=torch.xlogy, atol=1e-12)  # incl. the nan of d/dy at x = y = 0
    gradcheck(S.xlogy, x[2:], y[2:])
    assert S.xlogy(lamina.tensor([0.0]), lamina.tensor([0.0])).item() == 0.0


def test_gammainc():
    a, x = X + 0.1, X[::-1].copy()
    np.testing.assert_allclose(S.gammainc(lamina.tensor(a), lamina.tensor(x)).numpy(),
                               torch.special.gammainc(torch.tensor(a), torch.tensor(x)).numpy(), rtol=1e-10)
    gradcheck(lambda x: S.gammainc(lamina.tensor(a[:, :2]), x), x[:, :2])
    ar = lamina.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        S.gammainc(ar, lamina.tensor(x)).sum().backward()
