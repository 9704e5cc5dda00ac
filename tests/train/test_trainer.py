import io
import json
import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.autograd import Function
from deepgrad.data import DataLoader
from deepgrad.train import (
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LambdaCallback,
    ModelCheckpoint,
    NaNGuard,
    ProgressBar,
    Trainer,
)


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.8)
    return X, y


def _model(seed=0, out=3):
    dg.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, out))


def test_fit_learns_and_records_history():
    X, y = _data()
    model = _model()
    tr = Trainer(model, optim.Adam(model.parameters(), lr=0.02), "cross_entropy", seed=0, batch_size=32, progress=False)
    h = tr.fit((X, y), dev=(X[:64], y[:64]), epochs=8)
    assert len(h) == 8 and h.epochs == list(range(1, 9))
    for col in ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "lr", "time"):
        assert col in h.columns()
    assert h["train_loss"][-1] < 0.6 * h["train_loss"][0]
    res = tr.evaluate((X, y))
    assert res["accuracy"] > 0.85
    out = tr.predict(X)
    assert out.shape == (256, 3) and out.dtype == np.float32
    assert res["accuracy"] == pytest.approx((out.argmax(1) == y).mean())
    assert tr.step == 8 * 8


def test_same_seed_same_run_bit_for_bit():
    X, y = _data()

    def run():
        dg.manual_seed(1)
        m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
        tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1, momentum=0.9), seed=7, batch_size=20, progress=False)
        dg.random.default_generator().random(5)  # the trainer's seed decides the rest
        h = tr.fit((X, y), epochs=3)
        return m.state_dict(), h

    (a, ha), (b, hb) = run(), run()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert ha["train_loss"] == hb["train_loss"]


def test_accepts_dataloader_and_per_step_scheduler():
    X, y = _data()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    loader = DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    tr = Trainer(model, opt, scheduler=sched, scheduler_interval="step", progress=False)
    h = tr.fit(loader, epochs=2)
    assert h["lr"] == [pytest.approx(0.1 * 0.5), pytest.approx(0.1 * 0.25)]


def test_early_stopping_and_restore_best():
    X, y = _data()
    model = _model()
    seen = []
    tr = Trainer(model, optim.SGD(model.parameters(), lr=0.0), progress=False,
                 callbacks=[EarlyStopping("dev_loss", patience=2), LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    h = tr.fit((X, y), dev=(X, y), epochs=20)
    assert len(h) == 3 and seen == [1, 2, 3]  # lr 0: never improves after epoch 1
    assert "early stopping" in h.stop_reason


def test_progress_bar_plain_lines_when_not_a_tty():
    X, y = _data(64)
    model = _model()
    buf = io.StringIO()
    tr = Trainer(model, optim.SGD(model.parameters(), lr=0.1), callbacks=[ProgressBar(stream=buf)])
    tr.fit((X, y), dev=(X, y), epochs=3)
    lines = buf.getvalue().strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3") and "train_loss" in lines[0] and "dev_accuracy" in lines[0]


def test_progress_bar_tqdm_on_tty():
    pytest.importorskip("tqdm")
    X, y = _data(64)
    model = _model()
    buf = io.StringIO()
    tr = Trainer(model, optim.SGD(model.parameters(), lr=0.1), callbacks=[ProgressBar(stream=buf, tty=True)])
    tr.fit((X, y), epochs=2)
    text = buf.getvalue()
    assert "epoch 2/2" in text and ("it/s" in text or "s/it" in text) and "\r" in text


def test_loggers_and_model_checkpoint(tmp_path):
    from deepgrad.serialization import load_model

    X, y = _data()
    model = _model()
    tr = Trainer(model, optim.Adam(model.parameters(), lr=0.01), progress=False, callbacks=[
        CSVLogger(tmp_path / "h.csv"), JSONLogger(tmp_path / "h.jsonl"),
        ModelCheckpoint(tmp_path / "best.safetensors", monitor="dev_accuracy")])
    tr.fit((X, y), dev=(X, y), epochs=3)
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,train_accuracy,dev_loss,dev_accuracy") and len(lines) == 4
    rows = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    best = load_model(tmp_path / "best.safetensors")
    assert isinstance(best, nn.Sequential)


class _NaNGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        return (grad * np.float32(np.nan),)


class NaNBackward(nn.Module):
    def forward(self, x):
        return _NaNGrad.apply(x)


class Explode(nn.Module):
    def __init__(self, at_step):
        super().__init__()
        self.at_step, self.calls = at_step, 0

    def forward(self, x):
        self.calls += 1
        return x * np.float32(np.inf) if self.calls >= self.at_step else x


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanguard_names_first_parameter_with_bad_gradient():
    X, y = _data(64)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), NaNBackward(), nn.ReLU(), nn.Linear(8, 3))
    before = model.state_dict()
    guard = NaNGuard()
    tr = Trainer(model, optim.SGD(model.parameters(), lr=0.1), callbacks=[guard], progress=False)
    h = tr.fit((X, y), epochs=3)
    r = guard.report
    assert r["what"] == "gradient" and r["name"] == "0.weight" and r["step"] == 1 and r["epoch"] == 1
    assert "0 (Linear)" in r["layer"]
    assert "0.weight" in h.stop_reason and len(h) == 0
    for k, v in model.state_dict().items():  # the poisoned step was not applied
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanguard_names_layer_producing_nan_loss():
    X, y = _data(64)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), Explode(at_step=3), nn.Linear(8, 3))
    guard = NaNGuard()
    tr = Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=32, callbacks=[guard], progress=False)
    h = tr.fit((X, y), epochs=3)
    r = guard.report
    assert r["what"] == "loss" and r["step"] == 3 and r["epoch"] == 2
    assert r["layer"] == "2 (Explode)" and r["found"] == "layer output"
    assert "2 (Explode)" in h.stop_reason and len(h) == 1  # epoch 1 finished, epoch 2 stopped


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanguard_names_nonfinite_parameter_and_can_raise():
    X, y = _data(64)
    model = _model()
    model[2].weight.data[0, 0] = np.inf
    tr = Trainer(model, optim.SGD(model.parameters(), lr=0.1), callbacks=[NaNGuard(raise_error=True)], progress=False)
    with pytest.raises(FloatingPointError, match=r"2\.weight"):
        tr.fit((X, y), epochs=1)


