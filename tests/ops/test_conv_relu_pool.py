"""The fused conv -> ReLU -> max-pool op equals the three ops in a row (values and gradients),
whole or chunked, with ties, in its NumPy code and (with numba installed) as compiled loops;
and passes finite-difference checks on its own."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.check import gradcheck
from deepgrad.ops import compiled
from deepgrad.ops import conv as conv_mod
from deepgrad.ops import im2col as im2col_mod


def _both(N, Cin, H, W, Co, k, s, pad, d, g, p, ties=False, seed=0):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((N, Cin, H, W)), rng.standard_normal((Co, Cin // g, k, k)), rng.standard_normal(Co)
    if ties:  # small integers: many exactly equal values inside pooling windows
        x, w, b = np.round(x), np.round(w), np.round(b)
    results = []
    for fused in (True, False):
        X, Wt, B = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
        if fused:
            y = F.conv2d_relu_max_pool2d(X, Wt, B, s, pad, d, g, p)
        else:
            y = F.max_pool2d(F.relu(F.conv2d(X, Wt, B, s, pad, d, g)), p)
        y.backward(np.random.default_rng(1).standard_normal(y.shape))
        results.append((y.data, X.grad, Wt.grad, B.grad))
    for a, b_ in zip(*results):
        np.testing.assert_allclose(a, b_, atol=1e-10)


CASES = [
    (2, 1, 28, 28, 6, 5, 1, 2, 1, 1, 2, False),  # LeNet's first stage
    (3, 4, 11, 10, 6, 3, 1, 0, 1, 2, 2, False),  # odd sizes: floor-mode pooling drops a row/column
    (3, 4, 12, 13, 4, 3, 2, 1, 2, 1, 3, False),  # stride, dilation, 3x3 pool
    (2, 3, 9, 9, 4, 3, 1, 1, 1, 1, 2, True),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("code", ["numpy", "numpy-chunked", "compiled"])
def test_fused_equals_conv_relu_pool(case, code, monkeypatch):
    if code == "compiled":
        if compiled.conv_relu_pool_kernels() is None:
            pytest.skip("the compiled kernels need numba (pip install deepgrad[fast])")
        monkeypatch.setattr(conv_mod, "COMPILED_MIN_BATCH", 1)  # (these batches are small)
    else:
        monkeypatch.setattr(compiled, "_enabled", False)
    if code == "numpy-chunked":
        monkeypatch.setattr(im2col_mod, "IM2COL_BUDGET_BYTES", 64)
        monkeypatch.setattr(im2col_mod, "IM2COL_CHUNK_BYTES", 64)
    _both(*case)


@pytest.mark.parametrize("code", ["numpy", "compiled"])
def test_fused_gradcheck(code, monkeypatch):
    if code == "numpy":
        monkeypatch.setattr(compiled, "_enabled", False)
    elif compiled.conv_relu_pool_kernels() is None:
        pytest.skip("the compiled kernels need numba (pip install deepgrad[fast])")
    else:
        monkeypatch.setattr(conv_mod, "COMPILED_MIN_BATCH", 1)
    rng = np.random.default_rng(0)
    x, w, b = (dg.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 2, 8, 8), (3, 2, 3, 3), (3,)))
    b.data += 0.5
    assert gradcheck(lambda x, w, b: F.conv2d_relu_max_pool2d(x, w, b, padding=1), x, w, b).passed


def test_fused_layer_keeps_float32():
    layer = dg.nn.Conv2dReLUMaxPool2d(1, 4, 3, padding=1)
    x = dg.tensor(np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32), requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 4, 4, 4) and y.dtype == np.float32
    y.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and x.grad.shape == x.shape
