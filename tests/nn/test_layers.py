"""Layers: shapes, default initialisation, error messages, activations vs PyTorch, dropout."""
import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


def test_linear_shapes_and_error_message():
    lin = nn.Linear(784, 256)
    assert lin.weight.shape == (256, 784) and lin.bias.shape == (256,)
    assert lin.weight.dtype == np.float32
    assert lin(dg.randn(32, 784)).shape == (32, 256)
    assert lin(dg.randn(2, 5, 784)).shape == (2, 5, 256)
    with pytest.raises(ValueError) as e:
        lin(dg.randn(32, 100))
    assert str(e.value) == "Linear(784->256): expected input (..., 784), got (32, 100)"
    assert nn.Linear(3, 2, bias=False).bias is None
    assert len(list(nn.Linear(3, 2, bias=False).parameters())) == 1


def test_linear_default_init_is_pytorch_like():
    dg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.data, lin.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound) has std bound/sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    dg.manual_seed(0)
    again = nn.Linear(400, 300)
    np.testing.assert_array_equal(again.weight.data, w)  # seeded from the global generator


def test_linear_matches_torch_and_gradients():
    torch = pytest.importorskip("torch")
    lin = nn.Linear(5, 3).double()
    tl = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(lin.weight.data))
        tl.bias.copy_(torch.from_numpy(lin.bias.data))
    x = np.random.default_rng(0).standard_normal((4, 5))
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (lin(xd) ** 2).sum().backward()
    (tl(xt) ** 2).sum().backward()
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lin.weight.grad, tl.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lin.bias.grad, tl.bias.grad.numpy(), rtol=1e-10)


def test_flatten_identity():
    x = dg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Identity(54, unused="x")(x) is x
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1\).*got \(7,\)"):
        nn.Flatten()(dg.randn(7))


ACTS = [
    ("ReLU", {}, {}),
    ("LeakyReLU", {"negative_slope": 0.2}, {"negative_slope": 0.2}),
    ("Tanh", {}, {}),
    ("Sigmoid", {}, {}),
    ("GELU", {}, {}),
    ("GELU", {"approximate": "tanh"}, {"approximate": "tanh"}),
    ("ELU", {"alpha": 0.7}, {"alpha": 0.7}),
    ("Softplus", {"beta": 2.0}, {"beta": 2.0}),
    ("Softmax", {"dim": 1}, {"dim": 1}),
    ("LogSoftmax", {"dim": -1}, {"dim": -1}),
    ("SiLU", {}, {}),
]


@pytest.mark.parametrize("name,kw,tkw", ACTS)
def test_activation_modules_match_torch(name, kw, tkw):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((4, 6)) * 3
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = getattr(nn, name)(**kw)(xd), getattr(torch.nn, name)(**tkw)(xt)
    np.testing.assert_allclose(yd.data, yt.detach().numpy(), rtol=1e-7, atol=1e-12)
    v = np.random.default_rng(2).standard_normal(x.shape)
    (yd * dg.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_dropout_train_and_eval():
    dg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = dg.ones(200, 500)
    y = drop(x).data
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)  # inverted dropout
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
