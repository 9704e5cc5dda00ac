"""check_model_gradients names exactly the planted wrong parameters and modules."""
import numpy as np

import deepgrad as dg
from deepgrad import nn
from deepgrad.check import check_model_gradients


class ScaleOp(dg.Function):
    """y = x * w (w broadcast over the batch); ``wrong`` plants a backward bug in dw."""

    wrong = False

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        dw = (g * x).sum(axis=0)
        if ScaleOp.wrong:
            dw = dw * 0.5  # planted: half the weight gradient
        return g * w, dw


class Scale(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(dg.randn(n).data)

    def forward(self, x):
        return ScaleOp.apply(x, self.w)


class WrongBiasLinear(nn.Linear):
    """A 'wrong layer': its bias enters the forward as b, but it is trained as if it were 2b."""

    def forward(self, x):
        return BadBias.apply(x @ self.weight.T, self.bias)


class BadBias(dg.Function):
    @staticmethod
    def forward(ctx, z, b):
        return z + b

    @staticmethod
    def backward(ctx, g):
        return g, 2 * g.sum(axis=0)  # planted: factor 2 in the bias gradient


class SoftsignBadInput(dg.Function):
    """x / (1 + |x|) with a wrong input gradient (1 / (1 + |x|) instead of 1 / (1 + |x|)^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x / (1 + np.abs(x))

    @staticmethod
    def backward(ctx, g):
        return g / (1 + np.abs(ctx.x))


class Softsign(nn.Module):
    def forward(self, x):
        return SoftsignBadInput.apply(x)


def _data(n=6, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, k, n)


def test_correct_model_passes_and_model_untouched():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.BatchNorm1d(7), nn.Linear(7, 3))
    x, y = _data()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    rep = check_model_gradients(m, x, y)
    assert rep.passed and rep.failed == [] and rep.culprits == []
    assert rep.max_relative_difference < 1e-6
    for k, v in m.state_dict().items():
        assert v.dtype == before[k].dtype and np.array_equal(v, before[k])
    assert m[0].weight.data.dtype == np.float32


def test_training_mode_with_dropout_and_batchnorm():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 3))
    x, y = _data()
    rep = check_model_gradients(m, x, y, training=True)
    assert rep.passed, str(rep)


def test_planted_custom_op_and_wrong_layer_are_named_exactly():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), Scale(6), WrongBiasLinear(6, 4), nn.Tanh(), nn.Linear(4, 3))
    x, y = _data()
    ScaleOp.wrong = True
    try:
        rep = check_model_gradients(m, x, y)
    finally:
        ScaleOp.wrong = False
    assert sorted(rep.failed) == ["2.w", "3.bias"], str(rep)
    assert sorted(rep.culprits) == ["2", "3"]
    assert rep["2.w"].relative_difference > 1e-2 and rep["0.weight"].relative_difference < 1e-6
    text = str(rep)
    assert "FAILED" in text and "2.w" in text and "3.bias" in text
    ScaleOp.wrong = False
    assert check_model_gradients(m.__class__(*[layer for layer in m][:3]), x, None, loss=lambda o: (o * o).sum()).passed


def test_wrong_input_gradient_is_located_in_its_module():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 6), Softsign(), nn.Linear(6, 3))
    x, y = _data()
    rep = check_model_gradients(m, x, y)
    # the wrong input gradient corrupts the parameters before it, but only the Softsign's own
    # backward is wrong: that is the culprit
    assert sorted(rep.failed) == ["0.bias", "0.weight"]
    assert rep.culprits == ["1"]


def test_mse_and_custom_loss():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 2))
    x, _ = _data()
    rep = check_model_gradients(m, x, np.zeros((6, 2), np.float32), loss="mse")
    assert rep.passed and {r.name for r in rep.inputs} == {"0.weight", "0.bias"}
