import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.serialization import ModelFileError
from deepgrad.train import History
from deepgrad.train import checkpoint as ckpt


def _setup():
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x = dg.randn(8, 3)
    y = dg.tensor(np.array([0, 1] * 4))
    for _ in range(3):
        opt.zero_grad()
        dg.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_roundtrip_restores_everything(tmp_path):
    model, opt, sched = _setup()
    hist = History([{"epoch": 1, "train_loss": 0.5}])
    extra = {"arr": np.arange(3, dtype=np.int64), "scalar": np.float32(1.5), "t": (1, "a"), 7: {"x": None}}
    path = tmp_path / "c.safetensors"
    rng_before = dg.random.get_state()
    ckpt.save_checkpoint(path, model, opt, sched, epoch=3, step=17, history=hist, extra=extra)
    expected_next = dg.random.default_generator().random()

    dg.manual_seed(0)
    model2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    ck = ckpt.restore_checkpoint(path, model2, opt2, sched2)
    assert dg.random.default_generator().random() == expected_next
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert set(s1["state"]) == set(s2["state"]) and all(isinstance(k, int) for k in s2["state"])
    for k in s1["state"]:
        for name, v in s1["state"][k].items():
            np.testing.assert_array_equal(v, s2["state"][k][name])
    assert sched2.state_dict() == sched.state_dict()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert (ck["epoch"], ck["step"]) == (3, 17)
    assert History.from_dict(ck["history"]).rows == hist.rows
    ex = ck["extra"]
    assert ex["arr"].dtype == np.int64 and ex["scalar"].dtype == np.float32 and ex["t"] == (1, "a") and ex[7] == {"x": None}
    assert rng_before is not None


def test_atomic_write_keeps_old_checkpoint_when_interrupted(tmp_path, monkeypatch):
    model, opt, sched = _setup()
    path = tmp_path / "c.safetensors"
    ckpt.save_checkpoint(path, model, opt, epoch=1, step=1)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        ckpt.save_checkpoint(path, model, opt, epoch=2, step=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.safetensors"]  # no temporary file left behind
    assert ckpt.load_checkpoint(path)["epoch"] == 1


def test_partial_temp_file_is_never_read(tmp_path):
    # a crash mid-write leaves only a hidden temp file; the checkpoint itself is the old one
    model, opt, _ = _setup()
    path = tmp_path / "c.safetensors"
    ckpt.save_checkpoint(path, model, opt, epoch=1, step=1)
    (tmp_path / ".c.safetensors.xyz.tmp").write_bytes(path.read_bytes()[:50])
    assert ckpt.load_checkpoint(path)["epoch"] == 1


def test_damaged_checkpoint_is_refused(tmp_path):
    model, opt, _ = _setup()
    path = tmp_path / "c.safetensors"
    ckpt.save_checkpoint(path, model, opt, epoch=1, step=1)
    raw = bytearray(path.read_bytes())
    path.write_bytes(bytes(raw[: len(raw) - 10]))
    with pytest.raises(ModelFileError, match="truncated"):
        ckpt.load_checkpoint(path)
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum"):
        ckpt.load_checkpoint(path)


def test_no_pickle_in_checkpoint(tmp_path):
    model, opt, sched = _setup()
    path = tmp_path / "c.safetensors"
    ckpt.save_checkpoint(path, model, opt, sched, epoch=1, step=1)
    raw = path.read_bytes()
    assert b"\x80\x04\x95" not in raw and b"\x80\x05\x95" not in raw  # pickle protocol 4/5 frames
    st = pytest.importorskip("safetensors.numpy")
    arrays = st.load_file(str(path))
    assert "model/0.weight" in arrays
