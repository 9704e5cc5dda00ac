"""The engine hands each op the gradient of its output in the output's memory layout
(so no backward mixes layouts), and the values are unchanged by that."""
import numpy as np

import deepgrad as dg
from deepgrad.autograd import Function


class _Capture(Function):
    seen = []

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        _Capture.seen.append(grad)
        return grad * 2


def test_gradient_arrives_in_the_layout_of_the_output():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 4, 5, 2))  # (C, H, W, N) memory, viewed as NCHW
    x = dg.tensor(base.transpose(3, 0, 1, 2), requires_grad=True)
    _Capture.seen.clear()
    y = _Capture.apply(x)
    assert y.data.strides == x.data.strides  # NumPy kept the batch-innermost layout
    (y.mean(axis=(2, 3)) * dg.tensor(rng.standard_normal((2, 3)))).sum().backward()
    (g,) = _Capture.seen
    assert g.strides == y.data.strides  # not the broadcast the mean's backward produced
    # values: d/dx of sum(w * mean(2x)) = 2 * w / (H * W), broadcast
    assert np.allclose(x.grad, np.broadcast_to(x.grad[:, :, :1, :1], x.shape))


def test_gradients_from_two_consumers_in_different_layouts_sum_correctly():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((2, 3, 4, 5))
    x = dg.tensor(x0, requires_grad=True)
    y = x * 1.0
    a = dg.tensor(np.ascontiguousarray(rng.standard_normal((5, 4, 3, 2))).transpose(3, 2, 1, 0))
    (y * a + y.mean(axis=(2, 3), keepdims=True) * 3).sum().backward()
    expected = a.data + 3  # the mean is broadcast back over the H*W = 20 positions: 20 * 3 / 20
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)
