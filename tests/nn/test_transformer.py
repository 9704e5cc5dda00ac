"""Transformer layers, stacks and the full nn.Transformer against PyTorch in float64
(dropout 0 / eval): outputs and every gradient after loading PyTorch's state dict, state
dicts both ways; masks; positional encoding."""
import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor")


def _load(t, d):
    d.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})


def _perturb(t, seed=0):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in t.parameters():
            p.add_(torch.tensor(rng.standard_normal(p.shape) * 0.1))


def _compare(d, t, d_inputs, t_inputs, kw_d=None, kw_t=None, rtol=1e-8):
    do = d(*d_inputs, **(kw_d or {}))
    to = t(*t_inputs, **(kw_t or {}))
    g = np.random.default_rng(5).standard_normal(to.shape)
    (do * dg.tensor(g)).sum().backward()
    (to * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(do.data, to.detach().numpy(), rtol=rtol, atol=1e-10, err_msg="output")
    for a, b in zip(d_inputs, t_inputs):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol, atol=1e-10, err_msg="input grad")
    tp = dict(t.named_parameters())
    assert sorted(tp) == sorted(n for n, _ in d.named_parameters())
    for n, p in d.named_parameters():
        np.testing.assert_allclose(p.grad, tp[n].grad.numpy(), rtol=rtol, atol=1e-10, err_msg=n)


def _pair_inputs(*arrays):
    return ([dg.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays])


CONFIGS = [dict(norm_first=False, activation="relu", batch_first=False),
           dict(norm_first=True, activation="gelu", batch_first=True)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["post-relu", "pre-gelu-bf"])
def test_encoder_layer_matches_torch(cfg):
    t = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **cfg).double()
    d = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **cfg).double()
    _perturb(t)
    _load(t, d)
    rng = np.random.default_rng(1)
    N, S = 3, 6
    x = rng.standard_normal((N, S, 16) if cfg["batch_first"] else (S, N, 16))
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    kpm = np.where(kpm, -np.inf, 0.0)  # PyTorch wants the padding mask of the attn mask's type
    mask = nn.generate_square_subsequent_mask(S, dtype=np.float64).data
    di, ti = _pair_inputs(x)
    _compare(d, t, di, ti, dict(src_mask=mask, src_key_padding_mask=kpm),
             dict(src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm)))


@pytest.mark.parametrize("cfg", CONFIGS, ids=["post-relu", "pre-gelu-bf"])
def test_decoder_layer_matches_torch(cfg):
    t = torch.nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, **cfg).double()
    d = nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, **cfg).double()
    _perturb(t, 1)
    _load(t, d)
    rng = np.random.default_rng(2)
    N, T, S = 2, 5, 7
    bf = cfg["batch_first"]
    tgt = rng.standard_normal((N, T, 16) if bf else (T, N, 16))
    mem = rng.standard_normal((N, S, 16) if bf else (S, N, 16))
    tmask = nn.generate_square_subsequent_mask(T, dtype=np.float64).data
    mkpm = np.zeros((N, S), bool)
    mkpm[1, -3:] = True
    di, ti = _pair_inputs(tgt, mem)
    _compare(d, t, di, ti, dict(tgt_mask=tmask, memory_key_padding_mask=mkpm),
             dict(tgt_mask=torch.tensor(tmask), memory_key_padding_mask=torch.tensor(mkpm)))


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer_matches_torch_and_state_dict_both_ways(norm_first):
    kw = dict(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=32, dropout=0.0,
              norm_first=norm_first, batch_first=True)
    t = torch.nn.Transformer(**kw).double()
    d = nn.Transformer(**kw).double()
    _perturb(t, 2)
    _load(t, d)
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((2, 7, 16)), rng.standard_normal((2, 5, 16))
    tmask = nn.Transformer.generate_square_subsequent_mask(5, dtype=np.float64).data
    np.testing.assert_array_equal(tmask, torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    di, ti = _pair_inputs(src, tgt)
    _compare(d, t, di, ti, dict(tgt_mask=tmask, tgt_is_causal=True),
             dict(tgt_mask=torch.tensor(tmask), tgt_is_causal=True))
    # and our state dict loads into a fresh torch model, which then agrees with ours
    t2 = torch.nn.Transformer(**kw).double()
    t2.load_state_dict({k: torch.tensor(v) for k, v in d.state_dict().items()})
    t2.eval()
    d.eval()
    with torch.no_grad():
        out_t = t2(torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(tmask)).numpy()
    out_d = d(dg.tensor(src), dg.tensor(tgt), tgt_mask=tmask).data
    np.testing.assert_allclose(out_d, out_t, rtol=1e-8, atol=1e-10)


def test_encoder_stack_with_final_norm():
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    t = torch.nn.TransformerEncoder(layer_t, 3, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double()
    d = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 3, norm=nn.LayerNorm(8)).double()
    _perturb(t, 4)
    _load(t, d)
    di, ti = _pair_inputs(np.random.default_rng(4).standard_normal((5, 2, 8)))
    _compare(d, t, di, ti)


def test_dropout_is_active_in_training_only():
    d = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True).double()
    x = dg.tensor(np.random.default_rng(0).standard_normal((2, 4, 8)))
    assert not np.allclose(d(x).data, d(x).data)
    d.eval()
    np.testing.assert_array_equal(d(x).data, d(x).data)


