import numpy as np

import deepgrad as dg
from deepgrad.check import gradcheck, gradcheck_model


class WrongMul(dg.Function):
    """a * b with a planted bug: the gradient for b uses b instead of a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.b, grad * ctx.b


class Cube(dg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x**3

    @staticmethod
    def backward(ctx, grad):
        return 3 * ctx.x**2 * grad


def test_correct_ops_pass_below_1e_minus_7():
    x, w = dg.randn(3, 4, requires_grad=True), dg.randn(4, 2, requires_grad=True)
    report = gradcheck(lambda a, b: dg.log_softmax(dg.tanh(a @ b), axis=1), x, w)
    assert report.passed
    assert report.max_relative_difference < 1e-7
    assert len(report.inputs) == 2 and report.inputs[0].checked_elements == 12


def test_custom_function_passes():
    assert gradcheck(lambda t: Cube.apply(t).sum(), dg.randn(5, requires_grad=True)).passed


def test_planted_bug_is_flagged_and_named():
    a, b = dg.randn(3, 4, requires_grad=True), dg.randn(3, 4, requires_grad=True)
    report = gradcheck(lambda x, y: WrongMul.apply(x, y), a, b, names=["a", "b"])
    assert not report.passed
    assert report.failed == ["b"]
    assert report["b"].relative_difference > 1e-3
    assert "FAILED" in str(report) and "b" in str(report)
    assert not bool(report)


def test_inputs_are_not_modified_and_only_requires_grad_inputs_checked():
    a = dg.randn(2, 2, requires_grad=True)
    c = dg.randn(2, 2)
    before = a.data.copy()
    report = gradcheck(lambda x, y: (x * y).sum(), a, c)
    assert [r.name for r in report.inputs] == ["input 0"]
    np.testing.assert_array_equal(a.data, before)
    assert a.grad is None


def test_gradcheck_model_names_the_parameter_with_a_bug():
    class Model(dg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = dg.nn.Parameter(np.random.default_rng(0).standard_normal((3, 4)))
            self.w2 = dg.nn.Parameter(np.random.default_rng(1).standard_normal((4, 2)))

        def forward(self, x):
            h = dg.tanh(x @ self.w1)
            return WrongMul.apply(h @ self.w2, dg.ones(5, 2) * 2.0)

    class Target(Model):
        def forward(self, x):
            return dg.tanh(x @ self.w1) @ self.w2 * 2.0

    x = dg.randn(5, 3)
    good = gradcheck_model(Target(), lambda m: (m(x) ** 2).mean())
    assert good.passed and good.max_relative_difference < 1e-7
    assert [r.name for r in good.inputs] == ["w1", "w2"]

    class Buggy(Model):
        def forward(self, x):
            return Cube.apply(dg.tanh(x @ self.w1)) @ self.w2

    m = Buggy()
    before = m.w1.dtype

    # Cube is right; now plant a wrong backward in the w2 path
    class WrongMatmul(dg.Function):
        @staticmethod
        def forward(ctx, h, w):
            ctx.h, ctx.w = h, w
            return h @ w

        @staticmethod
        def backward(ctx, grad):
            return grad @ ctx.w.T, (ctx.h.T @ grad) * 0.5

    m.forward = lambda x: WrongMatmul.apply(dg.tanh(x @ m.w1), m.w2)
    bad = gradcheck_model(m, lambda mm: (mm(x) ** 2).mean())
    assert bad.failed == ["w2"]
    assert m.w1.dtype == before and m.w1.grad is None  # parameters restored


def test_non_contiguous_inputs_are_perturbed_in_place():
    # a transposed (non-contiguous) input: the finite differences must still reach the tensor
    x = dg.tensor(np.random.default_rng(0).standard_normal((3, 4)).T, requires_grad=True)
    assert not x.data.flags.c_contiguous
    report = gradcheck(lambda t: (t * t).sum(), x)
    assert report.passed, str(report)
