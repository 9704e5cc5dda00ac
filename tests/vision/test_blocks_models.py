"""Blocks and the model zoo: shapes, shortcut rules, parameter/FLOP counts, torch parity of
LeNet-5, finite-difference checks through whole blocks."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.check import gradcheck_model
from deepgrad.vision import blocks, models


def _x(shape, dtype=np.float32, seed=0):
    return dg.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def test_residual_block_shortcuts():
    same = blocks.ResidualBlock(8, 8)
    down = blocks.ResidualBlock(8, 16, stride=2)
    assert same.is_identity and not down.is_identity
    assert same(_x((2, 8, 10, 10))).shape == (2, 8, 10, 10)
    assert down(_x((2, 8, 10, 10))).shape == (2, 16, 5, 5)
    # with the second BN scaled to zero the residual branch vanishes: the block is relu(x)
    same.bn2.weight.data[...] = 0
    same.bn2.bias.data[...] = 0
    x = _x((2, 8, 6, 6))
    np.testing.assert_allclose(same(x).data, np.maximum(x.data, 0), atol=1e-6)


def test_bottleneck_inception_inverted_residual_shapes():
    b = blocks.Bottleneck(16, 8, stride=2)
    assert b(_x((2, 16, 8, 8))).shape == (2, 32, 4, 4)
    inc = blocks.InceptionModule(16, 8, 8, 12, 4, 6, 5)
    assert inc.out_channels == 31 and inc(_x((2, 16, 7, 7))).shape == (2, 31, 7, 7)
    ir = blocks.InvertedResidual(16, 16, 1, 6)
    assert ir.use_residual and ir(_x((2, 16, 6, 6))).shape == (2, 16, 6, 6)
    dw = [m for m in ir.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(dw) == 1 and dw[0].groups == 96 and dw[0].weight.shape == (96, 1, 3, 3)  # depthwise
    ir2 = blocks.InvertedResidual(16, 24, 2, 6)
    assert not ir2.use_residual and ir2(_x((2, 16, 6, 6))).shape == (2, 24, 3, 3)
    # 1x1 reductions make the Inception module much cheaper than direct 3x3/5x5 convs on all channels
    cheap = models.count_parameters(blocks.InceptionModule(64, 16, 16, 32, 8, 16, 16))
    direct = 64 * 32 * 9 + 64 * 16 * 25
    assert cheap < direct / 2


@pytest.mark.parametrize("name,kw", [
    ("lenet5", {}), ("lenet5", {"input_size": 32, "in_channels": 3}), ("vgg", {"width": 8}),
    ("resnet", {"depth": 8, "width": 8}), ("resnet", {"depth": 11, "bottleneck": True, "width": 4, "input_size": 32, "in_channels": 3}),
    ("resnet-small", {"width": 8}), ("inception", {}), ("mobilenetv2", {"width_mult": 0.5, "last_channels": 64}),
])
def test_zoo_models_map_images_to_logits(name, kw):
    size, c = kw.get("input_size", 28), kw.get("in_channels", 1)
    m = models.build_model(name, **kw)
    x = _x((3, c, size, size))
    y = m(x)
    assert y.shape == (3, 10) and y.dtype == np.float32
    dg.nn.functional.cross_entropy(y, dg.tensor(np.array([0, 1, 2]))).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    rep = models.summary(m, (c, size, size), print_fn=None)
    assert rep["total_params"] == models.count_parameters(m) == sum(r["params"] for r in rep["layers"])
    assert rep["total_flops"] > 0


def test_lenet_counts_and_summary():
    fused = models.LeNet5()
    assert models.count_parameters(fused) == 61706  # the textbook count for the 28x28 (padded) variant
    frep = models.summary(fused, (1, 28, 28), print_fn=None)
    assert frep["layers"][0]["type"] == "Conv2dReLUMaxPool2d" and frep["layers"][0]["output_shape"] == (6, 14, 14)
    m = models.LeNet5(fused=False)
    assert models.count_parameters(m) == 61706
    lines = []
    rep = models.summary(m, (1, 28, 28), print_fn=lines.append)
    conv1 = rep["layers"][0]
    assert conv1["output_shape"] == (6, 28, 28) and conv1["flops"] == 2 * 6 * 28 * 28 * 25
    assert [r["output_shape"] for r in rep["layers"] if r["type"] == "MaxPool2d"] == [(6, 14, 14), (16, 5, 5)]
    assert "61,706" in lines[-1]
    with pytest.raises(ValueError, match="depth must be 6n\\+2"):
        models.ResNet(depth=21)
    with pytest.raises(KeyError, match="unknown model"):
        models.build_model("alexnet9000")


@pytest.mark.parametrize("fused", [True, False])
def test_lenet_matches_torch_values_and_gradients(fused):
    torch = pytest.importorskip("torch")
    dg.manual_seed(0)
    m = models.LeNet5(fused=fused)
    t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10),
    ).double()
    ours = [p for _, p in m.named_parameters()]
    theirs = list(t.parameters())
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            a.data = a.data.astype(np.float64)
            b.copy_(torch.from_numpy(a.data))
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28))
    y = np.array([1, 2, 3, 4])
    loss = dg.nn.functional.cross_entropy(m(dg.tensor(x)), dg.tensor(y))
    loss.backward()
    tl = torch.nn.functional.cross_entropy(t(torch.from_numpy(x)), torch.from_numpy(y))
    tl.backward()
    assert abs(loss.item() - tl.item()) < 1e-10
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), atol=1e-10)


def test_blocks_pass_finite_difference_checks():
    dg.manual_seed(0)
    x = dg.tensor(np.random.default_rng(0).standard_normal((2, 4, 5, 5)))
    for block in (blocks.ResidualBlock(4, 6, stride=2), blocks.InvertedResidual(4, 4, 1, 2),
                  blocks.InceptionModule(4, 2, 2, 3, 1, 2, 2)):
        block.eval()  # BatchNorm with running statistics: a deterministic function of the weights
        rng = np.random.default_rng(1)
        for mod in block.modules():  # random BN shifts: no activation sits exactly on a ReLU/ReLU6 kink
            if isinstance(mod, nn.BatchNorm2d):
                mod.bias.data[...] = rng.uniform(0.1, 0.5, mod.bias.shape)
        rep = gradcheck_model(block, lambda mod: (mod(x) ** 2).mean(), max_elements=20)
        assert rep.passed, rep.failed
