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
