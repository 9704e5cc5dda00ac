"""nn.Embedding / F.embedding: gather forward, scatter-add backward, padding_idx, max_norm,
from_pretrained; finite differences and PyTorch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
from deepgrad import nn
from deepgrad.check import gradcheck
from deepgrad.nn import functional as F
from deepgrad.ops.embedding import scatter_add_rows

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


@given(
    idx_shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
    num=st.integers(1, 6),
    dim=st.integers(1, 4),
    pad=st.one_of(st.none(), st.integers(-1, 0)),
    seed=st.integers(0, 2**31 - 1),
)
def test_embedding_gradcheck(idx_shape, num, dim, pad, seed):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num, idx_shape)  # small tables: repeated indices are the rule
    w = dg.tensor(rng.standard_normal((num, dim)), dtype=np.float64, requires_grad=True)
    # padding_idx deliberately departs from the true derivative, so finite differences
    # check the plain lookup and the exact sum below checks the padding rule
    report = gradcheck(lambda w: F.embedding(idx, w), w)
    assert report.passed, str(report)
    out = F.embedding(idx, w, padding_idx=pad)
    assert out.shape == tuple(idx_shape) + (dim,)
    np.testing.assert_array_equal(out.data, w.data[idx])
    out.sum().backward()
    expected = np.zeros((num, dim))
    np.add.at(expected, idx, 1.0)
    if pad is not None:
        expected[pad % num] = 0
    np.testing.assert_allclose(w.grad, expected)


def test_scatter_add_rows_matches_add_at():
    rng = np.random.default_rng(1)
    for V, K, D in [(1, 5, 3), (7, 100, 4), (50, 10, 2), (5, 0, 3)]:
        idx = rng.integers(0, V, K)
        g = rng.standard_normal((K, D)).astype(np.float32)
        ref = np.zeros((V, D), np.float32)
        np.add.at(ref, idx, g)
        got = scatter_add_rows(idx, g, V)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_module_init_and_padding_row():
    dg.manual_seed(0)
    emb = nn.Embedding(10, 4, padding_idx=3)
    assert emb.weight.shape == (10, 4) and emb.weight.dtype == np.float32
    np.testing.assert_array_equal(emb.weight.data[3], 0)
    assert 0.5 < emb.weight.data.std() < 1.5  # N(0, 1) like PyTorch
    x = np.array([[3, 1, 3], [2, 3, 9]])
    out = emb(dg.tensor(x))
    assert out.shape == (2, 3, 4) and out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[3], 0)
    np.testing.assert_array_equal(emb.weight.grad[1], 1)
    np.testing.assert_array_equal(emb.weight.grad[0], 0)
    assert emb.weight.grad.dtype == np.float32


def test_bad_indices_are_named():
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"Embedding\(5, 2\).*index 5"):
        emb(np.array([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="integer indices"):
        emb(dg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


def test_from_pretrained_freeze():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(w)
    assert not frozen.weight.requires_grad
    assert list(frozen.parameters()) == [frozen.weight]
    out = frozen(np.array([2, 0]))
    np.testing.assert_array_equal(out.data, w[[2, 0]])
    assert not out.requires_grad
    w[0, 0] = 100  # a copy was taken
    assert frozen.weight.data[0, 0] == 0
    trainable = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    trainable(np.array([1, 1, 2])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad[1], 0)
    np.testing.assert_array_equal(trainable.weight.grad[2], 1)
    with pytest.raises(ValueError, match="2-D"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_from_pretrained_model_file_roundtrip(tmp_path):
    w = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    m = nn.Sequential(nn.Embedding.from_pretrained(w, padding_idx=0), nn.Linear(3, 2))
    dg.save_model(m, tmp_path / "m.safetensors")
    m2 = dg.load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(m2[0].weight.data, w)
    assert not m2[0].weight.requires_grad and m2[0].padding_idx == 0
    idx = np.array([[1, 2], [0, 5]])
    np.testing.assert_array_equal(m2(idx).data, m(idx).data)


@needs_torch
def test_matches_torch_forward_and_backward():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((7, 5))
    idx = rng.integers(0, 7, (3, 4))
    up = rng.standard_normal((3, 4, 5))
    for pad in (None, 2):
        wd = dg.tensor(w, dtype=np.float64, requires_grad=True)
        out = F.embedding(dg.tensor(idx), wd, padding_idx=pad)
        (out * dg.tensor(up, dtype=np.float64)).sum().backward()
        wt = torch.tensor(w, requires_grad=True)
        ot = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=pad)
        (ot * torch.tensor(up)).sum().backward()
        np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(wd.grad, wt.grad.numpy(), rtol=1e-12, atol=1e-14)


@needs_torch
def test_max_norm_matches_torch():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 4)) * 2
    idx = np.array([[1, 3, 3], [7, 0, 1]])
    for norm_type in (2.0, 1.0):
        emb = nn.Embedding.from_pretrained(w.copy(), freeze=False, max_norm=1.5, norm_type=norm_type)
        emb.weight.data = emb.weight.data.astype(np.float64)
        temb = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, max_norm=1.5, norm_type=norm_type)
        out = emb(idx)
        tout = temb(torch.tensor(idx))
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(emb.weight.data, temb.weight.detach().numpy(), rtol=1e-6)
        # rows not looked up keep their norm
        assert np.linalg.norm(emb.weight.data[2]) == pytest.approx(np.linalg.norm(w[2]))


@needs_torch
def test_state_dict_moves_both_ways():
    t = torch.nn.Embedding(9, 3, padding_idx=4)
    d = nn.Embedding(9, 3, padding_idx=4)
    d.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    idx = np.array([4, 8, 0])
    np.testing.assert_allclose(d(idx).data, t(torch.tensor(idx)).detach().numpy())
    t2 = torch.nn.Embedding(9, 3, padding_idx=4)
    t2.load_state_dict({k: torch.tensor(v) for k, v in d.state_dict().items()})
    np.testing.assert_allclose(t2.weight.detach().numpy(), d.weight.data)
