"""deepgrad.recipes._common.train_epoch: the hand-written training loop the sequence recipes share."""
from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.recipes._common import train_epoch
from deepgrad.train.history import History


def _setup(seed=0):
    dg.manual_seed(seed)
    model = nn.Linear(3, 1)
    x = np.random.default_rng(seed).standard_normal((40, 3)).astype(np.float32) * 100  # large: big gradients
    y = np.ones((40, 1), np.float32)
    return model, x, y


def test_clipping_applies_at_every_step_even_given_a_generator():
    model, x, y = _setup()
    opt = optim.SGD(model.parameters(), lr=0.1)
    norms, steps = [], []

    def loss_of(idx):
        return ((model(dg.tensor(x[idx])) - dg.tensor(y[idx])) ** 2).mean()

    def after():
        steps.append(1)

    real_step = opt.step

    def step():  # the gradient norm the optimizer sees, after clipping
        norms.append(float(np.sqrt(sum((p.grad.astype(np.float64) ** 2).sum() for p in model.parameters()))))
        real_step()

    opt.step = step
    h = History()
    losses = train_epoch(h, 1, np.arange(40), 8, loss_of, opt, clip=(model.parameters(), 1.0), after_step=after)
    assert losses is not None and len(losses) == 5 and len(steps) == 5
    assert h.initial_loss == losses[0]
    assert all(n <= 1.0 + 1e-5 for n in norms), norms  # every step clipped, not only the first


def test_a_non_finite_loss_stops_before_its_backward_and_says_where():
    model, x, y = _setup()
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.data.copy()
    calls = []

    def loss_of(idx):
        calls.append(int(idx[0]))
        loss = ((model(dg.tensor(x[idx])) - dg.tensor(y[idx])) ** 2).mean()
        return loss * float("nan") if len(calls) == 3 else loss * 0.0

    h = History()
    assert train_epoch(h, 4, np.arange(40), 8, loss_of, opt) is None
    assert h.stop_reason == "NaNGuard: training loss nan at epoch 4, batch 2"
    assert calls == [0, 8, 16]
    np.testing.assert_array_equal(model.weight.data, before)  # zero losses, then no step for the NaN one