def test_early_stopping_restores_best_weights():
    X, y = _data()
    model = _model()
    snapshots = []
    es = EarlyStopping("dev_accuracy", patience=2, restore_best_weights=True)
    tr = Trainer(model, optim.SGD(model.parameters(), lr=2.0), progress=False,  # too large: oscillates
                 callbacks=[es, LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(model.state_dict()))])
    h = tr.fit((X, y), dev=(X, y), epochs=30)
    best = h.best("dev_accuracy", mode="max")
    assert es.best == best["dev_accuracy"] and es.best_epoch == best["epoch"]
    assert es.best_epoch < len(h)  # stopped after the best epoch: restoring changes the weights
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[es.best_epoch - 1][k])


def test_resume_in_process_continues_epochs(tmp_path):
    X, y = _data()
    (tmp_path / ".checkpoint.safetensors.abc.tmp").write_bytes(b"partial write of a killed run")
    model = _model()
    tr = Trainer(model, optim.Adam(model.parameters(), lr=0.01), seed=0, progress=False)
    tr.fit((X, y), epochs=2, checkpoint_dir=tmp_path)
    model2 = _model(seed=5)
    tr2 = Trainer(model2, optim.Adam(model2.parameters(), lr=0.01), seed=0, progress=False)
    h = tr2.fit((X, y), epochs=3, checkpoint_dir=tmp_path)
    assert h.epochs == [1, 2, 3] and tr2.step == 3 * 4
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.safetensors"]
    tr3 = Trainer(model, optim.Adam(model.parameters(), lr=0.01), seed=0, progress=False)
    assert len(tr3.fit((X, y), epochs=3, checkpoint_dir=tmp_path, resume=False)) == 3


def test_resume_restores_layer_generators(tmp_path):
    X, y = _data()

    def make():
        dg.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5, generator=np.random.default_rng(9)), nn.Linear(16, 3))

    ref = make()
    Trainer(ref, optim.SGD(ref.parameters(), lr=0.1), seed=0, batch_size=64, progress=False).fit((X, y), epochs=3)
    m = make()
    Trainer(m, optim.SGD(m.parameters(), lr=0.1), seed=0, batch_size=64, progress=False).fit(
        (X, y), epochs=2, checkpoint_dir=tmp_path)
    m2 = make()  # a fresh process would rebuild the layer with a fresh generator
    Trainer(m2, optim.SGD(m2.parameters(), lr=0.1), seed=0, batch_size=64, progress=False).fit(
        (X, y), epochs=3, checkpoint_dir=tmp_path)
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(v, m2.state_dict()[k], err_msg=k)
