"""detect_anomaly names the op, the module path, input shapes and ranges of the first non-finite value."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import autograd, nn
from deepgrad.check import AnomalyError
from deepgrad.nn.module import Module


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc1 = nn.Linear(n, n)
        self.bn2 = nn.BatchNorm1d(n)

    def forward(self, x):
        return dg.relu(self.bn2(self.fc1(x)))


class Net(nn.Module):
    def __init__(self, n=6):
        super().__init__()
        self.stem = nn.Linear(3, n)
        self.blocks = nn.ModuleList([Block(n), Block(n)])
        self.head = nn.Linear(n, 2)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class SqrtLayer(nn.Module):
    def forward(self, x):
        return dg.sqrt(x)


def test_off_by_default_and_restored():
    call = Module.__dict__["__call__"]
    assert autograd._anomaly is None
    with dg.detect_anomaly():
        assert autograd._anomaly is not None and Module.__dict__["__call__"] is not call
        with dg.detect_anomaly():  # nesting
            pass
        assert autograd._anomaly is not None
    assert autograd._anomaly is None and Module.__dict__["__call__"] is call


def test_forward_names_op_module_shapes_and_ranges():
    dg.manual_seed(0)
    m = Net().eval()
    m.blocks[1].bn2.running_var[2] = -1.0  # planted: a negative variance -> sqrt gives NaN
    x = dg.randn(5, 3)
    with pytest.raises(AnomalyError) as e, np.errstate(invalid="ignore"):
        with dg.detect_anomaly():
            m(x)
    err = e.value
    assert err.phase == "forward" and err.module == "blocks.1.bn2" and err.module_type == "BatchNorm1d"
    msg = str(err)
    assert "blocks.1.bn2 (BatchNorm1d)" in msg and err.op in msg and "(5, 6)" in msg and "range [" in msg
    assert (5, 6) in err.input_shapes
    assert autograd._anomaly is None  # the mode is off again after the error


def test_forward_nan_in_input_is_reported_at_the_first_op():
    m = Net().eval()
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    x[1, 2] = np.nan
    with pytest.raises(AnomalyError) as e:
        with dg.detect_anomaly():
            m(dg.tensor(x))
    assert e.value.module == "stem" and "1 NaN" in str(e.value)


def test_backward_names_op_and_module():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), SqrtLayer(), nn.Linear(4, 1))
    with dg.no_grad():
        m[0].bias.data[...] = -100.0  # every ReLU output is 0: sqrt is finite forward, its gradient is inf
    x = dg.randn(8, 3)
    with pytest.raises(AnomalyError) as e, np.errstate(divide="ignore"):
        with dg.detect_anomaly():
            m(x).sum().backward()
    err = e.value
    assert err.phase == "backward" and err.op == "Sqrt" and err.module == "2" and err.module_type == "SqrtLayer"
    assert "range [0, 0]" in str(err) and "arriving from above" in str(err)


def test_custom_function_backward():
    class BadGrad(dg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g / 0.0

    x = dg.randn(3, requires_grad=True)
    with pytest.raises(AnomalyError) as e, np.errstate(all="ignore"):
        with dg.detect_anomaly():
            BadGrad.apply(x).sum().backward()
    assert e.value.op == "BadGrad" and e.value.module is None and "outside any module" in str(e.value)


def test_finite_run_is_untouched():
    dg.manual_seed(0)
    m = Net()
    x = dg.randn(5, 3)
    out_plain = m(x).data.copy()
    with dg.detect_anomaly():
        out = m(x)
        out.sum().backward()
    np.testing.assert_array_equal(out.data, out_plain)


def test_trainer_detect_anomaly():
    from deepgrad import optim
    from deepgrad.train import Trainer

    dg.manual_seed(0)
    m = Net()
    X = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    y = np.zeros(64, np.int64)
    opt = optim.SGD(m.parameters(), lr=1e30)  # diverges: weights blow up within a few steps
    tr = Trainer(m, opt, "cross_entropy", progress=False, batch_size=16, detect_anomaly=True)
    with pytest.raises(AnomalyError) as e, np.errstate(all="ignore"):
        tr.fit((X, y), epochs=5)
    assert e.value.op and autograd._anomaly is None
    assert "detect_anomaly: the" in str(e.value)
