"""Fused recurrent ops (deepgrad/ops/recurrent.py): finite differences in float64 over
small shapes, and the same layers composed step by step from generic ops."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.check import gradcheck
from deepgrad.ops.recurrent import gru_cell, lstm_cell, recurrent, rnn_cell

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
G = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _params(rng, mode, I, H, bias=True, scale=0.6):
    g = G[mode]
    ps = [rng.standard_normal((g * H, I)) * scale, rng.standard_normal((g * H, H)) * scale]
    ps += [rng.standard_normal(g * H) * scale, rng.standard_normal(g * H) * scale] if bias else [None, None]
    return ps


def _t(a, dtype=np.float64):
    return None if a is None else dg.tensor(a, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------- composed reference
def composed_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step from generic ops (matmul, sigmoid, tanh, relu, slicing): the readable version."""
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
    H = h.shape[-1]
    if mode == "lstm":
        z = gi + gh
        i, f, g, o = dg.sigmoid(z[:, :H]), dg.sigmoid(z[:, H:2 * H]), dg.tanh(z[:, 2 * H:3 * H]), dg.sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        return o * dg.tanh(c), c
    if mode == "gru":
        r = dg.sigmoid(gi[:, :H] + gh[:, :H])
        z = dg.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = dg.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h, None
    pre = gi + gh
    return (dg.tanh(pre) if mode == "rnn_tanh" else dg.relu(pre)), None


def composed_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths=None, reverse=False):
    """(output, h_n, c_n) of one layer as a Python loop of composed steps; variable lengths
    by masking (finished sequences keep their state, their outputs are zero)."""
    T, N = x.shape[0], x.shape[1]
    L = np.full(N, T) if lengths is None else np.asarray(lengths)
    H = w_hh.shape[1]
    h = h0 if h0 is not None else dg.zeros(N, H, dtype=x.dtype)
    c = c0 if c0 is not None else dg.zeros(N, H, dtype=x.dtype)
    outs = [None] * T
    for s in range(T):
        if reverse:  # each sequence read back to front from its own last element
            tt = np.where(s < L, L - 1 - s, s)
            xt = x[tt, np.arange(N)]
        else:
            tt = np.full(N, s)
            xt = x[s]
        h_new, c_new = composed_step(mode, xt, h, c, w_ih, w_hh, b_ih, b_hh)
        active = dg.tensor((s < L)[:, None])
        h = dg.where(active, h_new, h)
        if mode == "lstm":
            c = dg.where(active, c_new, c)
        outs[s] = (tt, dg.where(active, h_new, dg.zeros(N, H, dtype=x.dtype)))
    # put each output back at its own time step
    rows = [[None] * N for _ in range(T)]
    for tt, o in outs:
        for n in range(N):
            rows[tt[n]][n] = o[n]
    out = dg.stack([dg.stack(r) for r in rows])
    return out, h, (c if mode == "lstm" else None)


