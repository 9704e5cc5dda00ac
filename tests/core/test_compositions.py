"""Random compositions of ops give torch's values and gradients (float64, rel. error < 1e-7)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg

from .optest import RTOL, torch

# each step maps one (2, 3) tensor to a (2, 3) tensor, written once for both libraries
STEPS = [
    lambda m, x, c: x * c + 0.1,
    lambda m, x, c: m.tanh(x),
    lambda m, x, c: m.sigmoid(x) - 0.5,
    lambda m, x, c: x / (1.5 + x * x),
    lambda m, x, c: x - x.mean(),
    lambda m, x, c: x @ c.T @ c * 0.3,
    lambda m, x, c: m.exp(x * 0.3) - 1,
    lambda m, x, c: x + x.max(1, True)[0] * 0.1 if m is torch else x + x.max(axis=1, keepdims=True) * 0.1,
    lambda m, x, c: (m.softmax(x, 1) if m is torch else m.softmax(x, axis=1)) * 3 - 1,
    lambda m, x, c: x.T.reshape(2, 3),
    lambda m, x, c: m.cat([x[:, 1:], x[:, :1]], 1) if m is torch else m.concatenate([x[:, 1:], x[:, :1]], axis=1),
    lambda m, x, c: m.sqrt(x * x + 1.0) - 1,
    lambda m, x, c: m.log(x * x + 2.0),
    lambda m, x, c: x * x.sum() * 0.05 + x,
]


def _run(lib, x0, consts, ops):
    if lib is torch:
        x = torch.tensor(x0, requires_grad=True)
        cs = [torch.tensor(c) for c in consts]
    else:
        x = dg.tensor(x0, requires_grad=True)
        cs = [dg.tensor(c) for c in consts]
    y = x
    for k, c in zip(ops, cs):
        y = STEPS[k](lib, y, c)
    (y * y).sum().backward()
    grad = x.grad.numpy() if lib is torch else x.grad
    return (y.detach().numpy() if lib is torch else y.data), grad


@pytest.mark.skipif(torch is None, reason="torch not installed")
@given(ops=st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=25), seed=st.integers(0, 2**31 - 1))
def test_random_compositions_match_torch(ops, seed):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((2, 3))
    consts = [rng.uniform(0.5, 1.0, (2, 3)) for _ in ops]
    y, g = _run(dg, x0, consts, ops)
    ty, tg = _run(torch, x0, consts, ops)
    np.testing.assert_allclose(y, ty, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=RTOL, atol=1e-12)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_3000_step_chain_matches_torch():
    rng = np.random.default_rng(7)
    ops = list(rng.integers(0, len(STEPS), 3000))
    x0 = rng.standard_normal((2, 3))
    consts = [rng.uniform(0.5, 1.0, (2, 3)) for _ in ops]
    y, g = _run(dg, x0, consts, ops)
    ty, tg = _run(torch, x0, consts, ops)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(y, ty, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=RTOL, atol=1e-12)


def test_deep_chain_without_torch_against_closed_form():
    # d/dx of x * 1.0001^n is 1.0001^n: a 3,000-op chain checked without any reference library
    x = dg.tensor([0.5], dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad[0] == pytest.approx(1.0001**3000, rel=1e-12)
