"""max/avg/adaptive/global pooling: values and gradients against PyTorch (float64) and
finite differences; max-pool ties route the gradient to the first maximum."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.check import gradcheck


def _t(a, grad=True):
    return dg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _compare(mine, theirs, x, torch, seed=0):
    X = _t(x)
    y = mine(X)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.tensor(g))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-12)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph = draw(st.integers(0, kh // 2))
    pw = draw(st.integers(0, kw // 2))
    H = draw(st.integers(dh * (kh - 1) + 1, dh * (kh - 1) + 8))
    W = draw(st.integers(dw * (kw - 1) + 1, dw * (kw - 1) + 8))
    ties = draw(st.booleans())
    return dict(k=(kh, kw), s=(sh, sw), p=(ph, pw), d=(dh, dw), H=H, W=W, ceil=draw(st.booleans()),
                ties=ties, seed=draw(st.integers(0, 2**16)))


def _input(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((2, 3, c["H"], c["W"]))
    return np.round(x) if c["ties"] else x  # rounding makes many equal values: tie handling matters


@given(pool_cases())
def test_max_pool2d_matches_torch(c):
    torch = pytest.importorskip("torch")
    args = (c["k"], c["s"], c["p"], c["d"], c["ceil"])
    _compare(lambda t: F.max_pool2d(t, *args), lambda t: torch.nn.functional.max_pool2d(t, *args), _input(c), torch)


@given(pool_cases(), st.booleans())
def test_avg_pool2d_matches_torch(c, count_include_pad):
    torch = pytest.importorskip("torch")
    args = (c["k"], c["s"], c["p"], c["ceil"], count_include_pad)
    _compare(lambda t: F.avg_pool2d(t, *args), lambda t: torch.nn.functional.avg_pool2d(t, *args), _input(c), torch)


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 5), st.integers(1, 5))
def test_adaptive_avg_pool2d_matches_torch(H, W, oh, ow):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(H * 10 + W).standard_normal((2, 3, H, W))
    _compare(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), lambda t: torch.nn.functional.adaptive_avg_pool2d(t, (oh, ow)), x, torch)


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, :, 2:] = [[5.0, 5.0], [5.0, 1.0]]
    X = _t(x)
    F.max_pool2d(X, 2).sum().backward()
    expected = np.zeros_like(x)
    expected[0, 0, 0, 0] = 1.0  # all-zero window: the top-left (first) zero gets it
    expected[0, 0, 0, 2] = 1.0  # three 5s: the first in row-major order gets it
    np.testing.assert_array_equal(X.grad, expected)


def test_pool_gradcheck_and_known_values():
    rng = np.random.default_rng(0)
    x = _t(rng.standard_normal((2, 2, 7, 6)))
    assert gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1), x).passed
    assert gradcheck(lambda t: F.avg_pool2d(t, (3, 2), (1, 2), (1, 1), count_include_pad=False), x).passed
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), x).passed
    assert gradcheck(lambda t: F.global_avg_pool2d(t), x).passed
    a = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(F.max_pool2d(dg.tensor(a), 2).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(F.avg_pool2d(dg.tensor(a), 2).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(F.global_avg_pool2d(dg.tensor(a)).data.ravel(), [7.5])


def test_pool_after_conv_keeps_float32_and_nchw():
    x = dg.tensor(np.random.default_rng(0).standard_normal((3, 2, 8, 8)).astype(np.float32), requires_grad=True)
    w = dg.tensor(np.ones((4, 2, 3, 3), np.float32))
    y = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
    assert y.shape == (3, 4, 4, 4) and y.dtype == np.float32
    z = F.avg_pool2d(y, 2)
    z.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_pool_errors():
    x = dg.tensor(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="max_pool2d.*padding"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="max_pool2d.*smaller than the pooling window"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="avg_pool2d.*4-D"):
        F.avg_pool2d(dg.tensor(np.zeros((4, 4), np.float32)), 2)
