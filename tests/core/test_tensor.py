import numpy as np
import pytest

import deepgrad as dg


def test_default_dtypes():
    assert dg.tensor([1.0, 2.0]).dtype == np.float32
    assert dg.tensor(3.0).dtype == np.float32
    assert dg.tensor([1, 2]).dtype == np.int64
    assert dg.tensor([True, False]).dtype == np.bool_
    assert dg.tensor(np.zeros(3)).dtype == np.float64  # an ndarray keeps its dtype
    assert dg.tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_tensor_copies_its_input():
    a = np.ones(3, dtype=np.float32)
    t = dg.tensor(a)
    a[0] = 5
    assert t.data[0] == 1


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        dg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        dg.tensor([1, 2]).requires_grad_()


def test_facts_and_repr():
    t = dg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert "requires_grad=True" in repr(t)
    y = t * 2
    assert "grad_fn=Mul" in repr(y)
    assert dg.tensor([4.0]).item() == 4.0
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert isinstance(t.numpy(), np.ndarray)


def test_grad_accumulates_across_backward_calls():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    assert x.grad.dtype == np.float32
    x.zero_grad()
    assert x.grad is None


def test_backward_needs_gradient_for_non_scalar():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(np.array([1.0, 10.0], dtype=np.float32))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_backward_gradient_shape_is_checked():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(3))


def test_backward_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dg.tensor([1.0]).sum().backward()


def test_second_backward_through_freed_graph_raises():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])


def test_shared_subexpression_gets_summed_gradients():
    x = dg.tensor(2.0, requires_grad=True)
    y = x * x  # used twice below
    z = y + y * 3
    z.backward()
    assert x.grad == pytest.approx(16.0)


def test_long_chain_backpropagates_without_recursion_error():
    x = dg.tensor([1.0], dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad[0] == 1.0


def test_no_grad_records_nothing():
    x = dg.tensor([1.0], requires_grad=True)
    with dg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf

    @dg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert dg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = dg.tensor([1.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad
    z = x * y
    z.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0])


def test_retain_grad_on_intermediate():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad, [6.0, 12.0])


def test_setitem_refuses_graph_tensors_but_works_under_no_grad():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 5.0
    with dg.no_grad():
        x[0] = 5.0
    assert x.data[0] == 5.0


def test_scalar_on_either_side_and_numpy_on_left():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = 1 - x + 2 * x / 4 + x**2 + 2.0**x
    assert isinstance(np.ones(2) * x, dg.Tensor)
    y.sum().backward()
    expected = -1 + 0.5 + 2 * np.array([1.0, 2.0]) + np.log(2) * 2.0 ** np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6)


def test_float32_stays_float32():
    x = dg.randn(4, 3, requires_grad=True)
    w = dg.randn(3, 2, requires_grad=True)
    y = dg.log_softmax(dg.relu(x @ w) * 0.5 + 1.0, axis=1).mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_comparisons_give_bool_tensors_without_grad():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    assert (x == x).data.all()
    assert len({x, x}) == 1  # still hashable


def test_manual_seed_repeats():
    dg.manual_seed(3)
    a = dg.randn(5).data
    dg.manual_seed(3)
    b = dg.randn(5).data
    np.testing.assert_array_equal(a, b)
