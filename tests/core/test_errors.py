import numpy as np
import pytest

import deepgrad as dg


def test_matmul_shape_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        dg.randn(2, 3) @ dg.randn(4, 5)
    with pytest.raises(ValueError, match="matmul"):
        dg.matmul(dg.tensor(1.0), dg.randn(3))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_broadcast_error_names_op_and_shapes(op):
    a, b = dg.rand(2, 3) + 0.5, dg.rand(4, 5) + 0.5
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4, 5\)"):
        getattr(dg, op)(a, b)


def test_where_broadcast_error():
    with pytest.raises(ValueError, match="where"):
        dg.where(np.ones((2, 3), bool), dg.randn(4), dg.randn(2, 3))


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var", "std", "logsumexp"])
def test_unknown_axis_raises(op):
    with pytest.raises(ValueError, match=rf"{op}: axis 2 is out of range"):
        getattr(dg, op)(dg.randn(2, 3), axis=2)


def test_unknown_axis_in_shape_ops():
    with pytest.raises(ValueError, match="softmax"):
        dg.softmax(dg.randn(2, 3), axis=5)
    with pytest.raises(ValueError, match="squeeze"):
        dg.squeeze(dg.randn(2, 3), axis=0)
    with pytest.raises(ValueError, match="reshape"):
        dg.randn(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="transpose"):
        dg.randn(2, 3).transpose(0, 0)
    with pytest.raises(ValueError, match="concatenate"):
        dg.concatenate([dg.randn(2, 3), dg.randn(3, 2)], axis=0)


def test_loss_errors():
    F = dg.nn.functional
    with pytest.raises(IndexError, match="out of range"):
        F.cross_entropy(dg.randn(2, 3), dg.tensor([0, 3]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(dg.randn(2, 3), dg.tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="target"):
        F.cross_entropy(dg.randn(2, 3), dg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(dg.randn(3) + 5, dg.zeros(3))


# ----- issue 15, item 5: raw NumPy errors become clear ones (type, and a message naming the cause) -----
RAGGED = [
    ([[1, 2], [3]], r"data\[1\] has shape \(1,\) but data\[0\] has shape \(2,\)"),
    ([[1.0, 2.0], [3.0, 4.0, 5.0]], r"data\[1\] has shape \(3,\)"),
    ([[[1], [2]], [[3], [4, 5]]], r"data\[1\]\[1\] has shape \(2,\) but data\[1\]\[0\] has shape \(1,\)"),
    ([[1, 2], 3], r"data\[1\] has shape \(\) but data\[0\] has shape \(2,\)"),
    (([1, 2], (3,)), r"data\[1\] has shape \(1,\)"),
]


@pytest.mark.parametrize("data,where", RAGGED)
def test_ragged_nested_lists_name_the_row(data, where):
    with pytest.raises(ValueError, match=r"tensor: ragged nested sequence") as e:
        dg.tensor(data)
    assert e.match(where)


@pytest.mark.parametrize(
    "data,cause", [(["a", "b"], "strings"), ([1, None], "not numbers"), ([[1, 2], ["x", 3]], "strings")]
)
def test_non_numeric_data_is_a_type_error(data, cause):
    with pytest.raises(TypeError, match=cause):
        dg.tensor(data)


def test_even_nesting_still_works():
    assert dg.tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert dg.tensor([[], []]).shape == (2, 0)
    assert dg.tensor([dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0])]).shape == (2, 2)


CE_TARGETS = [
    # (logits shape, target, error type, pattern naming the cause)
    (
        (4, 3),
        np.zeros((4, 1), np.int64),
        ValueError,
        r"class indices .* must have shape \(4,\) .* got shape \(4, 1\) \(rank 2, expected 1\).*squeeze",
    ),
    (
        (4, 3),
        np.zeros((2, 2), np.int64),
        ValueError,
        r"must have shape \(4,\) for input of shape \(4, 3\), got shape \(2, 2\)",
    ),
    ((4, 3), np.zeros((), np.int64), ValueError, r"must have shape \(4,\).*rank 0"),
    ((4, 3, 5), np.zeros((4,), np.int64), ValueError, r"must have shape \(4, 5\) for input of shape \(4, 3, 5\)"),
    ((4, 3), np.eye(3, dtype=np.int64)[[0, 1, 2, 0]], ValueError, r"one-hot target must be float"),
    (
        (4, 3),
        np.zeros(4, np.float32),
        ValueError,
        r"float target .* class probabilities .* shape \(4, 3\).*integer target",
    ),
    (
        (4, 3),
        np.zeros((4, 2), np.float32),
        ValueError,
        r"class probabilities and must have the input's shape \(4, 3\), got shape \(4, 2\)",
    ),
    (
        (4, 3),
        np.zeros(4, bool),
        TypeError,
        r"target must be integer class indices or float class probabilities, got dtype bool",
    ),
    ((4, 3), np.array(["a", "b", "c", "d"]), TypeError, r"got dtype <U1"),
]


@pytest.mark.parametrize("shape,target,err,pattern", CE_TARGETS)
def test_cross_entropy_target_rank_and_dtype(shape, target, err, pattern):
    with pytest.raises(err, match=pattern) as e:
        dg.nn.functional.cross_entropy(dg.randn(*shape), target)
    assert str(e.value).startswith("cross_entropy: ")


def test_nll_loss_target_checks():
    F = dg.nn.functional
    with pytest.raises(TypeError, match="nll_loss: target must be integer class indices, got dtype float32"):
        F.nll_loss(dg.randn(4, 3), dg.zeros(4))
    with pytest.raises(ValueError, match=r"nll_loss: .* needs a target of shape \(4,\), got \(4, 1\)"):
        F.nll_loss(dg.randn(4, 3), np.zeros((4, 1), np.int64))


def test_cross_entropy_accepts_the_right_targets():
    F = dg.nn.functional
    z = dg.randn(4, 3)
    idx = dg.tensor([0, 2, 1, 0])
    a = F.cross_entropy(z, idx)
    b = F.cross_entropy(z, np.eye(3, dtype=np.float32)[[0, 2, 1, 0]])
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-6)
    assert F.cross_entropy(dg.randn(4, 3, 5), np.zeros((4, 5), np.int64)).shape == ()
