"""make_splits: train, train-dev, dev and test in one call, stratified, seeded, recorded with the run."""
import numpy as np
import pytest

from deepgrad import nn, optim
from deepgrad.data import make_splits, train_traindev_dev_test_split
from deepgrad.experiments import RunStore, RunTracker
from deepgrad.train import Trainer


def test_four_parts_stratified_and_seeded():
    y = np.repeat(np.arange(4), [400, 200, 100, 40])
    s = make_splits(y, train_dev=0.1, dev=0.1, test=0.2, seed=3)
    parts = [s.train, s.train_dev, s.dev, s.test]
    assert [len(p) for p in parts] == [444, 74, 74, 148]
    allidx = np.concatenate(parts)
    assert len(np.unique(allidx)) == len(y)  # disjoint and complete
    for p, frac in zip(parts, (0.6, 0.1, 0.1, 0.2)):  # every class in every part, in proportion
        counts = np.bincount(y[p], minlength=4)
        assert np.all(np.abs(counts - frac * np.array([400, 200, 100, 40])) <= 1), counts
    again = make_splits(y, train_dev=0.1, dev=0.1, test=0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(s, again))
    other = make_splits(y, train_dev=0.1, dev=0.1, test=0.2, seed=4)
    assert not np.array_equal(s.dev, other.dev)
    rec = s.record()
    assert rec["seed"] == 3 and rec["stratified"] and rec["dev"]["per_class"] == {"0": 40, "1": 20, "2": 10, "3": 4}
    assert rec["dev"]["sha256"] == again.record()["dev"]["sha256"] != other.record()["dev"]["sha256"]


def test_counts_unstratified_and_arrays():
    s = make_splits(1000, train_dev=50, dev=100, test=100, seed=0)
    assert [len(p) for p in s] == [750, 50, 100, 100] and not s.record()["stratified"]
    with pytest.raises(ValueError, match="only 10 available"):
        make_splits(10, train_dev=5, dev=5, test=5)
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.arange(100) % 2
    tr, td, dv, te = train_traindev_dev_test_split(X, y, train_dev=0.1, dev=0.1, test=0.1, stratify=True, seed=0)
    assert [len(p[0]) for p in (tr, td, dv, te)] == [70, 10, 10, 10]
    assert np.array_equal(tr[0][:, 0] // 2 % 2, tr[1])  # rows and labels stay together


def test_splits_are_recorded_with_the_run(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    s = make_splits(y, seed=1)
    parts = s.take(X, y)
    model = nn.Sequential(nn.Linear(3, 2))
    tracker = RunTracker(tmp_path / "s.sqlite", recipe="toy", splits=s)
    Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=50, callbacks=[tracker]).fit(
        parts["train"], dev=parts["dev"], epochs=1)
    run = RunStore(tmp_path / "s.sqlite").get(tracker.run_id)
    assert run["splits"] == s.record() and run["splits"]["train_dev"]["examples"] == 10
