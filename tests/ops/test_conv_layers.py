"""nn.Conv2d / Conv1d / ConvTranspose2d / pooling layers: PyTorch's shapes, defaults and
initialisation bounds, shape errors naming the layer, and agreement with torch's layers."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


def test_conv_layer_shapes_and_default_init_bounds():
    dg.manual_seed(0)
    c = nn.Conv2d(4, 8, (3, 5), stride=2, padding=1, groups=2)
    assert c.weight.shape == (8, 2, 3, 5) and c.bias.shape == (8,) and c.weight.dtype == np.float32
    bound = 1 / math.sqrt(2 * 3 * 5)  # fan_in = in/groups * kh * kw
    assert np.abs(c.weight.data).max() <= bound and np.abs(c.weight.data).max() > 0.8 * bound
    assert np.abs(c.bias.data).max() <= bound
    y = c(dg.tensor(np.zeros((2, 4, 9, 11), np.float32)))
    assert y.shape == (2, 8, 5, 5)
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert t.weight.shape == (4, 3, 3, 3)
    assert t(dg.tensor(np.zeros((1, 4, 5, 5), np.float32))).shape == (1, 6, 10, 10)
    assert np.abs(t.weight.data).max() <= 1 / math.sqrt(3 * 9)  # PyTorch's fan_in for transposed: out/groups*k*k
    c1 = nn.Conv1d(3, 5, 3, padding="same")
    assert c1(dg.tensor(np.zeros((2, 3, 7), np.float32))).shape == (2, 5, 7)
    assert nn.Conv2d(3, 4, 3, bias=False).bias is None
    assert "kernel_size=(3, 5)" in repr(c) and "groups=2" in repr(c)


def test_layer_errors_name_the_layer_and_shapes():
    c = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3->8\).*C=3.*\(2, 4, 5, 5\)"):
        c(dg.tensor(np.zeros((2, 4, 5, 5), np.float32)))
    with pytest.raises(ValueError, match="groups=3 must divide"):
        nn.Conv2d(4, 8, 3, groups=3)
    with pytest.raises(ValueError, match="MaxPool2d.*\\(N, C, H, W\\)"):
        nn.MaxPool2d(2)(dg.tensor(np.zeros((4, 4), np.float32)))
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        nn.Conv2d(3, 3, 3, stride=2, padding="same")


def test_layers_match_torch_layers_with_copied_weights():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    pairs = [
        (nn.Conv2d(3, 6, 3, stride=2, padding=1, dilation=1, groups=3), torch.nn.Conv2d(3, 6, 3, 2, 1, 1, 3), (2, 3, 9, 8)),
        (nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), torch.nn.ConvTranspose2d(4, 2, 4, 2, 1), (2, 4, 5, 6)),
        (nn.Conv1d(3, 4, 5, padding=2), torch.nn.Conv1d(3, 4, 5, padding=2), (2, 3, 12)),
        (nn.Conv2dReLUMaxPool2d(2, 4, 3, padding=1), None, (2, 2, 8, 8)),
    ]
    for ours, theirs, shape in pairs:
        if theirs is None:
            theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        theirs = theirs.double()
        with torch.no_grad():
            for p, q in zip(ours.parameters(), theirs.parameters()):
                p.data = p.data.astype(np.float64)
                q.copy_(torch.from_numpy(p.data))
        x = rng.standard_normal(shape)
        X = dg.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y, ty = ours(X), theirs(tx)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-10)
        for p, q in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad, q.grad.numpy(), atol=1e-10)


def test_pooling_layers():
    x = dg.tensor(np.arange(2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6))
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 3, 3)
    assert nn.MaxPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 6, 6)
    assert nn.AvgPool2d(2)(x).shape == (2, 3, 3, 3)
    assert nn.AdaptiveAvgPool2d((2, 3))(x).shape == (2, 3, 2, 3)
    g = nn.GlobalAvgPool2d()(x)
    assert g.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(g.data.ravel(), x.data.mean(axis=(2, 3)).ravel())
    assert nn.MaxPool2d(2).state_dict() == {}
