"""Small end-to-end runs: an MLP learns XOR and two circles with SGD (momentum) and Adam."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.nn import functional as F


def _xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return x, y


def _circles(n=256, seed=0):
    rng = np.random.default_rng(seed)
    r = np.where(np.arange(n) % 2 == 0, 0.5, 1.0) + rng.normal(0, 0.08, n)
    a = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(a), r * np.sin(a)], axis=1).astype(np.float32)
    return x, (np.arange(n) % 2).astype(np.int64)


def _train(x, y, make_opt, epochs, hidden=16, seed=0, bn=False):
    dg.manual_seed(seed)
    layers = [nn.Linear(2, hidden)] + ([nn.BatchNorm1d(hidden)] if bn else []) + [nn.Tanh(), nn.Linear(hidden, 2)]
    model = nn.Sequential(*layers)
    opt = make_opt(model.parameters())
    xt, yt = dg.tensor(x), dg.tensor(y)
    first = None
    for _ in range(epochs):
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    model.eval()
    with dg.no_grad():
        acc = (model(xt).data.argmax(axis=1) == y).mean()
    return first, loss.item(), acc


@pytest.mark.slow
@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.5, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.05),
    lambda ps: optim.RMSprop(ps, lr=0.01),
], ids=["sgd-momentum", "adam", "rmsprop"])
def test_xor(make_opt):
    first, last, acc = _train(*_xor(), make_opt, epochs=300)
    assert acc == 1.0 and last < 0.1 * first


@pytest.mark.slow
@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.2, momentum=0.9),
    lambda ps: optim.AdamW(ps, lr=0.03),
], ids=["sgd-momentum", "adamw"])
def test_circles(make_opt):
    _, _, acc = _train(*_circles(), make_opt, epochs=300, bn=True)
    assert acc >= 0.97
