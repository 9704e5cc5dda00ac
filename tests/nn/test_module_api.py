"""Module API: registration, traversal, state_dict round trip and strict errors, modes,
containers, summary, dtype conversion."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("count", np.zeros(1))
        self.not_registered = np.zeros(2)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))

    def forward(self, x):
        return self.head(self.block(x))


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias",
                     "head.1.weight", "head.1.bias"] or sorted(names) == sorted(
        ["block.scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias", "head.1.weight", "head.1.bias"])
    assert len(list(net.parameters())) == 7
    assert net.num_parameters() == 4 * 3 + 3 + 3 + 3 + 3 + 3 * 2 + 2
    mods = dict(net.named_modules())
    assert set(mods) == {"", "block", "block.fc", "block.bn", "head", "head.0", "head.1"}
    buffers = dict(net.named_buffers())
    assert set(buffers) == {"block.count", "block.bn.running_mean", "block.bn.running_var", "block.bn.num_batches_tracked"}
    # re-assigning a registered name replaces it; plain arrays are not registered
    net.block.fc = nn.Linear(4, 3, bias=False)
    assert "block.fc.bias" not in dict(net.named_parameters())


def test_shared_parameter_counted_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2


def test_state_dict_round_trip():
    dg.manual_seed(1)
    a, b = Net(), Net()
    x = dg.randn(8, 4)
    a(x)  # changes BatchNorm running stats
    sd = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    b.load_state_dict(sd)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)
    np.testing.assert_array_equal(b.block.bn.running_mean, a.block.bn.running_mean)
    assert int(b.block.bn.num_batches_tracked) == 1
    # the state dict holds copies: changing it does not change the model
    sd["head.1.bias"][...] = 123
    assert not np.any(a.head[1].bias.data == 123)


def test_load_state_dict_strict_errors_name_the_keys():
    net = Net()
    sd = net.state_dict()
    del sd["head.1.bias"]
    sd["extra.weight"] = np.zeros(2)
    sd["block.fc.weight"] = np.zeros((5, 5))
    with pytest.raises(ValueError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert "head.1.bias" in msg and "extra.weight" in msg and "block.fc.weight" in msg and "(3, 4)" in msg
    # non-strict: missing/unexpected ignored, but a wrong shape is still an error
    sd["block.fc.weight"] = np.zeros((3, 4))
    net.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(net.block.fc.weight.data, 0)


def test_train_eval_modes_reach_every_module():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad():
    net = Net()
    out = net(dg.randn(5, 4)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.block.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 3 * 2 + 2


def test_sequential_indexing_len_append():
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    assert len(seq) == 2
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.ReLU)
    seq.append(nn.Linear(8, 2))
    assert len(seq) == 3 and seq(dg.randn(3, 4)).shape == (3, 2)
    sub = seq[:2]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is seq[0]
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(IndexError):
        seq[3]
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU(), "relu")
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[1]
    assert len(seq) == 2 and len(list(seq.parameters())) == 4
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    assert set(dict(named.named_parameters())) == {"fc.weight", "fc.bias"}


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and isinstance(ml[-1], nn.Linear) and ml[-1].out_features == 1
    assert set(dict(ml.named_parameters())) >= {"0.weight", "3.bias"}
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(md.keys()) == ["enc", "dec"] and "enc" in md
    assert set(dict(md.named_parameters())) == {"enc.weight", "enc.bias", "dec.weight", "dec.bias"}
    with pytest.raises(KeyError, match="nope"):
        md["nope"]


def test_summary_table():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.BatchNorm1d(256), nn.Linear(256, 10))
    model[0].weight.requires_grad_(False)
    text = model.summary(input_shape=(2, 784))
    assert "(2, 256)" in text and "(2, 10)" in text
    assert "200,960" in text  # 784*256 + 256
    assert f"Total params: {784*256+256 + 512 + 2570:,}" in text
    assert f"Trainable params: {256 + 512 + 2570:,}" in text
    assert model.training  # mode restored
    assert "forward" not in model[0].__dict__  # forward is not patched
    assert not any(m._forward_hooks for m in model.modules())  # recording hooks removed
    plain = model.summary()
    assert "Output shape" not in plain and "Linear" in plain


def test_to_double():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.block.bn.running_mean.dtype == np.float64
    out = net(dg.randn(4, 4, dtype=np.float64))
    assert out.dtype == np.float64
