"""nn.RNN / GRU / LSTM and the cells against PyTorch in float64: outputs, final states and
every gradient after loading PyTorch's state dict; PyTorch loads deepgrad's state dict."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

torch = pytest.importorskip("torch")

LAYERS = {
    "LSTM": (nn.LSTM, torch.nn.LSTM, {}),
    "GRU": (nn.GRU, torch.nn.GRU, {}),
    "RNN": (nn.RNN, torch.nn.RNN, {}),
    "RNN-relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}
CONFIGS = [  # num_layers, bidirectional, batch_first, lengths, initial state
    (1, False, False, False, False),
    (1, False, True, False, True),
    (2, False, False, True, True),
    (1, True, False, False, False),
    (2, True, True, True, True),
    (2, True, False, True, False),
]


def _to_dg(tm, cls, kw):
    m = cls(tm.input_size, tm.hidden_size, num_layers=tm.num_layers, bias=tm.bias, batch_first=tm.batch_first,
            bidirectional=tm.bidirectional, **kw).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return m


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("layers,bidir,batch_first,use_lengths,use_h0", CONFIGS)
def test_layer_matches_torch(name, layers, bidir, batch_first, use_lengths, use_h0):
    cls, tcls, kw = LAYERS[name]
    torch.manual_seed(0)
    rng = np.random.default_rng(layers * 8 + bidir * 4 + batch_first * 2 + use_lengths)
    I, H, N, T = 3, 4, 4, 6
    tm = tcls(I, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first, **kw).double()
    m = _to_dg(tm, cls, kw)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    lengths = np.array([4, 6, 1, 3]) if use_lengths else None
    D = 2 if bidir else 1
    h0 = rng.standard_normal((D * layers, N, H)) if use_h0 else None
    c0 = rng.standard_normal((D * layers, N, H)) if use_h0 else None
    lstm = name == "LSTM"

    X = torch.tensor(x, requires_grad=True)
    th0 = None if h0 is None else torch.tensor(h0, requires_grad=True)
    tc0 = None if c0 is None else torch.tensor(c0, requires_grad=True)
    inp = X
    if use_lengths:
        inp = torch.nn.utils.rnn.pack_padded_sequence(X, torch.tensor(lengths), batch_first=batch_first,
                                                      enforce_sorted=False)
    hx = None if th0 is None else ((th0, tc0) if lstm else th0)
    o, st = tm(inp, hx)
    if use_lengths:
        o, _ = torch.nn.utils.rnn.pad_packed_sequence(o, batch_first=batch_first, total_length=T)
    states = list(st) if lstm else [st]
    vs = [rng.standard_normal(tuple(a.shape)) for a in [o] + states]
    sum((a * torch.tensor(v)).sum() for a, v in zip([o] + states, vs)).backward()

    xd = dg.tensor(x, dtype=np.float64, requires_grad=True)
    dh0 = None if h0 is None else dg.tensor(h0, dtype=np.float64, requires_grad=True)
    dc0 = None if c0 is None else dg.tensor(c0, dtype=np.float64, requires_grad=True)
    hxd = None if dh0 is None else ((dh0, dc0) if lstm else dh0)
    od, std = m(xd, hxd, lengths=lengths)
    dstates = list(std) if lstm else [std]
    sum((a * dg.tensor(v)).sum() for a, v in zip([od] + dstates, vs)).backward()

    tol = dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(od.data, o.detach().numpy(), **tol)
    for a, b in zip(dstates, states):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **tol)
    np.testing.assert_allclose(xd.grad, X.grad.numpy(), **tol)
    if use_h0:
        np.testing.assert_allclose(dh0.grad, th0.grad.numpy(), **tol)
        if lstm:
            np.testing.assert_allclose(dc0.grad, tc0.grad.numpy(), **tol)
    tp = dict(tm.named_parameters())
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, tp[n].grad.numpy(), err_msg=n, **tol)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_torch_loads_deepgrad_state_dict(name):
    cls, tcls, kw = LAYERS[name]
    dg.manual_seed(1)
    m = cls(5, 3, num_layers=2, bidirectional=True)
    tm = tcls(5, 3, num_layers=2, bidirectional=True)
    tm.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})  # strict: same names and shapes
    x = np.random.default_rng(0).standard_normal((7, 2, 5)).astype(np.float32)
    o, _ = m(dg.tensor(x))
    to, _ = tm(torch.tensor(x))
    np.testing.assert_allclose(o.data, to.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert o.dtype == np.float32


def test_init_is_pytorch_uniform():
    dg.manual_seed(0)
    m = nn.LSTM(10, 25, num_layers=2)
    bound = 1 / np.sqrt(25)
    for n, p in m.named_parameters():
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound, n
    shapes = {n: p.shape for n, p in m.named_parameters()}
    assert shapes == {n: tuple(p.shape) for n, p in torch.nn.LSTM(10, 25, num_layers=2).named_parameters()}


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN", "RNN-relu"])
def test_cells_match_torch(name):
    cls = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell}.get(name, nn.RNNCell)
    tcls = {"LSTM": torch.nn.LSTMCell, "GRU": torch.nn.GRUCell}.get(name, torch.nn.RNNCell)
    kw = {"nonlinearity": "relu"} if name == "RNN-relu" else {}
    rng = np.random.default_rng(5)
    tm = tcls(3, 4, **kw).double()
    m = cls(3, 4, **kw).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    X, Hh, C = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    xd, hd, cd = (dg.tensor(a, dtype=np.float64, requires_grad=True) for a in (x, h, c))
    v1, v2 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    if name == "LSTM":
        th, tc = tm(X, (Hh, C))
        ((th * torch.tensor(v1)).sum() + (tc * torch.tensor(v2)).sum()).backward()
        dh, dc = m(xd, (hd, cd))
        ((dh * dg.tensor(v1)).sum() + (dc * dg.tensor(v2)).sum()).backward()
        np.testing.assert_allclose(dc.data, tc.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(cd.grad, C.grad.numpy(), rtol=1e-10)
    else:
        th = tm(X, Hh)
        (th * torch.tensor(v1)).sum().backward()
        dh = m(xd, hd)
        (dh * dg.tensor(v1)).sum().backward()
    np.testing.assert_allclose(dh.data, th.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(xd.grad, X.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(hd.grad, Hh.grad.numpy(), rtol=1e-10, atol=1e-13)
    tp = dict(tm.named_parameters())
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, tp[n].grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=n)
    # unbatched input and a missing state (zeros), as in PyTorch
    out = m(xd[0])
    tout = tm(X[0])
    a, b = (out[0], tout[0]) if name == "LSTM" else (out, tout)
    np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10)


def test_unbatched_sequence_and_dropout_between_layers():
    torch.manual_seed(0)
    tm = torch.nn.GRU(3, 4, num_layers=2).double()
    m = _to_dg(tm, nn.GRU, {})
    x = np.random.default_rng(0).standard_normal((5, 3))
    o, h = m(dg.tensor(x))
    to, th = tm(torch.tensor(x))
    assert o.shape == (5, 4) and h.shape == (2, 4)
    np.testing.assert_allclose(o.data, to.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-10)
    # dropout acts between layers in training mode only
    md = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    xx = dg.tensor(np.random.default_rng(1).standard_normal((4, 2, 3)), dtype=np.float32)
    md.eval()
    e1, _ = md(xx)
    e2, _ = md(xx)
    np.testing.assert_array_equal(e1.data, e2.data)
    md.train()
    t1, _ = md(xx)
    assert not np.allclose(t1.data, e1.data)


def test_errors_name_the_layer():
    m = nn.LSTM(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\).*\(N, T, 3\)"):
        m(dg.zeros(2, 5, 2))
    with pytest.raises(TypeError, match=r"LSTM\(3, 4\).*float64"):
        m(dg.zeros(2, 5, 3, dtype=np.float64))
    with pytest.raises(ValueError, match="h_0 of shape"):
        m(dg.zeros(2, 5, 3), (dg.zeros(1, 3, 4), dg.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match="pair"):
        m(dg.zeros(2, 5, 3), dg.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="lengths"):
        m(dg.zeros(2, 5, 3), lengths=np.array([6, 1]))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\)"):
        nn.GRUCell(3, 4)(dg.zeros(2, 5))


def test_padding_never_leaks():
    """Changing the padded part of a batch changes neither outputs, states nor gradients."""
    m = nn.LSTM(2, 3, bidirectional=True, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    lengths = np.array([2, 5, 3])
    res = []
    for fill in (0.0, 100.0):
        xx = x.copy()
        for n, L in enumerate(lengths):
            xx[n, L:] = fill
        xt = dg.tensor(xx, requires_grad=True)
        m.zero_grad()
        o, (h, c) = m(xt, lengths=lengths)
        (o.sum() + h.sum() + c.sum()).backward()
        res.append((o.data, h.data, c.data, xt.grad, [p.grad.copy() for p in m.parameters()]))
    for a, b in zip(res[0][:3], res[1][:3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(res[0][3], res[1][3])
    for a, b in zip(res[0][4], res[1][4]):
        np.testing.assert_array_equal(a, b)
    for n, L in enumerate(lengths):
        assert np.all(res[0][0][n, L:] == 0) and np.all(res[0][3][n, L:] == 0)


def test_model_file_roundtrip(tmp_path):
    dg.manual_seed(0)
    m = nn.Sequential(nn.Embedding(7, 3), nn.GRU(3, 5, num_layers=2, batch_first=True, bidirectional=True))
    dg.save_model(m, tmp_path / "m.safetensors")
    m2 = dg.load_model(tmp_path / "m.safetensors")
    idx = np.array([[1, 2, 3], [6, 0, 1]])
    o1, _ = m[1](m[0](idx))
    o2, _ = m2[1](m2[0](idx))
    np.testing.assert_array_equal(o1.data, o2.data)
