"""Every op, over generated shapes (0-d, size-1, broadcasting): finite-difference gradcheck in
float64, and where torch is installed, values and gradients equal to torch's within 1e-7."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
import deepgrad.nn.functional as F

from .optest import check_op, torch
from .strategies import array, axis_args, nonscalar_shapes, seeds, shapes

T = torch

UNARY = {
    # name: (deepgrad fn, torch fn, input kind)
    "neg": (lambda x: -x, lambda x: -x, "any"),
    "exp": (dg.exp, lambda x: x.exp(), "any"),
    "log": (dg.log, lambda x: x.log(), "positive"),
    "sqrt": (dg.sqrt, lambda x: x.sqrt(), "positive"),
    "abs": (dg.abs, lambda x: x.abs(), "away_from_zero"),
    "clip": (lambda x: dg.clip(x, -0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), "away_from_zero"),
    "pow_scalar": (lambda x: x**3, lambda x: x**3, "any"),
    "pow_frac": (lambda x: x**1.5, lambda x: x**1.5, "positive"),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, "any"),
    "scalar_ops": (lambda x: (3 - x) / 2 + 1 / (x * x + 1), lambda x: (3 - x) / 2 + 1 / (x * x + 1), "any"),
    "relu": (dg.relu, lambda x: T.relu(x), "away_from_zero"),
    "leaky_relu": (lambda x: dg.leaky_relu(x, 0.1), lambda x: T.nn.functional.leaky_relu(x, 0.1), "away_from_zero"),
    "elu": (lambda x: dg.elu(x, 1.3), lambda x: T.nn.functional.elu(x, 1.3), "away_from_zero"),
    "gelu": (dg.gelu, lambda x: T.nn.functional.gelu(x), "any"),
    "gelu_tanh": (
        lambda x: dg.gelu(x, approximate="tanh"),
        lambda x: T.nn.functional.gelu(x, approximate="tanh"),
        "any",
    ),
    "sigmoid": (dg.sigmoid, lambda x: T.sigmoid(x), "any"),
    "tanh": (dg.tanh, lambda x: T.tanh(x), "any"),
    "softplus": (
        lambda x: dg.softplus(x, beta=2.0, threshold=3.0),
        lambda x: T.nn.functional.softplus(x, 2.0, 3.0),
        "away_from_zero",
    ),
    "square_via_mul": (lambda x: x * x, lambda x: x * x, "any"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary(name, shape, seed):
    f, tf, kind = UNARY[name]
    x = array(shape, seed, kind)
    if name == "softplus":
        assume(np.all(np.abs(2 * x - 3.0) > 1e-3))  # not on the threshold switch
    if name == "clip":
        assume(np.all(np.abs(x + 0.5) > 1e-3) and np.all(np.abs(x - 0.7) > 1e-3))
    check_op(f, tf, x)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, lambda a, b: a / b, "any", "positive"),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, "positive", "any"),
    "maximum": (dg.maximum, lambda a, b: T.maximum(a, b), "distinct", "distinct"),
    "minimum": (dg.minimum, lambda a, b: T.minimum(a, b), "distinct", "distinct"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3), seed=seeds)
def test_binary_broadcasting(name, shapes, seed):
    f, tf, ka, kb = BINARY[name]
    sa, sb = shapes.input_shapes
    a = array(sa, seed, ka)
    b = array(sb, seed + 1, kb)
    if name in ("maximum", "minimum"):
        assume(np.all(np.abs(np.subtract(a, b)) > 1e-3))
    check_op(f, tf, a, b)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3), seed=seeds)
def test_where(shapes, seed):
    sc, sx, sy = shapes.input_shapes
    cond = np.random.default_rng(seed).random(sc) > 0.5
    check_op(
        lambda x, y: dg.where(cond, x, y),
        lambda x, y: T.where(T.tensor(cond), x, y),
        array(sx, seed),
        array(sy, seed + 1),
    )


def _taxis(axis, nd):
    return tuple(range(nd)) if axis is None else axis


REDUCTIONS = {
    "sum": (dg.sum, lambda x, ax, k: x.sum(dim=_taxis(ax, x.ndim), keepdim=k) if x.ndim else x * 1, "any"),
    "mean": (dg.mean, lambda x, ax, k: x.mean(dim=_taxis(ax, x.ndim), keepdim=k) if x.ndim else x * 1, "any"),
    "max": (dg.max, lambda x, ax, k: T.amax(x, dim=_taxis(ax, x.ndim), keepdim=k) if x.ndim else x * 1, "distinct"),
    "min": (dg.min, lambda x, ax, k: T.amin(x, dim=_taxis(ax, x.ndim), keepdim=k) if x.ndim else x * 1, "distinct"),
    "logsumexp": (
        dg.logsumexp,
        lambda x, ax, k: T.logsumexp(x, dim=_taxis(ax, x.ndim), keepdim=k) if x.ndim else x * 1,
        "any",
    ),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data(), shape=shapes, seed=seeds)
def test_reductions(name, data, shape, seed):
    f, tf, kind = REDUCTIONS[name]
    axis, keep = data.draw(axis_args(shape))
    if len(shape) == 0:
        keep = False
    check_op(lambda x: f(x, axis=axis, keepdims=keep), lambda x: tf(x, axis, keep), array(shape, seed, kind))


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_var_std(name, ddof, data, shape, seed):
    axis, keep = data.draw(axis_args(shape))
    n = int(np.prod(shape)) if axis is None else int(np.prod([shape[a] for a in np.atleast_1d(axis)]))
    assume(n > ddof + (1 if name == "std" else 0))
    f = getattr(dg, name)
    tf = getattr(T, name) if T is not None else None
    check_op(
        lambda x: f(x, axis=axis, keepdims=keep, ddof=ddof),
        None if tf is None else (lambda x: tf(x, dim=_taxis(axis, x.ndim), correction=ddof, keepdim=keep)),
        array(shape, seed),
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_softmax_family(name, data, shape, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    f = getattr(dg, name)
    check_op(lambda x: f(x, axis=axis), lambda x: getattr(T, name)(x, dim=axis), array(shape, seed) * 3)


def test_softmax_stable_for_large_inputs():
    x = dg.tensor([[1000.0, 0.0, -1000.0]], dtype=np.float64)
    assert np.all(np.isfinite(dg.softmax(x).data))
    np.testing.assert_allclose(dg.log_softmax(x).data, [[0.0, -1000.0, -2000.0]])
    np.testing.assert_allclose(dg.logsumexp(x, axis=1).data, [1000.0])
    assert np.isfinite(dg.sigmoid(dg.tensor([-1000.0, 1000.0])).data).all()
    assert np.isfinite(dg.softplus(dg.tensor([-1000.0, 1000.0])).data).all()


@given(data=st.data(), seed=seeds)
def test_matmul_cases(data, seed):
    # 1-D @ 1-D, 1-D @ 2-D, 2-D @ 1-D, 2-D @ 2-D and batched with broadcast batch dims
    case = data.draw(st.sampled_from(["vv", "vm", "mv", "mm", "bmm", "bm", "mb", "bv", "bcast"]))
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    b = data.draw(st.integers(1, 3))
    sa, sb = {
        "vv": ((k,), (k,)),
        "vm": ((k,), (k, m)),
        "mv": ((n, k), (k,)),
        "mm": ((n, k), (k, m)),
        "bmm": ((b, n, k), (b, k, m)),
        "bm": ((b, n, k), (k, m)),
        "mb": ((n, k), (b, k, m)),
        "bv": ((b, n, k), (k,)),
        "bcast": ((b, 1, n, k), (2, k, m)),
    }[case]
    check_op(lambda x, y: x @ y, lambda x, y: x @ y, array(sa, seed), array(sb, seed + 1))


@given(data=st.data(), seed=seeds)
def test_linear(data, seed):
    n, i, o = (data.draw(st.integers(1, 4)) for _ in range(3))
    lead = data.draw(st.sampled_from([(n,), (2, n), ()]))
    x, w, bias = array((*lead, i), seed), array((o, i), seed + 1), array((o,), seed + 2)
    check_op(F.linear, T.nn.functional.linear if T else None, x, w, bias)
    check_op(lambda x, w: F.linear(x, w), (lambda x, w: T.nn.functional.linear(x, w)) if T else None, x, w)


# ----- shape ops ---------------------------------------------------------------------
@given(shape=shapes, seed=seeds, data=st.data())
def test_reshape_transpose_flatten(shape, seed, data):
    x = array(shape, seed)
    size = int(np.prod(shape))
    check_op(lambda t: t.reshape(size, 1), lambda t: t.reshape(size, 1), x)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check_op(lambda t: t.transpose(*perm) if perm else t.transpose(), lambda t: t.permute(*perm) if perm else t * 1, x)
    check_op(lambda t: t.T * 1, lambda t: (t.permute(*reversed(range(t.ndim))) if t.ndim else t) * 1, x)
    if len(shape):
        check_op(lambda t: dg.flatten(t, 0, -1), lambda t: t.flatten(), x)
        check_op(lambda t: dg.flatten(t, start_dim=len(shape) - 1), lambda t: t.flatten(len(shape) - 1), x)


@given(shape=shapes, seed=seeds, data=st.data())
def test_squeeze_unsqueeze_broadcast(shape, seed, data):
    x = array(shape, seed)
    ax = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(lambda t: dg.unsqueeze(t, ax), lambda t: t.unsqueeze(ax), x)
    check_op(lambda t: dg.squeeze(t) * 1, lambda t: t.squeeze() * 1, x)
    target = data.draw(hnp.broadcastable_shapes(shape, min_dims=len(shape), max_dims=len(shape) + 1, max_side=3))
    target = np.broadcast_shapes(target, shape)
    check_op(lambda t: dg.broadcast_to(t, target) * 1, lambda t: (t.expand(*target) if target else t) * 1, x)
    if len(shape):
        check_op(lambda t: t.expand(2, *[-1] * len(shape)) * 1, lambda t: t.expand(2, *[-1] * len(shape)) * 1, x)


@given(shape=nonscalar_shapes, seed=seeds, data=st.data(), n=st.integers(1, 3))
def test_concatenate_stack_split(shape, seed, data, n):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    arrays = [array(shape, seed + i) for i in range(n)]
    check_op(lambda *ts: dg.concatenate(ts, axis=axis), lambda *ts: T.cat(ts, dim=axis), *arrays)
    sax = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(lambda *ts: dg.stack(ts, axis=sax), lambda *ts: T.stack(ts, dim=sax), *arrays)
    size = shape[axis]
    cut = data.draw(st.integers(0, size))
    check_op(
        lambda t: dg.concatenate([p * (i + 1) for i, p in enumerate(dg.split(t, [cut], axis=axis))], axis=axis),
        lambda t: T.cat([p * (i + 1) for i, p in enumerate(T.tensor_split(t, [cut], dim=axis))], dim=axis),
        arrays[0],
    )


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_pad(shape, seed, data):
    widths = [tuple(data.draw(st.integers(0, 2)) for _ in range(2)) for _ in shape]
    flat = [w for pair in reversed(widths) for w in pair]  # torch's order: last axis first
    check_op(
        lambda t: dg.pad(t, widths, constant_values=0.5),
        lambda t: T.nn.functional.pad(t, flat, value=0.5),
        array(shape, seed),
    )


@given(seed=seeds, data=st.data())
def test_getitem(seed, data):
    x = array((4, 3, 2), seed)
    rng = np.random.default_rng(seed)
    idx_int = rng.integers(0, 4, size=5)  # repeated indices accumulate
    mask = rng.random((4, 3)) > 0.4
    cases = [
        (lambda t: t[1], lambda t: t[1]),
        (lambda t: t[1:3, ::2], lambda t: t[1:3, ::2]),
        (lambda t: t[..., 0], lambda t: t[..., 0]),
        (lambda t: t[None, 2, :, 1], lambda t: t[None, 2, :, 1]),
        (lambda t: t[-1, -2:], lambda t: t[-1, -2:]),
        (lambda t: t[idx_int], lambda t: t[T.tensor(idx_int)]),
        (lambda t: t[idx_int, 1:], lambda t: t[T.tensor(idx_int), 1:]),
        (lambda t: t[idx_int, [0, 1, 2, 0, 1]], lambda t: t[T.tensor(idx_int), T.tensor([0, 1, 2, 0, 1])]),
        (lambda t: t[mask], lambda t: t[T.tensor(mask)]),
        (lambda t: t[dg.tensor(idx_int)], lambda t: t[T.tensor(idx_int)]),
    ]
    k = data.draw(st.integers(0, len(cases) - 1))
    f, tf = cases[k]
    check_op(f, tf if T else None, x)


def test_getitem_repeated_indices_accumulate():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_split_sections_and_cast():
    x = dg.tensor(np.arange(6.0), requires_grad=True)
    a, b, c = dg.split(x, 3)
    (a.sum() + 2 * b.sum() + 3 * c.sum()).backward()
    np.testing.assert_array_equal(x.grad, [1, 1, 2, 2, 3, 3])
    y = dg.tensor([1.0, 2.0], requires_grad=True)
    z = y.double() * 2
    assert z.dtype == np.float64
    z.sum().backward()
    assert y.grad.dtype == np.float32