def test_positional_encoding():
    pe = nn.positional_encoding(50, 16, dtype=np.float64).data
    pos, i = 7, 3
    assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 16)))
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 16)))
    np.testing.assert_array_equal(pe[0, 0::2], 0.0)
    np.testing.assert_array_equal(pe[0, 1::2], 1.0)
    assert nn.positional_encoding(4, 5).shape == (4, 5)  # odd d_model
    m = nn.PositionalEncoding(16, max_len=50, batch_first=True)
    x = dg.tensor(np.zeros((2, 10, 16)))
    np.testing.assert_allclose(m(x).data[1], pe[:10])
    assert m.state_dict() == {}
    with pytest.raises(ValueError, match="PositionalEncoding"):
        m(dg.tensor(np.zeros((2, 60, 16))))


def test_errors():
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    m = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(ValueError, match="batch size"):
        m(dg.zeros(2, 3, 8), dg.zeros(3, 3, 8))
    with pytest.raises(ValueError, match="d_model=8"):
        m(dg.zeros(2, 3, 8), dg.zeros(2, 3, 6))


def test_encoder_learns_to_reverse_sequences():
    """End to end in float32: a 1-layer encoder with positional encoding learns to output
    the token at the mirrored position (impossible without attention across positions;
    chance is 1/6) in 150 Adam steps."""
    from deepgrad import optim
    from deepgrad.nn import functional as F

    dg.manual_seed(0)
    V, L, D = 6, 6, 32
    emb = nn.Linear(V, D, bias=False)
    pe = nn.PositionalEncoding(D, max_len=L, batch_first=True)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, 4, 64, dropout=0.0, batch_first=True), 1)
    head = nn.Linear(D, V)
    opt = optim.Adam(list(emb.parameters()) + list(enc.parameters()) + list(head.parameters()), lr=3e-3)
    rng = np.random.default_rng(0)
    eye = np.eye(V, dtype=np.float32)

    def model(x):
        return head(enc(pe(emb(dg.from_numpy(eye[x])))))

    for _ in range(150):
        x = rng.integers(0, V, (64, L))
        loss = F.cross_entropy(model(x).reshape(-1, V), dg.from_numpy(x[:, ::-1].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = rng.integers(0, V, (256, L))
    with dg.no_grad():
        out = model(x)
    assert out.dtype == np.float32
    assert (out.data.argmax(-1) == x[:, ::-1]).mean() > 0.9


def test_float32_stays_float32_and_agrees_with_torch():
    t = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    d = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    _load(t, d)
    x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)
    xd = dg.tensor(x, requires_grad=True)
    yd = d(xd)
    yd.sum().backward()
    assert yd.dtype == np.float32 and xd.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in d.parameters())
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    yt.sum().backward()
    np.testing.assert_allclose(yd.data, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-3, atol=1e-5)
