"""F.scaled_dot_product_attention: the fused op against PyTorch (float64, values and
gradients), against the same computation composed from generic ops (with dropout, from
the same generator), and against finite differences (hypothesis over shapes and masks)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad import ops
from deepgrad.check import gradcheck
from deepgrad.nn import functional as F

try:
    import torch
except ImportError:  # torch comparisons skip; the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def composed(q, k, v, mask=None, dropout_p=0.0, scale=None, generator=None):
    """The same attention from generic ops: matmul, add, softmax, dropout, matmul."""
    sc = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = ops.matmul(q, ops.swapaxes(k, -1, -2)) * sc
    if mask is not None:
        s = s + mask
    p = ops.softmax(s, -1)
    if dropout_p:
        p = ops.dropout(p, dropout_p, True, generator)
    return ops.matmul(p, v)


def _arrays(shape_q, shape_k, ev, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(shape_q)
    k = rng.standard_normal(shape_k)
    v = rng.standard_normal(shape_k[:-1] + (ev,))
    return q, k, v


def _dg_run(q, k, v, mask=None, **kw):
    ts = [dg.tensor(a, requires_grad=True) for a in (q, k, v)]
    m = mask
    if isinstance(mask, np.ndarray) and mask.dtype != bool:
        m = dg.tensor(mask, requires_grad=True)
    out = F.scaled_dot_product_attention(*ts, attn_mask=m, **kw)
    g = np.random.default_rng(9).standard_normal(out.shape)
    (out * dg.tensor(g)).sum().backward()
    grads = [t.grad for t in ts] + ([m.grad] if isinstance(m, dg.Tensor) else [])
    return out.data, grads, g


def _torch_run(q, k, v, g, mask=None, **kw):
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    m = None
    if mask is not None:
        m = torch.tensor(mask, requires_grad=mask.dtype != bool)
    out = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=m, **kw)
    (out * torch.tensor(g)).sum().backward()
    grads = [t.grad.numpy() for t in ts] + ([m.grad.numpy()] if m is not None and m.requires_grad else [])
    return out.detach().numpy(), grads


CASES = [
    dict(shape_q=(2, 3, 5, 4), shape_k=(2, 3, 7, 4), ev=6, mask=None),
    dict(shape_q=(5, 4), shape_k=(6, 4), ev=3, mask=None),
    dict(shape_q=(2, 5, 4), shape_k=(2, 6, 4), ev=3, mask="bool"),
    dict(shape_q=(2, 2, 5, 4), shape_k=(2, 2, 6, 4), ev=3, mask="float"),
    dict(shape_q=(2, 2, 5, 4), shape_k=(2, 2, 5, 4), ev=3, mask="causal"),
    dict(shape_q=(2, 2, 4, 4), shape_k=(2, 2, 6, 4), ev=3, mask="causal"),
    dict(shape_q=(3, 5, 4), shape_k=(3, 6, 4), ev=3, mask="bool_dead_row"),
]


def _mask(kind, L, S, rng):
    if kind == "bool":
        m = rng.random((L, S)) > 0.3
        m[:, 0] = True
        return m
    if kind == "bool_dead_row":
        m = rng.random((L, S)) > 0.3
        m[:, 0] = True
        m[1] = False  # query 1 may attend nowhere: zeros out, as PyTorch's
        return m
    if kind == "float":
        return rng.standard_normal((L, S))
    return None


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=[f"{c['shape_q']}-{c['mask']}" for c in CASES])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_matches_torch(case, scale):
    q, k, v = _arrays(case["shape_q"], case["shape_k"], case["ev"])
    L, S = q.shape[-2], k.shape[-2]
    mask = _mask(case["mask"], L, S, np.random.default_rng(1))
    causal = case["mask"] == "causal"
    out, grads, g = _dg_run(q, k, v, mask, is_causal=causal, scale=scale)
    t_out, t_grads = _torch_run(q, k, v, g, mask, is_causal=causal, scale=scale)
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    assert len(grads) == len(t_grads)
    for i, (a, b) in enumerate(zip(grads, t_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"gradient {i}")


@pytest.mark.parametrize("p", [0.0, 0.4])
def test_fused_equals_composed(p):
    """Same values and gradients as the composed graph, dropout masks included."""
    q, k, v = _arrays((2, 3, 5, 4), (2, 3, 6, 4), 3)
    mask = np.random.default_rng(2).standard_normal((5, 6))
    res = []
    for fn in (lambda *a: F.scaled_dot_product_attention(*a, attn_mask=mask, dropout_p=p,
                                                         generator=np.random.default_rng(7)),
               lambda *a: composed(*a, mask=mask, dropout_p=p, generator=np.random.default_rng(7))):
        ts = [dg.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = fn(*ts)
        (out * dg.tensor(np.random.default_rng(3).standard_normal(out.shape))).sum().backward()
        res.append([out.data] + [t.grad for t in ts])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_dropout_gradcheck_and_rate():
    q, k, v = _arrays((2, 4, 3), (2, 5, 3), 2)
    ts = [dg.tensor(a, requires_grad=True) for a in (q, k, v)]
    rep = gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, dropout_p=0.3,
                                                                   generator=np.random.default_rng(4)), *ts)
    assert rep.passed, str(rep)
    # dropout really drops: with p=0.5 outputs differ from p=0 and, averaged over many masks, agree
    q, k, v = _arrays((64, 4), (8, 4), 2)
    base = F.scaled_dot_product_attention(q, k, v).data
    rng = np.random.default_rng(0)
    runs = np.stack([F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=rng).data for _ in range(400)])
    assert not np.allclose(runs[0], base)
    err = np.abs(runs.mean(axis=0) - base)
    assert err.mean() < 0.05 and err.max() < 0.5, (err.mean(), err.max())


@settings(max_examples=25, deadline=None)
@given(
    batch=st.lists(st.integers(1, 2), min_size=0, max_size=2),
    L=st.integers(1, 4), S=st.integers(1, 4), E=st.integers(1, 3), Ev=st.integers(1, 3),
    mask_kind=st.sampled_from([None, "bool", "float", "causal"]),
    broadcast_kv=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_property(batch, L, S, E, Ev, mask_kind, broadcast_kv, seed):
    rng = np.random.default_rng(seed)
    b = tuple(batch)
    kb = b[1:] if (broadcast_kv and b) else b  # keys/values broadcast over the first batch dim
    q = rng.standard_normal(b + (L, E))
    k = rng.standard_normal(kb + (S, E))
    v = rng.standard_normal(kb + (S, Ev))
    ins = [dg.tensor(a, requires_grad=True) for a in (q, k, v)]
    kw = {}
    if mask_kind == "bool":
        m = rng.random((L, S)) > 0.4
        m[:, 0] = True
        kw["attn_mask"] = m
    elif mask_kind == "float":
        ins.append(dg.tensor(rng.standard_normal((L, S)), requires_grad=True))
    elif mask_kind == "causal":
        kw["is_causal"] = True
    if len(ins) == 4:
        fn = lambda a, b_, c, m: F.scaled_dot_product_attention(a, b_, c, attn_mask=m)  # noqa: E731
    else:
        fn = lambda a, b_, c: F.scaled_dot_product_attention(a, b_, c, **kw)  # noqa: E731
    rep = gradcheck(fn, *ins)
    assert rep.passed, str(rep)
    # and the fused op equals the composed one
    mask = None
    if mask_kind == "bool":
        mask = np.where(kw["attn_mask"], 0.0, -np.inf)
    elif mask_kind == "float":
        mask = ins[3].data
    elif mask_kind == "causal":
        mask = np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf)
    ref = composed(dg.tensor(q), dg.tensor(k), dg.tensor(v), mask=mask).data
    np.testing.assert_allclose(fn(*ins).data, ref, rtol=1e-10, atol=1e-12)


def test_errors():
    q, k, v = _arrays((2, 3, 4), (2, 5, 4), 2)
    with pytest.raises(ValueError, match="share the last dim"):
        F.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="number of positions"):
        F.scaled_dot_product_attention(q, k, v[:, :4])
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