def _loss(out, h, c, rng):
    total = (out * dg.tensor(rng.standard_normal(out.shape))).sum() + (h * dg.tensor(rng.standard_normal(h.shape))).sum()
    if c is not None:
        total = total + (c * dg.tensor(rng.standard_normal(c.shape))).sum()
    return total


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_fused_layer_equals_composed_steps(mode, reverse, with_lengths):
    rng = np.random.default_rng(hash((mode, reverse, with_lengths)) % 2**32)
    T, N, I, H = 5, 4, 3, 4
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    ps = _params(rng, mode, I, H)
    lengths = np.array([3, 5, 1, 4]) if with_lengths else None
    results = []
    for fn in (recurrent, composed_layer):
        args = [_t(x), _t(h0), _t(c0) if mode == "lstm" else None] + [_t(p) for p in ps]
        out, h, c = fn(*args[:3], *args[3:], mode=mode, lengths=lengths, reverse=reverse) if fn is recurrent else \
            fn(mode, *args, lengths=lengths, reverse=reverse)
        _loss(out, h, c, np.random.default_rng(7)).backward()
        results.append((out.data, h.data, None if c is None else c.data, [a.grad for a in args if a is not None]))
    (o1, h1, c1, g1), (o2, h2, c2, g2) = results
    np.testing.assert_allclose(o1, o2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12)
    if c1 is not None:
        np.testing.assert_allclose(c1, c2, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if with_lengths:  # padding: zero outputs, no gradient into padded inputs
        lengths_mask = np.arange(T)[:, None] >= lengths[None, :]
        assert np.all(o1[lengths_mask] == 0)
        assert np.all(g1[0][lengths_mask] == 0)


@given(
    mode=st.sampled_from(MODES),
    T=st.integers(1, 4),
    N=st.integers(1, 3),
    I=st.integers(1, 3),
    H=st.integers(1, 3),
    reverse=st.booleans(),
    with_lengths=st.booleans(),
    bias=st.booleans(),
    with_h0=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_layer_gradcheck(mode, T, N, I, H, reverse, with_lengths, bias, with_h0, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, I))
    # (rnn_relu: a pre-activation within eps = 1e-6 of the kink has probability ~1e-6 here)
    h0 = rng.standard_normal((N, H)) if with_h0 else None
    c0 = rng.standard_normal((N, H)) if (with_h0 and mode == "lstm") else None
    ps = _params(rng, mode, I, H, bias, scale=0.4)
    lengths = rng.integers(1, T + 1, N) if with_lengths else None
    k = 2 if mode == "lstm" else 1

    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        out, h, c = recurrent(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode=mode, lengths=lengths, reverse=reverse)
        parts = [out.reshape(T * N * H), h.reshape(N * H)] + ([c.reshape(N * H)] if c is not None else [])
        return dg.cat(parts)

    inputs = [_t(a) for a in (x, h0, c0, *ps)]
    report = gradcheck(fn, *inputs)
    assert report.passed, str(report)
    assert fn(*inputs).shape == ((T + k) * N * H,)


@pytest.mark.parametrize("mode", MODES)
def test_float32_end_to_end(mode):
    rng = np.random.default_rng(0)
    T, N, I, H = 4, 3, 5, 6
    args = [_t(rng.standard_normal((T, N, I)), np.float32), _t(rng.standard_normal((N, H)), np.float32),
            _t(rng.standard_normal((N, H)), np.float32) if mode == "lstm" else None]
    args += [_t(p, np.float32) for p in _params(rng, mode, I, H)]
    out, h, c = recurrent(*args, mode=mode)
    assert out.dtype == np.float32 and h.dtype == np.float32
    (out.sum() + h.sum()).backward()
    for a in args:
        if a is not None:
            assert a.grad.dtype == np.float32


def test_mixed_dtypes_and_shapes_are_refused():
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = dg.tensor(rng.standard_normal((3, 2, 4)), dtype=f32)
    w_ih, w_hh = dg.tensor(rng.standard_normal((8, 4)), dtype=f32), dg.tensor(rng.standard_normal((8, 2)), dtype=f32)
    with pytest.raises(TypeError, match="float64"):
        recurrent(x, None, None, w_ih.astype(np.float64), w_hh, mode="lstm")
    with pytest.raises(ValueError, match="input size 4"):
        recurrent(x, None, None, dg.tensor(rng.standard_normal((8, 3)), dtype=f32), w_hh, mode="lstm")
    with pytest.raises(ValueError, match="w_hh"):
        recurrent(x, None, None, w_ih, w_hh, mode="gru")
    with pytest.raises(ValueError, match="lengths"):
        recurrent(x, None, None, w_ih, w_hh, mode="lstm", lengths=np.array([4, 1]))
    with pytest.raises(ValueError, match="mode"):
        recurrent(x, None, None, w_ih, w_hh, mode="lstmx")


@pytest.mark.parametrize("mode", MODES)
def test_cells_equal_composed_step_and_gradcheck(mode):
    rng = np.random.default_rng(3)
    N, I, H = 3, 4, 2
    x, h, c = rng.standard_normal((N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    ps = _params(rng, mode, I, H)

    def fused(x, h, c, w_ih, w_hh, b_ih, b_hh):
        if mode == "lstm":
            h1, c1 = lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
            return dg.cat([h1, c1], axis=1)
        if mode == "gru":
            return gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
        return rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity=mode[4:])

    def composed(x, h, c, w_ih, w_hh, b_ih, b_hh):
        h1, c1 = composed_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh)
        return dg.cat([h1, c1], axis=1) if mode == "lstm" else h1

    grads = []
    for fn in (fused, composed):
        args = [_t(a) for a in (x, h, c, *ps)]
        out = fn(*args)
        (out * dg.tensor(np.random.default_rng(1).standard_normal(out.shape))).sum().backward()
        grads.append((out.data, [a.grad for a in args]))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12, atol=1e-13)
    for i, (a, b) in enumerate(zip(grads[0][1], grads[1][1])):
        if mode != "lstm" and i == 2:
            assert a is None
            continue
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    report = gradcheck(fused, *[_t(a) for a in (x, h, c, *ps)])
    assert report.passed, str(report)
