"""Trainer seams (issue 14, item 6): overridable steps, metrics from the loss, streaming
metrics, schedulers through their own interface, unlabelled evaluation."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.train import EarlyStopping, LambdaCallback, Trainer
from deepgrad.train.metrics import Accuracy, ConfusionMetric, f1_score, make_streaming, precision, recall
from deepgrad.train.trainer import default_metrics


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


def _model(seed=0):
    dg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))


def test_train_step_override_is_used_and_can_do_the_update_itself():
    X, y = _data()
    calls = []

    class Halving(Trainer):
        """A custom step: the loss scaled by one half (the same gradient direction)."""

        def train_step(self, batch):
            x, t = self.unpack(batch)
            out = self.model(x)
            loss = self.compute_loss(out, t) * 0.5
            self.optimizer.zero_grad()
            loss.backward()
            if self.after_backward(float(loss.data)):
                self.optimizer.step()
            calls.append(len(x))
            return {"loss": float(loss.data), "output": out, "target": t, "size": len(x)}

    m = _model()
    tr = Halving(m, optim.SGD(m.parameters(), lr=0.2), batch_size=50, progress=False)
    h = tr.fit((X, y), epochs=2)
    assert calls == [50] * 8 and tr.step == 8
    m2 = _model()
    ref = Trainer(m2, optim.SGD(m2.parameters(), lr=0.1), batch_size=50, progress=False).fit((X, y), epochs=2)
    np.testing.assert_allclose(h["train_loss"], np.array(ref["train_loss"]) / 2, rtol=1e-5)
    for a, b in zip(m.parameters(), m2.parameters()):  # lr 0.2 on half the loss == lr 0.1 on the loss
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)


def test_eval_step_override_feeds_evaluate_and_dev_logs():
    X, y = _data()

    class Constant(Trainer):
        def eval_step(self, batch):
            x, t = self.unpack(batch)
            return {"loss": 7.0, "output": np.zeros((len(x), 3), np.float32), "target": t, "size": len(x)}

    m = _model()
    tr = Constant(m, optim.SGD(m.parameters(), lr=0.1), progress=False)
    res = tr.evaluate((X, y))
    assert res["loss"] == 7.0 and res["accuracy"] == pytest.approx(np.mean(y == 0))
    h = tr.fit((X, y), dev=(X, y), epochs=1)
    assert h["dev_loss"] == [7.0]


def test_metrics_default_from_the_loss():
    assert default_metrics("mse") == () and default_metrics(dg.ops.mse_loss) == ()
    assert default_metrics("cross_entropy") == ("accuracy",) and default_metrics(lambda o, t: o) == ("accuracy",)
    X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    t = X.sum(1, keepdims=True)
    m = nn.Linear(3, 1)
    tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1), "mse", progress=False)
    h = tr.fit((X, t), dev=(X, t), epochs=3)
    assert "train_accuracy" not in h.columns() and "dev_accuracy" not in h.columns()
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert set(tr.evaluate((X, t))) == {"loss"}
    # asking for it explicitly still works
    m2 = _model()
    X2, y2 = _data()
    assert "f1" in Trainer(m2, optim.SGD(m2.parameters(), lr=0.1), metrics=("accuracy", "f1"), progress=False).evaluate((X2, y2))


def test_streaming_metrics_equal_the_whole_epoch_functions():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 4, 1000), rng.integers(0, 4, 1000)
    for name, fn in [("accuracy", lambda a, b: np.mean(a == b)), ("f1", f1_score), ("precision", precision),
                     ("recall", recall), ("f1_binary", lambda a, b: f1_score(a, b, average="binary"))]:
        s = make_streaming(name)
        for i in range(0, 1000, 64):
            s.update(t[i:i + 64], p[i:i + 64])
        assert s.result() == pytest.approx(fn(t, p)), name
    acc = Accuracy()
    assert np.isnan(acc.result())
    cm = ConfusionMetric("recall", average=None)
    cm.update([0, 1, 2], [0, 1, 1])
    np.testing.assert_allclose(cm.result(), [1, 1, 0])


def test_trainer_epoch_metrics_match_evaluate_on_the_same_weights():
    X, y = _data()
    m = _model()
    tr = Trainer(m, optim.SGD(m.parameters(), lr=0.0), metrics=("accuracy", "f1"), batch_size=32, progress=False)
    h = tr.fit((X, y), epochs=1, shuffle=False)  # lr 0: the weights of every batch are the final ones
    res = tr.evaluate((X, y), batch_size=7)
    assert h["train_accuracy"][0] == pytest.approx(res["accuracy"]) and h["train_f1"][0] == pytest.approx(res["f1"])


def test_scheduler_stepped_through_its_interface_not_its_class_name():
    X, y = _data()

    class MyPlateau:  # not ReduceLROnPlateau, but its step takes the monitored value
        def __init__(self, opt):
            self.opt, self.seen = opt, []

        def step(self, value):
            self.seen.append(value)
            for g in self.opt.param_groups:
                g["lr"] *= 0.5

    class Flagged:  # says so with needs_metric, step(*args)
        needs_metric = True

        def __init__(self):
            self.seen = []

        def step(self, *args):
            self.seen.append(args)

    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    s = MyPlateau(opt)
    h = Trainer(m, opt, scheduler=s, progress=False).fit((X, y), dev=(X, y), epochs=3)
    assert s.seen == h["dev_loss"] and h["lr"] == pytest.approx([0.1, 0.05, 0.025])
    f = Flagged()
    h = Trainer(m, opt, scheduler=f, scheduler_monitor="train_loss", progress=False).fit((X, y), epochs=2)
    assert [a[0] for a in f.seen] == h["train_loss"]
    with pytest.raises(ValueError, match="monitored value"):
        Trainer(m, opt, scheduler=MyPlateau(opt), scheduler_interval="step")
    with pytest.raises(TypeError, match="no step"):
        Trainer(m, opt, scheduler=object())
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    Trainer(m, opt, scheduler=plateau, progress=False).fit((X, y), epochs=2)  # the library's own works too


def test_evaluate_and_predict_accept_unlabelled_batches():
    X, _ = _data()
    m = _model()

    def loss(out, target=None):
        return (out * out).mean()

    tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1), loss, metrics=(), progress=False)
    res = tr.evaluate(X)
    assert set(res) == {"loss"} and res["loss"] == pytest.approx(float((tr.predict(X) ** 2).mean()), rel=1e-5)
    h = tr.fit(X, dev=X, epochs=2)
    assert h["train_loss"][1] < h["train_loss"][0] and "dev_loss" in h.columns()
    with pytest.raises(ValueError, match="no targets.*cross_entropy"):
        Trainer(m, optim.SGD(m.parameters(), lr=0.1), "cross_entropy", progress=False).evaluate(X)


def test_early_stopping_restores_the_best_weights():
    X, y = _data()
    m = _model()
    snaps = []
    es = EarlyStopping("dev_loss", patience=2, restore_best_weights=True)
    tr = Trainer(m, optim.SGD(m.parameters(), lr=3.0), progress=False,  # too large: the dev loss gets worse
                 callbacks=[es, LambdaCallback(on_epoch_end=lambda e, logs: snaps.append(m.state_dict()))])
    h = tr.fit((X, y), dev=(X, y), epochs=30)
    assert "early stopping" in h.stop_reason and es.best_epoch < len(h)
    assert es.best == min(h["dev_loss"])
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, snaps[es.best_epoch - 1][k], err_msg=k)
    assert tr.evaluate((X, y))["loss"] == pytest.approx(es.best, rel=1e-6)


@pytest.mark.parametrize("kwargs, err, words", [
    ({"batch_size": 0}, ValueError, "batch_size"), ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"eval_batch_size": -1}, ValueError, "eval_batch_size"), ({"seed": -1}, ValueError, "seed"),
    ({"grad_clip": -1.0}, ValueError, "grad_clip"), ({"grad_clip": float("nan")}, ValueError, "grad_clip"),
])
def test_trainer_arguments_checked(kwargs, err, words):
    m = _model()
    with pytest.raises(err, match=words):
        Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False, **kwargs)


@pytest.mark.parametrize("kwargs, err", [({"epochs": -1}, ValueError), ({"epochs": 2.0}, TypeError),
                                         ({"epochs": True}, TypeError), ({"batch_size": 0}, ValueError),
                                         ({"checkpoint_every": 0}, ValueError)])
def test_fit_arguments_checked(kwargs, err):
    X, y = _data()
    m = _model()
    with pytest.raises(err, match=list(kwargs)[0]):
        Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False).fit((X, y), **kwargs)


def test_streaming_metric_objects_and_callables_as_metrics():
    X, y = _data()
    m = _model()

    def top_is_zero(t, p):
        return float(np.mean(p == 0))

    mine = Accuracy(name="acc")
    tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1), metrics=[mine, top_is_zero], progress=False)
    h = tr.fit((X, y), dev=(X, y), epochs=2)
    assert {"train_acc", "dev_acc", "train_top_is_zero", "dev_top_is_zero"} <= set(h.columns())
    assert mine.count == 0  # the trainer works on copies
    res = tr.evaluate((X, y))
    assert res["acc"] == pytest.approx(np.mean(tr.predict(X).argmax(1) == y))
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        Trainer(m, optim.SGD(m.parameters(), lr=0.1), metrics=("auc",))
