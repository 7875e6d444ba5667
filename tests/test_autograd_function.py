"""torch.autograd's surface on lamina: custom Functions in PyTorch's style (ctx, apply),
autograd.functional (jacobian, hessian, vjp, jvp, hvp, vhp), anomaly detection, gradcheck."""
import numpy as np
import pytest

import lamina
from lamina.autograd import Function
from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng, torch

F64 = lamina.float64


class Cube(Function):
    """y = x³; dx = 3x² dy (written with Tensor ops: differentiable again)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return 3 * x ** 2 * gy


class ScaledMul(Function):
    """y = alpha · a · b with a non-tensor argument, saving an output too."""

    @staticmethod
    def forward(ctx, a, alpha, b):
        y = alpha * a * b
        ctx.alpha = alpha
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        ga = gy * ctx.alpha * b if ctx.needs_input_grad[0] else None
        gb = gy * ctx.alpha * a if ctx.needs_input_grad[2] else None
        return ga, None, gb


class SortValues(Function):
    """Two outputs: sorted values (differentiable) and int indices (not)."""

    @staticmethod
    def forward(ctx, x):
        idx = lamina.tensor(np.argsort(x.detach().numpy(), axis=-1))
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        return lamina.gather(x, -1, idx), idx

    @staticmethod
    def backward(ctx, gv, gi):
        idx, = ctx.saved_tensors
        return lamina.zeros_like(gv).scatter_add(-1, idx, gv)


class SetupStyle(Function):
    """The newer form: forward without ctx, setup_context separately."""

    @staticmethod
    def forward(x, k):
        return x.exp() * k

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)
        ctx.k = inputs[1]

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y, None


def test_custom_function_gradcheck_and_second_derivative():
    x = rng(0).standard_normal((3, 4))
    gradcheck(lambda t: Cube.apply(t), x)
    gradgradcheck(lambda t: Cube.apply(t), x)
    a, b = rng(1).standard_normal((2, 3)), rng(2).standard_normal((2, 3))
    gradcheck(lambda p, q: ScaledMul.apply(p, 0.5, q), a, b)
    gradcheck(lambda t: SetupStyle.apply(t, 2.0), x)
    gradcheck(lambda t: SortValues.apply(t)[0], rng(3).standard_normal((2, 5)))


def test_custom_function_graph_and_ctx():
    x = lamina.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None and y.grad_fn.name == "CubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, 4.0, 9.0]))
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    a = lamina.ones(2, requires_grad=True)
    b = lamina.ones(2)  # needs_input_grad is (True, False, False)
    out = ScaledMul.apply(a, 3.0, b)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])
    v, i = SortValues.apply(lamina.tensor([[3.0, 1.0, 2.0]], requires_grad=True))
    assert v.requires_grad and not i.requires_grad and i.grad_fn is None
    with lamina.no_grad():  # nothing recorded: plain outputs
        assert Cube.apply(x).grad_fn is None
    assert Cube.apply(lamina.ones(2)).grad_fn is None


def test_saved_tensor_modified_in_place_is_caught():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    with lamina.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_custom_function_gradient_errors():
    class WrongCount(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return lamina.ones(7)

    class Broadcast(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g.expand(4, 3) * 2  # a gradient of the broadcast shape is summed back

    a = lamina.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        WrongCount.apply(a, a).sum().backward()
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        WrongShape.apply(a).backward()
    Broadcast.apply(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [8.0, 8.0, 8.0])
    class NotStatic(Function):
        def forward(self, a):
            return a

        def backward(self, g):
            return g

    with pytest.raises(RuntimeError, match="staticmethod forward"):
        NotStatic.apply(a)
    with pytest.raises(TypeError, match="save_for_backward can only save"):
        class SavesInt(Function):
            @staticmethod
            def forward(ctx, a):
                ctx.save_for_backward(3)
                return a

            @staticmethod
            def backward(ctx, g):
                return g
        SavesInt.apply(a)


@requires_torch
def test_custom_function_parity_with_torch():
    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, gy):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * gy

    parity(lambda t: Cube.apply(t).sin(), rng(0).standard_normal((3, 2)),
           torch_fn=lambda t: TorchCube.apply(t).sin())


# ---------------------------------------------------------------- autograd.functional
def _f(x):
    return (x ** 2).sin() * x.sum()


def _scalar(x):
    return (x.exp() * x).sum() + (x ** 3).sum()


@requires_torch
def test_functional_against_torch():
    import lamina.autograd.functional as AF  # the PyTorch import path works
    import torch.autograd.functional as TF
    x = rng(0).standard_normal(4)
    v = rng(1).standard_normal(4)
    lx, tx, lv, tv = lamina.tensor(x), torch.tensor(x), lamina.tensor(v), torch.tensor(v)
    close = lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)  # noqa: E731
    close(AF.jacobian(_f, lx), TF.jacobian(_f, tx))
    close(AF.hessian(_scalar, lx), TF.hessian(_scalar, tx))
    for name in ("vjp", "jvp", "hvp", "vhp"):
        fn = _scalar if name in ("hvp", "vhp") else _f
        lo, lr = getattr(AF, name)(fn, lx, lv)
        to, tr = getattr(TF, name)(fn, tx, tv)
        close(lo, to)
        close(lr, tr)
    two = lambda a, b: (a * b, a.exp() + b)  # noqa: E731
    lj = AF.jacobian(two, (lx, lv))
    tj = TF.jacobian(two, (tx, tv))
    for i in range(2):
        for j in range(2):
            close(lj[i][j], tj[i][j])
    lh = AF.hessian(lambda a, b: (a * a * b).sum(), (lx, lv))
    th = TF.hessian(lambda a, b: (a * a * b).sum(), (tx, tv))
    close(lh[0][1], th[0][1])


def test_functional_details():
    AF = lamina.autograd.functional
    x = lamina.tensor([1.0, 2.0], dtype=F64)
    assert np.all(AF.jacobian(lambda a: lamina.ones(3, dtype=F64), x).numpy() == 0)
    with pytest.raises(RuntimeError, match="strict mode"):
        AF.jacobian(lambda a: lamina.ones(3, dtype=F64), x, strict=True)
    with pytest.raises(TypeError, match="Tensor or a tuple of Tensors"):
        AF.jacobian(lambda a: 3.0, x)
    out, g = AF.vjp(lambda a: (a * a).sum(), x)  # v may be omitted for a one-element output
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert not g.requires_grad and not x.requires_grad
    w = lamina.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    j = AF.jacobian(lambda a: a ** 3, w, create_graph=True)  # differentiable: d(trace J)/dw = 6w
    assert j.requires_grad
    g2, = lamina.grad(j.sum(), w)
    np.testing.assert_allclose(g2.numpy(), [6.0, 12.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        AF.vjp(lambda a: a * 2, x, lamina.ones(3, dtype=F64))


# ---------------------------------------------------------------- anomaly detection, gradcheck, Variable
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the 0 * inf on purpose
def test_detect_anomaly_names_the_nan_op():
    x = lamina.tensor([0.0, 1.0], requires_grad=True)
    assert not lamina.autograd.is_anomaly_enabled()
    with lamina.autograd.detect_anomaly():
        assert lamina.autograd.is_anomaly_enabled()
        y = (x.sqrt() * 0).sum()  # d sqrt at 0 is inf, times 0 is nan
        with pytest.raises(RuntimeError, match=r"Function '\w+' returned nan values in its 0th output"):
            y.backward()
    assert not lamina.autograd.is_anomaly_enabled()
    x.grad = None
    (x.sqrt() * 0).sum().backward()  # off: no check, the nan reaches .grad
    assert np.isnan(x.grad.numpy()[0])
    with lamina.autograd.set_detect_anomaly(True):
        assert lamina.autograd.is_anomaly_enabled()
        with lamina.autograd.set_detect_anomaly(False):
            assert not lamina.autograd.is_anomaly_enabled()
        assert lamina.autograd.is_anomaly_enabled()
    assert not lamina.autograd.is_anomaly_enabled()
    with lamina.autograd.detect_anomaly():  # healthy graphs are unaffected
        z = lamina.tensor([1.0, 2.0], requires_grad=True)
        g, = lamina.grad((z * z).sum(), z)
        np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_lamina_autograd_gradcheck():
    x = lamina.tensor(rng(0).standard_normal(3), dtype=F64, requires_grad=True)
    assert lamina.autograd.gradcheck(lambda t: Cube.apply(t).sin(), (x,))
    assert lamina.autograd.gradgradcheck(lambda t: Cube.apply(t), (x,))

    class Wrong(Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 a g

    with pytest.raises(lamina.autograd.GradcheckError, match="Jacobian mismatch"):
        lamina.autograd.gradcheck(Wrong.apply, (x,))
    assert lamina.autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_variable_and_once_differentiable():
    t = lamina.ones(2)
    v = lamina.autograd.Variable(t, requires_grad=True)
    assert v is t and v.requires_grad and isinstance(t, lamina.autograd.Variable)
    from lamina.autograd.function import once_differentiable

    class Sq(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return 2 * a * g

    a = lamina.tensor([3.0], requires_grad=True)
    g, = lamina.grad(Sq.apply(a), a, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [6.0])
    assert not g.requires_grad  # the backward ran without recording
