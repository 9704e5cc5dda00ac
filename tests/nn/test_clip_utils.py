"""Gradient clipping against PyTorch; parameters_to_vector."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


def _params_with_grads(scale, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    data = [rng.standard_normal(s) for s in shapes]
    grads = [rng.standard_normal(s) * scale for s in shapes]
    ps = [nn.Parameter(d) for d in data]
    for p, g in zip(ps, grads):
        p.grad = g.copy()
    return ps, data, grads


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    torch = pytest.importorskip("torch")
    ps, data, grads = _params_with_grads(scale)
    ps.append(nn.Parameter(np.ones(2)))  # grad None: skipped
    tps = [torch.nn.Parameter(torch.tensor(d)) for d in data]
    for p, g in zip(tps, grads):
        p.grad = torch.tensor(g)
    total = clip_grad_norm_(ps, max_norm=1.5, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm=1.5, norm_type=norm_type)
    assert float(total) == pytest.approx(float(ttotal), rel=1e-12)
    assert f"{total:.3f}"  # a number that formats
    for p, t in zip(ps, tps):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    assert ps[-1].grad is None


def test_clip_grad_norm_nonfinite():
    ps, _, _ = _params_with_grads(1.0)
    ps[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    ps, data, grads = _params_with_grads(3.0)
    tps = [torch.nn.Parameter(torch.tensor(d)) for d in data]
    for p, g in zip(tps, grads):
        p.grad = torch.tensor(g)
    clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, t in zip(ps, tps):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    assert max(np.abs(p.grad).max() for p in ps) == pytest.approx(0.7)


def test_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    vector_to_parameters(dg.zeros(vec.shape[0]), model.parameters())
    assert all(not p.data.any() for p in model.parameters())
    vector_to_parameters(vec, model.parameters())
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).data, vec.data)
    with pytest.raises(ValueError, match="expected a vector of 26"):
        vector_to_parameters(np.zeros(5), model.parameters())
