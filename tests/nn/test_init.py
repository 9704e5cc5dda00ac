"""Initialisers: statistics on big matrices, fans (incl. conv weights), gains, determinism."""
import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import init


def _w(*shape):
    return nn.Parameter(np.zeros(shape, dtype=np.float32))


def test_fans_for_linear_and_conv():
    assert init.calculate_fan_in_and_fan_out(_w(30, 20)) == (20, 30)
    assert init.calculate_fan_in_and_fan_out(_w(16, 8, 3, 5)) == (8 * 15, 16 * 15)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(_w(5))


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError, match="unsupported"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(400, 600), (64, 32, 3, 3)])
def test_xavier_and_kaiming_statistics(shape):
    fan_in = int(np.prod(shape[1:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    w = _w(*shape)
    cases = [
        (lambda: init.xavier_uniform_(w, gain=2.0), 2.0 * math.sqrt(2.0 / (fan_in + fan_out))),
        (lambda: init.xavier_normal_(w), math.sqrt(2.0 / (fan_in + fan_out))),
        (lambda: init.kaiming_uniform_(w, nonlinearity="relu"), math.sqrt(2.0 / fan_in)),
        (lambda: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(2.0 / fan_out)),
        (lambda: init.kaiming_normal_(w, a=0.2, nonlinearity="leaky_relu"), math.sqrt(2.0 / (1 + 0.04) / fan_in)),
        (lambda: init.he_normal_(w), math.sqrt(2.0 / fan_in)),
        (lambda: init.xavier_(w), math.sqrt(1.0 / fan_in)),
        (lambda: init.normal_(w, 0.0, 0.3), 0.3),
    ]
    for fill, std in cases:
        out = fill()
        assert out is w  # in place, returns its argument
        assert abs(w.data.std() / std - 1) < 0.03, (std, w.data.std())
        assert abs(w.data.mean()) < 0.05 * std
    init.xavier_uniform_(w)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert w.dtype == np.float32


def test_constants_and_uniform():
    w = _w(10, 10)
    init.ones_(w)
    assert (w.data == 1).all()
    init.constant_(w, 0.5)
    assert (w.data == 0.5).all()
    init.zeros_(w)
    assert not w.data.any()
    init.uniform_(w, -2, 3)
    assert w.data.min() >= -2 and w.data.max() <= 3
    init.eye_(w)
    np.testing.assert_array_equal(w.data, np.eye(10))
    init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.data).max() <= 0.5
    arr = np.zeros((3, 3))
    init.ones_(arr)  # plain ndarrays work too
    assert arr.sum() == 9
    with pytest.raises(TypeError):
        init.ones_(np.zeros(3, dtype=np.int64))


def test_orthogonal():
    w = _w(20, 50)
    init.orthogonal_(w)
    np.testing.assert_allclose(w.data @ w.data.T, np.eye(20), atol=1e-5)


def test_seeded_by_global_generator_or_argument():
    a, b = _w(50, 50), _w(50, 50)
    dg.manual_seed(3)
    init.kaiming_normal_(a)
    dg.manual_seed(3)
    init.kaiming_normal_(b)
    np.testing.assert_array_equal(a.data, b.data)
    init.kaiming_normal_(a, generator=np.random.default_rng(9))
    init.kaiming_normal_(b, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(a.data, b.data)
    init.kaiming_normal_(b)
    assert not np.array_equal(a.data, b.data)
