"""LayerNorm (fused op) and MultiheadAttention against PyTorch in float64: outputs and
gradients after loading PyTorch's state dict, state dicts both ways, masks of every kind;
the layer-norm op against finite differences (hypothesis over shapes)."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad import nn
from deepgrad.check import gradcheck, gradcheck_model
from deepgrad.nn import functional as F

torch = pytest.importorskip("torch")


def _to_torch_sd(sd):
    return {k: torch.tensor(v) for k, v in sd.items()}


def _from_torch(tmod, dmod):
    dmod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})


def _close(a, b, what="", rtol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-11, err_msg=what)


# ---------------------------------------------------------------- LayerNorm
@settings(max_examples=20, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2), tail=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       affine=st.booleans(), seed=st.integers(0, 2**16))
def test_layer_norm_gradcheck(lead, tail, affine, seed):
    # over one or two elements the normalised values are 0 or +-1 whatever x is: the true
    # gradient is then of the order of eps, below what finite differences resolve
    assume(int(np.prod(tail)) >= 3)
    rng = np.random.default_rng(seed)
    shape = tuple(lead) + tuple(tail)
    x = dg.tensor(rng.standard_normal(shape) * 3 + 1, requires_grad=True)
    # weight the output: the gradient of a plain sum of normalised values is exactly 0
    c = dg.tensor(rng.standard_normal(shape))
    if affine:
        w = dg.tensor(rng.uniform(0.5, 2, tuple(tail)), requires_grad=True)
        b = dg.tensor(rng.standard_normal(tuple(tail)), requires_grad=True)
        rep = gradcheck(lambda x, w, b: F.layer_norm(x, tuple(tail), w, b) * c, x, w, b)
    else:
        rep = gradcheck(lambda x: F.layer_norm(x, tuple(tail)) * c, x)
    assert rep.passed, str(rep)


@pytest.mark.parametrize("shape,ns", [((4, 6), 6), ((2, 3, 5), (5,)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(shape, ns, affine):
    rng = np.random.default_rng(0)
    a = nn.LayerNorm(ns, eps=1e-4, elementwise_affine=affine).double()
    b = torch.nn.LayerNorm(ns, eps=1e-4, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            b.weight.copy_(torch.tensor(rng.uniform(0.5, 2, b.weight.shape)))
            b.bias.copy_(torch.tensor(rng.standard_normal(b.bias.shape)))
        _from_torch(b, a)
    x = rng.standard_normal(shape) * 2 + 1
    g = rng.standard_normal(shape)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = a(xd), b(xt)
    (yd * dg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    _close(yd.data, yt.detach().numpy(), "output")
    _close(xd.grad, xt.grad.numpy(), "input grad")
    if affine:
        _close(a.weight.grad, b.weight.grad.numpy(), "weight grad")
        _close(a.bias.grad, b.bias.grad.numpy(), "bias grad")
        b.load_state_dict(_to_torch_sd(a.state_dict()))  # and back


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"LayerNorm\(4,\): expected input"):
        nn.LayerNorm(4)(dg.zeros(3, 5))


# ---------------------------------------------------------------- MultiheadAttention
def _mha_pair(E=8, H=2, batch_first=False, bias=True, dropout=0.0):
    t = torch.nn.MultiheadAttention(E, H, dropout=dropout, bias=bias, batch_first=batch_first).double()
    d = nn.MultiheadAttention(E, H, dropout=dropout, bias=bias, batch_first=batch_first).double()
    rng = np.random.default_rng(3)
    with torch.no_grad():  # non-zero biases so that they are really tested
        for p in t.parameters():
            p.copy_(torch.tensor(rng.standard_normal(p.shape) * 0.5))
    _from_torch(t, d)
    return d, t


def _run_both(d, t, q, k, v, self_attn=False, **kw):
    tq = torch.tensor(q, requires_grad=True)
    dq = dg.tensor(q, requires_grad=True)
    if self_attn:
        tk = tv = tq
        dk = dv = dq
    else:
        tk, tv = torch.tensor(k, requires_grad=True), torch.tensor(v, requires_grad=True)
        dk, dv = dg.tensor(k, requires_grad=True), dg.tensor(v, requires_grad=True)
    tkw = {n: (torch.tensor(m) if isinstance(m, np.ndarray) else m) for n, m in kw.items()}
    to, tw = t(tq, tk, tv, **tkw)
    do, dw = d(dq, dk, dv, **kw)
    g = np.random.default_rng(11).standard_normal(to.shape)
    loss_t = (to * torch.tensor(g)).sum()
    loss_d = (do * dg.tensor(g)).sum()
    if tw is not None:
        gw = np.random.default_rng(12).standard_normal(tw.shape)
        loss_t = loss_t + (tw * torch.tensor(gw)).sum()
        loss_d = loss_d + (dw * dg.tensor(gw)).sum()
    loss_t.backward()
    loss_d.backward()
    _close(do.data, to.detach().numpy(), "output")
    if tw is None:
        assert dw is None
    else:
        _close(dw.data, tw.detach().numpy(), "weights")
    pairs = [(dq, tq)] if self_attn else [(dq, tq), (dk, tk), (dv, tv)]
    for i, (a, b) in enumerate(pairs):
        _close(a.grad, b.grad.numpy(), f"input grad {i}")
    tp = dict(t.named_parameters())
    for n, p in d.named_parameters():
        _close(p.grad, tp[n].grad.numpy(), f"grad of {n}")


def test_mha_parameter_names_and_state_dict_both_ways():
    d = nn.MultiheadAttention(8, 2)
    t = torch.nn.MultiheadAttention(8, 2)
    assert sorted(d.state_dict()) == sorted(t.state_dict()) == \
        ["in_proj_bias", "in_proj_weight", "out_proj.bias", "out_proj.weight"]
    t.load_state_dict(_to_torch_sd(d.state_dict()))
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), d.state_dict()[k])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(False, True), (True, True), (True, False)])
def test_mha_cross_attention_matches_torch(batch_first, need_weights, average):
    d, t = _mha_pair(batch_first=batch_first)
    rng = np.random.default_rng(0)
    N, L, S, E = 3, 4, 5, 8
    sh = (lambda n: (N, n, E)) if batch_first else (lambda n: (n, N, E))
    _run_both(d, t, rng.standard_normal(sh(L)), rng.standard_normal(sh(S)), rng.standard_normal(sh(S)),
              need_weights=need_weights, average_attn_weights=average)


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("mask_kind", ["bool", "float", "bool3d", "causal"])
@pytest.mark.parametrize("kpm", [None, "bool", "float"])
def test_mha_masks_match_torch(need_weights, mask_kind, kpm):
    d, t = _mha_pair(batch_first=True)
    rng = np.random.default_rng(1)
    N, L, E, H = 2, 5, 8, 2
    x = rng.standard_normal((N, L, E))
    kw = dict(need_weights=need_weights)
    if mask_kind == "bool":
        m = rng.random((L, L)) < 0.3
        m[:, 0] = False  # every query keeps a key (padding never hides key 0)
        kw["attn_mask"] = m
    elif mask_kind == "float":
        kw["attn_mask"] = rng.standard_normal((L, L))
    elif mask_kind == "bool3d":
        m = rng.random((N * H, L, L)) < 0.3
        m[:, :, 0] = False
        kw["attn_mask"] = m
    else:
        kw["attn_mask"] = np.triu(np.ones((L, L), bool), 1)
        kw["is_causal"] = True
    if kpm == "bool":
        p = np.zeros((N, L), bool)
        p[0, -2:] = True
        p[1, -1] = True
        if mask_kind != "float":  # keep the first key of every row alive
            kw["attn_mask"] = np.array(kw["attn_mask"])
        kw["key_padding_mask"] = p
    elif kpm == "float":
        kw["key_padding_mask"] = rng.standard_normal((N, L))
    if kpm is not None and mask_kind != "float" and kw["attn_mask"].dtype == bool and \
            (kw["key_padding_mask"].dtype != bool):
        kw["attn_mask"] = np.where(kw["attn_mask"], -np.inf, 0.0)  # PyTorch wants matching mask types
        kw.pop("is_causal", None)
    if kpm == "bool" and kw["attn_mask"].dtype != bool:
        kw["key_padding_mask"] = np.where(kw["key_padding_mask"], -np.inf, 0.0)
    _run_both(d, t, x, x, x, self_attn=True, **kw)


def test_mha_unbatched_and_no_bias():
    d, t = _mha_pair(bias=False)
    rng = np.random.default_rng(2)
    _run_both(d, t, rng.standard_normal((4, 8)), rng.standard_normal((6, 8)), rng.standard_normal((6, 8)),
              need_weights=False)


def test_mha_dropout_trains_and_eval_is_deterministic():
    d = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True).double()
    x = dg.tensor(np.random.default_rng(0).standard_normal((2, 5, 8)))
    a, _ = d(x, x, x, need_weights=False)
    b, _ = d(x, x, x, need_weights=False)
    assert not np.allclose(a.data, b.data)
    d.eval()
    a, _ = d(x, x, x, need_weights=False)
    b, _ = d(x, x, x, need_weights=False)
    np.testing.assert_array_equal(a.data, b.data)


def test_mha_errors():
    d = nn.MultiheadAttention(8, 2)
    x = dg.zeros(4, 2, 8)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): query"):
        d(dg.zeros(4, 2, 6), x, x)
    with pytest.raises(ValueError, match="attn_mask must be"):
        d(x, x, x, attn_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="key_padding_mask must be"):
        d(x, x, x, key_padding_mask=np.zeros((4, 2), bool))


# ---------------------------------------------------------------- AdditiveAttention (course 5, week 3)
@pytest.mark.parametrize("energy_activation", [None, "relu"])
def test_additive_attention_matches_numpy_and_gradcheck(energy_activation):
    rng = np.random.default_rng(0)
    N, T, Eq, Ek = 3, 5, 4, 6
    m = nn.AdditiveAttention(Eq, Ek, hidden_dim=7, energy_activation=energy_activation).double()
    q, k = rng.standard_normal((N, Eq)), rng.standard_normal((N, T, Ek))
    pad = np.zeros((N, T), bool)
    pad[1, -2:] = True
    ctx, w = m(dg.tensor(q), dg.tensor(k), key_padding_mask=pad)
    # the same by hand in NumPy
    W, b = m.hidden.weight.data, m.hidden.bias.data
    v, c = m.energy.weight.data, m.energy.bias.data
    x = np.concatenate([np.repeat(q[:, None], T, 1), k], -1)
    e = (np.tanh(x @ W.T + b) @ v.T + c)[..., 0]
    if energy_activation == "relu":
        e = np.maximum(e, 0)
    e = np.where(pad, -np.inf, e)
    a = np.exp(e - e.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    np.testing.assert_allclose(w.data, a, rtol=1e-12)
    np.testing.assert_allclose(ctx.data, np.einsum("nt,nte->ne", a, k), rtol=1e-12)
    assert np.all(w.data[1, -2:] == 0)
    rep = gradcheck(lambda q, k: m(q, k, key_padding_mask=pad)[0], dg.tensor(q, requires_grad=True),
                    dg.tensor(k, requires_grad=True))
    assert rep.passed, str(rep)
    g = dg.tensor(rng.standard_normal((N, Ek)))
    rep = gradcheck_model(m, lambda mod: (mod(dg.tensor(q), dg.tensor(k), key_padding_mask=pad)[0] * g).sum())
    assert rep.passed, str(rep)


def test_additive_attention_errors():
    m = nn.AdditiveAttention(4, 6)
    with pytest.raises(ValueError, match=r"AdditiveAttention\(query_dim=4, key_dim=6\)"):
        m(dg.zeros(3, 4), dg.zeros(3, 5, 5))
    with pytest.raises(ValueError, match="energy_activation"):
        nn.AdditiveAttention(4, 6, energy_activation="tanh")
