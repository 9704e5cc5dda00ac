"""Losses and functional ops against torch (float64) and finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
import deepgrad.nn.functional as F

from .optest import check_op, torch
from .strategies import seeds

TF = torch.nn.functional if torch is not None else None


def _t(fn):
    return fn if TF is not None else None


@given(seed=seeds, n=st.integers(1, 5), c=st.integers(2, 5), data=st.data())
def test_cross_entropy_int_targets(seed, n, c, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * 3
    y = rng.integers(0, c, n)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    ls = data.draw(st.sampled_from([0.0, 0.1, 0.3]))
    use_w = data.draw(st.booleans())
    w = rng.uniform(0.5, 2, c) if use_w else None
    ignore = data.draw(st.sampled_from([-100, int(y[0])]))
    if ignore == int(y[0]) and reduction == "mean" and (y == ignore).all():
        ignore = -100  # every row ignored: the mean is 0/0 in both libraries
    check_op(
        lambda a: F.cross_entropy(
            a,
            dg.tensor(y),
            weight=None if w is None else dg.tensor(w),
            ignore_index=ignore,
            reduction=reduction,
            label_smoothing=ls,
        ),
        _t(
            lambda a: TF.cross_entropy(
                a,
                torch.tensor(y),
                weight=None if w is None else torch.tensor(w),
                ignore_index=ignore,
                reduction=reduction,
                label_smoothing=ls,
            )
        ),
        x,
    )


@given(seed=seeds, data=st.data())
def test_cross_entropy_spatial_and_prob_targets(seed, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 2, 2))
    y = rng.integers(0, 3, (2, 2, 2))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    check_op(
        lambda a: F.cross_entropy(a, dg.tensor(y), reduction=reduction),
        _t(lambda a: TF.cross_entropy(a, torch.tensor(y), reduction=reduction)),
        x,
    )
    x2 = rng.standard_normal((4, 3))
    p = rng.dirichlet(np.ones(3), 4)
    ls = data.draw(st.sampled_from([0.0, 0.2]))
    check_op(
        lambda a: F.cross_entropy(a, dg.tensor(p), reduction=reduction, label_smoothing=ls),
        _t(lambda a: TF.cross_entropy(a, torch.tensor(p), reduction=reduction, label_smoothing=ls)),
        x2,
    )


def test_cross_entropy_is_fused_log_softmax_nll():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    fused = check_op(lambda a: F.cross_entropy(a, dg.tensor(y)), None, x)
    composed = check_op(lambda a: F.nll_loss(F.log_softmax(a, dim=1), dg.tensor(y)), None, x)
    np.testing.assert_allclose(fused[0], composed[0], rtol=1e-12)
    np.testing.assert_allclose(fused[1][0], composed[1][0], rtol=1e-10)


@given(seed=seeds, data=st.data())
def test_nll_loss(seed, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    w = rng.uniform(0.5, 2, 3)
    check_op(
        lambda a: F.nll_loss(a, dg.tensor(y), weight=dg.tensor(w), reduction=reduction),
        _t(lambda a: TF.nll_loss(a, torch.tensor(y), weight=torch.tensor(w), reduction=reduction)),
        x,
    )


@given(seed=seeds, data=st.data())
def test_binary_cross_entropies(seed, data):
    rng = np.random.default_rng(seed)
    shape = data.draw(st.sampled_from([(5,), (3, 2)]))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    t = (rng.random(shape) > 0.5).astype(np.float64)
    z = rng.standard_normal(shape) * 4
    pw = rng.uniform(0.5, 3, shape[-1])
    w = rng.uniform(0.5, 2, shape)
    check_op(
        lambda a: F.binary_cross_entropy_with_logits(a, dg.tensor(t), reduction=reduction),
        _t(lambda a: TF.binary_cross_entropy_with_logits(a, torch.tensor(t), reduction=reduction)),
        z,
    )
    check_op(
        lambda a: F.binary_cross_entropy_with_logits(
            a, dg.tensor(t), weight=dg.tensor(w), pos_weight=dg.tensor(pw), reduction=reduction
        ),
        _t(
            lambda a: TF.binary_cross_entropy_with_logits(
                a, torch.tensor(t), weight=torch.tensor(w), pos_weight=torch.tensor(pw), reduction=reduction
            )
        ),
        z,
    )
    p = rng.uniform(0.05, 0.95, shape)
    check_op(
        lambda a: F.binary_cross_entropy(a, dg.tensor(t), reduction=reduction),
        _t(lambda a: TF.binary_cross_entropy(a, torch.tensor(t), reduction=reduction)),
        p,
    )


def test_bce_with_logits_stable_for_large_logits():
    z = dg.tensor([1000.0, -1000.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(z, dg.tensor([0.0, 1.0]))
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1000.0)
    loss.backward()
    assert np.all(np.isfinite(z.grad))


@given(seed=seeds, data=st.data())
def test_mse_loss(seed, data):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    check_op(
        lambda x, y: F.mse_loss(x, y, reduction=reduction),
        _t(lambda x, y: TF.mse_loss(x, y, reduction=reduction)),
        a,
        b,
    )


def test_dropout_inverted_scaling_and_eval():
    dg.manual_seed(0)
    x = dg.ones(1000, 100, requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.7, rtol=1e-6)
    assert F.dropout(x, p=0.3, training=False) is x


def test_softmax_dim_and_one_hot():
    x = dg.randn(2, 3)
    np.testing.assert_allclose(F.softmax(x, dim=0).data.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_array_equal(F.one_hot(dg.tensor([0, 2]), 3).data, [[1, 0, 0], [0, 0, 1]])
