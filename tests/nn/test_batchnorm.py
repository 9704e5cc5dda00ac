"""BatchNorm1d/2d and the fused batch_norm op against PyTorch (float64): outputs, running
statistics (unbiased running variance), gradients in train and eval mode; finite differences."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.check import gradcheck
from deepgrad.nn import functional as F

SHAPES = [(8, 3), (6, 3, 5), (4, 3, 5, 6)]


def _pair(shape, momentum=0.1, affine=True, track=True):
    torch = pytest.importorskip("torch")
    dg_cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    t_cls = torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d
    a = dg_cls(3, momentum=momentum, affine=affine, track_running_stats=track).double()
    b = t_cls(3, momentum=momentum, affine=affine, track_running_stats=track).double()
    if affine:
        rng = np.random.default_rng(5)
        w, bias = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
        a.weight.data[...] = w
        a.bias.data[...] = bias
        with torch.no_grad():
            b.weight.copy_(torch.from_numpy(w))
            b.bias.copy_(torch.from_numpy(bias))
    return a, b, torch


def _run(a, b, torch, x, v):
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = a(xd), b(xt)
    (yd * dg.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    return xd, xt, yd, yt


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_train_mode_matches_torch(shape, momentum):
    a, b, torch = _pair(shape, momentum)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        v = rng.standard_normal(shape)
        for p in a.parameters():
            p.grad = None
        b.zero_grad()
        xd, xt, yd, yt = _run(a, b, torch, x, v)
        np.testing.assert_allclose(yd.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(a.weight.grad, b.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.bias.grad, b.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.running_mean, b.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.running_var, b.running_var.numpy(), rtol=1e-12)  # unbiased
        assert int(a.num_batches_tracked) == int(b.num_batches_tracked) == step + 1


@pytest.mark.parametrize("shape", SHAPES)
def test_eval_mode_matches_torch(shape):
    a, b, torch = _pair(shape)
    rng = np.random.default_rng(1)
    _run(a, b, torch, rng.standard_normal(shape) + 3, rng.standard_normal(shape))  # set running stats
    a.eval(), b.eval()
    a.weight.grad = a.bias.grad = None
    b.zero_grad()
    x, v = rng.standard_normal(shape), rng.standard_normal(shape)
    rm = a.running_mean.copy()
    xd, xt, yd, yt = _run(a, b, torch, x, v)
    np.testing.assert_allclose(yd.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.weight.grad, b.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(a.running_mean, rm)  # eval does not update the statistics


def test_no_affine_no_running_stats_matches_torch():
    a, b, torch = _pair((6, 3, 4), affine=False, track=False)
    assert list(a.parameters()) == [] and a.running_mean is None
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal((6, 3, 4)), rng.standard_normal((6, 3, 4))
    a.eval(), b.eval()  # without running stats, eval still uses batch statistics
    xd, xt, yd, yt = _run(a, b, torch, x, v)
    np.testing.assert_allclose(yd.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_gradcheck(training):
    rng = np.random.default_rng(3)
    x = dg.tensor(rng.standard_normal((5, 3, 4)), requires_grad=True)
    w = dg.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = dg.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def fn(x, w, b):
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)

    report = gradcheck(fn, x, w, b)
    assert report.passed, str(report)


def test_float32_stays_float32_and_normalises():
    bn = nn.BatchNorm2d(4)
    x = dg.randn(16, 4, 5, 5) * 3 + 2
    y = bn(x)
    assert y.dtype == np.float32 and bn.running_var.dtype == np.float32
    m = y.data.mean(axis=(0, 2, 3))
    s = y.data.var(axis=(0, 2, 3))
    np.testing.assert_allclose(m, 0, atol=1e-5)
    np.testing.assert_allclose(s, 1, atol=1e-3)


def test_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected input \(N, 3\) or \(N, 3, L\), got \(4, 5\)"):
        nn.BatchNorm1d(3)(dg.randn(4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input \(N, 3, H, W\), got \(4, 3\)"):
        nn.BatchNorm2d(3)(dg.randn(4, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(dg.randn(1, 3))


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    assert list(nn.BatchNorm1d(3).state_dict()) == list(torch.nn.BatchNorm1d(3).state_dict())
