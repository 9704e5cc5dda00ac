"""The fused ``relu(batch_norm(x) + residual)`` op (``F.batch_norm_relu`` and the explicit
``nn.BatchNormReLU2d`` layer): equal to the composed ops in values, gradients and running
statistics (float64), for every memory layout of the input; finite differences; torch.
And ``Sequential`` never fuses anything behind the user's back."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad import nn
from deepgrad.check import gradcheck
from deepgrad.nn import functional as F


def _layout(a: np.ndarray, kind: str) -> np.ndarray:
    """The same values in another memory order: 'nchw' (contiguous), 'batch_last' (as the
    convolutions return them: (C, ..., N) memory), 'reversed' (every axis reversed in memory)."""
    if kind == "nchw" or a.ndim == 2 and kind == "batch_last":
        return np.ascontiguousarray(a)
    if kind == "batch_last":
        perm = (1,) + tuple(range(2, a.ndim)) + (0,)
        return np.ascontiguousarray(a.transpose(perm)).transpose(np.argsort(perm))
    rev = tuple(range(a.ndim))[::-1]
    return np.ascontiguousarray(a.transpose(rev)).transpose(rev)


shapes = st.sampled_from([(6, 3), (4, 3, 5), (3, 2, 4, 5), (2, 4, 3, 3), (5, 1, 2, 2)])


@given(shape=shapes, kind=st.sampled_from(["nchw", "batch_last", "reversed"]), training=st.booleans(),
       residual=st.booleans(), affine=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_equals_composed(shape, kind, training, residual, affine, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x0, r0, g0 = (rng.standard_normal(shape) for _ in range(3))
    w0, b0 = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    rm0, rv0 = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    outs = []
    for fused in (True, False):
        x = dg.tensor(_layout(x0, kind), requires_grad=True)
        r = dg.tensor(_layout(r0, kind), requires_grad=True) if residual else None
        w = dg.tensor(w0.copy(), requires_grad=True) if affine else None
        b = dg.tensor(b0.copy(), requires_grad=True) if affine else None
        rm, rv = rm0.copy(), rv0.copy()
        if fused:
            y = F.batch_norm_relu(x, rm, rv, w, b, training=training, residual=r)
        else:
            h = F.batch_norm(x, rm, rv, w, b, training=training)
            y = F.relu(h + r if residual else h)
        (y * dg.tensor(g0)).sum().backward()
        grads = [x.grad] + ([r.grad] if residual else []) + ([w.grad, b.grad] if affine else [])
        outs.append((y.numpy(), grads, rm, rv))
    (yf, gf, rmf, rvf), (yc, gc, rmc, rvc) = outs
    np.testing.assert_allclose(yf, yc, rtol=1e-12, atol=1e-12)
    for a, b in zip(gf, gc):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(rmf, rmc, rtol=1e-12)
    np.testing.assert_allclose(rvf, rvc, rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", ["nchw", "batch_last"])
def test_fused_gradcheck(training, kind):
    rng = np.random.default_rng(4)
    # keep pre-activations away from 0 so the ReLU's kink does not meet the finite differences
    x = dg.tensor(_layout(rng.standard_normal((4, 3, 3, 2)), kind), requires_grad=True)
    r = dg.tensor(_layout(rng.standard_normal((4, 3, 3, 2)), kind), requires_grad=True)
    w = dg.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = dg.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def fn(x, r, w, b):
        return F.batch_norm_relu(x, rm.copy(), rv.copy(), w, b, training=training, residual=r)

    report = gradcheck(fn, x, r, w, b)
    assert report.passed, str(report)


def test_matches_torch_resnet_tail():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x0, r0 = rng.standard_normal((8, 4, 5, 5)), rng.standard_normal((8, 4, 5, 5))
    bn = nn.BatchNormReLU2d(4).double()
    tbn = torch.nn.BatchNorm2d(4).double()
    assert set(bn.state_dict()) == set(tbn.state_dict())
    x = dg.tensor(_layout(x0, "batch_last"), requires_grad=True)
    r = dg.tensor(r0, requires_grad=True)
    y = bn(x, residual=r)
    y.sum().backward()
    tx, tr = torch.tensor(x0, requires_grad=True), torch.tensor(r0, requires_grad=True)
    ty = torch.relu(tbn(tx) + tr)
    ty.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(r.grad, tr.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-10)


def test_output_keeps_the_input_memory_layout():
    x = dg.tensor(_layout(np.random.default_rng(1).standard_normal((4, 3, 5, 6)).astype(np.float32), "batch_last"))
    y = nn.BatchNormReLU2d(3)(x)
    assert y.data.transpose(1, 2, 3, 0).flags.c_contiguous  # still batch-innermost: the next conv copies nothing
    assert y.dtype == np.float32 and (y.numpy() >= 0).all()


def test_sequential_runs_each_layer_itself_no_fusion():
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((16, 5))
    dg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double()
    called = []
    for m in seq:
        m.register_forward_hook(lambda mod, args, out: called.append(type(mod).__name__))
    y = seq(dg.tensor(x0))
    assert called == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    lin, bn, _, lin2 = list(seq)
    assert int(bn.num_batches_tracked) == 1
    bn2 = nn.BatchNorm1d(4).double()
    ref = lin2(F.relu(bn2(lin(dg.tensor(x0)))))
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, bn2.running_mean, rtol=1e-12)


def test_batchnorm_subclass_forward_runs_inside_sequential():
    class ShiftedBN(nn.BatchNorm2d):
        def forward(self, x):
            return super().forward(x) + 100.0

    seq = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), ShiftedBN(3), nn.ReLU())
    y = seq(dg.randn(2, 1, 5, 5))
    assert (y.numpy() > 90).all()  # the subclass's own forward ran (a fused BN->ReLU would skip it)


def test_model_modules_do_not_import_batchnorm():
    import ast
    import pathlib

    root = pathlib.Path(dg.__file__).parent / "nn"
    for name in ("module.py", "container.py"):
        tree = ast.parse((root / name).read_text())
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m and "batchnorm" in m for m in mods), name


def test_residual_shape_mismatch_names_the_layer():
    bn = nn.BatchNormReLU2d(3)
    with pytest.raises(ValueError, match=r"BatchNormReLU2d\(3\): residual of shape \(2, 3, 4, 4\) does not match the input's \(2, 3, 5, 5\)"):
        bn(dg.randn(2, 3, 5, 5), residual=dg.randn(2, 3, 4, 4))



def test_summary_has_a_row_with_a_shape_for_every_layer():
    dg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2)).double()
    table = seq.summary((2, 4))
    shapes = [ln.split(None, 2)[2].rsplit(None, 1)[0].strip() for ln in table.splitlines()[3:7]]
    assert shapes == ["(2, 3)", "(2, 3)", "(2, 3)", "(2, 2)"]  # BatchNorm and ReLU each have a row with a shape
